//! Chat history is kept in SQLite: a participant who joins after the server was SIGKILLed
//! and restarted gets the earlier group messages (edits applied, deletions gone) in its
//! welcome; sender fields are the server's, not the client's.

mod common;
use common::*;
use serde_json::json;

#[tokio::test]
async fn late_joiner_gets_history_after_restart() {
    let mut server = Server::start(&[]);
    let alice_tok = token_with("standup", "alice01", "Alice", 600, SECRET);
    let mut alice = Chat::connect(&server.addr, &alice_tok).await;
    alice
        .send(
            json!({"type": "message", "text": "first", "client_id": "c1", "from": {"nick": "bob0001", "name": "Bob"}}),
        )
        .await;
    let m1 = alice.recv_type("message").await;
    assert_eq!(m1["from"]["nick"], "alice01", "server sets the sender");
    assert_eq!(m1["from"]["name"], "Alice");
    assert_eq!(m1["client_id"], "c1");
    alice.send(json!({"type": "message", "text": "second"})).await;
    let m2 = alice.recv_type("message").await;
    alice.send(json!({"type": "message", "text": "oops"})).await;
    let m3 = alice.recv_type("message").await;
    alice.send(json!({"type": "edit", "id": m2["id"], "text": "second (edited)"})).await;
    alice.recv_type("edited").await;
    alice.send(json!({"type": "delete", "id": m3["id"]})).await;
    alice.recv_type("deleted").await;

    server.kill_and_restart();
    let mut bob = Chat::connect(&server.addr, &token("standup", "bob0001")).await;
    let h = bob.welcome["history"].as_array().expect("history").clone();
    let texts: Vec<&str> = h.iter().map(|m| m["text"].as_str().expect("text")).collect();
    assert_eq!(texts, vec!["first", "second (edited)"]);
    assert!(h[1]["edited_at"].is_i64());
    assert_eq!(h[0]["from"]["name"], "Alice");
    assert_eq!(h[0]["id"], m1["id"]);
    // and the room goes on
    bob.send(json!({"type": "message", "text": "hi"})).await;
    assert_eq!(bob.recv_type("message").await["text"], "hi");
}
