//! Interop with slixmpp (PyPI), a real XMPP client library: two clients join a room, see each
//! other, exchange groupchat and private messages; one logs in anonymously, the other with
//! an added account over SASL PLAIN or SCRAM-SHA-1. Needs `$MEET_PYTHON` (a venv with
//! tests/requirements.txt); under `CI=true` its absence is a failure.

mod common;

use common::*;

fn run_script(py: &str, signal: &Signal, room: &str, mech: &str, creds: &[&str]) {
    let port = signal.c2s.port().to_string();
    let mut args = vec!["127.0.0.1", port.as_str(), room, mech];
    args.extend_from_slice(creds);
    run_python_test(py, "slixmpp_room.py", &args);
}

#[test]
fn slixmpp_anonymous_clients_meet_in_a_room() {
    let Some(py) = meet_python() else { return };
    let signal = Signal::start();
    run_script(&py, &signal, "interop", "ANONYMOUS", &[]);
}

#[test]
fn slixmpp_account_logs_in_with_plain_and_with_scram() {
    let Some(py) = meet_python() else { return };
    let signal = Signal::start();
    add_account(&signal, "alice", "pa ss\u{e9}word");
    run_script(&py, &signal, "plainroom", "PLAIN", &["alice", "pa ss\u{e9}word"]);
    run_script(&py, &signal, "scramroom", "SCRAM-SHA-1", &["alice", "pa ss\u{e9}word"]);
}
