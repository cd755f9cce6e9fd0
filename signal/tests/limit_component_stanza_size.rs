//! Bus components (authenticated by the bus secret) have their own, larger stanza limit
//! (`SIGNAL_MAX_COMPONENT_STANZA`, 1 MiB by default): Colibri JSON carries whole SDP of large
//! conferences. Clients keep `SIGNAL_MAX_STANZA` (64 KiB): the same 200 KiB stanza passes
//! between components and ends a client's stream.

mod common;

use common::*;
use proto::bus;
use proto::xml::{Element, StreamEvent, NS_CLIENT};

const BIG: usize = 200 * 1024;

fn big_message(to: &str, from: &str) -> Element {
    Element::new("message", NS_CLIENT)
        .attr("to", to)
        .attr("from", from)
        .attr("id", "big")
        .child(Element::new("body", NS_CLIENT).text("s".repeat(BIG)))
}

#[tokio::test]
async fn a_200_kib_component_stanza_passes_and_the_same_from_a_client_does_not() {
    let signal = Signal::start();
    let addr = signal.bus.to_string();
    let (focus, _focus_rx) = bus::connect(&addr, "focus.meet.lan", BUS_SECRET).await.expect("focus handshake");
    let (_jvb, mut jvb_rx) = bus::connect(&addr, "jvb-big.meet.lan", BUS_SECRET).await.expect("bridge handshake");
    focus.send(big_message("jvb-big.meet.lan", "focus.meet.lan")).expect("bus sender is up");
    let got = tokio::time::timeout(TIMEOUT, async {
        loop {
            let s = jvb_rx.recv().await.expect("the bridge's bus connection stays up");
            if s.name() == "message" {
                return s;
            }
        }
    })
    .await
    .expect("the 200 KiB message reached the other component");
    assert_eq!(got.get_child("body", NS_CLIENT).map(|b| b.text_content().len()), Some(BIG));
    // The sender is still served: a ping round trip.
    let pong = focus
        .iq(Element::new("iq", NS_CLIENT)
            .attr("type", "get")
            .attr("to", "meet.lan")
            .attr("from", "focus.meet.lan")
            .child(Element::new("ping", "urn:xmpp:ping")))
        .await
        .expect("focus still on the bus");
    assert_eq!(pong.get_attr("type"), Some("result"));

    // A client sending the same size is over its 64 KiB limit.
    let mut bystander = Client::anonymous(&signal).await;
    let mut client = Client::anonymous(&signal).await;
    client.send_el(&big_message("meet.lan", "x@meet.lan")).await;
    assert_eq!(client.s.stream_error().await.as_deref(), Some("policy-violation"));
    still_served(&mut bystander, "p1").await;
}

#[tokio::test]
async fn component_stanza_over_its_own_limit_ends_that_component_stream() {
    let signal = Signal::start_with(&[("SIGNAL_MAX_COMPONENT_STANZA", "131072")]);
    let mut s = RawStream::connect(signal.bus, true).await;
    s.send("<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='jvb-raw.meet.lan'>").await;
    let Some(StreamEvent::Open(h)) = s.next().await else { panic!("no stream header") };
    let id = h.get_attr("id").expect("stream id").to_string();
    s.send(&format!("<handshake>{}</handshake>", bus::handshake_digest(&id, BUS_SECRET))).await;
    assert_eq!(s.stanza().await.name(), "handshake");
    // 100 KiB: over the client limit, under this component limit.
    s.send(&format!(
        "<message to='meet.lan' from='jvb-raw.meet.lan'><body>{}</body></message>",
        "a".repeat(100 * 1024)
    ))
    .await;
    s.send("<iq type='get' id='p' to='meet.lan' from='jvb-raw.meet.lan'><ping xmlns='urn:xmpp:ping'/></iq>").await;
    loop {
        let st = s.stanza().await;
        if st.name() == "iq" && st.get_attr("id") == Some("p") {
            break;
        }
    }
    // Over it (136 KiB), sent in pieces: refused once the parser holds more than the limit.
    s.send("<message to='meet.lan' from='jvb-raw.meet.lan'><body>").await;
    let chunk = "b".repeat(8 * 1024);
    for _ in 0..17 {
        s.send(&chunk).await;
    }
    assert_eq!(s.stream_error().await.as_deref(), Some("policy-violation"));
}
