//! Dominant speaker: from RFC 6464 audio levels the bridge picks who speaks and tells every
//! page with DominantSpeakerEndpointChangeEvent (with the previous speakers).

mod common;
use common::World;
use proto::bridge_channel::BridgeChannelMessage;
use std::time::Duration;

fn last_speaker_event(w: &World, i: usize) -> Option<(String, Vec<String>)> {
    w.people[i].messages.iter().rev().find_map(|m| match m {
        BridgeChannelMessage::DominantSpeakerEndpointChangeEvent { dominant_speaker_endpoint, previous_speakers } => {
            Some((dominant_speaker_endpoint.clone(), previous_speakers.clone()))
        }
        _ => None,
    })
}

#[test]
fn loudest_participant_becomes_dominant_and_everyone_is_told() {
    let mut w = World::new();
    for name in ["alice", "bob", "carol"] {
        w.join(name);
    }
    for p in &mut w.people {
        p.audio_level = -127;
    }
    w.people[1].audio_level = -25;
    w.connect_all();
    w.run_for(Duration::from_secs(3));
    for i in 0..3 {
        assert_eq!(last_speaker_event(&w, i).map(|e| e.0), Some("bob".to_string()), "participant {i} told bob speaks");
    }
    // carol starts talking, bob goes quiet.
    w.people[1].audio_level = -127;
    w.people[2].audio_level = -20;
    w.run_for(Duration::from_secs(3));
    for i in 0..3 {
        assert_eq!(last_speaker_event(&w, i), Some(("carol".to_string(), vec!["bob".to_string()])));
    }
}

#[test]
fn silence_elects_nobody() {
    let mut w = World::new();
    for name in ["alice", "bob", "carol"] {
        w.join(name);
    }
    for p in &mut w.people {
        p.audio_level = -127;
    }
    w.connect_all();
    w.run_for(Duration::from_secs(3));
    assert!(last_speaker_event(&w, 0).is_none());
}

#[test]
fn a_late_joiner_is_told_the_speaker_and_nobody_else_hears_it_again() {
    let mut w = World::new();
    for name in ["alice", "bob", "carol"] {
        w.join(name);
    }
    for p in &mut w.people {
        p.audio_level = -127;
    }
    w.people[1].audio_level = -25;
    w.connect_all();
    w.run_for(Duration::from_secs(3));
    let told = |w: &World, i: usize| {
        w.people[i]
            .messages
            .iter()
            .filter(|m| matches!(m, BridgeChannelMessage::DominantSpeakerEndpointChangeEvent { .. }))
            .count()
    };
    let before: Vec<usize> = (0..3).map(|i| told(&w, i)).collect();
    let dave = w.join("dave");
    w.people[dave].audio_level = -127;
    w.connect_all();
    w.run_for(Duration::from_secs(2));
    assert_eq!(last_speaker_event(&w, dave).map(|e| e.0), Some("bob".to_string()), "dave is told bob speaks");
    assert_eq!((0..3).map(|i| told(&w, i)).collect::<Vec<_>>(), before, "the others heard nothing new");
}
