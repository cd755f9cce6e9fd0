//! XEP-0045 basics: join with status codes 110/201/100 and the empty subject, presences both
//! ways, groupchat, private messages, leave, and the room's end after the last leave.

mod common;

use common::*;
use proto::xml::NS_CLIENT;

#[tokio::test]
async fn two_clients_join_see_each_other_chat_and_the_room_ends_with_the_last_leave() {
    let signal = Signal::start();
    let mut a = Client::anonymous(&signal).await;
    let mut b = Client::anonymous(&signal).await;

    let (me, others) = a.join("standup", "alice").await;
    assert!(others.is_empty());
    let codes = status_codes(&me);
    for c in ["110", "201", "100"] {
        assert!(codes.contains(&c.to_string()), "{c} missing from {codes:?}");
    }
    let item = me.get_child("x", NS_MUC_USER).unwrap().get_child("item", NS_MUC_USER).unwrap();
    assert_eq!(item.get_attr("affiliation"), Some("owner"));
    assert_eq!(item.get_attr("role"), Some("moderator"));

    let (me_b, others_b) = b.join("standup", "bob").await;
    let codes = status_codes(&me_b);
    assert!(codes.contains(&"110".to_string()) && !codes.contains(&"201".to_string()), "{codes:?}");
    assert_eq!(others_b.len(), 1);
    assert_eq!(others_b[0].get_attr("from"), Some("standup@conference.meet.lan/alice"));
    let item = others_b[0].get_child("x", NS_MUC_USER).unwrap().get_child("item", NS_MUC_USER).unwrap();
    assert_eq!(item.get_attr("jid"), Some(a.jid.as_str()), "real JIDs are visible (status 100)");
    assert_eq!(others_b[0].get_child("nick", "http://jabber.org/protocol/nick").unwrap().text_content(), "Name alice");

    // alice sees bob arrive
    let p = a.until(|s| s.name() == "presence").await;
    assert_eq!(p.get_attr("from"), Some("standup@conference.meet.lan/bob"));
    assert!(status_codes(&p).is_empty());

    // groupchat reaches both, from the sender's room JID
    b.send("<message to='standup@conference.meet.lan' type='groupchat' id='g1'><body>hello room</body></message>")
        .await;
    for c in [&mut a, &mut b] {
        let m = c.until(|s| s.name() == "message").await;
        assert_eq!(m.get_attr("from"), Some("standup@conference.meet.lan/bob"));
        assert_eq!(m.get_attr("type"), Some("groupchat"));
        assert_eq!(m.get_child("body", NS_CLIENT).unwrap().text_content(), "hello room");
    }

    // private message to room/nick reaches the real JID, from the sender's room JID
    a.send("<message to='standup@conference.meet.lan/bob' type='chat' id='pm1'><body>psst</body></message>").await;
    let m = b.until(|s| s.name() == "message").await;
    assert_eq!(m.get_attr("from"), Some("standup@conference.meet.lan/alice"));
    assert_eq!(m.get_attr("to"), Some(b.jid.as_str()));
    assert_eq!(m.get_child("body", NS_CLIENT).unwrap().text_content(), "psst");

    // a private message to a nick that is not there is an error
    a.send("<message to='standup@conference.meet.lan/nobody' type='chat' id='pm2'><body>?</body></message>").await;
    let e = a.until(|s| s.get_attr("id") == Some("pm2")).await;
    assert_eq!(error_condition(&e).as_deref(), Some("item-not-found"));

    // presence update (mute) is broadcast
    b.send("<presence to='standup@conference.meet.lan/bob'><audiomuted xmlns='urn:meet-lan:media:0'>true</audiomuted></presence>").await;
    let p = a.until(|s| s.name() == "presence").await;
    assert_eq!(p.get_child("audiomuted", "urn:meet-lan:media:0").unwrap().text_content(), "true");

    // leave: both see bob's unavailable, bob with 110
    b.send("<presence to='standup@conference.meet.lan/bob' type='unavailable'/>").await;
    let p = b.until(|s| s.name() == "presence" && s.get_attr("type").is_some()).await;
    assert_eq!(p.get_attr("type"), Some("unavailable"));
    assert!(status_codes(&p).contains(&"110".to_string()));
    let p = a.until(|s| s.name() == "presence").await;
    assert_eq!(p.get_attr("type"), Some("unavailable"));
    assert_eq!(p.get_attr("from"), Some("standup@conference.meet.lan/bob"));

    // the room is listed, then gone after the last leave
    a.send(
        "<iq type='get' id='it1' to='conference.meet.lan'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>",
    )
    .await;
    let r = a.until(|s| s.get_attr("id") == Some("it1")).await;
    assert_eq!(r.get_child("query", "http://jabber.org/protocol/disco#items").unwrap().children().count(), 1);
    a.send("<presence to='standup@conference.meet.lan/alice' type='unavailable'/>").await;
    let _ = a.until(|s| s.name() == "presence").await;
    a.send(
        "<iq type='get' id='it2' to='conference.meet.lan'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>",
    )
    .await;
    let r = a.until(|s| s.get_attr("id") == Some("it2")).await;
    assert_eq!(r.get_child("query", "http://jabber.org/protocol/disco#items").unwrap().children().count(), 0);

    // a new joiner creates it afresh (201 again)
    let (me, _) = b.join("standup", "bob").await;
    assert!(status_codes(&me).contains(&"201".to_string()));
}

#[tokio::test]
async fn a_disconnected_client_leaves_its_rooms() {
    let signal = Signal::start();
    let mut a = Client::anonymous(&signal).await;
    let mut b = Client::anonymous(&signal).await;
    a.join("r2", "alice").await;
    b.join("r2", "bob").await;
    let _ = a.until(|s| s.name() == "presence").await;
    drop(b);
    let p = a.until(|s| s.name() == "presence").await;
    assert_eq!(p.get_attr("type"), Some("unavailable"));
    assert_eq!(p.get_attr("from"), Some("r2@conference.meet.lan/bob"));
}

#[tokio::test]
async fn non_occupants_cannot_post_to_a_room() {
    let signal = Signal::start();
    let mut a = Client::anonymous(&signal).await;
    let mut b = Client::anonymous(&signal).await;
    a.join("r3", "alice").await;
    b.send("<message to='r3@conference.meet.lan' type='groupchat' id='x1'><body>spam</body></message>").await;
    let e = b.until(|s| s.get_attr("id") == Some("x1")).await;
    assert_eq!(error_condition(&e).as_deref(), Some("not-acceptable"));
}
