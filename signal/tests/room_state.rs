//! Room state (ROOMS.md section 4): on join, after the self-presence and before the subject,
//! and to everyone after each change, a groupchat message from the room with status 104 and
//! `<room-state locked lobby/>`.

mod common;

use common::*;

fn state(m: &proto::xml::Element) -> (String, String) {
    let s = m.get_child("room-state", NS_ROOM).expect("room-state");
    (s.get_attr("locked").unwrap_or_default().into(), s.get_attr("lobby").unwrap_or_default().into())
}

const LOCK: &str = "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field><field var='muc#roomconfig_roomsecret'><value>pw</value></field></x></query>";
const UNLOCK: &str = "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_passwordprotectedroom'><value>0</value></field></x></query>";

#[tokio::test]
async fn everyone_sees_the_room_state_on_join_and_after_each_change() {
    let signal = Signal::start();
    let mut m = Client::anonymous(&signal).await;
    let mut p = Client::anonymous(&signal).await;
    m.send("<presence to='state@conference.meet.lan/m'><x xmlns='http://jabber.org/protocol/muc'/></presence>").await;
    let me = m.until(|s| s.name() == "presence").await;
    assert!(status_codes(&me).contains(&"110".to_string()));
    let first = m.s.stanza().await;
    assert_eq!(first.get_attr("type"), Some("groupchat"));
    assert!(status_codes(&first).contains(&"104".to_string()), "{first}");
    assert_eq!(state(&first), ("false".into(), "off".into()));
    assert!(m.s.stanza().await.get_child("subject", proto::xml::NS_CLIENT).is_some(), "the subject comes after");
    p.join("state", "p").await;

    let r = m.iq("c1", &format!("<iq type='set' id='c1' to='state@conference.meet.lan'>{LOCK}</iq>")).await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    assert_eq!(state(&p.room_message("room-state").await), ("true".into(), "off".into()));
    assert_eq!(state(&m.room_message("room-state").await), ("true".into(), "off".into()));

    let r = m.control("state", "l1", "<lobby xmlns='urn:meet-lan:room:0' enabled='true'/>").await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    assert_eq!(state(&p.room_message("room-state").await), ("true".into(), "on".into()));

    let r = m.iq("c2", &format!("<iq type='set' id='c2' to='state@conference.meet.lan'>{UNLOCK}</iq>")).await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    assert_eq!(state(&p.room_message("room-state").await), ("false".into(), "on".into()));

    // a participant cannot change it, and a client cannot forge it in groupchat
    let r = p.control("state", "l2", "<lobby xmlns='urn:meet-lan:room:0' enabled='false'/>").await;
    assert_eq!(error_condition(&r).as_deref(), Some("forbidden"), "{r}");
    p.send("<message to='state@conference.meet.lan' type='groupchat'><body>hi</body><room-state xmlns='urn:meet-lan:room:0' locked='false' lobby='off'/></message>").await;
    let hi = m.until(|s| s.get_child("body", proto::xml::NS_CLIENT).is_some()).await;
    assert!(hi.get_child("room-state", NS_ROOM).is_none(), "{hi}");
}
