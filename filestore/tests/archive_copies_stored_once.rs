//! The archive stores each one-to-one message once, under the stanza-id signal gave it,
//! however often its copy arrives; only copies from the server JID count: the same copy
//! claiming to come from a person or from another component is refused, counted, and
//! changes nothing.

mod common;
use common::bus::*;

const ALICE: &str = "alice@guest.meet.lan";
const BOB: &str = "bob@auth.meet.lan";

#[tokio::test]
async fn copies_are_stored_once_and_forged_ones_refused() {
    let mut bus = FakeSignal::start().await;
    let (server, mut conn) = start_with_bus(&mut bus, &[]).await;
    let a = &server.addr;
    wait_metric(a, "filestore_archive_bus_connected", 1.0).await;

    let m1 = chat(&format!("{ALICE}/page1"), BOB, "s-0001", "hello Bob");
    for _ in 0..3 {
        conn.send(copy(&m1, "Alice", Some(true)));
    }
    conn.send(copy(&chat(&format!("{BOB}/phone"), ALICE, "s-0002", "hi Alice"), "Bob", Some(true)));

    // Forgeries: a person, another component, the archive's own name; none has the server JID.
    let forged = chat(&format!("{ALICE}/page1"), BOB, "s-9999", "forged");
    for from in [format!("{ALICE}/page1"), "evil.meet.lan".to_string(), ARCHIVE.to_string(), String::new()] {
        conn.send(copy_from(&from, &forged, "Alice", Some(true)));
    }
    // A copy from the server JID without the server's stanza-id cannot be stored.
    let no_id = forged.replace("by='meet.lan'", &format!("by='{ALICE}'"));
    conn.send(copy(&no_id, "Alice", Some(true)));

    let (results, answer) = conn.iq(&format!("{BOB}/phone"), "set", &mam("q1", Some(ALICE), 50, Some(""))).await;
    assert_eq!(result_ids(&results), vec!["s-0001", "s-0002"]);
    assert_eq!(bodies(&results), vec!["hello Bob", "hi Alice"]);
    let (complete, _, _, _, count) = fin(&answer);
    assert!(complete);
    assert_eq!(count, 2);
    // The forwarded message is the one signal routed, with its stamp.
    let r = results[0].get_child("result", "urn:xmpp:mam:2").expect("result");
    assert_eq!(r.get_attr("queryid"), Some("q1"));
    let fwd = r.get_child("forwarded", "urn:xmpp:forward:0").expect("forwarded");
    assert_eq!(
        fwd.get_child("delay", "urn:xmpp:delay").and_then(|d| d.get_attr("stamp")),
        Some("2025-06-01T10:00:00Z")
    );
    let msg = fwd.get_child("message", "jabber:client").expect("message");
    assert_eq!(msg.get_attr("from"), Some("alice@guest.meet.lan/page1"));
    assert_eq!(results[0].get_attr("to"), Some("bob@auth.meet.lan/phone"));

    assert_eq!(metric(a, "filestore_archive_messages_stored_total").await, 2.0);
    assert_eq!(metric(a, "filestore_archive_copies_duplicate_total").await, 2.0);
    assert_eq!(metric(a, "filestore_archive_copies_forged_total").await, 4.0);
    assert_eq!(metric(a, "filestore_archive_copies_invalid_total").await, 1.0);

    // Not from a person at all: a component asking gets forbidden, not an archive.
    let (_, answer) = conn.iq("focus.meet.lan", "set", &mam("q2", Some(ALICE), 50, Some(""))).await;
    assert_eq!(error_condition(&answer).as_deref(), Some("forbidden"));
}
