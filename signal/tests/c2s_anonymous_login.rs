//! RFC 6120 over TCP: stream features, SASL ANONYMOUS on the domain, resource binding, the
//! optional session, ping, disco and a clean `</stream:stream>`.

mod common;

use common::*;
use proto::xml::StreamEvent;

#[tokio::test]
async fn anonymous_login_binds_and_server_answers_ping_disco_session() {
    let signal = Signal::start();
    let mut s = RawStream::connect(signal.c2s, false).await;
    s.send(HEADER_TO_DOMAIN).await;
    let Some(StreamEvent::Open(h)) = s.next().await else { panic!("no header") };
    assert_eq!(h.get_attr("from"), Some("meet.lan"));
    assert!(h.get_attr("id").is_some());
    let f = s.stanza().await;
    let mechs: Vec<String> = f
        .get_child("mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl")
        .unwrap()
        .children()
        .map(|m| m.text_content())
        .collect();
    assert_eq!(mechs, vec!["ANONYMOUS"]);
    s.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/>").await;
    assert_eq!(s.stanza().await.name(), "success");
    let mut c = Client::restart_and_bind(s, "meet.lan").await;
    assert!(c.jid.ends_with("@meet.lan/test"), "{}", c.jid);

    c.send("<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>").await;
    let r = c.until(|s| s.get_attr("id") == Some("s1")).await;
    assert_eq!(r.get_attr("type"), Some("result"));

    c.send("<iq type='get' id='p1' to='meet.lan'><ping xmlns='urn:xmpp:ping'/></iq>").await;
    let r = c.until(|s| s.get_attr("id") == Some("p1")).await;
    assert_eq!(r.get_attr("type"), Some("result"));
    assert_eq!(r.get_attr("from"), Some("meet.lan"));

    c.send(
        "<iq type='get' id='d1' to='conference.meet.lan'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
    )
    .await;
    let r = c.until(|s| s.get_attr("id") == Some("d1")).await;
    let q = r.get_child("query", "http://jabber.org/protocol/disco#info").expect("disco#info answer");
    assert!(q.children().any(|f| f.get_attr("var") == Some("http://jabber.org/protocol/muc")));

    c.send("<iq type='get' id='d2' to='meet.lan'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>").await;
    let r = c.until(|s| s.get_attr("id") == Some("d2")).await;
    let q = r.get_child("query", "http://jabber.org/protocol/disco#items").unwrap();
    assert!(q.children().any(|i| i.get_attr("jid") == Some("conference.meet.lan")));

    c.send("</stream:stream>").await;
    assert_eq!(c.s.next().await, Some(StreamEvent::Close));
}

#[tokio::test]
async fn unknown_host_gets_host_unknown() {
    let signal = Signal::start();
    let mut s = RawStream::connect(signal.c2s, false).await;
    s.send(&header_to("example.org")).await;
    assert_eq!(s.stream_error().await.as_deref(), Some("host-unknown"));
}

#[tokio::test]
async fn plain_is_not_offered_for_anonymous_host_and_anonymous_not_for_auth_host() {
    let signal = Signal::start();
    let mut s = RawStream::connect(signal.c2s, false).await;
    s.send(HEADER_TO_DOMAIN).await;
    let _ = s.next().await;
    let _ = s.stanza().await;
    s.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>").await;
    let f = s.stanza().await;
    assert_eq!(f.name(), "failure");
    assert!(f.children().any(|c| c.name() == "invalid-mechanism"));

    let mut s = RawStream::connect(signal.c2s, false).await;
    s.send(&header_to("auth.meet.lan")).await;
    let _ = s.next().await;
    let f = s.stanza().await;
    let mechs: Vec<String> = f
        .get_child("mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl")
        .unwrap()
        .children()
        .map(|m| m.text_content())
        .collect();
    assert_eq!(mechs, vec!["SCRAM-SHA-1", "PLAIN"]);
    s.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/>").await;
    assert_eq!(s.stanza().await.name(), "failure");
}

#[tokio::test]
async fn stanzas_before_binding_are_not_routed() {
    let signal = Signal::start();
    let mut s = RawStream::connect(signal.c2s, false).await;
    s.send(HEADER_TO_DOMAIN).await;
    let _ = s.next().await;
    let _ = s.stanza().await;
    s.send("<message to='x@meet.lan'><body>hi</body></message>").await;
    assert_eq!(s.stream_error().await.as_deref(), Some("not-authorized"));
}
