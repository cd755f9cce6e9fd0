//! A page whose P2P connection fails tells focus (`session-terminate` of the P2P sid,
//! `reason="failed"`): after the bridge was already released for P2P, both participants get
//! new bridge sessions and their media flows through the bridge again, and focus does not
//! try P2P with the same pair again.

mod common;

use common::peer::{Peer, PeerOptions, Via};
use common::{cluster, wait_mutual_media};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_p2p_reported_by_a_page_puts_both_back_on_the_bridge() {
    let Some(cluster) = cluster(1, true) else { return };
    let mut a = Peer::join(cluster.c2s, "meet.lan", "nop2p", "Ann").await;
    // Bob's "P2P connection" fails 3 s after focus proposed P2P: by then focus has released
    // both bridge sessions (2 s after both acknowledged).
    let opts = PeerOptions { p2p_fails_after: Some(Duration::from_secs(3)), ..Default::default() };
    let mut b = Peer::join_with(cluster.c2s, "meet.lan", "nop2p", "Bob", opts).await;
    for p in [&mut a, &mut b] {
        p.wait("bridge released for P2P", Duration::from_secs(20), |v| v.terminates.iter().any(|r| r == "p2p")).await;
    }
    for p in [&mut a, &mut b] {
        p.wait("P2P ended as failed, new bridge session", Duration::from_secs(20), |v| {
            v.terminates.iter().any(|r| r == "failed") && v.bridge_initiates >= 2
        })
        .await;
    }
    wait_mutual_media(&mut [&mut a, &mut b], Via::Bridge, 20, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(3)).await; // longer than P2P_DELAY_MS: no retry
    let st = cluster.focus_stats();
    assert_eq!((st["p2p_rooms"].as_u64(), st["bridge_sessions_active"].as_u64()), (Some(0), Some(2)), "{st:#}");
    assert_eq!(st["counters"]["p2p_started"], 1, "{st:#}");
    assert_eq!(a.snapshot().p2p_initiates, 1);
}
