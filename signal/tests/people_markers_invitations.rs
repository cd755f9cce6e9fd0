//! Read markers (XEP-0333) and meeting invitations (XEP-0249) between people (PEOPLE.md
//! sections 4 and 6): routed, stamped and copied to the archive like messages; an invitation
//! only from a person who is in that room right now.

mod common;

use common::*;

#[tokio::test]
async fn a_read_marker_reaches_the_peer_and_the_archive() {
    let signal = Signal::start();
    let mut archive = BusComponent::archive(&signal).await;
    let sb = guest_secret();
    let mut a = Client::guest(&signal, &guest_secret()).await;
    let mut b1 = Client::guest(&signal, &sb).await;
    let mut b2 = Client::guest(&signal, &sb).await;
    a.send(&format!(
        "<message type='chat' to='{}'><body>read me</body><markable xmlns='urn:xmpp:chat-markers:0'/></message>",
        b1.bare()
    ))
    .await;
    let m = b1.message(|m| m.get_child("body", proto::xml::NS_CLIENT).is_some()).await;
    let id = stanza_id(&m).unwrap();
    archive.copy().await;

    b1.send(&format!(
        "<message type='chat' to='{}'><displayed xmlns='urn:xmpp:chat-markers:0' id='{id}'/></message>",
        a.bare()
    ))
    .await;
    let marker = a.message(|m| m.get_child("displayed", "urn:xmpp:chat-markers:0").is_some()).await;
    assert_eq!(marker.get_attr("from"), Some(b1.jid.as_str()));
    let (_, inner) = archive.copy().await;
    assert_eq!(
        inner.get_child("displayed", "urn:xmpp:chat-markers:0").and_then(|d| d.get_attr("id")),
        Some(id.as_str())
    );
    // b's other page learns that it was read (its unread count drops)
    let sent = b2
        .message(|m| m.get_child("sent", "urn:xmpp:carbons:2").is_some() && m.to_string().contains("displayed"))
        .await;
    assert!(sent.to_string().contains(&id));

    let r = b1
        .message_answer(
            "bad",
            &format!(
                "<message type='chat' id='bad' to='{}'><displayed xmlns='urn:xmpp:chat-markers:0'/></message>",
                a.bare()
            ),
        )
        .await;
    assert_refused(&r, "bad-request", None);
}

#[tokio::test]
async fn only_people_in_a_room_invite_to_it() {
    let signal = Signal::start();
    let mut archive = BusComponent::archive(&signal).await;
    let mut a = Client::guest(&signal, &guest_secret()).await;
    let mut b = Client::guest(&signal, &guest_secret()).await;
    let invite = |to: &str, id: &str, room: &str| {
        format!("<message to='{to}' id='{id}'><x xmlns='jabber:x:conference' jid='{room}@conference.meet.lan' reason='Join us'/></message>")
    };
    let r = a.message_answer("i1", &invite(&b.bare(), "i1", "planning")).await;
    assert_refused(&r, "forbidden", None);
    assert!(r.to_string().contains("room you are in"), "{r}");
    b.no_message_until_ping("p1").await;

    a.join("planning", "alice").await;
    a.send(&invite(&b.bare(), "i2", "planning")).await;
    let m = b.message(|m| m.get_child("x", "jabber:x:conference").is_some()).await;
    assert_eq!(m.get_attr("from"), Some(a.jid.as_str()));
    assert!(stanza_id(&m).is_some());
    let (_, inner) = archive.copy().await;
    assert_eq!(
        inner.get_child("x", "jabber:x:conference").and_then(|x| x.get_attr("jid")),
        Some("planning@conference.meet.lan")
    );

    let r = a
        .message_answer(
            "i3",
            &format!(
                "<message to='{}' id='i3'><x xmlns='jabber:x:conference' jid='planning@elsewhere.example'/></message>",
                b.bare()
            ),
        )
        .await;
    assert_refused(&r, "bad-request", None);
}
