//! Everything the archive holds survives a SIGKILL and restart of filestore: messages (a copy
//! seen again after the restart is still stored once), read pointers and unread counts,
//! notifications, and an open call proposal, whose ring time keeps running: it becomes a
//! missed call after the restart. The archive reconnects to the bus by itself.

mod common;
use common::bus::*;
use std::time::Duration;

const ALICE: &str = "alice@guest.meet.lan";
const BOB: &str = "bob@guest.meet.lan";

#[tokio::test]
async fn archive_after_a_kill() {
    let mut bus = FakeSignal::start().await;
    let (mut server, mut conn) = start_with_bus(&mut bus, &[("ARCHIVE_RING_SECS", "3")]).await;
    let m = |i: usize| chat(&format!("{ALICE}/p"), BOB, &format!("s{i}"), &format!("before the crash {i}"));
    for i in 0..5 {
        conn.send(copy(&m(i), "Alice", Some(true)));
    }
    conn.send(copy(&displayed(&format!("{BOB}/p"), ALICE, "s1"), "Bob", Some(true)));
    conn.send(copy(&invite(&format!("{ALICE}/p"), BOB, "retro", "i1"), "Alice", Some(true)));
    conn.send(copy(&propose(&format!("{ALICE}/p"), BOB, "rings-on", true), "Alice", Some(true)));
    assert!(conn.recv().await.is_some(), "the invitation's headline");
    // A query answered means every copy before it is committed.
    let (r, _) = conn.iq(&format!("{BOB}/p"), "set", INBOX).await;
    assert_eq!(r.len(), 1);
    let proposed = std::time::Instant::now();

    server.kill_and_restart();
    assert!(conn.closed().await, "the old stream ended with the process");
    let mut conn = bus.connected().await;
    conn.send(copy(&m(4), "Alice", Some(true)));

    let (r, a) = conn.iq(&format!("{BOB}/p"), "set", &mam("h", Some(ALICE), 50, Some(""))).await;
    assert_eq!(result_ids(&r), vec!["s0", "s1", "s2", "s3", "s4"]);
    assert_eq!(fin(&a).4, 5);
    let (_, a) = conn.iq(&format!("{BOB}/p"), "set", INBOX).await;
    let fin_attr = |k: &str| a.get_child("fin", "urn:xmpp:inbox:1").and_then(|f| f.get_attr(k)).map(str::to_string);
    assert_eq!(fin_attr("all-unread").as_deref(), Some("3"), "the read pointer survived (s2, s3, s4 unread)");

    let h = conn.recv().await.expect("the open proposal rang out after the restart");
    assert!(proposed.elapsed() >= Duration::from_secs(2), "{:?}", proposed.elapsed());
    assert_eq!(notifications_of(&h)[0].name(), "missed-call");
    let (_, a) = conn.iq(&format!("{BOB}/p"), "get", NOTIFICATIONS).await;
    let names: Vec<String> = notifications_of(&a).iter().map(|n| n.name().to_string()).collect();
    assert_eq!(names, vec!["missed-call", "invitation"]);
    assert_eq!(metric(&server.addr, "filestore_archive_messages_stored_total").await, 0.0, "s4 again: nothing new");
    assert_eq!(metric(&server.addr, "filestore_archive_copies_duplicate_total").await, 1.0);
}
