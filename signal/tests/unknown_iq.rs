//! IQ requests nobody understands get `service-unavailable` (RFC 6120 §8.4), from the server,
//! a room, or the rooms service; a client never waits forever.

mod common;

use common::*;

#[tokio::test]
async fn unknown_iqs_get_service_unavailable() {
    let signal = Signal::start();
    let mut a = Client::anonymous(&signal).await;
    a.join("uq", "alice").await;
    for (i, to) in ["meet.lan", "conference.meet.lan", "uq@conference.meet.lan"].iter().enumerate() {
        let id = format!("u{i}");
        a.send(&format!("<iq type='get' id='{id}' to='{to}'><query xmlns='urn:example:nothing'/></iq>")).await;
        let e = a.until(|s| s.get_attr("id") == Some(id.as_str())).await;
        assert_eq!(error_condition(&e).as_deref(), Some("service-unavailable"), "{to}: {e}");
    }
    // without a `to` as well
    a.send("<iq type='set' id='u9'><query xmlns='urn:example:nothing'/></iq>").await;
    let e = a.until(|s| s.get_attr("id") == Some("u9")).await;
    assert_eq!(error_condition(&e).as_deref(), Some("service-unavailable"));
    // to a domain nobody serves
    a.send("<iq type='get' id='u10' to='elsewhere.example'><ping xmlns='urn:xmpp:ping'/></iq>").await;
    let e = a.until(|s| s.get_attr("id") == Some("u10")).await;
    assert_eq!(error_condition(&e).as_deref(), Some("remote-server-not-found"));
    // to a malformed JID
    a.send("<iq type='get' id='u11' to='a@b@c/'><ping xmlns='urn:xmpp:ping'/></iq>").await;
    let e = a.until(|s| s.get_attr("id") == Some("u11")).await;
    assert_eq!(error_condition(&e).as_deref(), Some("jid-malformed"));
}
