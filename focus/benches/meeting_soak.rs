//! Meeting soak (issue 16, point 3): three str0m participants hold a meeting through real
//! signal, focus and bridge processes on loopback for `SOAK_SECS` (default 600). Every 10 s
//! it checks that each participant still receives audio and video from both others (a
//! stall is counted) and samples every process's resident memory and open file
//! descriptors. Prints per process: RSS after the 60 s warm-up and at the end (growth in %),
//! open fds at those moments; and the media stalls. Not run in CI (10 minutes).
//!
//! Run: `cargo bench -p focus --bench meeting_soak` (binaries from `$MEET_BIN_DIR`, release
//! ones for figures: `cargo build --release --bins`, `MEET_BIN_DIR=target/release`).

#[path = "../tests/common/mod.rs"]
mod common;

use common::cluster::{require_bins, Cluster, ClusterOptions};
use common::peer::{Peer, Via};
use proto::testkit::Usage;
use std::time::{Duration, Instant};

const WARMUP: f64 = 60.0;

fn pid(p: &common::cluster::Proc) -> u32 {
    p.child.as_ref().expect("the process runs").id()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if require_bins(&["signal", "bridge"]).is_none() {
        return;
    }
    let secs: u64 = std::env::var("SOAK_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(600);
    let cluster = Cluster::start(ClusterOptions {
        bridges: 1,
        focus_bin: Some(env!("CARGO_BIN_EXE_focus").into()),
        ..Default::default()
    });
    let mut usage = vec![
        Usage::new("signal", pid(&cluster.signal)),
        Usage::new("focus", pid(cluster.focus.as_ref().expect("focus runs"))),
        Usage::new("bridge", pid(&cluster.bridges[0].proc)),
    ];
    let mut peers = Vec::new();
    for name in ["Ann", "Bob", "Cid"] {
        peers.push(Peer::join(cluster.c2s, "meet.lan", "soak", name).await);
    }
    {
        let mut refs: Vec<&mut Peer> = peers.iter_mut().collect();
        common::wait_mutual_media(&mut refs, Via::Bridge, 20, Duration::from_secs(60)).await;
    }
    let nicks: Vec<String> = peers.iter().map(|p| p.nick.clone()).collect();
    let t0 = Instant::now();
    let frames = |peers: &Vec<Peer>| -> Vec<u64> {
        let mut v = Vec::new();
        for p in peers {
            let s = p.snapshot();
            for n in nicks.iter().filter(|n| **n != p.nick) {
                v.push(s.audio_from(Via::Bridge, n));
                v.push(s.video_from(Via::Bridge, n));
            }
        }
        v
    };
    let mut last = frames(&peers);
    let (mut stalls, mut checks) = (0u32, 0u32);
    let first = last.clone();
    for u in &mut usage {
        u.sample(0.0);
    }
    while t0.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let now = frames(&peers);
        checks += 1;
        let stalled = now.iter().zip(&last).filter(|(a, b)| a <= b).count();
        if stalled > 0 {
            stalls += 1;
            println!("{:>5.0} s: {stalled} of {} flows did not grow", t0.elapsed().as_secs_f64(), now.len());
        }
        last = now;
        for u in &mut usage {
            u.sample(t0.elapsed().as_secs_f64());
        }
    }
    let total: Vec<u64> = last.iter().zip(&first).map(|(a, b)| a - b).collect();
    println!(
        "meeting soak: 3 participants, {:.0} s, load average {}",
        t0.elapsed().as_secs_f64(),
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split(' ').take(3).collect::<Vec<_>>().join(" ")
    );
    println!(
        "media: {checks} checks every 10 s, {stalls} with a flow that did not grow; frames per flow (audio, video per sender and receiver): min {} max {}",
        total.iter().min().unwrap_or(&0),
        total.iter().max().unwrap_or(&0)
    );
    for u in &usage {
        println!("{}", u.report(WARMUP));
    }
    for p in peers {
        p.leave().await;
    }
    drop(cluster);
}
