//! Forwarding cost in virtual time: one 5-person meeting (audio + 3-layer simulcast VP8;
//! another size with `BRIDGE_BENCH_MEETING=N`) of str0m participants driving the `Sfu` core
//! through in-memory queues, no sockets, no clock.
//! The workload is deterministic, so instruction counts are repeatable on a busy machine;
//! `benches/instructions.sh` runs it under callgrind for 8 s and 2 s and prints the
//! instructions per forwarded packet (the difference removes connection setup). It prints
//! the forwarded count; argument: the seconds of virtual media time after everyone
//! connected; `BRIDGE_BWE=false` runs the bridge without send-side bandwidth estimation;
//! `BRIDGE_BENCH_TILES=N` makes it a tile view (last-N = N, see `main`);
//! `BRIDGE_BENCH_FOLLOW=1` has the senders follow SenderSourceConstraints as the page does.

#[path = "../tests/common/mod.rs"]
mod common;

use proto::bridge_channel::{BridgeChannelMessage, ReceiverVideoConstraints, VideoConstraints};
use std::time::Duration;

fn main() {
    let secs: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    // BRIDGE_BWE=false: the same without send-side bandwidth estimation and pacing.
    let bwe = std::env::var("BRIDGE_BWE").map_or(true, |v| v != "false");
    // BRIDGE_BENCH_MEETING=N: one N-person meeting instead (how the cost per packet grows
    // with the meeting: every receiver's session holds a send stream per other source).
    let size: usize = std::env::var("BRIDGE_BENCH_MEETING").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    // BRIDGE_BENCH_TILES=N: a tile view, as the 100-person bench's: every receiver asks for
    // last-N = N videos of at most 180 lines, and the bridge routes the 3 loudest senders'
    // audio above 20 endpoints (its defaults; BWE on).
    let tiles: Option<i32> = std::env::var("BRIDGE_BENCH_TILES").ok().and_then(|v| v.parse().ok());
    let mut w = match tiles {
        Some(_) => common::World::with_loudest_audio_above(3, 20),
        None => common::World::with_bwe(bwe),
    };
    let names = ["alice", "bob", "carol", "dave", "erin"];
    for i in 0..size.max(2) {
        match names.get(i) {
            Some(name) => w.join(name),
            None => w.join(&format!("p{i}")),
        };
    }
    // BRIDGE_BENCH_FOLLOW=1: senders pause the layers taller than the bridge's
    // SenderSourceConstraints height, as the page does (in tile view: all but the lowest).
    if std::env::var("BRIDGE_BENCH_FOLLOW").is_ok_and(|v| v == "1") {
        for p in &mut w.people {
            p.follows_sender_constraints = true;
        }
    }
    w.connect_all();
    if let Some(n) = tiles {
        let wish = ReceiverVideoConstraints {
            last_n: n,
            default_constraints: Some(VideoConstraints { max_height: 180 }),
            ..Default::default()
        };
        for i in 0..w.people.len() {
            w.send_channel(i, &BridgeChannelMessage::ReceiverVideoConstraints(wish.clone()));
        }
    }
    w.run_for(Duration::from_secs(secs));
    let m = w.sfu.metrics();
    println!(
        "virtual_secs={secs} rtp_in={} rtp_forwarded={} datagrams_in={} datagrams_out={}",
        m.rtp_in_total.get(),
        m.rtp_forwarded_total.get(),
        m.datagrams_in_total.get(),
        m.datagrams_out_total.get()
    );
    // Kept alive to the end: a heap profiler (valgrind --xtree-memory=full) then reports
    // what the sessions hold after the run instead of an empty heap.
    std::mem::forget(w);
}
