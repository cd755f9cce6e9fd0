//! Forwarding cost in virtual time: one 5-person meeting (audio + 3-layer simulcast VP8) of
//! str0m participants driving the `Sfu` core through in-memory queues, no sockets, no clock.
//! The workload is deterministic, so instruction counts are repeatable on a busy machine;
//! `benches/instructions.sh` runs it under callgrind for 8 s and 2 s and prints the
//! instructions per forwarded packet (the difference removes connection setup). It prints
//! the forwarded count; argument: the seconds of virtual media time after everyone
//! connected; `BRIDGE_BWE=false` runs the bridge without send-side bandwidth estimation.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

fn main() {
    let secs: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    // BRIDGE_BWE=false: the same without send-side bandwidth estimation and pacing.
    let bwe = std::env::var("BRIDGE_BWE").map_or(true, |v| v != "false");
    let mut w = common::World::with_bwe(bwe);
    for name in ["alice", "bob", "carol", "dave", "erin"] {
        w.join(name);
    }
    w.connect_all();
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
