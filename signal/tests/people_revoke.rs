//! Removal reaches filestore (ROOMS.md section 3): when a moderator removes someone, the
//! archive gets `<revoke xmlns="urn:meet-lan:people:0" room nick/>` from the server's JID,
//! so filestore closes their chat and refuses their room token. A removal made while the
//! archive is away reaches it when it comes.

mod common;

use common::*;

async fn kick(moderator: &mut Client, room: &str, nick: &str) {
    let r = moderator.admin(room, "k", &format!("<item nick='{nick}' role='none'><reason>bye</reason></item>")).await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
}

#[tokio::test]
async fn a_removal_is_told_to_the_archive_now_or_when_it_comes() {
    let signal = Signal::start();
    let mut m = Client::anonymous(&signal).await;
    let mut x = Client::anonymous(&signal).await;
    let mut y = Client::anonymous(&signal).await;
    m.join("planning", "mod").await;
    x.join("planning", "xavier").await;
    y.join("planning", "yan").await;

    let mut archive = BusComponent::archive(&signal).await;
    kick(&mut m, "planning", "xavier").await;
    let r = archive.next(|s| s.get_child("revoke", NS_PEOPLE).is_some()).await;
    assert_eq!(r.get_attr("from"), Some("meet.lan"));
    let rv = r.get_child("revoke", NS_PEOPLE).unwrap();
    assert_eq!((rv.get_attr("room"), rv.get_attr("nick")), (Some("planning"), Some("xavier")));

    drop(archive);
    // the archive is gone from the bus once signal has seen its connection close
    let component = "signal_connections{transport=\"component\"}";
    while metric_value(&http_get(signal.http, "/metrics").await.1, component) > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    kick(&mut m, "planning", "yan").await;
    let mut archive = BusComponent::archive(&signal).await;
    let r = archive.next(|s| s.get_child("revoke", NS_PEOPLE).is_some()).await;
    assert_eq!(r.get_child("revoke", NS_PEOPLE).unwrap().get_attr("nick"), Some("yan"));
}
