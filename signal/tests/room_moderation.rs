//! Owner/moderator powers: the first joiner is owner and moderator; it can kick (307) and
//! destroy the room; a participant can do neither.

mod common;

use common::*;

#[tokio::test]
async fn owner_kicks_and_participant_cannot() {
    let signal = Signal::start();
    let mut owner = Client::anonymous(&signal).await;
    let mut p = Client::anonymous(&signal).await;
    let mut q = Client::anonymous(&signal).await;
    owner.join("mod", "owner").await;
    p.join("mod", "p").await;
    q.join("mod", "q").await;

    p.send("<iq type='set' id='k0' to='mod@conference.meet.lan'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='q' role='none'/></query></iq>").await;
    let e = p.until(|s| s.get_attr("id") == Some("k0")).await;
    assert_eq!(error_condition(&e).as_deref(), Some("forbidden"));

    owner.send("<iq type='set' id='k1' to='mod@conference.meet.lan'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='q' role='none'><reason>bye</reason></item></query></iq>").await;
    let kicked = q.until(|s| s.name() == "presence" && s.get_attr("type") == Some("unavailable")).await;
    let codes = status_codes(&kicked);
    assert!(codes.contains(&"307".to_string()) && codes.contains(&"110".to_string()), "{codes:?}");
    let seen = p.until(|s| s.name() == "presence" && s.get_attr("type") == Some("unavailable")).await;
    assert_eq!(seen.get_attr("from"), Some("mod@conference.meet.lan/q"));
    assert!(status_codes(&seen).contains(&"307".to_string()));
    let r = owner.until(|s| s.get_attr("id") == Some("k1")).await;
    assert_eq!(r.get_attr("type"), Some("result"));

    // q is out: its groupchat is refused
    q.send("<message to='mod@conference.meet.lan' type='groupchat' id='m1'><body>x</body></message>").await;
    let e = q.until(|s| s.get_attr("id") == Some("m1")).await;
    assert_eq!(error_condition(&e).as_deref(), Some("not-acceptable"));
}

#[tokio::test]
async fn owner_destroys_the_room() {
    let signal = Signal::start();
    let mut owner = Client::anonymous(&signal).await;
    let mut p = Client::anonymous(&signal).await;
    owner.join("doomed", "owner").await;
    p.join("doomed", "p").await;

    p.send("<iq type='set' id='d0' to='doomed@conference.meet.lan'><query xmlns='http://jabber.org/protocol/muc#owner'><destroy/></query></iq>").await;
    let e = p.until(|s| s.get_attr("id") == Some("d0")).await;
    assert_eq!(error_condition(&e).as_deref(), Some("forbidden"));

    owner.send("<iq type='set' id='d1' to='doomed@conference.meet.lan'><query xmlns='http://jabber.org/protocol/muc#owner'><destroy><reason>done</reason></destroy></query></iq>").await;
    let gone = p.until(|s| s.name() == "presence" && s.get_attr("type") == Some("unavailable")).await;
    assert!(gone.get_child("x", NS_MUC_USER).unwrap().get_child("destroy", NS_MUC_USER).is_some(), "{gone}");
    owner.send("<iq type='get' id='it' to='conference.meet.lan'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>").await;
    let r = owner.until(|s| s.get_attr("id") == Some("it")).await;
    assert_eq!(r.get_child("query", "http://jabber.org/protocol/disco#items").unwrap().children().count(), 0);
}
