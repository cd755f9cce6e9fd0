//! Participants that misbehave over real XMPP get an error or lose their own session, and
//! nobody else notices: one sends a `session-accept` whose SDP is garbage (answered
//! `bad-request`), one never answers its `session-initiate` (after 10 s focus gives up on it
//! with `session-terminate reason="failed"`), while two real participants keep their media.

mod common;

use common::peer::{random_nick, Peer, Via};
use common::xmpp::Xmpp;
use common::{cluster, wait_mutual_media};
use proto::xml::{Element, NS_CLIENT};
use std::time::Duration;

/// Logs in, asks for the conference and joins `room`; answers nothing by itself.
async fn raw_participant(c2s: std::net::SocketAddr, room: &str) -> (Xmpp, String) {
    let mut x = Xmpp::connect(c2s, "meet.lan").await.expect("XMPP login");
    let nick = random_nick();
    let conf = Element::new("iq", NS_CLIENT)
        .attr("type", "set")
        .attr("id", "conf")
        .attr("to", "focus.meet.lan")
        .child(Element::new("conference", proto::ns::FOCUS).attr("room", format!("{room}@conference.meet.lan")));
    x.send(&conf).await.expect("send");
    next_iq(&mut x, |s| s.get_attr("id") == Some("conf")).await;
    let join = Element::new("presence", NS_CLIENT)
        .attr("to", format!("{room}@conference.meet.lan/{nick}"))
        .child(Element::new("x", "http://jabber.org/protocol/muc"));
    x.send(&join).await.expect("send");
    (x, nick)
}

async fn next_iq(x: &mut Xmpp, pred: impl Fn(&Element) -> bool) -> Element {
    loop {
        let s = tokio::time::timeout(Duration::from_secs(20), x.recv())
            .await
            .expect("stanza within 20 s")
            .expect("stream up");
        if s.name() == "iq" && pred(&s) {
            return s;
        }
    }
}

fn jingle_action(s: &Element) -> Option<String> {
    s.get_child("jingle", proto::ns::JINGLE).and_then(|j| j.get_attr("action")).map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_silence_cost_only_the_misbehaving_participant() {
    let Some(cluster) = cluster(1, false) else { return };
    let mut a = Peer::join(cluster.c2s, "meet.lan", "rude", "Ann").await;
    let mut b = Peer::join(cluster.c2s, "meet.lan", "rude", "Bob").await;
    wait_mutual_media(&mut [&mut a, &mut b], Via::Bridge, 10, Duration::from_secs(30)).await;

    // Garbage SDP in the session-accept: bad-request, for this IQ only.
    let (mut g, _) = raw_participant(cluster.c2s, "rude").await;
    let init = next_iq(&mut g, |s| {
        s.get_attr("type") == Some("set") && jingle_action(s).as_deref() == Some("session-initiate")
    })
    .await;
    let sid = init.get_child("jingle", proto::ns::JINGLE).and_then(|j| j.get_attr("sid")).expect("sid").to_string();
    let ack = Element::new("iq", NS_CLIENT)
        .attr("type", "result")
        .attr("id", init.get_attr("id").unwrap_or_default())
        .attr("to", init.get_attr("from").unwrap_or_default());
    g.send(&ack).await.expect("send");
    let accept =
        Element::new("iq", NS_CLIENT)
            .attr("type", "set")
            .attr("id", "acc")
            .attr("to", "rude@conference.meet.lan/focus")
            .child(Element::new("jingle", proto::ns::JINGLE).attr("action", "session-accept").attr("sid", &sid).child(
                Element::new("description", proto::ns::SDP).attr("type", "offer").text("<script>not sdp</script>"),
            ));
    g.send(&accept).await.expect("send");
    let err = next_iq(&mut g, |s| s.get_attr("id") == Some("acc")).await;
    assert_eq!(err.get_attr("type"), Some("error"), "{}", err.to_stanza_string());
    assert!(err.to_stanza_string().contains("bad-request"), "{}", err.to_stanza_string());

    // Silence: never answer the session-initiate.
    let (mut s, _) = raw_participant(cluster.c2s, "rude").await;
    let init = next_iq(&mut s, |s| {
        s.get_attr("type") == Some("set") && jingle_action(s).as_deref() == Some("session-initiate")
    })
    .await;
    let init_sid =
        init.get_child("jingle", proto::ns::JINGLE).and_then(|j| j.get_attr("sid")).expect("sid").to_string();
    let term = next_iq(&mut s, |s| jingle_action(s).as_deref() == Some("session-terminate")).await;
    let j = term.get_child("jingle", proto::ns::JINGLE).expect("jingle");
    assert_eq!((j.get_attr("sid"), j.get_attr("reason")), (Some(init_sid.as_str()), Some("failed")));

    // The real participants never noticed.
    wait_mutual_media(&mut [&mut a, &mut b], Via::Bridge, 10, Duration::from_secs(15)).await;
    for p in [&a, &b] {
        let v = p.snapshot();
        assert_eq!((v.bridge_initiates, v.terminates.len()), (1, 0), "{v:#?}");
    }
    let st = cluster.focus_stats();
    assert_eq!(st["counters"]["participant_failures"], 1, "{st:#}");
    assert!(st["counters"]["bad_requests"].as_u64() >= Some(1));
    assert_eq!(st["bridge_sessions_active"], 2);
}
