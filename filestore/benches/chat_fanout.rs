//! Chat fan-out: 200 clients in one room of the real (release) binary; one of them sends
//! messages with at most 64 in flight; every client receives every message. Prints the
//! messages/s the room sustained, the deliveries/s, and delivery latency p50/p99 (send →
//! receive, one clock), medians of 3 runs.
//!
//! Run: `cargo bench -p filestore --bench chat_fanout` (FILESTORE_BENCH_CLIENTS,
//! FILESTORE_BENCH_MESSAGES to change 200 and 1000).

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

struct RunResult {
    msgs_per_sec: f64,
    deliveries_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

async fn run(server: &Server, room: &str, clients: usize, messages: u64, window: u64) -> RunResult {
    let epoch = Arc::new(Instant::now());
    let mut receivers = Vec::new();
    let mut ready = Vec::new();
    for i in 0..clients {
        let mut c = Chat::connect(&server.addr, &token(room, &format!("rx{i:05}"))).await;
        let epoch = epoch.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        ready.push(rx);
        receivers.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(messages as usize);
            let _ = tx.send(());
            while (lat.len() as u64) < messages {
                match tokio::time::timeout(Duration::from_secs(60), c.ws.next()).await {
                    Ok(Some(Ok(Message::Text(t)))) => {
                        let v: serde_json::Value = serde_json::from_str(t.as_str()).expect("json");
                        if v["type"] == "message" {
                            let sent: u64 = v["text"].as_str().and_then(|s| s.parse().ok()).expect("timestamp text");
                            lat.push(epoch.elapsed().as_micros() as u64 - sent);
                        }
                    }
                    Ok(Some(Ok(_))) => {}
                    other => panic!("receiver stopped early: {other:?}"),
                }
            }
            lat
        }));
    }
    for r in ready {
        let _ = r.await;
    }
    let mut sender = Chat::connect(&server.addr, &token(room, "sender0")).await;
    let t0 = Instant::now();
    let (mut sent, mut echoed) = (0u64, 0u64);
    while echoed < messages {
        while sent < messages && sent - echoed < window {
            let ts = epoch.elapsed().as_micros() as u64;
            sender
                .ws
                .feed(Message::Text(json!({"type": "message", "text": ts.to_string()}).to_string().into()))
                .await
                .expect("send");
            sent += 1;
        }
        sender.ws.flush().await.expect("flush");
        let v = sender.recv().await.expect("echo");
        match v["type"].as_str() {
            Some("message") => echoed += 1,
            Some("error") => panic!("sender refused: {v}"),
            _ => {}
        }
    }
    let mut all = Vec::new();
    for r in receivers {
        all.extend(r.await.expect("receiver"));
    }
    let secs = t0.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)] as f64 / 1000.0;
    RunResult {
        msgs_per_sec: messages as f64 / secs,
        deliveries_per_sec: all.len() as f64 / secs,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let clients: usize = std::env::var("FILESTORE_BENCH_CLIENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let messages: u64 = std::env::var("FILESTORE_BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let server = Server::start(&[("CHAT_RATE", "1000000"), ("CHAT_BURST", "1000000")]);
    let mut rs = Vec::new();
    let mut paced = Vec::new();
    for i in 0..3 {
        rs.push(run(&server, &format!("fanout{i}"), clients, messages, 64).await);
        paced.push(run(&server, &format!("paced{i}"), clients, messages / 5, 1).await);
    }
    println!("chat_fanout: {clients} receivers in one room, one sender, release binary, 3 runs each");
    println!(" saturated: {messages} messages, <= 64 in flight");
    println!(
        "  messages/s:   median {:.0}  (runs {:.0?})",
        median(rs.iter().map(|r| r.msgs_per_sec).collect()),
        rs.iter().map(|r| r.msgs_per_sec).collect::<Vec<_>>()
    );
    println!("  deliveries/s: median {:.0}", median(rs.iter().map(|r| r.deliveries_per_sec).collect()));
    println!("  latency p50:  median {:.1} ms", median(rs.iter().map(|r| r.p50_ms).collect()));
    println!(
        "  latency p99:  median {:.1} ms  (runs {:.1?})",
        median(rs.iter().map(|r| r.p99_ms).collect()),
        rs.iter().map(|r| r.p99_ms).collect::<Vec<_>>()
    );
    println!(" paced: {} messages, one in flight (the next after the sender's echo)", messages / 5);
    println!("  messages/s:   median {:.0}", median(paced.iter().map(|r| r.msgs_per_sec).collect()));
    println!("  latency p50:  median {:.1} ms", median(paced.iter().map(|r| r.p50_ms).collect()));
    println!(
        "  latency p99:  median {:.1} ms  (runs {:.1?})",
        median(paced.iter().map(|r| r.p99_ms).collect()),
        paced.iter().map(|r| r.p99_ms).collect::<Vec<_>>()
    );
    println!("  load average at the end: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());
}
