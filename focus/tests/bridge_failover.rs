//! `kill -9` of the bridge a conference is on: focus sees the bridge go (its presence
//! ends, health checks fail), sends every participant `session-terminate reason="moving"`
//! and a new `session-initiate`, and media flows again through the other bridge — on the
//! same XMPP sessions, without any participant rejoining. The recovery time is printed
//! (measured, not asserted: see the bench for numbers).

mod common;

use common::peer::{Peer, Via};
use common::{cluster, wait_mutual_media};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_bridge_is_replaced_without_rejoining() {
    let Some(mut cluster) = cluster(2, false) else { return };
    let mut a = Peer::join(cluster.c2s, "meet.lan", "failover", "Ann").await;
    let mut b = Peer::join(cluster.c2s, "meet.lan", "failover", "Bob").await;
    let mut c = Peer::join(cluster.c2s, "meet.lan", "failover", "Cid").await;
    wait_mutual_media(&mut [&mut a, &mut b, &mut c], Via::Bridge, 15, Duration::from_secs(30)).await;
    let stats = cluster.focus_stats();
    let used = stats["room_list"][0]["bridge"].as_str().expect("the room has a bridge").to_string();
    let i = cluster.bridges.iter().position(|b| b.id == used).expect("the bridge in use is one of ours");
    let other = cluster.bridges[1 - i].id.clone();

    let killed = Instant::now();
    cluster.kill_bridge(i);
    wait_mutual_media(&mut [&mut a, &mut b, &mut c], Via::Bridge, 15, Duration::from_secs(30)).await;
    eprintln!("media flowing again {:?} after kill -9 (15 frames from each of the others)", killed.elapsed());

    let stats = cluster.focus_stats();
    assert_eq!(stats["room_list"][0]["bridge"], other.as_str(), "{stats:#}");
    assert!(stats["counters"]["moves"].as_u64() >= Some(3), "{stats:#}");
    for p in [&a, &b, &c] {
        let v = p.snapshot();
        assert!(v.terminates.iter().any(|r| r == "moving"), "{}: {:?}", v.nick, v.terminates);
        assert_eq!(v.bridge_initiates, 2, "{}: one new session", v.nick);
        assert_eq!(v.conference_requests, 1, "{}: never rejoined", v.nick);
        assert!(v.errors.is_empty(), "{:?}", v.errors);
    }
}
