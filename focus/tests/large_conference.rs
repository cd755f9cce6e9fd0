//! A conference larger than plain SDP allows on the client leg: 50 real WebRTC participants
//! (str0m) join one room through signal (client stanza limit at its 64 KiB default) and
//! focus. Every session description on the participant ↔ focus leg is
//! `encoding="deflate"` (proto::sdp_encoding), so every answer stanza stays far below
//! 64 KiB while the SDP inside grows past it.
//!
//! Each participant must end in one of two states: audio and video from every other
//! participant over the bridge, or a session given up by focus *only* because the bridge refused its
//! answer as larger than the bridge's own SDP cap (`bridge::sfu::MAX_SDP`, the next wall,
//! not the client leg's). Any other outcome fails: a client stream closed by signal, an
//! answer stanza of 64 KiB or more, or a failure for another reason. The summary line says
//! which limit stopped whom (`LARGE_CONFERENCE_PARTICIPANTS` overrides the 50).

mod common;

use common::cluster::ClusterOptions;
use common::cluster_with;
use common::peer::{Peer, PeerOptions, PeerView, Via};
use std::time::Duration;

const CLIENT_STANZA_LIMIT: usize = 64 * 1024;

fn has_media_from_all(v: &PeerView, nicks: &[String], frames: u64) -> bool {
    nicks
        .iter()
        .filter(|n| **n != v.nick)
        .all(|n| v.audio_from(Via::Bridge, n) >= frames && v.video_from(Via::Bridge, n) >= 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_participants_negotiate_with_compressed_sdp_under_the_client_stanza_limit() {
    // Everyone's audio and video to everyone, as the test checks: by default the bridge
    // forwards only the loudest speakers' audio in a conference of more than 20, and its
    // allocator fits video into the receiver's estimated bandwidth after reserving room for
    // 49 audio streams; without the estimate every video is forwarded.
    let opts = ClusterOptions {
        bridge_env: vec![("BRIDGE_LOUDEST_AUDIO".into(), "0".into()), ("BRIDGE_BWE".into(), "false".into())],
        ..Default::default()
    };
    let Some(cluster) = cluster_with(opts) else { return };
    let n: usize = std::env::var("LARGE_CONFERENCE_PARTICIPANTS").ok().and_then(|s| s.parse().ok()).unwrap_or(50);
    let mut peers = Vec::new();
    for i in 0..n {
        // Video at one frame a second: the bridge offers a receiver an m-line per video it
        // forwards (its slots), so the SDP carries everyone's video only while everyone's
        // video flows; one frame a second keeps every sender's layer alive at little cost.
        let opts = PeerOptions { video_interval: Duration::from_secs(1), ..Default::default() };
        peers.push(Peer::join_with(cluster.c2s, "meet.lan", "large", &format!("P{i}"), opts).await);
    }
    let nicks: Vec<String> = peers.iter().map(|p| p.nick.clone()).collect();
    for p in peers.iter_mut() {
        let nicks = nicks.clone();
        p.wait("media from every other participant, or given up", Duration::from_secs(180), move |v| {
            v.terminates.iter().any(|r| r == "failed") || has_media_from_all(v, &nicks, 10)
        })
        .await;
    }
    let focus_log =
        std::fs::read_to_string(&cluster.focus.as_ref().expect("this cluster starts focus").log).unwrap_or_default();
    let views: Vec<PeerView> = peers.iter().map(|p| p.snapshot()).collect();
    let mut full = 0;
    let mut stopped_by_bridge_cap = Vec::new();
    for v in &views {
        assert!(!v.done && v.errors.is_empty(), "{}: the client stream must stay open: {:?}", v.nick, v.errors);
        assert!(
            v.max_answer_stanza_bytes < CLIENT_STANZA_LIMIT,
            "{}: an answer stanza of {} bytes (SDP {} bytes)",
            v.nick,
            v.max_answer_stanza_bytes,
            v.max_sdp_bytes
        );
        if v.terminates.iter().any(|r| r == "failed") {
            let why = focus_log
                .lines()
                .find(|l| l.contains("giving up") && l.contains(&v.nick))
                .unwrap_or_else(|| panic!("{}: failed without a focus log line", v.nick));
            assert!(
                why.contains("bridge refused the participant's answer") && why.contains("larger than"),
                "{}: given up for another reason than the bridge's SDP cap: {why}",
                v.nick
            );
            stopped_by_bridge_cap.push(v.nick.clone());
        } else {
            full += 1;
        }
    }
    let max_sdp = views.iter().map(|v| v.max_sdp_bytes).max().unwrap_or(0);
    let max_stanza = views.iter().map(|v| v.max_answer_stanza_bytes).max().unwrap_or(0);
    println!(
        "{n} participants: {full} with media from all others, {} stopped by the bridge's SDP cap; \
         largest answer SDP {max_sdp} bytes, largest answer stanza {max_stanza} bytes (client limit {CLIENT_STANZA_LIMIT})",
        stopped_by_bridge_cap.len()
    );
    assert!(
        max_sdp > CLIENT_STANZA_LIMIT,
        "the conference must be large enough that plain SDP would pass the client limit ({max_sdp} bytes)"
    );
}
