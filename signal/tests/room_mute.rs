//! Mute (ROOMS.md section 3): a moderator's mute sets a flag signal writes into the person's
//! presence (`<muted xmlns="urn:meet-lan:room:0" audio video by/>`, seen by everyone and by
//! focus); mute-all spares the asking moderator unless include-self; ask-unmute only sends
//! the target a message; only the person clears a flag; participants are refused.

mod common;

use common::*;

fn muted(p: &proto::xml::Element) -> Option<(String, String, String)> {
    let m = p.get_child("muted", NS_ROOM)?;
    let a = |n: &str| m.get_attr(n).unwrap_or_default().to_string();
    Some((a("audio"), a("video"), a("by")))
}

fn flags(audio: &str, video: &str, by: &str) -> Option<(String, String, String)> {
    Some((audio.into(), video.into(), by.into()))
}

#[tokio::test]
async fn moderator_mutes_one_person_and_only_that_person_unmutes() {
    let signal = Signal::start();
    let mut focus = FakeFocus::connect(&signal).await;
    focus.join("mute").await;
    let mut m = Client::anonymous(&signal).await;
    let mut p = Client::anonymous(&signal).await;
    let mut q = Client::anonymous(&signal).await;
    m.join("mute", "m").await;
    p.join("mute", "p").await;
    q.join("mute", "q").await;

    // a participant may not mute anyone: refused, nothing changes
    let r = q.control("mute", "x0", "<mute xmlns='urn:meet-lan:room:0' nick='p' media='audio'/>").await;
    assert_eq!(error_condition(&r).as_deref(), Some("forbidden"), "{r}");
    assert!(proto::bus::stanza_error(&r).unwrap().1.unwrap().contains("only moderators"));
    let r = m.control("mute", "x1", "<mute xmlns='urn:meet-lan:room:0' nick='p' media='loud'/>").await;
    assert_eq!(error_condition(&r).as_deref(), Some("bad-request"), "{r}");

    let r = m.control("mute", "m1", "<mute xmlns='urn:meet-lan:room:0' nick='p' media='audio'/>").await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    let own = p.presence_of("mute", "p").await;
    assert_eq!(muted(&own), flags("true", "false", "m"));
    assert!(status_codes(&own).contains(&"110".to_string()));
    assert_eq!(muted(&q.presence_of("mute", "p").await), flags("true", "false", "m"));
    let at_focus = focus.next(|s| s.get_attr("from") == Some("mute@conference.meet.lan/p") && muted(s).is_some()).await;
    assert_eq!(muted(&at_focus), flags("true", "false", "m"));

    // a presence update from p cannot drop or forge the flag
    p.send("<presence to='mute@conference.meet.lan/p'><muted xmlns='urn:meet-lan:room:0' audio='false' video='false' by='p'/></presence>").await;
    assert_eq!(muted(&q.presence_of("mute", "p").await), flags("true", "false", "m"));

    // nobody unmutes another person, moderators included
    let r = m.control("mute", "u0", "<unmute xmlns='urn:meet-lan:room:0' nick='p' media='audio'/>").await;
    assert_eq!(error_condition(&r).as_deref(), Some("forbidden"), "{r}");

    // ask-unmute reaches p as a message from the moderator, and changes nothing
    let r = m.control("mute", "a1", "<ask-unmute xmlns='urn:meet-lan:room:0' nick='p' media='audio'/>").await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    let ask = p.room_message("ask-unmute").await;
    assert_eq!(ask.get_attr("from"), Some("mute@conference.meet.lan/m"));
    assert_eq!(ask.get_attr("type"), Some("headline"));
    assert_eq!(ask.get_child("ask-unmute", NS_ROOM).unwrap().get_attr("media"), Some("audio"));
    let r = q.control("mute", "a2", "<ask-unmute xmlns='urn:meet-lan:room:0' nick='p' media='audio'/>").await;
    assert_eq!(error_condition(&r).as_deref(), Some("forbidden"), "{r}");

    // p unmutes itself: the flag is gone for everyone
    let r = p.control("mute", "u1", "<unmute xmlns='urn:meet-lan:room:0' media='audio'/>").await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    let seen = q.presence_of("mute", "p").await;
    assert_eq!(muted(&seen), None, "{seen}");
}

#[tokio::test]
async fn mute_all_spares_the_moderator_unless_include_self() {
    let signal = Signal::start();
    let mut m = Client::anonymous(&signal).await;
    let mut p = Client::anonymous(&signal).await;
    let mut q = Client::anonymous(&signal).await;
    m.join("all", "m").await;
    p.join("all", "p").await;
    q.join("all", "q").await;

    let r = p.control("all", "x", "<mute-all xmlns='urn:meet-lan:room:0' media='video'/>").await;
    assert_eq!(error_condition(&r).as_deref(), Some("forbidden"), "{r}");

    let r = m.control("all", "v1", "<mute-all xmlns='urn:meet-lan:room:0' media='video'/>").await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    // (m also has p's and q's join presences queued: skip to the changed ones)
    let p_now = m.until(|s| s.get_attr("from") == Some("all@conference.meet.lan/p") && muted(s).is_some()).await;
    assert_eq!(muted(&p_now), flags("false", "true", "m"));
    let q_now = m.until(|s| s.get_attr("from") == Some("all@conference.meet.lan/q") && muted(s).is_some()).await;
    assert_eq!(muted(&q_now), flags("false", "true", "m"));
    // the moderator itself was spared: its next own presence (after include-self) is the first change
    let r = m.control("all", "v2", "<mute-all xmlns='urn:meet-lan:room:0' media='audio' include-self='true'/>").await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    let mine = m.presence_of("all", "m").await;
    assert_eq!(muted(&mine), flags("true", "false", "m"), "the first change of m's presence is the audio mute");
    assert_eq!(muted(&q.presence_of("all", "q").await), flags("false", "true", "m"), "q's own video flag came first");
    assert_eq!(muted(&q.presence_of("all", "q").await), flags("true", "true", "m"));
}
