//! Three real WebRTC participants (str0m) joined through signal and focus receive each
//! other's audio and video through a real bridge, each track labelled with its sender
//! (msid = endpoint id); when one leaves, the others get a `source-remove` without it.

mod common;

use common::peer::{Peer, Via};
use common::{cluster, wait_mutual_media};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_participants_receive_each_other_and_a_leave_reaches_the_rest() {
    let Some(cluster) = cluster(2, false) else { return };
    let mut a = Peer::join(cluster.c2s, "meet.lan", "trio", "Ann").await;
    let mut b = Peer::join(cluster.c2s, "meet.lan", "trio", "Bob").await;
    let mut c = Peer::join(cluster.c2s, "meet.lan", "trio", "Cid").await;
    wait_mutual_media(&mut [&mut a, &mut b, &mut c], Via::Bridge, 20, Duration::from_secs(30)).await;
    for p in [&a, &b, &c] {
        let v = p.snapshot();
        assert_eq!(v.msid_mismatches, 0, "{}: every track's msid names its sender", v.nick);
        assert!(v.errors.is_empty(), "{:?}", v.errors);
    }
    let stats = cluster.focus_stats();
    assert_eq!(stats["bridge_sessions_active"], 3, "{stats:#}");
    assert_eq!(stats["counters"]["participants_joined"], 3);

    let c_nick = c.nick.clone();
    let removes = (a.snapshot().source_removes, b.snapshot().source_removes);
    c.leave().await;
    for (p, before) in [(&mut a, removes.0), (&mut b, removes.1)] {
        p.wait("source-remove without the leaver", Duration::from_secs(15), |v| {
            v.source_removes > before && !v.remote_streams.contains(&c_nick)
        })
        .await;
    }
    wait_mutual_media(&mut [&mut a, &mut b], Via::Bridge, 10, Duration::from_secs(15)).await;
    cluster.wait_focus_stats("focus counted the leave", |s| {
        s["counters"]["participants_left"] == 1 && s["participants"] == 2
    });
    a.leave().await;
    b.leave().await;
    cluster.wait_focus_stats("the conference ended with the last leave", |s| {
        s["participants"] == 0 && s["bridge_sessions_active"] == 0 && s["counters"]["rooms_ended"] == 1
    });
}
