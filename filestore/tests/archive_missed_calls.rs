//! A call proposal that the callee neither accepts nor declines becomes a missed call for
//! them: retracted by the caller, unanswered when the ring time runs out
//! (`ARCHIVE_RING_SECS`, 2 s here), made while they had no session (signal's copy says
//! `delivered="false"`), or rejected as busy by a page already in a call. The callee gets a
//! headline at once and finds it in their notifications; accepted and declined calls leave
//! nothing, and a stanza of the call from anyone but its two people settles nothing.

mod common;
use common::bus::*;
use proto::xml::Element;
use std::time::Duration;

const ALICE: &str = "alice@guest.meet.lan";
const BOB: &str = "bob@guest.meet.lan";
const CAROL: &str = "carol@guest.meet.lan";

fn alice() -> String {
    format!("{ALICE}/page1")
}
fn bob() -> String {
    format!("{BOB}/page7")
}

/// The missed-call headline to `who`: (from, name, media).
fn missed_headline(h: &Element, who: &str) -> (String, String, String) {
    assert_eq!(
        (h.name(), h.get_attr("type"), h.get_attr("to")),
        ("message", Some("headline"), Some(who)),
        "{}",
        h.to_stanza_string()
    );
    let n = notifications_of(h);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].name(), "missed-call");
    let a = |k: &str| n[0].get_attr(k).unwrap_or_default().to_string();
    assert!(a("at").ends_with('Z') && !a("id").is_empty());
    (a("from"), a("name"), a("media"))
}

#[tokio::test]
async fn missed_after_retract_timeout_offline_and_busy() {
    let mut bus = FakeSignal::start().await;
    let (server, mut conn) = start_with_bus(&mut bus, &[("ARCHIVE_RING_SECS", "2")]).await;

    // Retracted: missed at once.
    conn.send(copy(&propose(&alice(), BOB, "call-1", true), "Alice", Some(true)));
    conn.send(copy(&jmi(&alice(), BOB, "retract", "call-1", ""), "Alice", Some(true)));
    let h = conn.recv().await.expect("headline after retract");
    assert_eq!(missed_headline(&h, BOB), (ALICE.into(), "Alice".into(), "video".into()));

    // Offline: missed at once, without waiting for anything.
    conn.send(copy(&propose(&alice(), BOB, "call-2", false), "Alice", Some(false)));
    let h = conn.recv().await.expect("headline for a call while offline");
    assert_eq!(missed_headline(&h, BOB).2, "audio");

    // Busy: a page already in a call rejected it.
    conn.send(copy(&propose(&alice(), BOB, "call-3", false), "Alice", Some(true)));
    conn.send(copy(&jmi(&bob(), ALICE, "reject", "call-3", BUSY), "Bob", Some(true)));
    let h = conn.recv().await.expect("headline for a busy reject");
    assert_eq!(missed_headline(&h, BOB).0, ALICE);

    // Accepted (accept to Bob's other pages, proceed to Alice) and declined: no notification.
    conn.send(copy(&propose(&alice(), BOB, "call-4", true), "Alice", Some(true)));
    conn.send(copy(&jmi(&bob(), BOB, "accept", "call-4", ""), "Bob", Some(true)));
    conn.send(copy(&jmi(&bob(), &alice(), "proceed", "call-4", ""), "Bob", Some(true)));
    conn.send(copy(&jmi(&alice(), BOB, "retract", "call-4", ""), "Alice", Some(true)));
    conn.send(copy(&propose(&alice(), BOB, "call-5", true), "Alice", Some(true)));
    conn.send(copy(&jmi(&bob(), ALICE, "reject", "call-5", ""), "Bob", Some(true)));
    conn.send(copy(&jmi(&bob(), BOB, "reject", "call-5", ""), "Bob", Some(true)));
    // Carol cannot accept Bob's call, nor Bob retract Alice's.
    conn.send(copy(&propose(&alice(), BOB, "call-6", false), "Alice", Some(true)));
    conn.send(copy(&jmi(&format!("{CAROL}/x"), CAROL, "accept", "call-6", ""), "Carol", Some(true)));
    conn.send(copy(&jmi(&format!("{CAROL}/x"), &alice(), "proceed", "call-6", ""), "Carol", Some(true)));
    conn.send(copy(&jmi(&bob(), ALICE, "retract", "call-6", ""), "Bob", Some(true)));
    // A second copy of the same proposal is the same call.
    conn.send(copy(&propose(&alice(), BOB, "call-6", false), "Alice", Some(true)));

    // Unanswered: call-6 rings out after 2 s, and only it.
    let t0 = std::time::Instant::now();
    let h = conn.recv().await.expect("headline when the ring time ran out");
    assert!(t0.elapsed() >= Duration::from_millis(1000), "not before the ring time ({:?})", t0.elapsed());
    assert_eq!(missed_headline(&h, BOB).0, ALICE);
    assert!(conn.drain_for(Duration::from_millis(2500)).await.is_empty(), "nothing else became missed");

    let (_, a) = conn.iq(&bob(), "get", NOTIFICATIONS).await;
    let list = notifications_of(&a);
    assert_eq!(list.len(), 4, "retracted, offline, busy, unanswered");
    assert!(list.iter().all(|n| n.name() == "missed-call" && n.get_attr("from") == Some(ALICE)));
    let ids: Vec<i64> = list.iter().map(|n| n.get_attr("id").and_then(|i| i.parse().ok()).expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert_eq!(metric(&server.addr, "filestore_archive_missed_calls_total").await, 4.0);
    // The caller has no notification of her own calls.
    let (_, a) = conn.iq(&alice(), "get", NOTIFICATIONS).await;
    assert!(notifications_of(&a).is_empty());
}
