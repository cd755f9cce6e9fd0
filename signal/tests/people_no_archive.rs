//! Without the archive on the bus (PEOPLE.md section 4): a message, an invitation or a call
//! proposal is refused with `service-unavailable` ("messages cannot be stored now") and
//! reaches nobody, so nothing is lost silently; read markers and call answers still go
//! through (a call in progress does not break while the archive restarts). Once the archive
//! is back, messages flow again.

mod common;

use common::*;

#[tokio::test]
async fn messages_wait_for_the_archive_and_markers_do_not() {
    let signal = Signal::start();
    let mut a = Client::guest(&signal, &guest_secret()).await;
    let mut b = Client::guest(&signal, &guest_secret()).await;
    let to = b.bare();

    let r = a.message_answer("m1", &format!("<message type='chat' to='{to}' id='m1'><body>hi</body></message>")).await;
    assert_refused(&r, "service-unavailable", None);
    assert!(r.to_string().contains("cannot be stored now"), "{r}");
    let propose = format!(
        "<message type='chat' to='{to}' id='m2'><propose xmlns='urn:xmpp:jingle-message:0' id='c1'>\
         <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/></propose></message>"
    );
    let r = a.message_answer("m2", &propose).await;
    assert_refused(&r, "service-unavailable", None);
    b.no_message_until_ping("p1").await;

    a.send(&format!(
        "<message type='chat' to='{to}' id='m3'><displayed xmlns='urn:xmpp:chat-markers:0' id='x'/></message>"
    ))
    .await;
    let m = b.message(|m| m.get_attr("id") == Some("m3")).await;
    assert!(stanza_id(&m).is_some(), "stamped all the same: {m}");

    let mut archive = BusComponent::archive(&signal).await;
    a.send(&format!("<message type='chat' to='{to}' id='m4'><body>now?</body></message>")).await;
    archive.copy().await;
    b.message(|m| m.get_attr("id") == Some("m4")).await;
}
