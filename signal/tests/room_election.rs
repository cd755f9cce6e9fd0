//! Moderators (ROOMS.md section 2): focus joins first and stays owner + moderator without
//! counting as a person; the first person is elected moderator (and owner); when they leave
//! the longest-present person is elected; a moderator grants and demotes with muc#admin,
//! demoting the last moderator elects the next person; a participant can do neither.

mod common;

use common::*;

#[tokio::test]
async fn first_person_is_moderator_after_focus_and_the_longest_present_follows() {
    let signal = Signal::start();
    let mut focus = FakeFocus::connect(&signal).await;
    let me = focus.join("elect").await;
    assert_eq!(role_of(&me).as_deref(), Some("moderator"));
    assert_eq!(affiliation_of(&me).as_deref(), Some("owner"));

    let mut a = Client::anonymous(&signal).await;
    let mut b = Client::anonymous(&signal).await;
    let mut c = Client::anonymous(&signal).await;
    let (pa, others) = a.join("elect", "a").await;
    assert_eq!(others.len(), 1, "a sees focus");
    assert_eq!(role_of(&pa).as_deref(), Some("moderator"), "focus is no person: a is elected");
    assert_eq!(affiliation_of(&pa).as_deref(), Some("owner"));
    let (pb, _) = b.join("elect", "b").await;
    assert_eq!(role_of(&pb).as_deref(), Some("participant"));
    assert_eq!(affiliation_of(&pb).as_deref(), Some("none"));
    let (pc, _) = c.join("elect", "c").await;
    assert_eq!(role_of(&pc).as_deref(), Some("participant"));

    // a leaves: b (longest present) is elected, everyone sees it, c stays participant
    a.send("<presence to='elect@conference.meet.lan/a' type='unavailable'/>").await;
    let b_self = b
        .until(|s| {
            s.get_attr("from") == Some("elect@conference.meet.lan/b") && role_of(s).as_deref() == Some("moderator")
        })
        .await;
    assert!(status_codes(&b_self).contains(&"110".to_string()));
    assert_eq!(affiliation_of(&b_self).as_deref(), Some("owner"));
    let seen =
        c.until(|s| s.get_attr("from") == Some("elect@conference.meet.lan/b") && s.get_attr("type").is_none()).await;
    assert_eq!(role_of(&seen).as_deref(), Some("moderator"));
    // focus saw b join as participant, then b's presence as moderator
    let joined = focus.next(|s| s.get_attr("from") == Some("elect@conference.meet.lan/b")).await;
    assert_eq!(role_of(&joined).as_deref(), Some("participant"));
    focus
        .next(|s| {
            s.get_attr("from") == Some("elect@conference.meet.lan/b") && role_of(s).as_deref() == Some("moderator")
        })
        .await;
    still_served(&mut c, "p1").await;
}

#[tokio::test]
async fn moderators_grant_and_demote_and_participants_cannot() {
    let signal = Signal::start();
    let mut a = Client::anonymous(&signal).await;
    let mut b = Client::anonymous(&signal).await;
    let mut c = Client::anonymous(&signal).await;
    a.join("grant", "a").await;
    b.join("grant", "b").await;
    c.join("grant", "c").await;

    // a participant cannot grant (nothing changes)
    let r = b.admin("grant", "g0", "<item nick='b' role='moderator'/>").await;
    assert_eq!(error_condition(&r).as_deref(), Some("forbidden"), "{r}");
    still_served(&mut b, "p0").await;

    // the moderator grants b: b becomes moderator and owner, everyone sees it
    let r = a.admin("grant", "g1", "<item nick='b' role='moderator'/>").await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    let seen = c.presence_of("grant", "b").await;
    assert_eq!(role_of(&seen).as_deref(), Some("moderator"));
    assert_eq!(affiliation_of(&seen).as_deref(), Some("owner"));

    // a demotes itself: b is still moderator, no election needed
    let r = a.admin("grant", "g2", "<item nick='a' role='participant'/>").await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    let seen = c.presence_of("grant", "a").await;
    assert_eq!(role_of(&seen).as_deref(), Some("participant"));
    assert_eq!(affiliation_of(&seen).as_deref(), Some("none"));

    // b demotes itself, the last moderator: the longest-present other person (a) is elected
    let r = b.admin("grant", "g3", "<item nick='b' role='participant'/>").await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    let seen = c
        .until(|s| {
            s.get_attr("from") == Some("grant@conference.meet.lan/a") && role_of(s).as_deref() == Some("moderator")
        })
        .await;
    assert_eq!(affiliation_of(&seen).as_deref(), Some("owner"));
}

#[tokio::test]
async fn people_cannot_change_or_remove_focus() {
    let signal = Signal::start();
    let mut focus = FakeFocus::connect(&signal).await;
    focus.join("withfocus").await;
    let mut a = Client::anonymous(&signal).await;
    a.join("withfocus", "a").await;
    focus.next(|s| s.get_attr("from") == Some("withfocus@conference.meet.lan/a")).await;
    for (id, item) in [("f1", "<item nick='focus' role='none'/>"), ("f2", "<item nick='focus' role='participant'/>")] {
        let r = a.admin("withfocus", id, item).await;
        assert_eq!(error_condition(&r).as_deref(), Some("not-allowed"), "{r}");
    }
    let r = a.control("withfocus", "f3", "<mute xmlns='urn:meet-lan:room:0' nick='focus' media='audio'/>").await;
    assert_eq!(error_condition(&r).as_deref(), Some("not-allowed"), "{r}");
    assert!(
        focus.next_within(std::time::Duration::from_millis(300), |s| s.name() == "presence").await.is_none(),
        "focus's presence did not change"
    );
}
