//! A long history is sent after the welcome in several `history` frames, each well under
//! the 64 KiB frame limit (proxies in front keep their own limits), complete and in order.

mod common;
use common::*;
use futures_util::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn history_comes_in_bounded_frames_in_order() {
    let server = Server::start(&[("CHAT_BURST", "100")]);
    let a = &server.addr;
    let mut alice = Chat::connect(a, &token("long", "alice01")).await;
    for i in 0..40 {
        // 8000 bytes, a quarter of them quotes (escaped in JSON)
        let text = format!("{i:04}{}", "ab\"c".repeat(1999));
        alice.send(json!({"type": "message", "text": text})).await;
        alice.recv_type("message").await;
    }
    let tok = token("long", "bob0001");
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{a}/chat?token={tok}")).await.expect("connect");
    let mut frames = Vec::new();
    loop {
        let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("connection ended early") };
        let v: serde_json::Value = serde_json::from_str(t.as_str()).expect("json");
        frames.push((t.len(), v.clone()));
        if v["type"] == "history" && v["done"] == true {
            break;
        }
    }
    assert_eq!(frames[0].1["type"], "welcome");
    assert!(frames.len() > 3, "history was split ({} frames)", frames.len());
    assert!(frames.iter().all(|(n, _)| *n < 64 * 1024), "a frame exceeded 64 KiB");
    let order: Vec<String> = frames[1..]
        .iter()
        .flat_map(|(_, v)| v["messages"].as_array().expect("messages").clone())
        .map(|m| m["text"].as_str().expect("text")[..4].to_string())
        .collect();
    assert_eq!(order, (0..40).map(|i| format!("{i:04}")).collect::<Vec<_>>());
}
