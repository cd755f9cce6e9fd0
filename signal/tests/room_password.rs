//! Password-protected rooms: the owner sets the password through the muc#owner configuration
//! form (the way Jitsi's client does); joining without it or with a wrong one is refused with
//! `not-authorized` (+ `<password-required/>` or `<password-wrong/>`), wrong ones are counted
//! in `/metrics`; the right one gets in. Non-owners cannot configure. The password holds
//! after the moderator who set it left.

mod common;

use common::*;

const FORM: &str = "<iq type='set' id='cfg' to='locked@conference.meet.lan'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field><field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field><field var='muc#roomconfig_roomsecret'><value>s3cret</value></field></x></query></iq>";

#[tokio::test]
async fn owner_sets_password_and_joins_need_it() {
    let signal = Signal::start();
    let mut owner = Client::anonymous(&signal).await;
    let mut guest = Client::anonymous(&signal).await;
    owner.join("locked", "owner").await;

    owner.send("<iq type='get' id='f1' to='locked@conference.meet.lan'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>").await;
    let form = owner.until(|s| s.get_attr("id") == Some("f1")).await;
    let x = form
        .get_child("query", "http://jabber.org/protocol/muc#owner")
        .unwrap()
        .get_child("x", "jabber:x:data")
        .unwrap();
    assert!(x.children().any(|f| f.get_attr("var") == Some("muc#roomconfig_roomsecret")));

    owner.send(FORM).await;
    let r = owner.until(|s| s.get_attr("id") == Some("cfg")).await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");

    guest
        .send("<presence to='locked@conference.meet.lan/guest'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
        .await;
    let e = guest.until(|s| s.name() == "presence").await;
    assert_refused(&e, "not-authorized", Some("password-required"));

    guest.send("<presence to='locked@conference.meet.lan/guest'><x xmlns='http://jabber.org/protocol/muc'><password>wrong</password></x></presence>").await;
    let e = guest.until(|s| s.name() == "presence").await;
    assert_refused(&e, "not-authorized", Some("password-wrong"));
    let (_, m) = http_get(signal.http, "/metrics").await;
    assert_eq!(metric_value(&m, "signal_room_password_failures_total"), 1);

    guest.send("<presence to='locked@conference.meet.lan/guest'><x xmlns='http://jabber.org/protocol/muc'><password>s3cret</password></x></presence>").await;
    let p =
        guest.until(|s| s.name() == "presence" && s.get_attr("from") == Some("locked@conference.meet.lan/guest")).await;
    assert_ne!(p.get_attr("type"), Some("error"));

    // a non-owner cannot change the configuration
    guest.send(&FORM.replace("id='cfg'", "id='cfg2'")).await;
    let e = guest.until(|s| s.get_attr("id") == Some("cfg2")).await;
    assert_eq!(error_condition(&e).as_deref(), Some("forbidden"));
}

#[tokio::test]
async fn the_password_holds_after_the_moderator_left() {
    let signal = Signal::start();
    let mut owner = Client::anonymous(&signal).await;
    let mut stays = Client::anonymous(&signal).await;
    owner.join("locked", "owner").await;
    stays.join("locked", "stays").await;
    owner.send(FORM).await;
    let r = owner.until(|s| s.get_attr("id") == Some("cfg")).await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    owner.send("<presence to='locked@conference.meet.lan/owner' type='unavailable'/>").await;
    stays
        .until(|s| {
            s.get_attr("from") == Some("locked@conference.meet.lan/stays") && role_of(s).as_deref() == Some("moderator")
        })
        .await;

    let mut late = Client::anonymous(&signal).await;
    assert_refused(&late.try_join("locked", "late", "").await, "not-authorized", Some("password-required"));
    let ok = late.try_join("locked", "late", "<password>s3cret</password>").await;
    assert_ne!(ok.get_attr("type"), Some("error"), "{ok}");
}
