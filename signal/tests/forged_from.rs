//! A client cannot pose as someone else: `from` is rewritten to its bound JID.

mod common;

use common::*;
use proto::xml::NS_CLIENT;

#[tokio::test]
async fn client_from_is_rewritten_to_its_own_jid() {
    let signal = Signal::start();
    let mut a = Client::anonymous(&signal).await;
    let mut b = Client::anonymous(&signal).await;
    a.send(&format!("<message to='{}' from='focus.meet.lan' id='f1'><body>trust me</body></message>", b.jid)).await;
    let m = b.until(|s| s.name() == "message").await;
    assert_eq!(m.get_attr("from"), Some(a.jid.as_str()));
    assert_eq!(m.get_child("body", NS_CLIENT).unwrap().text_content(), "trust me");
    // and in a room, the occupant's room JID is its own
    a.join("ff", "alice").await;
    b.join("ff", "bob").await;
    a.send("<message to='ff@conference.meet.lan' type='groupchat' from='ff@conference.meet.lan/bob'><body>x</body></message>").await;
    let m = b.until(|s| s.name() == "message" && s.get_child("body", NS_CLIENT).is_some()).await;
    assert_eq!(m.get_attr("from"), Some("ff@conference.meet.lan/alice"));
}

#[tokio::test]
async fn clients_cannot_enter_the_internal_bridges_room() {
    let signal = Signal::start();
    let mut a = Client::anonymous(&signal).await;
    a.send("<presence to='bridges@internal.meet.lan/fakejvb'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
        .await;
    let e = a.until(|s| s.name() == "presence").await;
    assert_eq!(error_condition(&e).as_deref(), Some("forbidden"));
}
