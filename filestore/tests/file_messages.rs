//! A finished upload is announced in the chat as a file message (name, size, SHA-256,
//! sniffed type, URL) that every room member receives and late joiners get in history; a
//! file of another room or an unfinished upload cannot be announced.

mod common;
use common::*;
use serde_json::json;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde";

#[tokio::test]
async fn finished_uploads_are_announced_to_the_room() {
    let server = Server::start(&[]);
    let a = &server.addr;
    let alice_tok = token("share", "alice01");
    let mut alice = Chat::connect(a, &alice_tok).await;
    let mut bob = Chat::connect(a, &token("share", "bob0001")).await;
    let loc = upload(a, &alice_tok, "pic.txt", PNG).await;
    let id = loc.trim_start_matches("/files/");
    alice.send(json!({"type": "file", "file_id": id})).await;
    let m = bob.recv_type("message").await;
    assert_eq!(m["kind"], "file");
    assert_eq!(m["from"]["nick"], "alice01");
    assert_eq!(m["file"]["name"], "pic.txt");
    assert_eq!(m["file"]["size"], PNG.len());
    assert_eq!(m["file"]["sha256"], sha256_hex(PNG));
    assert_eq!(m["file"]["mime"], "image/png", "type sniffed from content, not from the name");
    assert_eq!(m["file"]["url"], loc.as_str());
    let r = http(a, "GET", &loc, &[("authorization", &bearer(&token("share", "bob0001")))], vec![]).await;
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));

    let list = http(a, "GET", "/files/", &[("authorization", &bearer(&alice_tok))], vec![]).await;
    let list: serde_json::Value = serde_json::from_slice(&list.body).expect("json list");
    assert_eq!(list[0]["id"], id);

    // unfinished upload, another room's file
    let r = create_upload(a, &alice_tok, 10, "half.bin").await;
    let half = r.header("location").expect("location").trim_start_matches("/files/").to_string();
    alice.send(json!({"type": "file", "file_id": half})).await;
    assert_eq!(alice.recv_type("error").await["code"], 404);
    let other_tok = token("elsewhere", "mallory");
    let other = upload(a, &other_tok, "x.bin", b"other").await;
    alice.send(json!({"type": "file", "file_id": other.trim_start_matches("/files/")})).await;
    assert_eq!(alice.recv_type("error").await["code"], 403);

    let carol = Chat::connect(a, &token("share", "carol01")).await;
    let h = carol.welcome["history"].as_array().expect("history");
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["file"]["sha256"], sha256_hex(PNG));
}
