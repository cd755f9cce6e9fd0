//! Opening a conversation: with 20,000 one-to-one messages stored (1,000 conversations of 15
//! among 200 people, and one long conversation of 5,000), how long the archive of the real
//! (release) binary takes to answer a MAM query for the newest 50 of a conversation — from
//! the IQ leaving signal's side of the bus to its `<fin/>` arriving after the 50 results,
//! measured on the test's clock. Also how fast the copies were stored.
//!
//! Run: `cargo bench -p filestore --bench archive_history` (FILESTORE_BENCH_QUERIES, default
//! 500 per case).

#[path = "../tests/common/mod.rs"]
mod common;

use common::bus::*;
use std::time::Instant;

const PEOPLE: usize = 200;
const CONVERSATIONS: usize = 1000;
const PER_CONVERSATION: usize = 15;
const LONG: usize = 5000;

fn person(i: usize) -> String {
    format!("person{i:03}@guest.meet.lan")
}

/// The two people of conversation `c` (distinct, spread over everyone).
fn pair(c: usize) -> (String, String) {
    let a = c % PEOPLE;
    let b = (a + 1 + (c / PEOPLE) * 7 % (PEOPLE - 1)) % PEOPLE;
    (person(a), person(if b == a { (a + 1) % PEOPLE } else { b }))
}

/// Query latencies in ms for `n` newest-50 pages of the conversations `pick` names.
async fn measure(conn: &mut BusConn, n: usize, pick: impl Fn(usize) -> (String, String)) -> Vec<f64> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (me, peer) = pick(i);
        let t = Instant::now();
        let (results, answer) = conn.iq(&format!("{me}/bench"), "set", &mam("b", Some(&peer), 50, Some(""))).await;
        out.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(answer.get_attr("type"), Some("result"));
        assert!(!results.is_empty() && results.len() <= 50);
    }
    out.sort_by(|a, b| a.total_cmp(b));
    out
}

fn pct(v: &[f64], p: f64) -> f64 {
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let queries: usize = std::env::var("FILESTORE_BENCH_QUERIES").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
    let mut bus = FakeSignal::start().await;
    let (_server, mut conn) = start_with_bus(&mut bus, &[]).await;

    let t0 = Instant::now();
    let mut n = 0usize;
    for round in 0..PER_CONVERSATION {
        for c in 0..CONVERSATIONS {
            let (a, b) = pair(c);
            let (from, to) = if round % 2 == 0 { (a, b) } else { (b, a) };
            let body = format!("message {round} of conversation {c}, long enough to look like a real sentence");
            conn.send(copy(&chat(&format!("{from}/p"), &to, &format!("c{c}-{round}"), &body), "Someone", Some(true)));
            n += 1;
        }
    }
    let (long_a, long_b) = (person(0), "longtalker@auth.meet.lan".to_string());
    for i in 0..LONG {
        let (from, to) = if i % 2 == 0 { (&long_a, &long_b) } else { (&long_b, &long_a) };
        conn.send(copy(
            &chat(&format!("{from}/p"), to, &format!("long-{i}"), "a long conversation"),
            "Someone",
            Some(true),
        ));
        n += 1;
    }
    // The archive handles the bus in order: this answer means every copy is stored.
    let (_, answer) = conn.iq(&format!("{long_a}/p"), "set", INBOX).await;
    let stored_secs = t0.elapsed().as_secs_f64();
    assert_eq!(answer.get_attr("type"), Some("result"));

    let typical = measure(&mut conn, queries, |i| pair((i * 37) % CONVERSATIONS)).await;
    let long = measure(&mut conn, queries, |_| (long_a.clone(), long_b.clone())).await;
    println!("archive_history: {n} messages stored ({CONVERSATIONS} conversations of {PER_CONVERSATION}, one of {LONG}), release binary");
    println!("  storing: {:.1} s, {:.0} messages/s (each its own transaction)", stored_secs, n as f64 / stored_secs);
    for (what, v) in [("typical conversation (15)", &typical), ("long conversation (5000)", &long)] {
        println!(
            "  newest 50 of a {what}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} queries)",
            pct(v, 0.50),
            pct(v, 0.99),
            v[v.len() - 1],
            v.len()
        );
    }
    println!("  load average at the end: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());
}
