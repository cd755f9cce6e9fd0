//! PLI from a receiver reaches the sender of that source, paced: a burst of requests
//! becomes one request upstream, and a later one goes through again.

mod common;
use common::World;
use std::time::Duration;
use str0m::media::KeyframeRequestKind;

fn pli(w: &mut World, receiver: usize, source: &str) {
    let mid = *w.people[receiver].mid_of_source.get(source).expect("the source has an m-line");
    let mut api = w.people[receiver].rtc.direct_api();
    let rx = api.stream_rx_by_mid(mid, None).expect("a receive stream for the source");
    rx.request_keyframe(KeyframeRequestKind::Pli);
}

#[test]
fn receiver_pli_is_forwarded_to_the_sender_and_paced() {
    let mut w = World::new();
    for name in ["alice", "bob", "carol"] {
        w.join(name);
    }
    for p in &mut w.people {
        p.keyframe_interval = 10_000;
    }
    w.connect_all();
    w.run_for(Duration::from_secs(2));
    let before = w.people[1].keyframe_requests;
    for _ in 0..10 {
        pli(&mut w, 0, "bob-v0");
        w.run_for(Duration::from_millis(10));
    }
    // str0m sends a receiver's PLI with its next RTCP feedback (within about a second).
    w.run_for(Duration::from_millis(1200));
    let burst = w.people[1].keyframe_requests - before;
    assert!((1..=2).contains(&burst), "a burst of 10 PLIs reaches bob {burst} times");
    w.run_for(Duration::from_secs(1));
    let before = w.people[1].keyframe_requests;
    let carol_before = w.people[2].keyframe_requests;
    pli(&mut w, 2, "bob-v0");
    w.run_for(Duration::from_millis(1200));
    assert_eq!(w.people[1].keyframe_requests - before, 1, "a later PLI goes through");
    assert_eq!(w.people[2].keyframe_requests, carol_before, "carol was not asked");
}
