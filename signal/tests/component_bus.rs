//! The bus: XEP-0114 components (focus, bridges) authenticate with the shared secret, meet in
//! `bridges@internal.<domain>`, exchange IQs, join conference rooms as occupants, and cannot
//! forge addresses outside their own domain.

mod common;

use common::*;
use proto::bus::{self, BusError};
use proto::xml::{Element, StreamEvent, NS_CLIENT};

const NS_STATS: &str = "urn:meet-lan:bridge-stats:0";

async fn next_matching(rx: &mut bus::BusReceiver, f: impl Fn(&Element) -> bool) -> Element {
    tokio::time::timeout(TIMEOUT, async {
        loop {
            let s = rx.recv().await.expect("bus connection stays up");
            if f(&s) {
                return s;
            }
        }
    })
    .await
    .expect("expected stanza arrived in time")
}

#[tokio::test]
async fn handshake_with_the_shared_secret_is_accepted_and_a_wrong_one_refused() {
    let signal = Signal::start();
    let addr = signal.bus.to_string();
    let (tx, _rx) = bus::connect(&addr, "focus.meet.lan", BUS_SECRET).await.expect("handshake with the right secret");
    assert_eq!(tx.jid(), "focus.meet.lan");
    match bus::connect(&addr, "jvb-1.meet.lan", "wrong").await {
        Err(BusError::HandshakeRefused(c)) => assert_eq!(c, "not-authorized"),
        other => panic!("wrong secret was not refused: {:?}", other.map(|_| ())),
    }
    // The same domain twice is a conflict.
    assert!(bus::connect(&addr, "focus.meet.lan", BUS_SECRET).await.is_err());
    // Signal's own domains cannot be claimed.
    assert!(bus::connect(&addr, "conference.meet.lan", BUS_SECRET).await.is_err());
    assert!(bus::connect(&addr, "other.domain", BUS_SECRET).await.is_err());
}

#[tokio::test]
async fn raw_handshake_uses_sha1_of_stream_id_and_secret() {
    let signal = Signal::start();
    let mut s = RawStream::connect(signal.bus, true).await;
    s.send("<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='jvb-raw.meet.lan'>").await;
    let Some(StreamEvent::Open(h)) = s.next().await else { panic!("no stream header") };
    let id = h.get_attr("id").expect("stream id").to_string();
    assert_eq!(h.get_attr("from"), Some("jvb-raw.meet.lan"));
    let digest = bus::handshake_digest(&id, BUS_SECRET);
    assert_eq!(digest.len(), 40);
    assert!(digest.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    s.send(&format!("<handshake>{digest}</handshake>")).await;
    let ok = s.stanza().await;
    assert_eq!(ok.name(), "handshake");
    assert!(ok.nodes().is_empty());
}

#[tokio::test]
async fn bridges_announce_in_internal_room_and_focus_sees_them_and_iqs_round_trip() {
    let signal = Signal::start();
    let addr = signal.bus.to_string();
    let (focus, mut focus_rx) = bus::connect(&addr, "focus.meet.lan", BUS_SECRET).await.unwrap();
    let (jvb, mut jvb_rx) = bus::connect(&addr, "jvb-a1.meet.lan", BUS_SECRET).await.unwrap();

    // focus joins the internal room
    focus
        .send(
            Element::new("presence", NS_CLIENT)
                .attr("to", "bridges@internal.meet.lan/focus")
                .child(Element::new("x", "http://jabber.org/protocol/muc")),
        )
        .unwrap();
    let self_p = next_matching(&mut focus_rx, |s| s.name() == "presence").await;
    assert_eq!(self_p.get_attr("from"), Some("bridges@internal.meet.lan/focus"));

    // the bridge announces itself with stats
    let stats = r#"{"stress":0.1,"conferences":0,"endpoints":0,"packet_rate_in":0,"packet_rate_out":0,"bitrate_in_kbps":0,"bitrate_out_kbps":0,"draining":false,"version":"t"}"#;
    jvb.send(
        Element::new("presence", NS_CLIENT)
            .attr("to", "bridges@internal.meet.lan/jvb-a1")
            .child(Element::new("x", "http://jabber.org/protocol/muc"))
            .child(Element::new("stats", NS_STATS).text(stats)),
    )
    .unwrap();
    let seen = next_matching(&mut focus_rx, |s| {
        s.name() == "presence" && s.get_attr("from") == Some("bridges@internal.meet.lan/jvb-a1")
    })
    .await;
    let st = seen.get_child("stats", NS_STATS).expect("stats travel with the presence");
    let parsed: proto::colibri::BridgeStats = serde_json::from_str(&st.text_content()).unwrap();
    assert_eq!(parsed.version, "t");
    let item = seen
        .get_child("x", "http://jabber.org/protocol/muc#user")
        .unwrap()
        .get_child("item", "http://jabber.org/protocol/muc#user")
        .unwrap();
    assert_eq!(item.get_attr("jid"), Some("jvb-a1.meet.lan"));

    // focus → bridge IQ and the answer back
    let answerer = tokio::spawn(async move {
        let req = next_matching(&mut jvb_rx, |s| s.name() == "iq").await;
        assert_eq!(req.get_attr("from"), Some("focus.meet.lan"));
        let payload = Element::new("colibri", proto::ns::COLIBRI).text(r#"{"op":"done"}"#);
        jvb.send(bus::iq_result(&req, Some(payload))).unwrap();
        (jvb, jvb_rx)
    });
    let req = Element::new("iq", NS_CLIENT)
        .attr("type", "set")
        .attr("to", "jvb-a1.meet.lan")
        .child(Element::new("colibri", proto::ns::COLIBRI).text(r#"{"op":"health"}"#));
    let res = focus.iq(req).await.expect("the bridge answers");
    assert_eq!(res.get_attr("type"), Some("result"));
    assert_eq!(res.get_child("colibri", proto::ns::COLIBRI).unwrap().text_content(), r#"{"op":"done"}"#);
    let (jvb, _jvb_rx) = answerer.await.unwrap();

    // an IQ to a component that is not connected is an error, not a hang
    let req = Element::new("iq", NS_CLIENT)
        .attr("type", "get")
        .attr("to", "jvb-gone.meet.lan")
        .child(Element::new("ping", "urn:xmpp:ping"));
    match focus.iq(req).await {
        Err(BusError::IqError { condition, .. }) => assert_eq!(condition, "remote-server-not-found"),
        other => panic!("expected an error, got {other:?}"),
    }

    // a bridge that goes away leaves the room: focus sees it unavailable
    drop(jvb);
    let gone =
        next_matching(&mut focus_rx, |s| s.name() == "presence" && s.get_attr("type") == Some("unavailable")).await;
    assert_eq!(gone.get_attr("from"), Some("bridges@internal.meet.lan/jvb-a1"));
}

#[tokio::test]
async fn forged_from_outside_own_domain_is_refused() {
    let signal = Signal::start();
    let addr = signal.bus.to_string();
    let (evil, mut evil_rx) = bus::connect(&addr, "jvb-evil.meet.lan", BUS_SECRET).await.unwrap();
    let (_focus, mut focus_rx) = bus::connect(&addr, "focus.meet.lan", BUS_SECRET).await.unwrap();
    evil.send(
        Element::new("message", NS_CLIENT)
            .attr("from", "focus.meet.lan")
            .attr("to", "focus.meet.lan")
            .attr("id", "forged")
            .child(Element::new("body", NS_CLIENT).text("hi")),
    )
    .unwrap();
    let err = next_matching(&mut evil_rx, |s| s.get_attr("id") == Some("forged")).await;
    assert_eq!(err.get_attr("type"), Some("error"));
    assert_eq!(bus::stanza_error(&err).unwrap().0, "forbidden");
    // a subdomain of its own is fine and arrives
    evil.send(
        Element::new("message", NS_CLIENT)
            .attr("from", "x@sub.jvb-evil.meet.lan/r")
            .attr("to", "focus.meet.lan")
            .attr("id", "ok")
            .child(Element::new("body", NS_CLIENT).text("hi")),
    )
    .unwrap();
    let m = next_matching(&mut focus_rx, |s| s.name() == "message").await;
    assert_eq!(m.get_attr("id"), Some("ok"), "the forged message must not have arrived first");
    assert_eq!(m.get_attr("from"), Some("x@sub.jvb-evil.meet.lan/r"));
}

#[tokio::test]
async fn focus_joins_a_conference_room_as_occupant_and_iqs_route_to_and_from_it() {
    let signal = Signal::start();
    let addr = signal.bus.to_string();
    let (focus, mut focus_rx) = bus::connect(&addr, "focus.meet.lan", BUS_SECRET).await.unwrap();
    let (peer, mut peer_rx) = bus::connect(&addr, "peer.meet.lan", BUS_SECRET).await.unwrap();
    focus
        .send(
            Element::new("presence", NS_CLIENT)
                .attr("to", "room1@conference.meet.lan/focus")
                .child(Element::new("x", "http://jabber.org/protocol/muc")),
        )
        .unwrap();
    let me = next_matching(&mut focus_rx, |s| s.name() == "presence").await;
    let x = me.get_child("x", "http://jabber.org/protocol/muc#user").unwrap();
    let codes: Vec<&str> = x.children().filter(|c| c.name() == "status").filter_map(|c| c.get_attr("code")).collect();
    assert!(codes.contains(&"110") && codes.contains(&"201"), "{codes:?}");
    let item = x.get_child("item", "http://jabber.org/protocol/muc#user").unwrap();
    assert_eq!(item.get_attr("affiliation"), Some("owner"));
    let state = next_matching(&mut focus_rx, |s| s.name() == "message").await;
    assert!(state.get_child("room-state", proto::ns::ROOM).is_some(), "room state before the subject: {state}");
    let subject = next_matching(&mut focus_rx, |s| s.name() == "message").await;
    assert!(subject.get_child("subject", NS_CLIENT).is_some());

    // a second occupant (another component here) joins; focus sees it
    peer.send(Element::new("presence", NS_CLIENT).attr("to", "room1@conference.meet.lan/abcd1234")).unwrap();
    let _ = next_matching(&mut focus_rx, |s| {
        s.name() == "presence" && s.get_attr("from") == Some("room1@conference.meet.lan/abcd1234")
    })
    .await;

    // focus → occupant IQ, answered by the occupant, back to focus with the room JID
    let answerer = tokio::spawn(async move {
        let req = next_matching(&mut peer_rx, |s| s.name() == "iq").await;
        assert_eq!(req.get_attr("from"), Some("room1@conference.meet.lan/focus"));
        let mut r = bus::iq_result(&req, None);
        r.set_attr("from", "peer.meet.lan");
        peer.send(r).unwrap();
        (peer, peer_rx)
    });
    let req = Element::new("iq", NS_CLIENT)
        .attr("type", "set")
        .attr("to", "room1@conference.meet.lan/abcd1234")
        .child(Element::new("jingle", proto::ns::JINGLE).attr("action", "session-initiate").attr("sid", "s1"));
    let res = focus.iq(req).await.expect("the occupant answers through the room");
    assert_eq!(res.get_attr("from"), Some("room1@conference.meet.lan/abcd1234"));
    let _ = answerer.await.unwrap();
}
