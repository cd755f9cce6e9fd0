//! One client cannot create rooms without end: past 16 rooms at once its joins get
//! `resource-constraint`; leaving one makes room for another.

mod common;

use common::*;

#[tokio::test]
async fn a_client_is_in_at_most_sixteen_rooms() {
    let signal = Signal::start();
    let mut c = Client::anonymous(&signal).await;
    for i in 0..16 {
        c.join(&format!("many{i}"), "me").await;
    }
    c.send("<presence to='many16@conference.meet.lan/me'><x xmlns='http://jabber.org/protocol/muc'/></presence>").await;
    let e = c.until(|s| s.name() == "presence").await;
    assert_eq!(error_condition(&e).as_deref(), Some("resource-constraint"));
    c.send("<presence to='many0@conference.meet.lan/me' type='unavailable'/>").await;
    let _ = c.until(|s| s.name() == "presence" && s.get_attr("type") == Some("unavailable")).await;
    c.join("many16", "me").await;
}
