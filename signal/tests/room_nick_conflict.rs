//! XEP-0045 §7.2.9: a nickname in use by someone else is refused with 409 conflict, and the
//! refused client is not in the room.

mod common;

use common::*;

#[tokio::test]
async fn second_client_with_same_nick_gets_conflict() {
    let signal = Signal::start();
    let mut a = Client::anonymous(&signal).await;
    let mut b = Client::anonymous(&signal).await;
    a.join("room", "same").await;
    b.send(
        "<presence to='room@conference.meet.lan/same' id='j2'><x xmlns='http://jabber.org/protocol/muc'/></presence>",
    )
    .await;
    let e = b.until(|s| s.name() == "presence").await;
    assert_eq!(e.get_attr("type"), Some("error"));
    assert_eq!(error_condition(&e).as_deref(), Some("conflict"));
    let err = e.get_child("error", proto::xml::NS_CLIENT).unwrap();
    assert_eq!(err.get_attr("code"), Some("409"));
    // b is not an occupant: its groupchat is refused
    b.send("<message to='room@conference.meet.lan' type='groupchat' id='m'><body>x</body></message>").await;
    let e = b.until(|s| s.get_attr("id") == Some("m")).await;
    assert_eq!(error_condition(&e).as_deref(), Some("not-acceptable"));
    // with another nick it works
    let (_, others) = b.join("room", "other").await;
    assert_eq!(others.len(), 1);
}
