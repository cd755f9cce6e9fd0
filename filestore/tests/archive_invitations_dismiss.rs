//! An XEP-0249 invitation copied to the archive becomes an invitation notification for the
//! invitee (headline at once, listed until dismissed, once however often the copy comes);
//! dismiss removes one notification, and only its person's.

mod common;
use common::bus::*;

const ALICE: &str = "alice@auth.meet.lan";
const BOB: &str = "bob@guest.meet.lan";

#[tokio::test]
async fn invitation_then_dismiss() {
    let mut bus = FakeSignal::start().await;
    let (_server, mut conn) = start_with_bus(&mut bus, &[]).await;
    let inv = invite(&format!("{ALICE}/laptop"), BOB, "Planning", "inv-1");
    conn.send(copy(&inv, "Alice Liddell", Some(true)));
    conn.send(copy(&inv, "Alice Liddell", Some(true)));
    let h = conn.recv().await.expect("invitation headline");
    assert_eq!(
        (h.get_attr("type"), h.get_attr("to"), h.get_attr("from")),
        (Some("headline"), Some(BOB), Some(ARCHIVE))
    );
    let n = &notifications_of(&h)[0];
    assert_eq!(n.name(), "invitation");
    let attr = |k: &str| n.get_attr(k).map(str::to_string);
    assert_eq!(
        (attr("from"), attr("name"), attr("room"), attr("reason")),
        (Some(ALICE.into()), Some("Alice Liddell".into()), Some("planning".into()), Some("come and see".into()))
    );
    // An invitation to a room of another server is not a meeting of ours.
    conn.send(copy(&inv.replace("@conference.meet.lan", "@conference.elsewhere.org"), "Alice", Some(true)));
    // A missed call too, for the list.
    conn.send(copy(&propose(&format!("{ALICE}/laptop"), BOB, "c1", true), "Alice Liddell", Some(false)));
    assert!(conn.recv().await.is_some_and(|h| notifications_of(&h)[0].name() == "missed-call"));
    assert!(conn.drain_for(std::time::Duration::from_millis(300)).await.is_empty(), "one headline per notification");

    let me = format!("{BOB}/p");
    let (_, a) = conn.iq(&me, "get", NOTIFICATIONS).await;
    let list = notifications_of(&a);
    assert_eq!(list.iter().map(|n| n.name()).collect::<Vec<_>>(), vec!["missed-call", "invitation"]);
    let inv_id = list[1].get_attr("id").expect("id").to_string();

    let (_, a) = conn.iq(&me, "set", &dismiss(&inv_id)).await;
    assert_eq!(a.get_attr("type"), Some("result"));
    let (_, a) = conn.iq(&me, "set", &dismiss(&inv_id)).await;
    assert_eq!(error_condition(&a).as_deref(), Some("item-not-found"), "dismissed once");
    let (_, a) = conn.iq(&me, "set", "<dismiss xmlns='urn:meet-lan:people:0'/>").await;
    assert_eq!(error_condition(&a).as_deref(), Some("bad-request"));
    let (_, a) = conn.iq(&me, "get", NOTIFICATIONS).await;
    assert_eq!(notifications_of(&a).iter().map(|n| n.name()).collect::<Vec<_>>(), vec!["missed-call"]);
}
