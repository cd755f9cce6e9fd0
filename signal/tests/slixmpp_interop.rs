//! Interop with slixmpp (PyPI), a real XMPP client library: two clients join a room, see each
//! other, exchange groupchat and private messages; one logs in anonymously, the other with
//! an added account over SASL PLAIN or SCRAM-SHA-1. Needs `$MEET_PYTHON` (a venv with
//! tests/requirements.txt); under `CI=true` its absence is a failure.

mod common;

use common::*;
use std::io::Write;
use std::process::{Command, Stdio};

fn python() -> Option<String> {
    let p = std::env::var("MEET_PYTHON").ok().filter(|p| !p.is_empty()).or_else(|| {
        let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python");
        std::path::Path::new(venv).exists().then(|| venv.to_string())
    });
    if p.is_none() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "MEET_PYTHON is required under CI=true");
        eprintln!("skipping: MEET_PYTHON not set and no .venv");
    }
    p
}

fn run_script(py: &str, signal: &Signal, room: &str, mech: &str, creds: &[&str]) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/slixmpp_room.py");
    let port = signal.c2s.port().to_string();
    let mut args = vec![script, "127.0.0.1", port.as_str(), room, mech];
    args.extend_from_slice(creds);
    let out = Command::new(py).args(&args).output().expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stdout.contains("OK"), "slixmpp {mech} failed:\n{stdout}\n{stderr}");
}

fn add_account(signal: &Signal, user: &str, password: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_signal"))
        .args(["add-account", user])
        .env("DATA_DIR", &signal.data_dir)
        .stdin(Stdio::piped())
        .spawn()
        .expect("signal add-account runs");
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn slixmpp_anonymous_clients_meet_in_a_room() {
    let Some(py) = python() else { return };
    let signal = Signal::start();
    run_script(&py, &signal, "interop", "ANONYMOUS", &[]);
}

#[test]
fn slixmpp_account_logs_in_with_plain_and_with_scram() {
    let Some(py) = python() else { return };
    let signal = Signal::start();
    add_account(&signal, "alice", "pa ss\u{e9}word");
    run_script(&py, &signal, "plainroom", "PLAIN", &["alice", "pa ss\u{e9}word"]);
    run_script(&py, &signal, "scramroom", "SCRAM-SHA-1", &["alice", "pa ss\u{e9}word"]);
}
