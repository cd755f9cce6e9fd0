//! A person only ever sees their own conversations and notifications: asking for someone
//! else's conversation gives an empty result (not an error that would tell it exists), an
//! id from it is not found, the inbox and an unfiltered history hold only one's own, and
//! another's notification can be neither listed nor dismissed.

mod common;
use common::bus::*;

const ALICE: &str = "alice@guest.meet.lan";
const BOB: &str = "bob@guest.meet.lan";
const MALLORY: &str = "mallory@guest.meet.lan";

#[tokio::test]
async fn nobody_reads_another_conversation() {
    let mut bus = FakeSignal::start().await;
    let (_server, mut conn) = start_with_bus(&mut bus, &[]).await;
    conn.send(copy(&chat(&format!("{ALICE}/p"), BOB, "secret-1", "our secret"), "Alice", Some(true)));
    conn.send(copy(&chat(&format!("{BOB}/p"), ALICE, "secret-2", "safe with me"), "Bob", Some(true)));
    conn.send(copy(&chat(&format!("{MALLORY}/p"), BOB, "m-1", "hi Bob"), "Mallory", Some(true)));
    conn.send(copy(&invite(&format!("{ALICE}/p"), BOB, "planning", "inv-1"), "Alice", Some(true)));
    let headline = conn.recv().await.expect("Bob's invitation headline");
    let inv_id = notifications_of(&headline)[0].get_attr("id").expect("id").to_string();

    let me = format!("{MALLORY}/p");
    // Mallory asks for Alice's history "with Bob", and for Bob's "with Alice".
    for with in [BOB, ALICE] {
        let (r, a) = conn.iq(&me, "set", &mam("m", Some(with), 50, Some(""))).await;
        let (complete, first, _, _, count) = fin(&a);
        if with == BOB {
            // Her own conversation with Bob: just her message.
            assert_eq!(result_ids(&r), vec!["m-1"]);
        } else {
            assert!(r.is_empty());
            assert_eq!((complete, first, count), (true, None, 0));
        }
    }
    let (r, _) = conn.iq(&me, "set", &mam("all", None, 100, Some(""))).await;
    assert_eq!(result_ids(&r), vec!["m-1"], "an unfiltered history holds only her own messages");
    for id in ["secret-1", "secret-2"] {
        let (r, a) = conn.iq(&me, "set", &mam("m", Some(BOB), 50, Some(id))).await;
        assert!(r.is_empty());
        assert_eq!(error_condition(&a).as_deref(), Some("item-not-found"));
    }
    let (r, a) = conn.iq(&me, "set", INBOX).await;
    assert_eq!(r.len(), 1);
    assert_eq!(bodies(&r), vec!["hi Bob"]);
    assert_eq!(a.get_child("fin", "urn:xmpp:inbox:1").and_then(|f| f.get_attr("total")), Some("1"));
    let (_, a) = conn.iq(&me, "get", NOTIFICATIONS).await;
    assert!(notifications_of(&a).is_empty());
    let (_, a) = conn.iq(&me, "set", &dismiss(&inv_id)).await;
    assert_eq!(error_condition(&a).as_deref(), Some("item-not-found"));
    // Bob's is still there; Alice and Bob see their conversation.
    let (_, a) = conn.iq(&format!("{BOB}/p"), "get", NOTIFICATIONS).await;
    assert_eq!(notifications_of(&a).len(), 1);
    let (r, _) = conn.iq(&format!("{ALICE}/x"), "set", &mam("a", Some(BOB), 50, Some(""))).await;
    assert_eq!(bodies(&r), vec!["our secret", "safe with me"]);
}
