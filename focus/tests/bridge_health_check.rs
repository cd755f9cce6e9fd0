//! A bridge that stops answering while its bus connection stays up (SIGSTOP: presence
//! still there, TCP still open) fails its 10-second health check; focus moves the
//! conference to the other bridge and media flows again without rejoining.

mod common;

use common::peer::{Peer, Via};
use common::{cluster, wait_mutual_media};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_bridge_fails_its_health_check_and_is_replaced() {
    let Some(mut cluster) = cluster(2, false) else { return };
    let mut a = Peer::join(cluster.c2s, "meet.lan", "frozen", "Ann").await;
    let mut b = Peer::join(cluster.c2s, "meet.lan", "frozen", "Bob").await;
    wait_mutual_media(&mut [&mut a, &mut b], Via::Bridge, 15, Duration::from_secs(30)).await;
    let used = cluster.focus_stats()["room_list"][0]["bridge"].as_str().expect("room on a bridge").to_string();
    let i = cluster.bridges.iter().position(|b| b.id == used).expect("one of ours");

    cluster.signal_bridge(i, "STOP");
    // Health checks run every 10 s and get 5 s to answer.
    let st = cluster.wait_focus_stats("the frozen bridge is marked failed", |s| {
        s["bridges"].as_array().is_some_and(|bs| bs.iter().any(|b| b["id"] == used.as_str() && b["failed"] == true))
    });
    assert!(
        st["bridges"].as_array().is_some_and(|bs| bs
            .iter()
            .any(|b| b["id"] == used.as_str() && b["last_failure"].as_str().is_some_and(|f| f.contains("health")))),
        "{st:#}"
    );
    wait_mutual_media(&mut [&mut a, &mut b], Via::Bridge, 15, Duration::from_secs(30)).await;
    assert_ne!(cluster.focus_stats()["room_list"][0]["bridge"], used.as_str());
    for p in [&a, &b] {
        let v = p.snapshot();
        assert_eq!((v.bridge_initiates, v.conference_requests), (2, 1), "moved, never rejoined");
    }
    cluster.signal_bridge(i, "CONT");
}
