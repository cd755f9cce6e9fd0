//! One-to-one messages (PEOPLE.md section 4) with an archive on the bus (a test component on
//! `archive.meet.lan` that records what it gets): stamped with `<stanza-id/>` and `<delay/>`,
//! copied to the archive from the server's JID, delivered to every session of the recipient,
//! `<sent/>` copies to the sender's other sessions; an offline recipient's message goes to
//! the archive only; the archive's notifications reach every session of a person.

mod common;

use common::*;
use std::time::Duration;

const NS_CLIENT: &str = proto::xml::NS_CLIENT;

fn body(s: &proto::xml::Element) -> Option<String> {
    s.get_child("body", NS_CLIENT).map(|b| b.text_content())
}

#[tokio::test]
async fn a_message_is_stamped_copied_and_delivered_to_every_session() {
    let signal = Signal::start();
    let mut archive = BusComponent::archive(&signal).await;
    let (sa, sb) = (guest_secret(), guest_secret());
    let mut a1 = Client::guest(&signal, &sa).await;
    let mut a2 = Client::guest(&signal, &sa).await;
    let mut b1 = Client::guest(&signal, &sb).await;
    let mut b2 = Client::guest(&signal, &sb).await;

    a1.send(&format!(
        "<message type='chat' to='{}' id='m1' from='{}'><body>hello</body><origin-id xmlns='urn:xmpp:sid:0' id='o1'/>\
         <stanza-id xmlns='urn:xmpp:sid:0' by='meet.lan' id='forged'/><delay xmlns='urn:xmpp:delay' stamp='2000-01-01T00:00:00Z'/></message>",
        b1.bare(),
        b2.jid
    ))
    .await;

    let (copy, inner) = archive.copy().await;
    assert_eq!(copy.get_child("archive", NS_PEOPLE).and_then(|a| a.get_attr("delivered")), Some("true"));
    // no display name given yet: the name people see is the id (the JID's local part)
    let a_local = a1.bare().split('@').next().map(str::to_string);
    assert_eq!(copy.get_child("archive", NS_PEOPLE).and_then(|a| a.get_attr("name")).map(str::to_string), a_local);
    assert_eq!(inner.get_attr("from"), Some(a1.jid.as_str()), "the sender's full JID, never what it claimed");
    assert_eq!(inner.get_attr("to"), Some(b1.bare().as_str()));
    let id = stanza_id(&inner).expect("a stanza-id");
    assert_ne!(id, "forged");
    assert_eq!(inner.children().filter(|c| c.name() == "stanza-id").count(), 1, "{inner}");
    let stamp = inner.get_child("delay", "urn:xmpp:delay").and_then(|d| d.get_attr("stamp")).unwrap();
    assert!(stamp.starts_with("20") && stamp.ends_with('Z') && !stamp.starts_with("2000"), "{stamp}");
    assert_eq!(inner.get_child("origin-id", "urn:xmpp:sid:0").and_then(|o| o.get_attr("id")), Some("o1"));

    for b in [&mut b1, &mut b2] {
        let m = b.message(|m| body(m).as_deref() == Some("hello")).await;
        assert_eq!(m.get_attr("from"), Some(a1.jid.as_str()));
        assert_eq!(stanza_id(&m), Some(id.clone()));
    }
    let sent = a2.message(|m| m.get_child("sent", "urn:xmpp:carbons:2").is_some()).await;
    assert_eq!(sent.get_attr("from"), Some(a2.bare().as_str()));
    assert!(sent.to_string().contains("hello"), "{sent}");
    a1.no_message_until_ping("p1").await;

    // a later message gets a later id
    a1.send(&format!("<message type='chat' to='{}'><body>again</body></message>", b1.bare())).await;
    let (_, inner) = archive.copy().await;
    assert!(stanza_id(&inner).unwrap() > id, "ids order by time");
    a2.message(|m| m.to_string().contains("again")).await;

    // to one full JID: that session only (and the sender's others)
    b2.send(&format!("<message type='chat' to='{}'><body>just you</body></message>", a1.jid)).await;
    a1.message(|m| body(m).as_deref() == Some("just you")).await;
    let carbon = b1.message(|m| m.get_child("sent", "urn:xmpp:carbons:2").is_some()).await;
    assert!(carbon.to_string().contains("just you"));
    a2.no_message_until_ping("p2").await;
    let (_, inner) = archive.copy().await;
    assert_eq!(inner.get_attr("to"), Some(a1.jid.as_str()));
    let (_, m) = http_get(signal.http, "/metrics").await;
    assert_eq!(metric_value(&m, "signal_people_messages_total"), 3, "{m}");
}

#[tokio::test]
async fn an_offline_person_gets_nothing_live_and_the_archive_knows_they_were_offline() {
    let signal = Signal::start();
    let mut archive = BusComponent::archive(&signal).await;
    let sb = guest_secret();
    let b = Client::guest(&signal, &sb).await;
    let b_bare = b.bare();
    drop(b);
    let mut a = Client::guest(&signal, &guest_secret()).await;
    a.send(&format!("<message type='chat' to='{b_bare}' id='m1'><body>are you there?</body></message>")).await;
    let (copy, _) = archive.copy().await;
    assert_eq!(copy.get_child("archive", NS_PEOPLE).and_then(|a| a.get_attr("delivered")), Some("false"));
    a.no_message_until_ping("p").await;

    // the archive's notifications go to the person's bare JID: every session gets them
    let mut b1 = Client::guest(&signal, &sb).await;
    let mut b2 = Client::guest(&signal, &sb).await;
    let note = proto::xml::Element::new("message", NS_CLIENT)
        .attr("to", b_bare.as_str())
        .attr("type", "headline")
        .child(proto::xml::Element::new("notifications", NS_PEOPLE));
    archive.tx.send(note).unwrap();
    for b in [&mut b1, &mut b2] {
        let m = b.message(|m| m.get_attr("type") == Some("headline")).await;
        assert_eq!(m.get_attr("from"), Some("archive.meet.lan"));
    }
    archive.no_copy_within(Duration::from_millis(200)).await;
}
