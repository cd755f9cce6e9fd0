//! Chat soak (issue 16, point 3): `SOAK_CLIENTS` (200) chat clients in one room of the real
//! (release) binary for `SOAK_SECS` (600); every 100 ms one of them, in turn, sends a message
//! (10 messages/s into the room, 2000 deliveries/s). Every client must receive every
//! message exactly once: lost and duplicated deliveries are counted. The server's resident
//! memory and open file descriptors are sampled every 10 s. Not run in CI (10 minutes).
//!
//! Run: `cargo bench -p filestore --bench chat_soak`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use proto::testkit::Usage;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

fn env_n(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let clients = env_n("SOAK_CLIENTS", 200) as usize;
    let secs = env_n("SOAK_SECS", 600);
    // A steady 10 messages/s from 200 senders stays far below each one's rate limit.
    let server = Server::start(&[("CHAT_MAX_CONNECTIONS", "1000")]);
    let mut usage = Usage::new("filestore", server.pid());
    let room = "soak";
    let mut sinks = Vec::new();
    let mut readers = Vec::new();
    for i in 0..clients {
        // Tokens outlive the soak: refreshing them is tested elsewhere (chat_token_refresh),
        // and a message sent on an expired token is refused by design, not lost.
        let nick = format!("c{i:05}");
        let tok = token_with(room, &nick, &format!("Name {nick}"), secs + 600, SECRET);
        let c = Chat::connect(&server.addr, &tok).await;
        let (sink, mut stream) = c.ws.split();
        sinks.push(sink);
        readers.push(tokio::spawn(async move {
            // seq -> how often it arrived
            let mut got: HashMap<u64, u32> = HashMap::new();
            while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(30), stream.next()).await {
                if let Message::Text(t) = m {
                    let v: serde_json::Value = serde_json::from_str(t.as_str()).expect("server sends JSON");
                    if v["type"] == "message" {
                        if let Some(seq) =
                            v["text"].as_str().and_then(|s| s.strip_prefix("soak ")).and_then(|s| s.parse().ok())
                        {
                            *got.entry(seq).or_default() += 1;
                        }
                    }
                }
            }
            got
        }));
    }
    let t0 = Instant::now();
    usage.sample(0.0);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut seq = 0u64;
    let mut next_sample = 10.0;
    while t0.elapsed() < Duration::from_secs(secs) {
        tick.tick().await;
        let sender = (seq as usize) % clients;
        let text = format!("soak {seq}");
        sinks[sender]
            .send(Message::Text(json!({"type": "message", "text": text}).to_string().into()))
            .await
            .expect("send");
        seq += 1;
        let at = t0.elapsed().as_secs_f64();
        if at >= next_sample {
            usage.sample(at);
            next_sample += 10.0;
        }
    }
    // Everything sent is delivered within a few seconds; then the readers time out.
    tokio::time::sleep(Duration::from_secs(5)).await;
    for mut s in sinks {
        let _ = s.close().await;
    }
    let (mut lost, mut duplicated) = (0u64, 0u64);
    for r in readers {
        let got = r.await.expect("reader");
        lost += (0..seq).filter(|s| !got.contains_key(s)).count() as u64;
        duplicated += got.values().map(|n| u64::from(n.saturating_sub(1))).sum::<u64>();
    }
    println!(
        "chat soak: {clients} clients, {seq} messages in {:.0} s ({:.1}/s), {} deliveries expected; load average {}",
        t0.elapsed().as_secs_f64(),
        seq as f64 / t0.elapsed().as_secs_f64(),
        seq * clients as u64,
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split(' ').take(3).collect::<Vec<_>>().join(" ")
    );
    println!("lost deliveries: {lost}, duplicated deliveries: {duplicated}");
    println!("{}", usage.report(60.0));
}
