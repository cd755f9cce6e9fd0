//! `AUTH_MODE=accounts` (ROOMS.md section 1): only signed-in accounts get a room going. A
//! guest's conference request and join are refused with `not-authorized` +
//! `<host-required/>` (focus never sees the request, no room is created) until a host has
//! been in the room; then guests come in. Accounts are elected moderators, guests never, and
//! a guest cannot be made moderator.

mod common;

use common::*;
use std::time::Duration;

#[tokio::test]
async fn guests_wait_for_a_signed_in_host_and_are_never_moderators() {
    let signal = Signal::start_with(&[("AUTH_MODE", "accounts")]);
    add_account(&signal, "alice", "alice-pw");
    let mut focus = FakeFocus::connect(&signal).await;
    let mut guest = Client::anonymous(&signal).await;

    // no host yet: the request never reaches focus, the join creates nothing
    let r = guest.iq("c0", &conference_request("c0", "team")).await;
    assert_refused(&r, "not-authorized", Some("host-required"));
    assert!(focus.next_within(Duration::from_millis(300), |s| s.name() == "iq").await.is_none());
    assert_refused(&guest.try_join("team", "g", "").await, "not-authorized", Some("host-required"));
    let (_, m) = http_get(signal.http, "/metrics").await;
    assert_eq!(metric_value(&m, "signal_rooms"), 0, "a refused join creates no room");

    // a host asks: focus gets the request and opens the room; a guest still waits until the
    // host has been in it
    let mut alice = Client::account(&signal, "alice", "alice-pw").await;
    alice.send(&conference_request("c1", "team")).await;
    let req = focus.next(|s| s.name() == "iq").await;
    assert!(req.get_child("conference", "http://jitsi.org/protocol/focus").is_some(), "{req}");
    focus.join("team").await;
    assert_refused(&guest.try_join("team", "g", "").await, "not-authorized", Some("host-required"));
    let (me, _) = alice.join("team", "alice").await;
    assert_eq!(role_of(&me).as_deref(), Some("moderator"), "the account is elected");

    // hosted: the guest's request reaches focus and the guest joins as participant
    guest.send(&conference_request("c2", "team")).await;
    focus.next(|s| s.name() == "iq" && s.get_attr("id") == Some("c2")).await;
    let joined = guest.try_join("team", "g", "").await;
    assert_eq!(role_of(&joined).as_deref(), Some("participant"), "{joined}");

    // a guest cannot be made moderator
    let r = alice.admin("team", "g1", "<item nick='g' role='moderator'/>").await;
    assert_eq!(error_condition(&r).as_deref(), Some("not-allowed"), "{r}");
    assert!(proto::bus::stanza_error(&r).unwrap().1.unwrap().contains("guests cannot be moderators"));

    // the host leaves: the guest is not elected, and guests may still come in
    alice.send("<presence to='team@conference.meet.lan/alice' type='unavailable'/>").await;
    guest.until(|s| s.get_attr("from") == Some("team@conference.meet.lan/alice")).await;
    let mut late = Client::anonymous(&signal).await;
    let (late_me, others) = late.join("team", "late").await;
    assert_eq!(role_of(&late_me).as_deref(), Some("participant"));
    let g = others.iter().find(|p| p.get_attr("from") == Some("team@conference.meet.lan/g")).expect("g is there");
    assert_eq!(role_of(g).as_deref(), Some("participant"), "no guest was elected");
}
