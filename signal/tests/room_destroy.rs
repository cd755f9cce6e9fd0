//! End the meeting (ROOMS.md section 3): an elected moderator (an owner) destroys the room;
//! every occupant, focus included, gets the unavailable presence with `<destroy/>` and the
//! reason, knockers get `<lobby state="ended"/>`; a participant is refused and nothing
//! changes; a new join afterwards creates a new room.

mod common;

use common::*;

#[tokio::test]
async fn moderator_ends_the_meeting_for_everyone() {
    let signal = Signal::start();
    let mut focus = FakeFocus::connect(&signal).await;
    focus.join("ending").await;
    let mut m = Client::anonymous(&signal).await;
    let mut p = Client::anonymous(&signal).await;
    let mut k = Client::anonymous(&signal).await;
    m.join("ending", "m").await;
    p.join("ending", "p").await;
    let r = m.control("ending", "l1", "<lobby xmlns='urn:meet-lan:room:0' enabled='true'/>").await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    assert_refused(&k.try_join("ending", "k", "").await, "registration-required", Some("lobby"));

    let destroy =
        "<query xmlns='http://jabber.org/protocol/muc#owner'><destroy><reason>that is all</reason></destroy></query>";
    let r = p.iq("d0", &format!("<iq type='set' id='d0' to='ending@conference.meet.lan'>{destroy}</iq>")).await;
    assert_eq!(error_condition(&r).as_deref(), Some("forbidden"), "{r}");
    still_served(&mut p, "still").await;

    let r = m.iq("d1", &format!("<iq type='set' id='d1' to='ending@conference.meet.lan'>{destroy}</iq>")).await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    for c in [&mut m, &mut p] {
        let gone = c.until(|s| s.name() == "presence" && s.get_attr("type") == Some("unavailable")).await;
        let d = gone.get_child("x", NS_MUC_USER).unwrap().get_child("destroy", NS_MUC_USER).expect("destroy");
        assert_eq!(d.get_child("reason", NS_MUC_USER).unwrap().text_content(), "that is all");
    }
    let gone = focus
        .next(|s| {
            s.get_attr("from") == Some("ending@conference.meet.lan/focus") && s.get_attr("type") == Some("unavailable")
        })
        .await;
    assert!(gone.get_child("x", NS_MUC_USER).unwrap().get_child("destroy", NS_MUC_USER).is_some());
    let ended = k.room_message("lobby").await;
    assert_eq!(ended.get_child("lobby", NS_ROOM).unwrap().get_attr("state"), Some("ended"));

    // the name is free again: the next joiner creates a new room (status 201)
    let (me, _) = p.join("ending", "p").await;
    assert!(status_codes(&me).contains(&"201".to_string()), "{me}");
}
