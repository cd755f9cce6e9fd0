//! Malformed XML ends the offender's stream with `not-well-formed`; DTDs, entity
//! declarations and undeclared entities are refused without expanding anything (an XML
//! bomb costs nothing); comments and processing instructions are restricted XML.

mod common;

use common::*;
use std::time::Instant;

async fn expect_error(signal: &Signal, payload: &str, want: &str) {
    let mut c = Client::anonymous(signal).await;
    c.send(payload).await;
    assert_eq!(c.s.stream_error().await.as_deref(), Some(want), "payload {payload:?}");
}

#[tokio::test]
async fn malformed_xml_gets_not_well_formed() {
    let signal = Signal::start();
    let mut bystander = Client::anonymous(&signal).await;
    expect_error(&signal, "<message><body>x</message>", "not-well-formed").await;
    expect_error(&signal, "<message a='1' a='2'/>", "not-well-formed").await;
    expect_error(&signal, "<message><body>\u{1}</body></message>", "not-well-formed").await;
    expect_error(&signal, "<message><body>&#0;</body></message>", "not-well-formed").await;
    expect_error(&signal, "<p:message xmlns:q='x'/>", "bad-namespace-prefix").await;
    // invalid UTF-8
    let mut c = Client::anonymous(&signal).await;
    c.s.sock_write(&[b'<', b'm', 0xff, 0xfe, b'/', b'>']).await;
    assert_eq!(c.s.stream_error().await.as_deref(), Some("not-well-formed"));
    still_served(&mut bystander, "ok").await;
}

#[tokio::test]
async fn before_the_header_malformed_input_still_gets_a_stream_error() {
    let signal = Signal::start();
    let mut s = RawStream::connect(signal.c2s, false).await;
    s.send("<<<>>>").await;
    assert_eq!(s.stream_error().await.as_deref(), Some("not-well-formed"));
}

#[tokio::test]
async fn xml_bomb_and_entities_are_refused_at_once() {
    let signal = Signal::start();
    let bomb = "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\"><!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]><message><body>&lol3;</body></message>";
    let t = Instant::now();
    expect_error(&signal, bomb, "restricted-xml").await;
    // before the stream header too
    let mut s = RawStream::connect(signal.c2s, false).await;
    s.send(&format!("<?xml version='1.0'?>{bomb}")).await;
    assert_eq!(s.stream_error().await.as_deref(), Some("restricted-xml"));
    expect_error(&signal, "<message><body>&lol;</body></message>", "restricted-xml").await;
    expect_error(&signal, "<!-- a comment -->", "restricted-xml").await;
    expect_error(&signal, "<?evil pi?>", "restricted-xml").await;
    assert!(t.elapsed().as_secs() < 10, "refusals are immediate");
}

#[tokio::test]
async fn a_non_stanza_element_gets_unsupported_stanza_type() {
    let signal = Signal::start();
    expect_error(&signal, "<foo xmlns='jabber:client'/>", "unsupported-stanza-type").await;
}
