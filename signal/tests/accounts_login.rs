//! Accounts on `auth.<domain>`: `signal add-account <user>` (password on stdin) creates one,
//! SASL PLAIN and SCRAM-SHA-1 log in with it, a wrong password fails, and after
//! `signal remove-account <user>` the login fails.

mod common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::*;
use proto::xml::StreamEvent;
use std::io::Write;
use std::process::{Command, Stdio};

fn account_cmd(data_dir: &std::path::Path, args: &[&str], stdin: &str) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_signal"))
        .args(args)
        .env("DATA_DIR", data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("signal binary runs");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait().unwrap().success()
}

async fn open_auth_stream(signal: &Signal) -> RawStream {
    let mut s = RawStream::connect(signal.c2s, false).await;
    s.send(&header_to("auth.meet.lan")).await;
    let Some(StreamEvent::Open(_)) = s.next().await else { panic!() };
    let _features = s.stanza().await;
    s
}

async fn plain(signal: &Signal, user: &str, pass: &str) -> (bool, RawStream) {
    let mut s = open_auth_stream(signal).await;
    let msg = B64.encode(format!("\0{user}\0{pass}"));
    s.send(&format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{msg}</auth>")).await;
    let r = s.stanza().await;
    (r.name() == "success", s)
}

async fn scram(signal: &Signal, user: &str, pass: &str) -> bool {
    let mut s = open_auth_stream(signal).await;
    let cnonce = "fyko+d2lbbFgONRv9qkxdawL";
    let first_bare = format!("n={user},r={cnonce}");
    s.send(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>{}</auth>",
        B64.encode(format!("n,,{first_bare}"))
    ))
    .await;
    let ch = s.stanza().await;
    assert_eq!(ch.name(), "challenge");
    let server_first = String::from_utf8(B64.decode(ch.text_content()).unwrap()).unwrap();
    let mut nonce = "";
    let mut salt = Vec::new();
    let mut iters = 0;
    for a in server_first.split(',') {
        match a.split_once('=') {
            Some(("r", v)) => nonce = v,
            Some(("s", v)) => salt = B64.decode(v).unwrap(),
            Some(("i", v)) => iters = v.parse().unwrap(),
            _ => {}
        }
    }
    assert!(nonce.starts_with(cnonce));
    let without_proof = format!("c=biws,r={nonce}");
    let auth_message = format!("{first_bare},{server_first},{without_proof}");
    let salted = signal::accounts::salted_password(pass, &salt, iters);
    let client_key = signal::accounts::hmac_sha1(&salted, b"Client Key");
    let (stored, server_key) = signal::accounts::derive_keys(&salted);
    let sig = signal::accounts::hmac_sha1(&stored, auth_message.as_bytes());
    let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
    s.send(&format!(
        "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</response>",
        B64.encode(format!("{without_proof},p={}", B64.encode(proof)))
    ))
    .await;
    let r = s.stanza().await;
    if r.name() != "success" {
        return false;
    }
    let v = String::from_utf8(B64.decode(r.text_content()).unwrap()).unwrap();
    let want = B64.encode(signal::accounts::hmac_sha1(&server_key, auth_message.as_bytes()));
    assert_eq!(v, format!("v={want}"), "server signature proves the server knows the key");
    true
}

#[tokio::test]
async fn added_account_logs_in_with_plain_and_scram_until_removed() {
    let data = temp_dir("accounts");
    assert!(account_cmd(&data, &["add-account", "alice"], "correct horse\n"));
    assert!(!account_cmd(&data, &["add-account", "Bad Name"], "x\n"), "invalid user names are refused");
    let text = std::fs::read_to_string(data.join("accounts.json")).unwrap();
    assert!(!text.contains("correct horse"), "only salted keys are stored");
    let signal = Signal::start_in(data.clone(), &[]);

    let (ok, s) = plain(&signal, "alice", "correct horse").await;
    assert!(ok);
    let c = Client::restart_and_bind(s, "auth.meet.lan").await;
    assert_eq!(c.jid, "alice@auth.meet.lan/test");

    assert!(!plain(&signal, "alice", "wrong").await.0);
    assert!(!plain(&signal, "mallory", "correct horse").await.0);
    assert!(scram(&signal, "alice", "correct horse").await);
    assert!(!scram(&signal, "alice", "wrong").await);
    assert!(!scram(&signal, "nobody", "x").await);

    assert!(account_cmd(&data, &["remove-account", "alice"], ""));
    assert!(!account_cmd(&data, &["remove-account", "alice"], ""), "removing twice is an error");
    assert!(!plain(&signal, "alice", "correct horse").await.0);
}

#[tokio::test]
async fn three_failed_attempts_end_the_stream() {
    let signal = Signal::start();
    let mut s = open_auth_stream(&signal).await;
    for _ in 0..3 {
        let msg = B64.encode("\0x\0y");
        s.send(&format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{msg}</auth>")).await;
    }
    assert_eq!(s.stream_error().await.as_deref(), Some("policy-violation"));
}
