//! History pages backwards (XEP-0313 with XEP-0059): the newest page first, then each older
//! page by `<before>` the first id of the last one, oldest first within a page, with `fin`
//! telling `complete`, `first` (and its index), `last` and `count`; `max` above 100 is cut
//! to 100; an id that is not in the conversation is item-not-found.

mod common;
use common::bus::*;

const ALICE: &str = "alice@guest.meet.lan";
const BOB: &str = "bob@guest.meet.lan";

#[tokio::test]
async fn three_pages_backwards() {
    let mut bus = FakeSignal::start().await;
    let (_server, mut conn) = start_with_bus(&mut bus, &[]).await;
    let ids: Vec<String> = (0..25).map(|i| format!("sid-{i:03}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let (from, to) = if i % 3 == 0 { (BOB, ALICE) } else { (ALICE, BOB) };
        conn.send(copy(&chat(&format!("{from}/p"), to, id, &format!("message {i}")), "X", Some(true)));
    }
    // Someone else's conversation in between changes nothing here.
    conn.send(copy(&chat("carol@guest.meet.lan/p", BOB, "sid-carol", "psst"), "Carol", Some(true)));

    let me = format!("{ALICE}/page");
    let (r, a) = conn.iq(&me, "set", &mam("p1", Some(BOB), 10, Some(""))).await;
    assert_eq!(result_ids(&r), ids[15..25].to_vec());
    assert_eq!(bodies(&r)[0], "message 15");
    let (complete, first, index, last, count) = fin(&a);
    assert_eq!(
        (complete, first.as_deref(), index.as_deref(), last.as_deref(), count),
        (false, Some("sid-015"), Some("15"), Some("sid-024"), 25)
    );

    let (r, a) = conn.iq(&me, "set", &mam("p2", Some(BOB), 10, Some("sid-015"))).await;
    assert_eq!(result_ids(&r), ids[5..15].to_vec());
    let (complete, first, index, _, count) = fin(&a);
    assert_eq!((complete, first.as_deref(), index.as_deref(), count), (false, Some("sid-005"), Some("5"), 25));

    let (r, a) = conn.iq(&me, "set", &mam("p3", Some(BOB), 10, Some("sid-005"))).await;
    assert_eq!(result_ids(&r), ids[0..5].to_vec());
    let (complete, first, index, last, _) = fin(&a);
    assert_eq!(
        (complete, first.as_deref(), index.as_deref(), last.as_deref()),
        (true, Some("sid-000"), Some("0"), Some("sid-004"))
    );
    assert!(r
        .iter()
        .all(|m| m.get_child("result", "urn:xmpp:mam:2").and_then(|x| x.get_attr("queryid")) == Some("p3")));

    // Bob sees the same conversation from his side.
    let (r, _) = conn.iq(&format!("{BOB}/x"), "set", &mam("b", Some(ALICE), 100, Some(""))).await;
    assert_eq!(result_ids(&r), ids);

    // max is at most 100.
    for i in 0..110 {
        conn.send(copy(&chat(&format!("{ALICE}/p"), BOB, &format!("more-{i:03}"), "more"), "Alice", Some(true)));
    }
    let (r, a) = conn.iq(&me, "set", &mam("big", Some(BOB), 500, Some(""))).await;
    assert_eq!(r.len(), 100);
    assert_eq!(fin(&a).4, 135);

    // An id from another conversation is not found here (and says nothing about it).
    let (_, a) = conn.iq(&me, "set", &mam("x", Some(BOB), 10, Some("sid-carol"))).await;
    assert_eq!(error_condition(&a).as_deref(), Some("item-not-found"));
    let (_, a) = conn.iq(&me, "set", &mam("y", Some(BOB), 10, Some("no-such-id"))).await;
    assert_eq!(error_condition(&a).as_deref(), Some("item-not-found"));
    // Bad queries are bad-request, and change nothing.
    let bad = "<query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><max>ten</max></set></query>";
    let (_, a) = conn.iq(&me, "set", bad).await;
    assert_eq!(error_condition(&a).as_deref(), Some("bad-request"));
}
