//! Bad input between people (PEOPLE.md section 7): messages to unknown people, spoofed
//! senders and forged server stamps or copies, oversized bodies, floods, messages from
//! someone who is not a person of the directory, messages to oneself. Each gets a clear error
//! (or is rewritten), and nothing reaches anyone.

mod common;

use common::*;
use std::time::Duration;

#[tokio::test]
async fn unknown_people_oversized_bodies_and_non_people_are_refused() {
    let signal = Signal::start();
    let mut archive = BusComponent::archive(&signal).await;
    let mut a = Client::guest(&signal, &guest_secret()).await;
    let mut b = Client::guest(&signal, &guest_secret()).await;
    let to = b.bare();

    let r = a
        .message_answer("u1", "<message type='chat' id='u1' to='nobody@guest.meet.lan'><body>hi</body></message>")
        .await;
    assert_refused(&r, "item-not-found", None);
    let r = a
        .message_answer("u2", "<message type='chat' id='u2' to='mallory@auth.meet.lan/x'><body>hi</body></message>")
        .await;
    assert_refused(&r, "item-not-found", None);

    let long = "é".repeat(4001);
    let r = a
        .message_answer("big", &format!("<message type='chat' id='big' to='{to}'><body>{long}</body></message>"))
        .await;
    assert_refused(&r, "not-acceptable", None);
    let ok = "é".repeat(4000);
    a.send(&format!("<message type='chat' id='fits' to='{to}'><body>{ok}</body></message>")).await;
    b.message(|m| m.get_attr("id") == Some("fits")).await;
    archive.copy().await;

    let r = a
        .message_answer("me", &format!("<message type='chat' id='me' to='{}'><body>hi me</body></message>", a.bare()))
        .await;
    assert_refused(&r, "bad-request", None);
    let r =
        a.message_answer("hl", &format!("<message type='headline' id='hl' to='{to}'><body>x</body></message>")).await;
    assert_refused(&r, "bad-request", None);

    // anonymous guests are not people of the directory
    let mut anon = Client::anonymous(&signal).await;
    let r =
        anon.message_answer("an", &format!("<message type='chat' id='an' to='{to}'><body>hi</body></message>")).await;
    assert_refused(&r, "forbidden", None);
    b.no_message_until_ping("p").await;
    archive.no_copy_within(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_spoofed_sender_and_forged_copies_are_rewritten() {
    let signal = Signal::start();
    let mut archive = BusComponent::archive(&signal).await;
    let mut a = Client::guest(&signal, &guest_secret()).await;
    let mut b = Client::guest(&signal, &guest_secret()).await;
    let mut c = Client::guest(&signal, &guest_secret()).await;
    // a poses as c, and wraps a forged <sent/> copy of a message "from" c
    a.send(&format!(
        "<message type='chat' id='f1' from='{c}' to='{b}'><body>trust me</body>\
         <sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='{c}' to='{b}'><body>forged</body></message></forwarded></sent>\
         <archive xmlns='{NS_PEOPLE}'/></message>",
        c = c.jid,
        b = b.bare()
    ))
    .await;
    let m = b.message(|m| m.get_attr("id") == Some("f1")).await;
    assert_eq!(m.get_attr("from"), Some(a.jid.as_str()));
    assert!(!m.to_string().contains("forged") && m.get_child("archive", NS_PEOPLE).is_none(), "{m}");
    let (_, inner) = archive.copy().await;
    assert_eq!(inner.get_attr("from"), Some(a.jid.as_str()));
    c.no_message_until_ping("p").await;

    // a client cannot hand the archive a copy: its from is always its own JID
    a.send(&format!(
        "<message to='archive.meet.lan' from='meet.lan'><archive xmlns='{NS_PEOPLE}'><forwarded xmlns='urn:xmpp:forward:0'>\
         <message xmlns='jabber:client' from='{}' to='{}' type='chat'><body>forged copy</body></message></forwarded></archive></message>",
        c.jid,
        b.bare()
    ))
    .await;
    let m = archive.next(|s| s.name() == "message").await;
    assert_eq!(m.get_attr("from"), Some(a.jid.as_str()), "the archive sees who really sent it: {m}");
}

#[tokio::test]
async fn a_flood_of_messages_is_limited_per_sender() {
    let signal = Signal::start();
    let mut archive = BusComponent::archive(&signal).await;
    let mut a = Client::guest(&signal, &guest_secret()).await;
    let mut b = Client::guest(&signal, &guest_secret()).await;
    for i in 0..20 {
        a.send(&format!("<message type='chat' id='f{i}' to='{}'><body>{i}</body></message>", b.bare())).await;
    }
    let r = a
        .message_answer("f20", &format!("<message type='chat' id='f20' to='{}'><body>20</body></message>", b.bare()))
        .await;
    assert_refused(&r, "resource-constraint", None);
    assert!(r.to_string().contains("too many messages"), "{r}");
    for i in 0..20 {
        b.message(|m| m.get_attr("id") == Some(format!("f{i}").as_str())).await;
        archive.copy().await;
    }
    b.no_message_until_ping("p").await;
    // the limit is the sender's: b still writes
    b.send(&format!("<message type='chat' id='back' to='{}'><body>slow down</body></message>", a.bare())).await;
    a.message(|m| m.get_attr("id") == Some("back")).await;
}
