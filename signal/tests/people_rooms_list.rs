//! Rooms open to join (PEOPLE.md section 3): `<rooms xmlns="urn:meet-lan:people:0"/>` to
//! `conference.meet.lan` lists rooms with at least one person, without a password or a
//! lobby, never a call room, by name, with how many people are in each.

mod common;

use common::*;

async fn rooms(c: &mut Client, id: &str) -> Vec<(String, String)> {
    let r =
        c.iq(id, &format!("<iq type='get' id='{id}' to='conference.meet.lan'><rooms xmlns='{NS_PEOPLE}'/></iq>")).await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    r.get_child("rooms", NS_PEOPLE)
        .expect("a rooms element")
        .children()
        .map(|room| (room.get_attr("name").unwrap().to_string(), room.get_attr("people").unwrap().to_string()))
        .collect()
}

#[tokio::test]
async fn only_rooms_anyone_may_join_are_listed() {
    let signal = Signal::start();
    let mut focus = FakeFocus::connect(&signal).await;
    let mut a = Client::anonymous(&signal).await;
    let mut b = Client::anonymous(&signal).await;
    let mut c = Client::guest(&signal, &guest_secret()).await;
    a.join("zeta", "a").await;
    b.join("zeta", "b").await;
    a.join("alpha", "a").await;
    focus.join("empty-of-people").await;
    c.join("call-0123456789abcdef0123456789abcdef", "c").await;
    b.join("locked", "b").await;
    let form = "<iq type='set' id='pw' to='locked@conference.meet.lan'><query xmlns='http://jabber.org/protocol/muc#owner'>\
                <x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field>\
                <field var='muc#roomconfig_roomsecret'><value>s3cret</value></field></x></query></iq>";
    assert_eq!(b.iq("pw", form).await.get_attr("type"), Some("result"));
    c.join("waiting", "c").await;
    assert_eq!(
        c.control("waiting", "lob", &format!("<lobby xmlns='{NS_ROOM}' enabled='true'/>")).await.get_attr("type"),
        Some("result")
    );

    let list = rooms(&mut c, "r1").await;
    assert_eq!(list, vec![("alpha".to_string(), "1".to_string()), ("zeta".to_string(), "2".to_string())]);
    b.send("<presence to='zeta@conference.meet.lan/b' type='unavailable'/>").await;
    b.until(|s| s.get_attr("type") == Some("unavailable")).await;
    assert_eq!(rooms(&mut b, "r2").await[1], ("zeta".to_string(), "1".to_string()));
}
