//! Focus benchmark with real processes on loopback (signal, focus, bridges from
//! `$MEET_BIN_DIR`, str0m participants over real XMPP):
//!
//! 1. conference request → first media packet, for a participant joining a room where one
//!    participant already sends (p50/p99 over `JOINS` rooms);
//! 2. a burst of 50 participants joining one room at once: per-participant conference
//!    request → first media packet (p50/p99), time until all have media, and the session
//!    IQs focus sent (the batching of source updates);
//! 3. failover: `kill -9` of the bridge in use with three participants → first media packet
//!    from every other participant again (p50/max over `KILLS` runs).
//!
//! Run: `cargo bench -p focus --bench join_latency` (env `BENCH_JOINS`, `BENCH_BURST`,
//! `BENCH_MEDIA_BURST`, `BENCH_KILLS` change the counts).

#[path = "../tests/common/mod.rs"]
mod common;

use common::cluster::{require_bins, Cluster, ClusterOptions};
use common::peer::{Peer, PeerOptions, Via};
use std::time::{Duration, Instant};

fn env_n(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn summary(name: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "{name}: n={} p50={} p99={} max={}",
        v.len(),
        ms(pct(&v, 0.5)),
        ms(pct(&v, 0.99)),
        ms(*v.last().unwrap_or(&Duration::ZERO))
    );
}

fn cluster(bridges: usize) -> Cluster {
    Cluster::start(ClusterOptions {
        bridges,
        focus_bin: Some(env!("CARGO_BIN_EXE_focus").into()),
        // Signal keeps its default 64 KiB client stanza limit: session descriptions travel
        // compressed (proto::sdp_encoding), so a 50-participant answer fits.
        ..Default::default()
    })
}

async fn join_latency(joins: usize) {
    if joins == 0 {
        return;
    }
    let c = cluster(1);
    let mut samples = Vec::new();
    for i in 0..joins {
        let room = format!("bench-{i}");
        let mut first = Peer::join(c.c2s, "meet.lan", &room, "First").await;
        first.wait("bridge session", Duration::from_secs(20), |v| v.bridge_connected).await;
        let mut second = Peer::join(c.c2s, "meet.lan", &room, "Second").await;
        let n = first.nick.clone();
        let v = second.wait("first media", Duration::from_secs(20), |v| v.flow(Via::Bridge, &n).first.is_some()).await;
        let sent = v.conference_sent.expect("request sent");
        samples.push(v.flow(Via::Bridge, &n).first.expect("waited for it") - sent);
        second.leave().await;
        first.leave().await;
    }
    summary("conference request -> first media packet (2nd participant, via bridge)", samples);
}

/// `n` participants join one room at once. Always measured: conference request → bridge
/// transport up (ICE + DTLS with the bridge). With `media`, also request → first media
/// packet and → media from all others (rooms up to ~30: see the SDP size note in README).
async fn burst(n: usize, media: bool) {
    if n == 0 {
        return;
    }
    let c = cluster(1);
    let opts = PeerOptions { audio_interval: Duration::from_millis(100), video: false, p2p_fails_after: None };
    let start = Instant::now();
    let c2s = c.c2s;
    let joins =
        (0..n).map(move |i| async move { Peer::join_with(c2s, "meet.lan", "burst", &format!("P{i}"), opts).await });
    let mut peers = futures_join(joins).await;
    let nicks: Vec<String> = peers.iter().map(|p| p.nick.clone()).collect();
    let (mut initiated, mut connected) = (Vec::new(), Vec::new());
    for p in peers.iter_mut() {
        let v = p.wait("bridge transport up", Duration::from_secs(120), |v| v.bridge_connected_at.is_some()).await;
        let sent = v.conference_sent.expect("request sent");
        initiated.push(v.bridge_session_started.expect("session started") - sent);
        connected.push(v.bridge_connected_at.expect("waited for it") - sent);
    }
    let all_connected = start.elapsed();
    summary(&format!("burst of {n}: conference request -> bridge session-initiate received"), initiated);
    summary(&format!("burst of {n}: conference request -> bridge transport up (ICE+DTLS)"), connected);
    println!("burst of {n}: all {n} bridge transports up after {}", ms(all_connected));
    if media {
        let mut first = Vec::new();
        let mut all = Vec::new();
        for p in peers.iter_mut() {
            let others: Vec<String> = nicks.iter().filter(|k| **k != p.nick).cloned().collect();
            let v = p
                .wait("media from everyone", Duration::from_secs(120), |v| {
                    others.iter().all(|o| v.flow(Via::Bridge, o).first.is_some())
                })
                .await;
            let sent = v.conference_sent.expect("request sent");
            first.push(v.first_media.expect("media arrived") - sent);
            let last = others.iter().filter_map(|o| v.flow(Via::Bridge, o).first).max().expect("others exist");
            all.push(last - sent);
        }
        summary(&format!("burst of {n}: conference request -> first media packet"), first);
        summary(&format!("burst of {n}: conference request -> media from all {} others", n - 1), all);
        println!("burst of {n}: every participant has media from every other after {}", ms(start.elapsed()));
    }
    // Let renegotiations triggered by the last joins finish before counting.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let st = c.focus_stats();
    let updates = st["counters"]["source_updates"].as_u64().unwrap_or(0);
    let coalesced = st["counters"]["offers_coalesced"].as_u64().unwrap_or(0);
    let failures = st["counters"]["participant_failures"].as_u64().unwrap_or(0);
    let per: Vec<u32> = peers.iter().map(|p| p.snapshot().source_adds + p.snapshot().source_removes).collect();
    println!(
        "burst of {n}: focus sent {updates} source-add/remove in all ({:.1} per participant, max {}), {coalesced} bridge offers coalesced, {failures} participants failed; n^2 = {}",
        updates as f64 / n as f64,
        per.iter().max().unwrap_or(&0),
        n * n
    );
    let max_sdp = peers.iter().map(|p| p.snapshot().max_sdp_bytes).max().unwrap_or(0);
    let max_stanza = peers.iter().map(|p| p.snapshot().max_answer_stanza_bytes).max().unwrap_or(0);
    println!("burst of {n}: largest SDP answer a participant produced: {max_sdp} bytes, in a stanza of {max_stanza} bytes (compressed)");
    for p in peers {
        p.leave().await;
    }
}

async fn futures_join(
    futs: impl Iterator<Item = impl std::future::Future<Output = Peer> + Send + 'static>,
) -> Vec<Peer> {
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("join task"));
    }
    out
}

async fn failover(kills: usize) {
    if kills == 0 {
        return;
    }
    let mut c = cluster(2);
    let mut samples = Vec::new();
    for k in 0..kills {
        let room = format!("kill-{k}");
        let mut peers = Vec::new();
        for name in ["A", "B", "C"] {
            peers.push(Peer::join(c.c2s, "meet.lan", &room, name).await);
        }
        let nicks: Vec<String> = peers.iter().map(|p| p.nick.clone()).collect();
        for p in peers.iter_mut() {
            let others: Vec<String> = nicks.iter().filter(|n| **n != p.nick).cloned().collect();
            p.wait("media", Duration::from_secs(30), |v| others.iter().all(|o| v.flow(Via::Bridge, o).video > 5)).await;
        }
        let st = c.focus_stats();
        let used = st["room_list"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["name"] == room.as_str()))
            .and_then(|r| r["bridge"].as_str())
            .map(str::to_string);
        let i = c.bridges.iter().position(|b| Some(&b.id) == used.as_ref()).expect("room is on one of our bridges");
        let killed = Instant::now();
        c.kill_bridge(i);
        let mut worst = Duration::ZERO;
        for p in peers.iter_mut() {
            let others: Vec<String> = nicks.iter().filter(|n| **n != p.nick).cloned().collect();
            let v = p
                .wait("media again", Duration::from_secs(30), |v| {
                    let new_session = v.bridge_session_started.filter(|t| *t > killed);
                    new_session
                        .is_some_and(|s| others.iter().all(|o| v.flow(Via::Bridge, o).last.is_some_and(|t| t > s)))
                })
                .await;
            let _ = v;
            worst = worst.max(Instant::now() - killed);
        }
        samples.push(worst);
        for p in peers {
            p.leave().await;
        }
        c.add_bridge();
        let n = c.bridges.iter().filter(|b| b.proc.child.is_some()).count();
        c.wait_focus_stats("replacement bridge seen", |s| s["bridges"].as_array().is_some_and(|b| b.len() == n));
    }
    summary(
        "kill -9 of the bridge in use -> media from every other participant again (worst of 3 participants)",
        samples,
    );
}

fn main() {
    if require_bins(&["signal", "bridge"]).is_none() {
        return;
    }
    println!("binaries: {} (focus: {})", common::cluster::bin_dir().display(), env!("CARGO_BIN_EXE_focus"));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    rt.block_on(async {
        join_latency(env_n("BENCH_JOINS", 30)).await;
        burst(env_n("BENCH_BURST", 50), false).await;
        burst(env_n("BENCH_MEDIA_BURST", 15), true).await;
        failover(env_n("BENCH_KILLS", 5)).await;
    });
}
