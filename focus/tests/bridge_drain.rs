//! Graceful bridge shutdown (SIGTERM): the bridge announces `Draining`, focus moves the
//! conference to the other bridge (`session-terminate reason="moving"` + a new
//! `session-initiate`), media flows again without rejoining, and focus expires the
//! conference on the draining bridge so it can exit before its drain timeout.

mod common;

use common::peer::{Peer, Via};
use common::{cluster, wait_mutual_media};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_bridge_hands_its_conference_to_the_other() {
    let Some(mut cluster) = cluster(2, false) else { return };
    let mut a = Peer::join(cluster.c2s, "meet.lan", "drain", "Ann").await;
    let mut b = Peer::join(cluster.c2s, "meet.lan", "drain", "Bob").await;
    let mut c = Peer::join(cluster.c2s, "meet.lan", "drain", "Cid").await;
    wait_mutual_media(&mut [&mut a, &mut b, &mut c], Via::Bridge, 15, Duration::from_secs(30)).await;
    let used = cluster.focus_stats()["room_list"][0]["bridge"].as_str().expect("room on a bridge").to_string();
    let i = cluster.bridges.iter().position(|b| b.id == used).expect("one of ours");
    let other = cluster.bridges[1 - i].id.clone();

    cluster.signal_bridge(i, "TERM");
    for p in [&mut a, &mut b, &mut c] {
        p.wait("moved to a new bridge session", Duration::from_secs(15), |v| v.bridge_initiates >= 2).await;
    }
    wait_mutual_media(&mut [&mut a, &mut b, &mut c], Via::Bridge, 15, Duration::from_secs(30)).await;
    assert_eq!(cluster.focus_stats()["room_list"][0]["bridge"], other.as_str());
    // The default drain timeout is 10 s; the bridge leaves earlier because focus expired
    // the conference on it.
    assert!(
        cluster.wait_bridge_exit(i, Duration::from_secs(8)),
        "the drained bridge exits once focus expired its conference"
    );
    for p in [&a, &b, &c] {
        let v = p.snapshot();
        assert!(v.terminates.iter().any(|r| r == "moving"), "{:?}", v.terminates);
        assert_eq!(v.conference_requests, 1, "never rejoined");
    }
}
