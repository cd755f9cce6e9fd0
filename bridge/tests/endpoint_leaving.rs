//! An endpoint leaving mid-stream, by Colibri expire or by its transport dying: the others
//! keep receiving each other, and get an offer removing the departed one's sources.

mod common;
use common::World;
use proto::colibri::ColibriEvent;
use std::time::Duration;

fn removal_offers(w: &World, who: &str) -> Vec<String> {
    w.colibri_events
        .iter()
        .filter_map(|e| match e {
            ColibriEvent::Offer { endpoint, removed, .. } if removed.iter().any(|r| r.as_str() == who) => {
                Some(endpoint.to_string())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn expired_endpoint_leaves_and_the_others_keep_flowing() {
    let mut w = World::new();
    for name in ["alice", "bob", "carol"] {
        w.join(name);
    }
    w.connect_all();
    w.run_for(Duration::from_secs(2));
    w.leave(2);
    w.run_for(Duration::from_millis(500));
    let mut got = removal_offers(&w, "carol");
    got.sort();
    assert_eq!(got, vec!["alice".to_string(), "bob".to_string()]);
    w.reset_counts();
    w.run_for(Duration::from_secs(2));
    assert!(w.received(0, 1).video_frames > 40 && w.received(1, 0).audio_frames > 80);
    assert_eq!(w.received(0, 2).audio_frames + w.received(0, 2).video_frames, 0);
    // A new joiner afterwards gets the two remaining, not carol.
    let d = w.join("dave");
    w.connect_all();
    w.run_for(Duration::from_secs(2));
    w.reset_counts();
    w.run_for(Duration::from_secs(1));
    assert!(w.received(d, 0).video_frames > 20 && w.received(d, 1).video_frames > 20);
    assert!(w.received(0, d).audio_frames > 40);
}

#[test]
fn endpoint_whose_transport_dies_is_removed_and_focus_is_told() {
    let mut w = World::new();
    for name in ["alice", "bob", "carol"] {
        w.join(name);
    }
    w.connect_all();
    w.run_for(Duration::from_secs(2));
    w.people[2].alive = false;
    w.run_for(Duration::from_secs(40));
    let failed = w
        .colibri_events
        .iter()
        .any(|e| matches!(e, ColibriEvent::EndpointFailed { endpoint, .. } if endpoint.as_str() == "carol"));
    assert!(failed, "focus hears EndpointFailed for carol");
    assert_eq!(removal_offers(&w, "carol").len(), 2);
    w.reset_counts();
    w.run_for(Duration::from_secs(1));
    assert!(w.received(0, 1).audio_frames > 40 && w.received(1, 0).video_frames > 20);
}

#[test]
fn reallocated_endpoint_replaces_the_old_session() {
    let mut w = World::new();
    for name in ["alice", "bob", "carol"] {
        w.join(name);
    }
    w.connect_all();
    w.run_for(Duration::from_secs(2));
    w.rejoin(0);
    w.connect_all();
    w.run_for(Duration::from_secs(2));
    assert_eq!(w.endpoint_count(), 3, "the old session was replaced, not added to");
    w.reset_counts();
    w.run_for(Duration::from_secs(2));
    for (r, s) in [(0, 1), (0, 2), (1, 0), (2, 0), (1, 2)] {
        let got = w.received(r, s);
        assert!(got.audio_frames > 80 && got.video_frames > 40, "{r} <- {s}: {got:?}");
    }
    assert_eq!(w.people[1].msid_mismatches + w.people[0].msid_mismatches, 0);
}

#[test]
fn a_lost_offer_is_made_again_and_the_late_joiner_arrives() {
    let mut w = World::new();
    for name in ["alice", "bob"] {
        w.join(name);
    }
    w.connect_all();
    w.run_for(Duration::from_secs(1));
    w.people[0].lose_offers = 1;
    w.join("carol");
    w.connect_all();
    w.run_for(Duration::from_secs(5));
    assert_eq!(w.received(0, 2).video_frames, 0, "alice never answered the offer with carol");
    w.run_for(Duration::from_secs(20));
    w.reset_counts();
    w.run_for(Duration::from_secs(1));
    assert!(w.received(0, 2).audio_frames > 40 && w.received(0, 2).video_frames > 20, "the offer was made again");
    assert!(w.received(2, 0).video_frames > 20);
}

#[test]
fn ice_restart_keeps_the_session_and_its_tracks() {
    let mut w = World::new();
    for name in ["alice", "bob", "carol"] {
        w.join(name);
    }
    w.connect_all();
    w.run_for(Duration::from_secs(2));
    let offers_before = w.colibri_events.iter().filter(|e| matches!(e, ColibriEvent::Offer { .. })).count();
    w.ice_restart(0);
    w.run_for(Duration::from_secs(2));
    assert_eq!(w.endpoint_count(), 3);
    let removals = w
        .colibri_events
        .iter()
        .filter(|e| matches!(e, ColibriEvent::Offer { removed, .. } if !removed.is_empty()))
        .count();
    assert_eq!(removals, 0, "nobody saw alice leave");
    let _ = offers_before;
    w.reset_counts();
    w.run_for(Duration::from_secs(2));
    for (r, s) in [(0, 1), (0, 2), (1, 0), (2, 0)] {
        let got = w.received(r, s);
        assert!(got.audio_frames > 80 && got.video_frames > 40, "{r} <- {s}: {got:?}");
    }
}
