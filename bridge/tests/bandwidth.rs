//! transport-cc feedback and the send-side bandwidth estimate per receiver: a receiver
//! behind a slow link gets lower simulcast layers (the estimate falls), while a receiver on
//! a fast link keeps the top layers.

mod common;
use common::World;
use std::time::Duration;

#[test]
fn receiver_behind_a_slow_link_gets_lower_layers() {
    let mut w = World::new();
    for name in ["alice", "bob", "carol"] {
        w.join(name);
    }
    // alice's downlink carries 700 kbit/s; both top layers together need ~1.3 Mbit/s.
    w.people[0].downlink_kbps = Some(700);
    w.connect_all();
    w.run_for(Duration::from_secs(20));
    let bwe_alice = w.endpoint("alice").bwe.expect("alice has a bandwidth estimate");
    let bwe_bob = w.endpoint("bob").bwe.expect("bob has a bandwidth estimate");
    eprintln!("estimates: alice {bwe_alice} bob {bwe_bob}");
    assert!(bwe_alice < 1_000_000, "alice's estimate follows her slow link: {bwe_alice}");
    // Over a 10 s window (~300 frames per sender): the estimate on a link this narrow
    // swings between ~0.25 and ~0.6 Mbit/s as it probes and backs off, and at its lows
    // only one lowest layer fits (the allocator suspends the second, as Jitsi's does).
    // A 3 s window right after 20 s landed in such a low in some runs (CI once; 2 of 8
    // and 9 of 20 runs within one hour, none of 300 in the next); video must flow from
    // both for most of the window, each low lasting a few seconds.
    w.reset_counts();
    w.run_for(Duration::from_secs(10));
    let (from_bob, from_carol) = (w.received(0, 1), w.received(0, 2));
    eprintln!("alice <- bob {from_bob:?}\nalice <- carol {from_carol:?}");
    assert!(from_bob.video_by_layer[2] + from_carol.video_by_layer[2] == 0, "no 720p over 700 kbit/s");
    assert!(
        from_bob.video_frames > 150 && from_carol.video_frames > 150,
        "video keeps flowing at a lower layer from both"
    );
    assert_eq!(w.received(1, 2).last_video_layer, Some(2), "bob's fast link keeps the top layer");
}

#[test]
fn estimates_on_fast_links_do_not_start_low() {
    // Regression: asking the estimator to probe only up to what was seen in the first
    // moments (audio, no video layers yet) pulled every estimate down to ~0.5 Mbit/s.
    let mut w = World::new();
    for name in ["alice", "bob", "carol", "dave", "erin"] {
        w.join(name);
    }
    w.connect_all();
    for _ in 0..6 {
        w.run_for(Duration::from_secs(1));
        for e in w.endpoints() {
            let bwe = e.bwe.unwrap_or(0);
            assert!(bwe >= 2_000_000, "{} estimate {bwe} at {:?}", e.id, w.elapsed());
        }
    }
    w.reset_counts();
    w.run_for(Duration::from_secs(1));
    assert_eq!(w.received(0, 1).last_video_layer, Some(2), "top layer with room to spare");
}
