//! Remove (ROOMS.md section 3): the removed person gets the XEP-0045 kick presence (307,
//! actor, reason) and stays out — a rejoin, also from a new connection with the same browser
//! key, and a conference request are refused with `forbidden` + `<removed/>` and the reason —
//! until a moderator allows them back or the removal period (`SIGNAL_REMOVAL_SECS`) ends.
//! Moderators get the removed list at each change, with opaque ids only.

mod common;

use common::*;
use std::time::Duration;

const KEY: &str = "0123456789abcdef0123456789abcdef";

fn browser() -> String {
    format!("<browser xmlns='urn:meet-lan:room:0' key='{KEY}'/>")
}

#[tokio::test]
async fn removed_guest_stays_out_until_allowed_back() {
    let signal = Signal::start();
    let mut focus = FakeFocus::connect(&signal).await;
    let mut m = Client::anonymous(&signal).await;
    let mut g = Client::anonymous(&signal).await;
    let mut other = Client::anonymous(&signal).await;
    m.join("kick", "m").await;
    let joined = g.try_join("kick", "g", &browser()).await;
    assert_ne!(joined.get_attr("type"), Some("error"));
    other.join("kick", "o").await;

    // a participant cannot remove anyone
    let r = other.admin("kick", "k0", "<item nick='g' role='none'/>").await;
    assert_eq!(error_condition(&r).as_deref(), Some("forbidden"), "{r}");

    let r = m.admin("kick", "k1", "<item nick='g' role='none'><reason>too loud</reason></item>").await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    let out = g.until(|s| s.name() == "presence" && s.get_attr("type") == Some("unavailable")).await;
    let codes = status_codes(&out);
    assert!(codes.contains(&"307".to_string()) && codes.contains(&"110".to_string()), "{codes:?}");
    let item = out.get_child("x", NS_MUC_USER).unwrap().get_child("item", NS_MUC_USER).unwrap();
    assert_eq!(item.get_child("actor", NS_MUC_USER).unwrap().get_attr("nick"), Some("m"));
    assert_eq!(item.get_child("reason", NS_MUC_USER).unwrap().text_content(), "too loud");

    // the moderator gets the removed list: a name and an opaque id, no identity
    let list = m.room_message("removed").await;
    let removed = list.get_child("removed", NS_ROOM).unwrap();
    let people: Vec<_> = removed.children().collect();
    assert_eq!(people.len(), 1, "{list}");
    assert_eq!(people[0].get_attr("name"), Some("Name g"));
    let id = people[0].get_attr("id").unwrap().to_string();
    assert!(!list.to_string().contains(KEY), "the browser key is never sent: {list}");

    // the same session, and a new one with the same browser key, are refused with the reason
    let again = g.try_join("kick", "g", &browser()).await;
    assert_refused(&again, "forbidden", Some("removed"));
    assert!(proto::bus::stanza_error(&again).unwrap().1.unwrap().contains("too loud"));
    let mut g2 = Client::anonymous(&signal).await;
    let again = g2.try_join("kick", "g2", &browser()).await;
    assert_refused(&again, "forbidden", Some("removed"));
    // so is its conference request, before focus sees it
    let r = g2
        .iq(
            "c1",
            &format!("<iq type='set' id='c1' to='focus.meet.lan'><conference xmlns='http://jitsi.org/protocol/focus' room='kick@conference.meet.lan'>{}</conference></iq>", browser()),
        )
        .await;
    assert_refused(&r, "forbidden", Some("removed"));
    let jitsi_style = format!("<iq type='set' id='c2' to='focus.meet.lan'><conference xmlns='http://jitsi.org/protocol/focus' room='kick@conference.meet.lan' machine-uid='{KEY}'/></iq>");
    assert_refused(&g2.iq("c2", &jitsi_style).await, "forbidden", Some("removed"));
    assert!(focus.next_within(Duration::from_millis(300), |s| s.name() == "iq").await.is_none());
    // a participant cannot allow anyone back
    let r = other.control("kick", "a0", &format!("<allow xmlns='urn:meet-lan:room:0' id='{id}'/>")).await;
    assert_eq!(error_condition(&r).as_deref(), Some("forbidden"), "{r}");

    // the moderator allows g back: the list is empty again and the join works
    let r = m.control("kick", "a1", &format!("<allow xmlns='urn:meet-lan:room:0' id='{id}'/>")).await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    let list = m.room_message("removed").await;
    assert_eq!(list.get_child("removed", NS_ROOM).unwrap().children().count(), 0, "{list}");
    let back = g2.try_join("kick", "g2", &browser()).await;
    assert_ne!(back.get_attr("type"), Some("error"), "{back}");
}

#[tokio::test]
async fn a_removal_ends_by_itself_after_the_removal_period() {
    let signal = Signal::start_with(&[("SIGNAL_REMOVAL_SECS", "2")]);
    let mut m = Client::anonymous(&signal).await;
    let mut g = Client::anonymous(&signal).await;
    m.join("expiry", "m").await;
    g.try_join("expiry", "g", &browser()).await;
    let r = m.admin("expiry", "k1", "<item nick='g' role='none'/>").await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    assert_eq!(m.room_message("removed").await.get_child("removed", NS_ROOM).unwrap().children().count(), 1);
    let out = g.until(|s| s.name() == "presence" && s.get_attr("type") == Some("unavailable")).await;
    assert!(status_codes(&out).contains(&"307".to_string()));
    assert_refused(&g.try_join("expiry", "g", &browser()).await, "forbidden", Some("removed"));

    // the moderator is told when the removal ends; then the join works
    let list = m.room_message("removed").await;
    assert_eq!(list.get_child("removed", NS_ROOM).unwrap().children().count(), 0, "{list}");
    let back = g.try_join("expiry", "g", &browser()).await;
    assert_ne!(back.get_attr("type"), Some("error"), "{back}");
}
