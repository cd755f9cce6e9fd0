//! P2P for two, decided by focus: two participants get P2P sessions a moment after the room
//! settles at two, their media flows directly (str0m to str0m) and the bridge holds no
//! endpoint for them, so it forwards nothing; a third participant puts all three on the
//! bridge.

mod common;

use common::cluster::http_get;
use common::peer::{Peer, Via};
use common::{cluster, wait_mutual_media};
use std::time::Duration;

fn bridge_endpoints(c: &common::cluster::Cluster) -> u64 {
    c.bridges
        .iter()
        .map(|b| {
            let (_, body) = http_get(b.http, "/stats").expect("bridge /stats answers");
            let v: serde_json::Value = serde_json::from_str(&body).expect("bridge /stats is JSON");
            v["endpoints"].as_u64().expect("bridge stats carry endpoints")
        })
        .sum()
}

/// Waits until the bridges hold `n` endpoints in all (their /stats is a periodic snapshot).
async fn wait_bridge_endpoints(c: &common::cluster::Cluster, n: u64, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let now = bridge_endpoints(c);
        if now == n {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: bridges hold {now} endpoints, not {n}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_go_p2p_and_a_third_brings_everyone_to_the_bridge() {
    let Some(cluster) = cluster(1, true) else { return };
    let mut a = Peer::join(cluster.c2s, "meet.lan", "duo", "Ann").await;
    let mut b = Peer::join(cluster.c2s, "meet.lan", "duo", "Bob").await;
    wait_mutual_media(&mut [&mut a, &mut b], Via::P2p, 20, Duration::from_secs(30)).await;
    for p in [&mut a, &mut b] {
        p.wait("bridge session ended for P2P", Duration::from_secs(15), |v| {
            v.terminates.iter().any(|r| r == "p2p") && !v.has_bridge
        })
        .await;
    }
    cluster.wait_focus_stats("room in P2P without bridge sessions", |s| {
        s["p2p_rooms"] == 1 && s["bridge_sessions_active"] == 0
    });
    // The bridge forwards nothing for them: it holds no endpoint, and nothing arrives over
    // a bridge while P2P media keeps flowing.
    wait_bridge_endpoints(&cluster, 0, "no endpoint on the bridge in P2P").await;
    let before = (a.snapshot().video_from(Via::Bridge, &b.nick), b.snapshot().video_from(Via::Bridge, &a.nick));
    wait_mutual_media(&mut [&mut a, &mut b], Via::P2p, 30, Duration::from_secs(15)).await;
    let after = (a.snapshot().video_from(Via::Bridge, &b.nick), b.snapshot().video_from(Via::Bridge, &a.nick));
    assert_eq!(before, after, "no media over the bridge in P2P");

    let mut c = Peer::join(cluster.c2s, "meet.lan", "duo", "Cid").await;
    wait_mutual_media(&mut [&mut a, &mut b, &mut c], Via::Bridge, 20, Duration::from_secs(30)).await;
    cluster.wait_focus_stats("all three on the bridge", |s| s["p2p_rooms"] == 0 && s["bridge_sessions_active"] == 3);
    for p in [&mut a, &mut b] {
        p.wait("P2P closed once the bridge's media flows", Duration::from_secs(10), |v| !v.has_p2p).await;
    }
    wait_bridge_endpoints(&cluster, 3, "three endpoints on the bridge").await;
}
