//! A conference spanning media threads, in virtual time: the bridge as three cores (one
//! `Sfu` per media thread) with one participant on each, so every packet, source, keyframe
//! request and channel message crosses threads as relay messages. The media results are
//! those of one core. (Every other virtual-time test runs this way too with
//! `BRIDGE_TEST_THREADS=3`, as `run-tests.sh` does.)

mod common;
use std::time::Duration;

use bridge::SfuConfig;
use common::{World, BRIDGE};
use proto::bridge_channel::BridgeChannelMessage;
use proto::EndpointId;

fn world(threads: usize) -> World {
    let config =
        SfuConfig { candidates: vec![BRIDGE], version: "test".into(), bwe: true, loudest_audio: 0, loudest_above: 0 };
    World::with_threads(config, threads)
}

/// For every (receiver, sender): enough audio, enough video, the layer forwarded last.
fn media_results(w: &World) -> Vec<(usize, usize, bool, bool, Option<u8>)> {
    let n = w.people.len();
    let mut v = Vec::new();
    for r in 0..n {
        for s in (0..n).filter(|s| *s != r) {
            let got = w.received(r, s);
            v.push((r, s, got.audio_frames >= 90, got.video_frames >= 50, got.last_video_layer));
        }
    }
    v
}

fn meeting(threads: usize) -> World {
    let mut w = world(threads);
    w.meeting(&["alice", "bob", "carol"], Duration::from_secs(3));
    w.run_for(Duration::from_secs(2));
    w
}

#[test]
fn three_cores_give_the_media_results_of_one() {
    let one = meeting(1);
    let mut three = meeting(3);
    let per_core: Vec<usize> = (0..3).map(|t| three.core(t).endpoint_count()).collect();
    assert_eq!(per_core, vec![1, 1, 1], "one participant on each core");
    let counted: usize = (0..3).map(|t| three.core(t).counted_conferences()).sum();
    assert_eq!(counted, 1, "the conference is counted once");
    let expected = media_results(&one);
    assert!(expected.iter().all(|(_, _, a, v, layer)| *a && *v && *layer == Some(2)), "{expected:?}");
    assert_eq!(media_results(&three), expected);
    for p in &three.people {
        assert_eq!(p.msid_mismatches, 0, "msid names the sender on every core");
    }
    let m = three.sfu.metrics();
    assert!(m.rtp_forwarded_total.get() > 1000 && m.relay_dropped_total.get() == 0);
}

#[test]
fn a_participant_leaving_one_core_leaves_every_core() {
    let mut w = meeting(3);
    // bob is alone on core 1: his leaving ends that core's shard too.
    w.leave(1);
    w.run_for(Duration::from_secs(1));
    assert_eq!(w.core(1).conference_count(), 0, "core 1 let go of the conference");
    let conf = w.sfu.conference(&w.conference).expect("alice's core still has it");
    let mirrored: Vec<String> = conf.remotes.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(mirrored, vec!["carol".to_string()], "bob is forgotten on alice's core");
    assert_eq!(conf.peers, vec![2]);
    w.reset_counts();
    w.run_for(Duration::from_secs(1));
    assert!(w.received(0, 2).audio_frames > 40 && w.received(2, 0).video_frames > 20, "alice and carol go on");
    assert_eq!(w.received(0, 1).audio_frames + w.received(2, 1).audio_frames, 0);

    // A newcomer on the now empty core joins the conference again and gets everyone.
    w.join("dave");
    assert_eq!(w.thread_of(&EndpointId::new("dave").expect("id")), 0, "placed in turn");
    w.join("erin");
    assert_eq!(w.thread_of(&EndpointId::new("erin").expect("id")), 1);
    w.connect_all();
    w.run_for(Duration::from_secs(3));
    w.reset_counts();
    w.run_for(Duration::from_secs(1));
    for (r, s) in [(4, 0), (4, 2), (4, 3), (0, 4), (2, 4), (3, 4)] {
        let got = w.received(r, s);
        assert!(got.audio_frames > 40 && got.video_frames > 20, "{r} <- {s}: {got:?}");
    }
}

#[test]
fn channel_messages_and_mutes_cross_cores() {
    let mut w = meeting(3);
    w.send_channel(
        0,
        &BridgeChannelMessage::EndpointMessage {
            from: String::new(),
            to: "carol".into(),
            msg_payload: serde_json::json!({"hello": 1}),
        },
    );
    w.run_for(Duration::from_millis(300));
    let got = |w: &World, i: usize| {
        w.people[i]
            .messages
            .iter()
            .filter(|m| matches!(m, BridgeChannelMessage::EndpointMessage { from, .. } if from == "alice"))
            .count()
    };
    assert_eq!((got(&w, 1), got(&w, 2)), (0, 1), "only carol, on another core, gets it, from alice");

    // Focus mutes bob (core 1): the other cores stop forwarding his audio.
    w.force_mute("bob", true, false).expect("force mute");
    w.run_for(Duration::from_millis(200));
    w.reset_counts();
    w.run_for(Duration::from_secs(1));
    assert_eq!(w.received(0, 1).audio_frames + w.received(2, 1).audio_frames, 0, "bob is muted everywhere");
    assert!(w.received(0, 1).video_frames > 20, "his video still flows");
}
