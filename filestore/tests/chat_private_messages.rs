//! A private message (`to`) reaches its target and its sender only, also in history; a
//! private message to someone not in the room is refused (404).

mod common;
use common::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn private_messages_reach_only_their_target() {
    let server = Server::start(&[]);
    let a = &server.addr;
    let mut alice = Chat::connect(a, &token("pm", "alice01")).await;
    let mut bob = Chat::connect(a, &token("pm", "bob0001")).await;
    let mut carol = Chat::connect(a, &token("pm", "carol01")).await;
    let mut other_room = Chat::connect(a, &token("pm-other", "bob0001")).await;

    alice.send(json!({"type": "message", "text": "psst bob", "to": "bob0001"})).await;
    let got = bob.recv_type("message").await;
    assert_eq!(got["text"], "psst bob");
    assert_eq!(got["to"], "bob0001");
    assert_eq!(got["from"]["nick"], "alice01");
    assert_eq!(alice.recv_type("message").await["text"], "psst bob", "the sender gets its copy");

    alice.send(json!({"type": "message", "text": "hello all"})).await;
    assert_eq!(bob.recv_type("message").await["text"], "hello all");
    // carol's first message is the group one: the private one, sent before it, never came
    // (each connection gets its messages in the order the server handled them)
    assert_eq!(carol.recv_type("message").await["text"], "hello all");
    assert!(other_room.drain_for(Duration::from_millis(100)).await.iter().all(|m| m["type"] != "message"));

    alice.send(json!({"type": "message", "text": "to nobody", "to": "zzz9999"})).await;
    let e = alice.recv_type("error").await;
    assert_eq!(e["code"], 404);

    // history: carol, joining again, does not get it; bob does
    let carol2 = Chat::connect(a, &token("pm", "carol01")).await;
    let h: Vec<_> = carol2.welcome["history"].as_array().expect("history").iter().map(|m| m["text"].clone()).collect();
    assert_eq!(h, vec![json!("hello all")]);
    let bob2 = Chat::connect(a, &token("pm", "bob0001")).await;
    let h: Vec<_> = bob2.welcome["history"].as_array().expect("history").iter().map(|m| m["text"].clone()).collect();
    assert_eq!(h, vec![json!("psst bob"), json!("hello all")]);
}
