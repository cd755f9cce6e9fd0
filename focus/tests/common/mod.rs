//! Shared helpers of focus's integration tests: the process cluster, a minimal XMPP
//! client and a str0m participant.
#![allow(dead_code)]

pub mod cluster;
pub mod peer;
pub mod xmpp;

use peer::{Peer, Via};
use std::time::Duration;

/// Waits until every peer received at least `frames` more audio and video frames over
/// `via` from every other peer than it had when called.
pub async fn wait_mutual_media(peers: &mut [&mut Peer], via: Via, frames: u64, timeout: Duration) {
    let nicks: Vec<String> = peers.iter().map(|p| p.nick.clone()).collect();
    let base: Vec<Vec<(u64, u64)>> = peers
        .iter()
        .map(|p| {
            let v = p.snapshot();
            nicks.iter().map(|n| (v.audio_from(via, n), v.video_from(via, n))).collect()
        })
        .collect();
    let deadline = tokio::time::Instant::now() + timeout;
    for (i, p) in peers.iter_mut().enumerate() {
        let others: Vec<(usize, String)> = nicks.iter().cloned().enumerate().filter(|(k, _)| *k != i).collect();
        let b = base[i].clone();
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        p.wait(&format!("{frames} more frames over {via:?} from {others:?}"), left, |v| {
            others
                .iter()
                .all(|(k, n)| v.audio_from(via, n) >= b[*k].0 + frames && v.video_from(via, n) >= b[*k].1 + frames)
        })
        .await;
    }
}

/// A cluster with focus built by this crate.
pub fn cluster(bridges: usize, p2p: bool) -> Option<cluster::Cluster> {
    cluster_with(cluster::ClusterOptions { bridges, p2p_enabled: p2p, ..Default::default() })
}

/// A cluster with these options and this crate's focus binary.
pub fn cluster_with(opts: cluster::ClusterOptions) -> Option<cluster::Cluster> {
    cluster::require_bins(&["signal", "bridge"])?;
    Some(cluster::Cluster::start(cluster::ClusterOptions {
        focus_bin: Some(env!("CARGO_BIN_EXE_focus").into()),
        ..opts
    }))
}
