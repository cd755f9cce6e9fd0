//! A chat connection whose token has expired is refused message by message (401
//! `token-expired`) until it sends a fresh token of the same room and nick; a token of
//! another room or participant is refused (403) and changes nothing.

mod common;
use common::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn expired_connection_token_is_refused_until_refreshed() {
    let server = Server::start(&[]);
    let a = &server.addr;
    let short = token_with("refresh", "alice01", "Alice", 2, SECRET);
    let mut alice = Chat::connect(a, &short).await;
    let exp = alice.welcome["token_exp"].as_u64().expect("token_exp");
    alice.send(json!({"type": "message", "text": "while valid"})).await;
    assert_eq!(alice.recv_type("message").await["text"], "while valid");

    // wait until the token's expiry second has passed
    while proto::token::now_secs() < exp {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    alice.send(json!({"type": "message", "text": "after expiry"})).await;
    let e = alice.recv_type("error").await;
    assert_eq!((e["code"].as_u64(), e["error"].as_str()), (Some(401), Some("token-expired")));

    alice.send(json!({"type": "auth", "token": token("other-room", "alice01")})).await;
    assert_eq!(alice.recv_type("error").await["code"], 403);
    alice.send(json!({"type": "auth", "token": token("refresh", "bob0001")})).await;
    assert_eq!(alice.recv_type("error").await["code"], 403);
    alice.send(json!({"type": "message", "text": "still expired"})).await;
    assert_eq!(alice.recv_type("error").await["code"], 401);

    alice.send(json!({"type": "auth", "token": token("refresh", "alice01")})).await;
    assert!(alice.recv_type("auth-ok").await["token_exp"].as_u64().expect("exp") > exp);
    alice.send(json!({"type": "message", "text": "refreshed"})).await;
    assert_eq!(alice.recv_type("message").await["text"], "refreshed");

    let bob = Chat::connect(a, &token("refresh", "bob0001")).await;
    let h: Vec<_> = bob.welcome["history"].as_array().expect("history").iter().map(|m| m["text"].clone()).collect();
    assert_eq!(h, vec![json!("while valid"), json!("refreshed")]);
}
