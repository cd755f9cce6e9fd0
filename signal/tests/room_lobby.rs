//! The lobby (ROOMS.md section 5): with the lobby on, a joiner knocks (`registration-required`
//! with `<lobby/>`); every moderator sees `<knock nick name/>`; `admit` completes the stored
//! join with no new input from the knocker, `deny` tells them; turning the lobby off admits
//! every knock; a knock with the right password goes straight in, a wrong one is a wrong
//! password; knocks are limited per source and per room; a knocker who leaves is gone.

mod common;

use common::*;
use std::time::Duration;

const ON: &str = "<lobby xmlns='urn:meet-lan:room:0' enabled='true'/>";
const OFF: &str = "<lobby xmlns='urn:meet-lan:room:0' enabled='false'/>";

async fn lobby_on(m: &mut Client, room: &str) {
    let r = m.control(room, "on", ON).await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
}

fn knock_of(msg: &proto::xml::Element) -> (String, String) {
    let k = msg.get_child("knock", NS_ROOM).expect("knock");
    (k.get_attr("nick").unwrap_or_default().into(), k.get_attr("name").unwrap_or_default().into())
}

fn gone_of(msg: &proto::xml::Element) -> (String, String) {
    let k = msg.get_child("knock-gone", NS_ROOM).expect("knock-gone");
    (k.get_attr("nick").unwrap_or_default().into(), k.get_attr("outcome").unwrap_or_default().into())
}

/// Sends a join and reads the lobby answer.
async fn knock(c: &mut Client, room: &str, nick: &str) {
    let e = c.try_join(room, nick, "").await;
    assert_refused(&e, "registration-required", Some("lobby"));
    assert!(e.get_child("x", NS_MUC).is_some(), "the error carries the MUC <x/>: {e}");
}

#[tokio::test]
async fn every_moderator_sees_a_knock_and_admit_completes_the_join() {
    let signal = Signal::start();
    let mut m = Client::anonymous(&signal).await;
    let mut p = Client::anonymous(&signal).await;
    let mut q = Client::anonymous(&signal).await;
    m.join("lobby", "m").await;
    p.join("lobby", "p").await;
    q.join("lobby", "q").await;
    let r = m.admin("lobby", "g", "<item nick='p' role='moderator'/>").await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    lobby_on(&mut m, "lobby").await;

    let mut k = Client::anonymous(&signal).await;
    knock(&mut k, "lobby", "k").await;
    assert_eq!(knock_of(&m.room_message("knock").await), ("k".into(), "Name k".into()));
    assert_eq!(knock_of(&p.room_message("knock").await), ("k".into(), "Name k".into()));

    // a participant cannot admit
    let r = q.control("lobby", "a0", "<admit xmlns='urn:meet-lan:room:0' nick='k'/>").await;
    assert_eq!(error_condition(&r).as_deref(), Some("forbidden"), "{r}");

    // admitted: k receives the whole join (others, self, room state, subject) without sending anything
    let r = m.control("lobby", "a1", "<admit xmlns='urn:meet-lan:room:0' nick='k'/>").await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    let me = k.presence_of("lobby", "k").await;
    assert!(status_codes(&me).contains(&"110".to_string()), "{me}");
    assert!(me.get_attr("type").is_none(), "{me}");
    let state = k.room_message("room-state").await;
    assert_eq!(state.get_child("room-state", NS_ROOM).unwrap().get_attr("lobby"), Some("on"));
    k.until(|s| s.get_child("subject", proto::xml::NS_CLIENT).is_some()).await;
    assert_eq!(q.presence_of("lobby", "k").await.get_attr("type"), None);
    assert_eq!(gone_of(&m.room_message("knock-gone").await), ("k".into(), "admitted".into()));
    assert_eq!(gone_of(&p.room_message("knock-gone").await), ("k".into(), "admitted".into()));

    // denied: the knocker is told, the moderators too
    let mut d = Client::anonymous(&signal).await;
    knock(&mut d, "lobby", "d").await;
    m.room_message("knock").await;
    let r = q.control("lobby", "n0", "<deny xmlns='urn:meet-lan:room:0' nick='d'/>").await;
    assert_eq!(error_condition(&r).as_deref(), Some("forbidden"), "{r}");
    let r = p.control("lobby", "n1", "<deny xmlns='urn:meet-lan:room:0' nick='d'/>").await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    let denied = d.room_message("lobby").await;
    assert_eq!(denied.get_child("lobby", NS_ROOM).unwrap().get_attr("state"), Some("denied"));
    assert_eq!(gone_of(&m.room_message("knock-gone").await), ("d".into(), "denied".into()));
}

#[tokio::test]
async fn lobby_off_admits_password_knockers_go_in_and_leavers_are_gone() {
    let signal = Signal::start();
    let mut m = Client::anonymous(&signal).await;
    m.join("door", "m").await;
    let form = "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field><field var='muc#roomconfig_roomsecret'><value>pw</value></field></x></query>";
    let r = m.iq("cfg", &format!("<iq type='set' id='cfg' to='door@conference.meet.lan'>{form}</iq>")).await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    lobby_on(&mut m, "door").await;

    // with the right password: straight in; a wrong one is a wrong password, not a knock
    let mut c = Client::anonymous(&signal).await;
    let ok = c.try_join("door", "c", "<password>pw</password>").await;
    assert_ne!(ok.get_attr("type"), Some("error"), "{ok}");
    let mut e = Client::anonymous(&signal).await;
    assert_refused(
        &e.try_join("door", "e", "<password>nope</password>").await,
        "not-authorized",
        Some("password-wrong"),
    );

    let mut a = Client::anonymous(&signal).await;
    let mut b = Client::anonymous(&signal).await;
    let mut f = Client::anonymous(&signal).await;
    knock(&mut a, "door", "a").await;
    knock(&mut b, "door", "b").await;
    knock(&mut f, "door", "f").await;
    for n in ["a", "b", "f"] {
        assert_eq!(knock_of(&m.room_message("knock").await).0, n);
    }
    // a knock's nick is held: nobody else joins or knocks with it
    let mut x = Client::anonymous(&signal).await;
    assert_eq!(error_condition(&x.try_join("door", "a", "<password>pw</password>").await).as_deref(), Some("conflict"));

    // a leaves with an unavailable presence, f's connection ends: both knocks are gone
    a.send("<presence to='door@conference.meet.lan/a' type='unavailable'/>").await;
    assert_eq!(gone_of(&m.room_message("knock-gone").await), ("a".into(), "left".into()));
    drop(f);
    assert_eq!(gone_of(&m.room_message("knock-gone").await), ("f".into(), "left".into()));

    // lobby off admits the open knock (b) and tells everyone the lobby is off
    let r = m.control("door", "off", OFF).await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    let me = b.presence_of("door", "b").await;
    assert!(status_codes(&me).contains(&"110".to_string()), "{me}");
    assert_eq!(gone_of(&m.room_message("knock-gone").await), ("b".into(), "admitted".into()));
    let state = c.room_message("room-state").await;
    assert_eq!(state.get_child("room-state", NS_ROOM).unwrap().get_attr("lobby"), Some("off"));
    // a does not come in: its knock had ended
    a.no_presence_until_ping("a-alive").await;
}

#[tokio::test]
async fn knocks_are_limited_per_source_and_per_room() {
    let signal = Signal::start();
    let mut m = Client::anonymous(&signal).await;
    m.join("busy", "m").await;
    lobby_on(&mut m, "busy").await;

    // ten knocks a minute from one address (all TCP clients here come from 127.0.0.1)
    let mut knockers = Vec::new();
    for i in 0..10 {
        let mut c = Client::anonymous(&signal).await;
        knock(&mut c, "busy", &format!("t{i}")).await;
        knockers.push(c);
    }
    let mut over = Client::anonymous(&signal).await;
    let e = over.try_join("busy", "t10", "").await;
    assert_refused(&e, "policy-violation", Some("retry-after"));

    // a hundred open knocks per room, whatever their sources
    let mut ws = Vec::new();
    for i in 0..90 {
        let mut c = WsClient::anonymous(&signal, &format!("203.0.113.{}", i % 30)).await;
        let e = c.try_join("busy", &format!("w{i}"), "").await;
        assert_refused(&e, "registration-required", Some("lobby"));
        ws.push(c);
    }
    let mut full = WsClient::anonymous(&signal, "198.51.100.1").await;
    let e = full.try_join("busy", "w90", "").await;
    assert_refused(&e, "resource-constraint", None);

    // the room itself is unaffected
    let mut two = Client::anonymous(&signal).await;
    let r = m.control("busy", "off", OFF).await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (me, _) = two.join("busy", "late").await;
    assert_eq!(role_of(&me).as_deref(), Some("participant"));
}
