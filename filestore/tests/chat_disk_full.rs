//! A full disk during chat (SQLite's SQLITE_FULL): the sender gets a clear `storage-full`
//! error (507) for the message that did not fit, nothing of it is stored or sent to anyone,
//! the service keeps serving reads (a newcomer gets the history, health answers), and chat
//! works again once space is freed. The whole DATA_DIR (database included) is a 2 MiB tmpfs
//! in a mount namespace of the server's own, filled by a ballast file written there.

mod common;
use common::*;
use serde_json::json;
use std::time::Duration;

/// Sends one message and waits for its echo (`Ok`) or its error (`Err`).
async fn say(c: &mut Chat, text: &str, id: &str) -> Result<serde_json::Value, serde_json::Value> {
    c.send(json!({"type": "message", "text": text, "client_id": id})).await;
    loop {
        let v = c.recv().await.unwrap_or_else(|| panic!("no answer to {id}"));
        if v["client_id"] == id || v["message"]["client_id"] == id {
            return if v["type"] == "error" { Err(v) } else { Ok(v) };
        }
    }
}

#[tokio::test]
async fn full_disk_refuses_the_message_clearly_and_keeps_serving_reads() {
    let server = Server::start_with_small_data_dir("2m", &[]);
    let a = &server.addr;
    let mut alice = Chat::connect(a, &token("fullroom", "alice01")).await;
    let mut bob = Chat::connect(a, &token("fullroom", "bob0002")).await;
    for i in 0..5 {
        say(&mut alice, &format!("before the disk filled {i}"), &format!("b{i}")).await.expect("stored");
    }

    // Something else on that disk takes what space is left.
    let ballast = server.data.0.join("ballast");
    let fill = format!("dd if=/dev/zero of={} bs=64k 2>/dev/null; test -s {}", ballast.display(), ballast.display());
    assert!(server.sh_on_its_disk(&fill), "the ballast filled the disk");

    // Chat goes on until the database itself has no room.
    let text = "x".repeat(8000);
    let mut stored = Vec::new();
    // Bob reads along (a reader who falls far behind is closed as too slow).
    let mut seen = Vec::new();
    let refused = loop {
        assert!(stored.len() < 2000, "2000 messages of 8 KB fitted on a full 2 MiB disk");
        let id = format!("f{}", stored.len());
        let r = say(&mut alice, &text, &id).await;
        seen.extend(bob.drain_for(Duration::from_millis(5)).await);
        match r {
            Ok(_) => stored.push(id),
            Err(e) => break e,
        }
    };
    assert_eq!(refused["code"], 507, "{refused}");
    assert_eq!(refused["error"], "storage-full", "{refused}");
    assert!(refused["message"].as_str().unwrap_or_default().contains("storage is full"), "{refused}");
    let failed_id = refused["client_id"].as_str().expect("the error names the message").to_string();

    // Nothing of the refused message reached anyone.
    seen.extend(bob.drain_for(Duration::from_millis(500)).await);
    assert!(!seen.iter().any(|v| v["client_id"] == failed_id.as_str()), "the refused message was sent");

    // Reads go on: a newcomer gets the history, without the refused message; health answers.
    let carol = Chat::connect(a, &token("fullroom", "carol03")).await;
    let history: Vec<String> = carol.welcome["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|m| m["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(history.iter().any(|t| t == "before the disk filled 0"), "{history:?}");
    assert_eq!(history.iter().filter(|t| **t == text).count(), stored.len(), "history holds exactly what was stored");
    assert_eq!(http(a, "GET", "/health", &[], vec![]).await.status, 200);

    // Space freed (by an admin, on that machine): chat works again.
    assert!(server.sh_on_its_disk(&format!("rm {}", ballast.display())));
    say(&mut alice, "after space was freed", "after").await.expect("stored again");
    let after = bob.drain_for(Duration::from_secs(2)).await;
    let m = after.iter().find(|v| v["client_id"] == "after").unwrap_or_else(|| panic!("{after:?}"));
    assert_eq!(m["text"], "after space was freed");
    // Nothing half-written: the refused message left no row behind (ids go on without a gap).
    let last_before = seen
        .iter()
        .chain(after.iter())
        .filter(|v| v["client_id"] != "after")
        .filter(|v| v["type"] == "message")
        .map(|v| v["id"].as_i64().expect("id"))
        .max();
    assert_eq!(m["id"].as_i64(), last_before.map(|i| i + 1), "{m}");
}
