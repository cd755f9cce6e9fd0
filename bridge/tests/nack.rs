//! Loss recovery with 5% injected loss on every link: the bridge NACKs lost packets
//! upstream (the sender retransmits by RTX) and answers receivers' NACKs from its own
//! packet cache (RTX), so nearly every video frame arrives whole.

mod common;
use common::World;
use std::time::Duration;

fn run_with_loss(loss: f64) -> (usize, usize, usize, usize) {
    let mut w = World::new();
    for name in ["alice", "bob", "carol"] {
        w.join(name);
    }
    w.connect_all();
    w.run_for(Duration::from_secs(2));
    for p in &mut w.people {
        p.uplink_loss = loss;
        p.downlink_loss = loss;
    }
    w.reset_counts();
    let sent_before: Vec<usize> = w.people.iter().map(|p| p.frames_sent).collect();
    w.run_for(Duration::from_secs(10));
    // Stop loss and let the last retransmissions land.
    for p in &mut w.people {
        p.uplink_loss = 0.0;
        p.downlink_loss = 0.0;
        p.sending = false;
    }
    w.run_for(Duration::from_secs(1));
    let mut sent = 0;
    let mut got = 0;
    let mut gaps = 0;
    for r in 0..3 {
        for (s, before) in sent_before.iter().enumerate() {
            if r != s {
                sent += w.people[s].frames_sent - before;
                let rec = w.received(r, s);
                got += rec.video_frames;
                gaps += rec.non_contiguous;
            }
        }
    }
    (sent, got, gaps, w.dropped)
}

#[test]
fn five_percent_loss_is_repaired_by_nack_and_rtx() {
    let (sent, got, gaps, dropped) = run_with_loss(0.05);
    eprintln!("sent {sent} frames, received {got}, non-contiguous {gaps}, datagrams dropped {dropped}");
    assert!(dropped > 200, "the loss really happened ({dropped} datagrams dropped)");
    // Without repair 5% loss on two hops loses ~25% of 3-packet frames.
    assert!(got * 100 >= sent * 97, "at least 97% of frames arrive: {got}/{sent}");
    assert!(gaps * 100 <= got * 2, "few frames with unrepaired gaps: {gaps}/{got}");
}
