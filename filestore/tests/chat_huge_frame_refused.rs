//! A 100 MB WebSocket frame closes the sender's connection (1009) without the server
//! reading it into memory; nothing is stored and the rest of the room carries on. A chat
//! text over the size limit in a normal frame gets a 413 error.

mod common;
use common::*;
use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_100_mb_frame_is_refused_and_others_carry_on() {
    let server = Server::start(&[]);
    let a = &server.addr;
    let mut alice = Chat::connect(a, &token("big", "alice01")).await;
    let mut big = Chat::connect(a, &token("big", "mallory")).await;

    big.send(json!({"type": "message", "text": "x".repeat(9000)})).await;
    let e = big.recv_type("error").await;
    assert_eq!(e["code"], 413);

    let huge = json!({"type": "message", "text": "y".repeat(100 * 1024 * 1024)}).to_string();
    let send = big.ws.send(Message::Text(huge.into())).await;
    // Either the write fails (connection reset) or the server's close comes back.
    if send.is_ok() {
        loop {
            match big.recv().await {
                None => break,
                Some(v) => assert_ne!(v["type"], "welcome"),
            }
        }
    }
    alice.send(json!({"type": "message", "text": "unaffected"})).await;
    let m = alice.recv_type("message").await;
    assert_eq!(m["text"], "unaffected");
    let carol = Chat::connect(a, &token("big", "carol01")).await;
    let h: Vec<_> = carol.welcome["history"].as_array().expect("history").iter().map(|m| m["text"].clone()).collect();
    assert_eq!(h, vec![json!("unaffected")]);
    let metrics = http(a, "GET", "/metrics", &[], vec![]).await.text();
    assert!(metrics.contains("filestore_chat_rejected_total 2"), "{metrics}");
}
