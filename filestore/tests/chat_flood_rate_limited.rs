//! A connection that floods the chat is refused message by message (429 `rate-limited`),
//! nothing beyond its allowance is stored or delivered, and another participant's message
//! still gets through at once; a flood that goes on closes that connection only (1008).

mod common;
use common::*;
use futures_util::SinkExt;
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_flood_is_rate_limited_and_others_are_unaffected() {
    let server = Server::start(&[("CHAT_RATE", "0.5"), ("CHAT_BURST", "10")]);
    let a = &server.addr;
    let mut flooder = Chat::connect(a, &token("flood", "mallory")).await;
    let mut alice = Chat::connect(a, &token("flood", "alice01")).await;

    for i in 0..150 {
        flooder
            .ws
            .feed(Message::Text(json!({"type": "message", "text": format!("spam {i}")}).to_string().into()))
            .await
            .expect("feed");
    }
    flooder.ws.flush().await.expect("flush");
    let mut limited = 0;
    let mut own = 0;
    while own + limited < 150 {
        let v = flooder.recv().await.expect("a reply for every message");
        match v["type"].as_str() {
            Some("error") => {
                assert_eq!(v["code"], 429);
                limited += 1;
            }
            Some("message") => own += 1,
            _ => {}
        }
    }
    assert!(limited >= 130, "most of the flood was refused ({limited})");
    assert!(own <= 20, "at most the burst (plus refill) got through ({own})");

    alice.send(json!({"type": "message", "text": "still here"})).await;
    let mut spam_seen = 0;
    loop {
        let v = alice.recv().await.expect("alice's message arrives");
        if v["type"] == "message" && v["text"] == "still here" {
            break;
        }
        if v["type"] == "message" {
            spam_seen += 1;
        }
    }
    assert_eq!(spam_seen, own, "alice saw exactly the accepted messages");
    let bob = Chat::connect(a, &token("flood", "bob0001")).await;
    assert_eq!(bob.welcome["history"].as_array().expect("history").len(), own + 1, "only accepted messages stored");

    // keeping it up closes the flooder, not the room
    for i in 0..600 {
        if flooder
            .ws
            .feed(Message::Text(json!({"type": "message", "text": format!("more {i}")}).to_string().into()))
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = flooder.ws.flush().await;
    let mut closed = false;
    for _ in 0..1000 {
        if flooder.recv().await.is_none() {
            closed = true;
            break;
        }
    }
    assert!(closed, "the flooding connection was closed");
    alice.drain_for(Duration::from_millis(50)).await;
    alice.send(json!({"type": "message", "text": "after"})).await;
    assert_eq!(alice.recv_type("message").await["text"], "after");
}
