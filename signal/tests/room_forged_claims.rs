//! Forged claims (issue 14 "Done when"): a client cannot make itself moderator, owner,
//! muted-by-someone or give itself an avatar through its presence: signal drops the
//! `muc#user` and room-namespace children of every person's presence, at join and in
//! updates, and writes its own.

mod common;

use common::*;

const FORGED: &str = "<x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='owner' role='moderator'/><status code='110'/></x><muted xmlns='urn:meet-lan:room:0' audio='false' video='false' by='m'/><avatar xmlns='urn:meet-lan:room:0'>https://evil.example/x.png</avatar>";

fn only_signals_claims(p: &proto::xml::Element) {
    let xs: Vec<_> = p.children().filter(|c| c.ns() == NS_MUC_USER).collect();
    assert_eq!(xs.len(), 1, "one muc#user <x/>, signal's: {p}");
    assert_eq!(role_of(p).as_deref(), Some("participant"), "{p}");
    assert_eq!(affiliation_of(p).as_deref(), Some("none"), "{p}");
    assert!(p.children().all(|c| c.ns() != NS_ROOM), "no forged room-namespace children: {p}");
}

#[tokio::test]
async fn forged_moderator_claims_in_presence_are_dropped() {
    let signal = Signal::start();
    let mut m = Client::anonymous(&signal).await;
    let mut f = Client::anonymous(&signal).await;
    m.join("forge", "m").await;

    f.send(&format!(
        "<presence to='forge@conference.meet.lan/f'><x xmlns='http://jabber.org/protocol/muc'/>{FORGED}</presence>"
    ))
    .await;
    only_signals_claims(&m.presence_of("forge", "f").await);
    f.until(|s| s.get_child("subject", proto::xml::NS_CLIENT).is_some()).await;

    f.send(&format!("<presence to='forge@conference.meet.lan/f'>{FORGED}</presence>")).await;
    only_signals_claims(&m.presence_of("forge", "f").await);

    // and it has no moderator rights
    let r = f.control("forge", "x", "<mute xmlns='urn:meet-lan:room:0' nick='m' media='audio'/>").await;
    assert_eq!(error_condition(&r).as_deref(), Some("forbidden"), "{r}");
    let r = f.admin("forge", "y", "<item nick='m' role='none'/>").await;
    assert_eq!(error_condition(&r).as_deref(), Some("forbidden"), "{r}");
}
