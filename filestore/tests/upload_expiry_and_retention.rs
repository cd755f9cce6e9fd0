//! Retention: unfinished uploads expire (UPLOAD_EXPIRY_HOURS) and their partial data goes;
//! a room's history and files are removed RETENTION_HOURS after its last chat connection
//! left, while a room with someone connected keeps everything; a one-to-one conversation's
//! room (`dm-…`) keeps its files as long as the archive keeps its messages; RETENTION_HOURS=0
//! keeps everything forever.

mod common;
use common::*;
use serde_json::json;
use std::time::Duration;

/// Waits (bounded) until `cond` holds, checking every 100 ms.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..100 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within 10 s");
}

#[tokio::test]
async fn uploads_expire_and_ended_rooms_are_removed() {
    // 0.0005 h = 1.8 s
    let server = Server::start(&[("RETENTION_HOURS", "0.0005"), ("UPLOAD_EXPIRY_HOURS", "0.0005")]);
    let a = &server.addr;
    let tok = token("ends", "alice01");
    let stay_tok = token("stays", "bob0001");
    let dm_tok = token("dm-0123456789abcdef01234567", "alice01");
    let dm_file = upload(a, &dm_tok, "for-bob.pdf", b"a conversation's file").await;

    let r = create_upload(a, &tok, 10, "never-finished.bin").await;
    let unfinished = r.header("location").expect("location").to_string();
    assert_eq!(patch(a, &tok, &unfinished, 0, b"12345".to_vec(), None).await.status, 204);

    let mut alice = Chat::connect(a, &tok).await;
    alice.send(json!({"type": "message", "text": "bye"})).await;
    alice.recv_type("message").await;
    let file = upload(a, &tok, "f.bin", b"room ends").await;
    let mut bob = Chat::connect(a, &stay_tok).await;
    bob.send(json!({"type": "message", "text": "still here"})).await;
    bob.recv_type("message").await;
    let kept = upload(a, &stay_tok, "k.bin", b"room stays").await;

    let files_dir = server.files_dir();
    eventually("unfinished upload expiry", || {
        !files_dir.join("partial").join(unfinished.trim_start_matches("/files/")).exists()
    })
    .await;
    let h = http(a, "HEAD", &unfinished, &[("authorization", &bearer(&tok)), ("tus-resumable", "1.0.0")], vec![]).await;
    assert_eq!(h.status, 404);

    // the room has not ended while alice is connected
    assert_eq!(http(a, "GET", &file, &[("authorization", &bearer(&tok))], vec![]).await.status, 200);
    drop(alice);
    let blob = files_dir.join(sha256_hex(b"room ends"));
    eventually("retention removes the ended room's file", || !blob.exists()).await;
    assert_eq!(http(a, "GET", &file, &[("authorization", &bearer(&tok))], vec![]).await.status, 404);
    let again = Chat::connect(a, &tok).await;
    assert!(again.welcome["history"].as_array().expect("history").is_empty());

    // the conversation's file outlived the retention time
    assert_eq!(http(a, "GET", &dm_file, &[("authorization", &bearer(&dm_tok))], vec![]).await.status, 200);

    // bob's room is still going
    assert_eq!(http(a, "GET", &kept, &[("authorization", &bearer(&stay_tok))], vec![]).await.status, 200);
    let bob2 = Chat::connect(a, &stay_tok).await;
    assert_eq!(bob2.welcome["history"].as_array().expect("history").len(), 1);
    bob.send(json!({"type": "message", "text": "x"})).await;
}

#[tokio::test]
async fn retention_zero_keeps_everything() {
    let mut server = Server::start(&[("RETENTION_HOURS", "0")]);
    let a = server.addr.clone();
    let tok = token("forever", "alice01");
    let mut alice = Chat::connect(&a, &tok).await;
    alice.send(json!({"type": "message", "text": "kept"})).await;
    alice.recv_type("message").await;
    let file = upload(&a, &tok, "f.bin", b"forever").await;
    drop(alice);
    server.kill_and_restart();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(http(&a, "GET", &file, &[("authorization", &bearer(&tok))], vec![]).await.status, 200);
    let c = Chat::connect(&a, &tok).await;
    assert_eq!(c.welcome["history"].as_array().expect("history").len(), 1);
}
