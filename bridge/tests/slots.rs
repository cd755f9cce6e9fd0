//! The slot pool: a receiver gets as many receiving m-lines ("slots") per kind as it is
//! forwarded at once (its last-N of video, the routed audio), not one per participant, and
//! the bridge moves a slot from source to source as the selection changes, telling the page
//! who is on which slot (`SourcesMap`) before the new source's media arrives. Numbering stays
//! continuous across a move and video starts on a keyframe.

mod common;
use common::World;
use proto::bridge_channel::{BridgeChannelMessage, ReceiverVideoConstraints};
use std::time::Duration;
use str0m::media::MediaKind;

const NAMES: [&str; 8] = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"];

fn last_n(n: i32) -> BridgeChannelMessage {
    BridgeChannelMessage::ReceiverVideoConstraints(ReceiverVideoConstraints { last_n: n, ..Default::default() })
}

/// Live slots of `kind` the bridge keeps for receiver `name`.
fn slots(w: &World, name: &str, kind: MediaKind) -> usize {
    w.endpoint(name).tracks_out.iter().filter(|t| t.kind == kind && t.live()).count()
}

/// Senders whose video receiver `r` decoded frames of since the last reset.
fn video_from(w: &World, r: usize) -> Vec<usize> {
    (0..w.people.len()).filter(|&s| s != r && w.received(r, s).video_frames > 0).collect()
}

fn levels(w: &mut World, loud: &[usize]) {
    for (i, p) in w.people.iter_mut().enumerate() {
        p.audio_level = if loud.contains(&i) { -20 } else { -127 };
    }
}

/// Live audio slots of each participant, in `NAMES` order.
fn audio_slots(w: &World) -> Vec<usize> {
    NAMES.iter().map(|n| slots(w, n, MediaKind::Audio)).collect()
}

/// `speakers` talk (everyone else silent); after 4 s to settle, 2 s in which every listener
/// hears each speaker in full, with no gap in the numbering of the slot it came on.
fn speakers_heard(w: &mut World, speakers: &[usize], listeners: &[usize]) {
    levels(w, speakers);
    w.run_for(Duration::from_secs(4));
    w.reset_counts();
    w.run_for(Duration::from_secs(2));
    for &r in listeners {
        for &s in speakers {
            let got = w.received(r, s);
            assert!(got.audio_frames >= 90, "{} hears {}: {}", NAMES[r], NAMES[s], got.audio_frames);
            assert_eq!(got.audio_gaps, 0, "{} from {}: numbering continues on the moved slot", NAMES[r], NAMES[s]);
        }
    }
}

#[test]
fn last_n_video_rides_on_that_many_slots_and_follows_the_speaker() {
    let mut w = World::new();
    for name in NAMES {
        w.join(name);
    }
    levels(&mut w, &[1]);
    w.connect_all();
    w.run_for(Duration::from_millis(300));
    for i in 0..NAMES.len() {
        w.send_channel(i, &last_n(2));
    }
    w.run_for(Duration::from_secs(4));
    w.reset_counts();
    w.run_for(Duration::from_secs(2));
    for (r, name) in NAMES.iter().enumerate() {
        assert!(slots(&w, name, MediaKind::Video) <= 2, "{name}: {} video slots", slots(&w, name, MediaKind::Video));
        let from = video_from(&w, r);
        assert_eq!(from.len(), 2, "{name} gets two videos: {from:?}");
        if r != 1 {
            assert!(from.contains(&1), "{name} gets the speaker, bob: {from:?}");
        }
    }
    let offers: Vec<usize> = w.people.iter().map(|p| p.offers_seen).collect();

    // Grace speaks: every receiver that did not have her moves a slot to her; no new m-line.
    levels(&mut w, &[6]);
    w.run_for(Duration::from_secs(3));
    w.reset_counts();
    w.run_for(Duration::from_secs(2));
    for (r, name) in NAMES.iter().enumerate() {
        let from = video_from(&w, r);
        assert_eq!(from.len(), 2, "{name} still gets two videos: {from:?}");
        if r != 6 {
            assert!(from.contains(&6), "{name} gets the new speaker, grace: {from:?}");
        }
        assert!(slots(&w, name, MediaKind::Video) <= 2, "{name}: slots moved, none added");
        for s in from {
            let got = w.received(r, s);
            assert_eq!(got.non_contiguous, 0, "{name} from {s}: no gap across the move");
            assert_eq!(got.switches_without_keyframe, 0);
        }
    }
    for p in &w.people {
        assert_eq!(p.msid_mismatches, 0, "{}: every packet came on the slot the map names", p.id);
        assert_eq!(p.on_idle_slot, 0, "{}: nothing on a slot the map calls idle", p.id);
        assert!(p.messages.iter().any(|m| matches!(m, BridgeChannelMessage::SourcesMap { .. })));
    }
    let after: Vec<usize> = w.people.iter().map(|p| p.offers_seen).collect();
    assert_eq!(offers, after, "moving a slot needs no renegotiation");
}

#[test]
fn routed_audio_takes_the_slot_of_a_silent_source() {
    // The two loudest of eight: a receiver needs four audio slots at most (two speakers, and
    // two fading out while new ones start), not seven.
    let mut w = World::with_loudest_audio_above(2, 4);
    for name in NAMES {
        w.join(name);
    }
    levels(&mut w, &[0, 1]);
    w.connect_all();
    w.run_for(Duration::from_secs(4));
    let before = audio_slots(&w);
    assert!(before.iter().all(|&n| n <= 4), "audio slots: {before:?}");

    // Bob and alice fall silent, frank and heidi speak.
    speakers_heard(&mut w, &[5, 7], &[2, 3, 4, 6]);
    for r in [2, 3, 4, 6] {
        assert_eq!(w.received(r, 1).audio_frames, 0, "bob's silence is not routed");
    }
    let after = audio_slots(&w);
    assert!(after.iter().all(|&n| n <= 4), "the new speakers took old slots: {after:?}");

    // Carol and dave take over: they move onto the slots of alice and bob, silent by now.
    speakers_heard(&mut w, &[2, 3], &[0, 1, 4, 6]);
    let last = audio_slots(&w);
    assert!(last.iter().all(|&n| n <= 4), "no slot added: {last:?}");
    let moved: usize = w
        .people
        .iter()
        .map(|p| {
            p.owner_of_mid
                .iter()
                .filter(|(mid, owner)| owner.is_some() && p.msid_of_mid.get(*mid) != owner.as_ref())
                .count()
        })
        .sum();
    assert!(moved >= 8, "audio slots now carry other sources than they were offered for: {moved}");
    for p in &w.people {
        assert_eq!(p.msid_mismatches, 0, "{}: audio arrived on the slot the map names", p.id);
    }
}

#[test]
fn a_leaving_source_frees_its_slot_for_the_next_and_a_small_meeting_shrinks() {
    let mut w = World::new();
    w.meeting(&NAMES[..3], Duration::from_secs(3));
    assert_eq!(slots(&w, "alice", MediaKind::Video), 2);
    assert_eq!(slots(&w, "alice", MediaKind::Audio), 2);
    // Carol leaves: alice keeps one slot per kind (one other participant).
    w.leave(2);
    w.run_for(Duration::from_secs(2));
    assert_eq!(slots(&w, "alice", MediaKind::Video), 1);
    assert_eq!(slots(&w, "alice", MediaKind::Audio), 1);
    // Dave joins: he gets a slot again, and alice sees and hears him.
    w.join("dave");
    w.connect_all();
    w.run_for(Duration::from_secs(3));
    w.reset_counts();
    w.run_for(Duration::from_secs(1));
    assert!(w.received(0, 3).video_frames > 0 && w.received(0, 3).audio_frames > 0);
    assert_eq!(w.people[0].msid_mismatches, 0);
}
