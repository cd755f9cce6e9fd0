//! Simulcast: a receiver's constraints pick the forwarded layer; a switch happens only at a
//! keyframe of the target layer, which the bridge asks for with PLI; last-N limits the
//! forwarded sources and is announced on the bridge channel.

mod common;
use common::World;
use proto::bridge_channel::{BridgeChannelMessage, ReceiverVideoConstraints, VideoConstraints};
use std::collections::BTreeMap;
use std::time::Duration;

fn constraints(last_n: i32, default_height: Option<i32>, per_source: &[(&str, i32)]) -> BridgeChannelMessage {
    BridgeChannelMessage::ReceiverVideoConstraints(ReceiverVideoConstraints {
        last_n,
        selected_sources: vec![],
        on_stage_sources: vec![],
        default_constraints: default_height.map(|h| VideoConstraints { max_height: h }),
        constraints: per_source
            .iter()
            .map(|(s, h)| (s.to_string(), VideoConstraints { max_height: *h }))
            .collect::<BTreeMap<_, _>>(),
    })
}

#[test]
fn constraint_change_switches_layer_at_a_requested_keyframe() {
    let mut w = World::new();
    for name in ["alice", "bob", "carol"] {
        w.join(name);
    }
    // Periodic keyframes only every 20 s: a quick switch proves the bridge asked for one.
    for p in &mut w.people {
        p.keyframe_interval = 600;
    }
    w.connect_all();
    w.run_for(Duration::from_secs(2));
    assert_eq!(w.received(0, 1).last_video_layer, Some(2));

    // alice wants at most 180p from everyone.
    let requests_before = w.people[1].keyframe_requests;
    w.send_channel(0, &constraints(-1, Some(180), &[]));
    w.run_for(Duration::from_millis(700));
    w.reset_counts();
    w.run_for(Duration::from_secs(1));
    let got = w.received(0, 1);
    assert!(got.video_frames >= 25, "alice still gets bob's video: {got:?}");
    assert_eq!(got.video_by_layer, [got.video_frames, 0, 0], "only the 180p layer after the switch");
    assert!(w.people[1].keyframe_requests > requests_before, "the bridge asked bob for a keyframe");
    // bob and carol are not affected by alice's constraints.
    assert_eq!(w.received(2, 1).last_video_layer, Some(2));

    // Per-source constraint: bob's video at 360p, carol's stays at the default 180p.
    w.send_channel(0, &constraints(-1, Some(180), &[("bob-v0", 360)]));
    w.run_for(Duration::from_millis(700));
    w.reset_counts();
    w.run_for(Duration::from_secs(1));
    assert_eq!(w.received(0, 1).last_video_layer, Some(1));
    assert_eq!(w.received(0, 2).last_video_layer, Some(0));

    // Video off for carol's source.
    w.send_channel(0, &constraints(-1, None, &[("carol-v0", 0)]));
    w.run_for(Duration::from_millis(500));
    w.reset_counts();
    w.run_for(Duration::from_secs(1));
    assert_eq!(w.received(0, 2).video_frames, 0, "maxHeight 0 stops the video");
    assert!(w.received(0, 2).audio_frames > 40, "audio is not affected");
    assert_eq!(w.received(0, 1).last_video_layer, Some(2));

    for r in 0..3 {
        for s in 0..3 {
            assert_eq!(w.received(r, s).switches_without_keyframe, 0);
        }
    }
    // carol's video: nobody but bob watches (alice set 0) → carol hears 720 (bob's view).
    let last = |i: usize| {
        w.people[i].messages.iter().rev().find_map(|m| match m {
            BridgeChannelMessage::SenderSourceConstraints { source_name, max_height } => {
                Some((source_name.clone(), *max_height))
            }
            _ => None,
        })
    };
    assert_eq!(last(2), Some(("carol-v0".to_string(), 720)));
    let mut total_switches = 0;
    for p in &w.people {
        for r in p.received.values() {
            total_switches += r.switches;
            assert_eq!(r.switches_without_keyframe, 0, "every layer switch starts at a keyframe");
        }
    }
    let _ = total_switches;
}

#[test]
fn senders_learn_the_largest_height_anyone_receives() {
    let mut w = World::new();
    for name in ["alice", "bob", "carol"] {
        w.join(name);
    }
    w.connect_all();
    w.run_for(Duration::from_secs(2));
    // Both receivers of bob's video want at most 180p.
    w.send_channel(0, &constraints(-1, Some(180), &[]));
    w.send_channel(2, &constraints(-1, Some(180), &[]));
    w.run_for(Duration::from_secs(1));
    let last = w.people[1].messages.iter().rev().find_map(|m| match m {
        BridgeChannelMessage::SenderSourceConstraints { source_name, max_height } => {
            Some((source_name.clone(), *max_height))
        }
        _ => None,
    });
    assert_eq!(last, Some(("bob-v0".to_string(), 180)));
}

/// The last height announced to participant `i` for its video.
fn announced(w: &World, i: usize) -> Option<i32> {
    w.people[i].messages.iter().rev().find_map(|m| match m {
        BridgeChannelMessage::SenderSourceConstraints { max_height, .. } => Some(*max_height),
        _ => None,
    })
}

/// Senders that encode only what is asked for, as the page does (layers above the announced
/// height off, the lowest on while anyone watches): in tile view they send one layer, and a
/// receiver asking for more brings the top layer back, also from a sender whose upper layers
/// the bridge never saw (Chromium starts with its lowest layer and adds the others as its
/// estimate grows: told 180 first, it never sends them, and no keyframe tells their heights).
#[test]
fn senders_following_constraints_stop_layers_and_bring_them_back_when_asked() {
    let mut w = World::new();
    w.join("alice");
    w.join("carol");
    w.connect_all();
    w.run_for(Duration::from_secs(1));
    // Tile view: alice and carol want 180p of everyone.
    for i in 0..2 {
        w.send_channel(i, &constraints(-1, Some(180), &[]));
    }
    w.run_for(Duration::from_secs(1));
    w.join("bob");
    for p in &mut w.people {
        p.follows_sender_constraints = true;
        p.keyframe_interval = 600;
    }
    w.people[2].sends_up_to = 180;
    w.connect_all();
    w.send_channel(2, &constraints(-1, Some(180), &[]));
    w.run_for(Duration::from_secs(3));
    let sent_before = w.people.iter().map(|p| p.layer_frames_sent).collect::<Vec<_>>();
    w.reset_counts();
    w.run_for(Duration::from_secs(1));
    for (i, p) in w.people.iter().enumerate() {
        assert_eq!(announced(&w, i), Some(180), "{}", p.id);
        let sent: Vec<usize> = (0..3).map(|l| p.layer_frames_sent[l] - sent_before[i][l]).collect();
        assert!(sent[0] >= 25 && sent[1] == 0 && sent[2] == 0, "{}: only the lowest layer is sent: {sent:?}", p.id);
        for r in (0..3).filter(|r| *r != i) {
            let got = w.received(r, i);
            assert!(got.video_frames >= 25, "{} still gets {}'s video: {got:?}", w.people[r].id, p.id);
            assert_eq!(got.video_by_layer, [got.video_frames, 0, 0]);
        }
    }
    assert_eq!(w.people[2].layer_frames_sent[1..], [0, 0], "the bridge never saw bob's upper layers");

    // alice puts bob on stage: bob hears 720 and alice gets his top layer, from a keyframe.
    w.send_channel(0, &constraints(-1, Some(180), &[("bob-v0", 720)]));
    w.run_for(Duration::from_secs(3));
    assert_eq!(announced(&w, 2), Some(720), "bob is told to send his upper layers again");
    w.reset_counts();
    w.run_for(Duration::from_secs(1));
    let got = w.received(0, 2);
    assert!(got.video_frames >= 25, "alice gets bob's video: {got:?}");
    assert_eq!(got.last_video_layer, Some(2), "bob's top layer reaches alice: {got:?}");
    assert_eq!(w.received(1, 2).video_by_layer[1..], [0, 0], "carol still gets bob's 180p");
    assert_eq!(announced(&w, 1), Some(180), "carol's video: nobody asked for more");
    for p in &w.people {
        for r in p.received.values() {
            assert_eq!(r.switches_without_keyframe, 0, "every layer switch starts at a keyframe");
            assert_eq!(r.non_contiguous, 0, "no gap in what a receiver gets");
        }
    }
}

#[test]
fn last_n_limits_forwarded_sources_and_announces_them() {
    let mut w = World::new();
    for name in ["alice", "bob", "carol", "dave"] {
        w.join(name);
    }
    w.connect_all();
    w.run_for(Duration::from_secs(2));
    w.send_channel(0, &constraints(1, None, &[]));
    w.run_for(Duration::from_secs(1));
    w.reset_counts();
    w.run_for(Duration::from_secs(1));
    let with_video: Vec<usize> = (1..4).filter(|s| w.received(0, *s).video_frames > 0).collect();
    assert_eq!(with_video.len(), 1, "last-N 1: one video source");
    assert!((1..4).all(|s| w.received(0, s).audio_frames > 40), "audio is never limited by last-N");
    let fwd = w.people[0].messages.iter().rev().find_map(|m| match m {
        BridgeChannelMessage::ForwardedSources { forwarded_sources } => Some(forwarded_sources.clone()),
        _ => None,
    });
    let last_n = w.people[0].messages.iter().rev().find_map(|m| match m {
        BridgeChannelMessage::LastNEndpointsChangeEvent { last_n_endpoints } => Some(last_n_endpoints.clone()),
        _ => None,
    });
    let name = w.people[with_video[0]].id.to_string();
    assert_eq!(fwd, Some(vec![format!("{name}-v0")]));
    assert_eq!(last_n, Some(vec![name]));

    // On stage wins the single slot.
    let mut c = ReceiverVideoConstraints { last_n: 1, ..Default::default() };
    c.on_stage_sources = vec!["dave-v0".into()];
    w.send_channel(0, &BridgeChannelMessage::ReceiverVideoConstraints(c));
    w.run_for(Duration::from_secs(1));
    w.reset_counts();
    w.run_for(Duration::from_secs(1));
    assert!(w.received(0, 3).video_frames > 20, "on-stage dave is forwarded");
    assert_eq!(w.received(0, 1).video_frames + w.received(0, 2).video_frames, 0);
}
