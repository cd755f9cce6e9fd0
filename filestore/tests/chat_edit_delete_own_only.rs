//! Only a message's sender may edit or delete it: another participant's attempt gets 403
//! and changes nothing for anyone.

mod common;
use common::*;
use serde_json::json;

#[tokio::test]
async fn deleting_or_editing_anothers_message_is_refused() {
    let server = Server::start(&[]);
    let a = &server.addr;
    let mut alice = Chat::connect(a, &token("own", "alice01")).await;
    let mut bob = Chat::connect(a, &token("own", "bob0001")).await;
    alice.send(json!({"type": "message", "text": "mine"})).await;
    let m = bob.recv_type("message").await;
    alice.recv_type("message").await;

    bob.send(json!({"type": "delete", "id": m["id"]})).await;
    let e = bob.recv_type("error").await;
    assert_eq!(e["code"], 403, "{e}");
    bob.send(json!({"type": "edit", "id": m["id"], "text": "bob was here"})).await;
    assert_eq!(bob.recv_type("error").await["code"], 403);
    bob.send(json!({"type": "delete", "id": 999999})).await;
    assert_eq!(bob.recv_type("error").await["code"], 404);

    let carol = Chat::connect(a, &token("own", "carol01")).await;
    let h = carol.welcome["history"].as_array().expect("history").clone();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["text"], "mine");
    assert!(h[0].get("edited_at").is_none());

    // the sender can
    alice.send(json!({"type": "delete", "id": m["id"]})).await;
    assert_eq!(bob.recv_type("deleted").await["id"], m["id"]);
    let dave = Chat::connect(a, &token("own", "dave001")).await;
    assert!(dave.welcome["history"].as_array().expect("history").is_empty());
}
