//! Removal from a room (signal/ROOMS.md, told to the archive as `<revoke room nick/>` from the
//! server JID): that nick's chat connections in that room close (1008, "removed from the
//! room"), the others see it leave, and its room tokens issued up to then are refused on
//! `/chat` and `/files/` (403) while still valid — also after a restart. A token issued later
//! (allowed back) works; a revocation from anyone but the server is ignored.

mod common;
use common::bus::*;
use common::*;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

async fn files_status(addr: &str, tok: &str, path: &str) -> u16 {
    http(addr, "GET", path, &[("authorization", &bearer(tok))], vec![]).await.status
}

#[tokio::test]
async fn a_removed_persons_valid_token_is_refused() {
    let mut bus = FakeSignal::start().await;
    let (mut server, conn) = start_with_bus(&mut bus, &[]).await;
    let a = server.addr.clone();
    let mallory = token("standup", "mallory1");
    let bob = token("standup", "bob0001");
    let elsewhere = token("planning", "mallory1");
    let file = upload(&a, &bob, "notes.txt", b"for the room only").await;
    let mut m_chat = Chat::connect(&a, &mallory).await;
    let mut b_chat = Chat::connect(&a, &bob).await;
    assert_eq!(files_status(&a, &mallory, &file).await, 200);

    // Forged: the same removal from a component or a person does nothing.
    conn.send(revoke("standup", "bob0001").replace("from='meet.lan'", "from='focus.meet.lan'"));
    conn.send(revoke("standup", "bob0001").replace("from='meet.lan'", "from='mallory@guest.meet.lan/p'"));
    conn.send(revoke("standup", "mallory1"));

    let close = tokio::time::timeout(WAIT, async {
        loop {
            match m_chat.ws.next().await {
                Some(Ok(Message::Close(f))) => return f,
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("the removed person's chat closed in time")
    .expect("a close frame");
    assert_eq!((u16::from(close.code), close.reason.as_str()), (1008, "removed from the room"));
    let left = b_chat.recv_type("left").await;
    assert_eq!(left["participant"]["nick"], "mallory1");

    for _ in 0..2 {
        // Still valid, but refused: chat, the file list, a download, an upload.
        match tokio_tungstenite::connect_async(format!("ws://{a}/chat?token={mallory}")).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status().as_u16(), 403);
                let body = String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).to_string();
                assert!(body.contains("removed"), "{body}");
            }
            other => panic!("the chat upgrade was not refused: {:?}", other.map(|_| ())),
        }
        assert_eq!(files_status(&a, &mallory, "/files/").await, 403);
        assert_eq!(files_status(&a, &mallory, &file).await, 403);
        assert_eq!(create_upload(&a, &mallory, 10, "x.txt").await.status, 403);
        // Everyone else, and the same nick in another room, go on.
        assert_eq!(files_status(&a, &bob, &file).await, 200);
        assert_eq!(files_status(&a, &elsewhere, "/files/").await, 200);
        b_chat.send(serde_json::json!({"type": "message", "text": "still here"})).await;
        assert_eq!(b_chat.recv_type("message").await["text"], "still here");

        server.kill_and_restart();
        let _ = bus.connected().await;
        b_chat = Chat::connect(&a, &bob).await;
    }
    assert_eq!(metric(&a, "filestore_tokens_revoked_total").await, 0.0, "counted by the process that got it");

    // Allowed back: a token issued after the removal is accepted.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let again = token("standup", "mallory1");
    assert_eq!(files_status(&a, &again, &file).await, 200);
    let _back = Chat::connect(&a, &again).await;
}
