//! Server notifications: with `WEBHOOK_URL` set, focus posts room created, participant
//! joined, participant left and room ended, in that order, as JSON signed with
//! HMAC-SHA256 over `<timestamp>.<body>`; deliveries are counted on `/stats` and `/metrics`.

mod common;

use common::cluster::{http_get, require_bins, Cluster, ClusterOptions};
use common::peer::Peer;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

struct Hook {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// A tiny HTTP receiver: one request per connection, answered 200.
async fn receiver(l: TcpListener, tx: mpsc::UnboundedSender<Hook>) {
    while let Ok((mut s, _)) = l.accept().await {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let (head_end, len) = loop {
            let Ok(n) = s.read(&mut chunk).await else { break (0, 0) };
            if n == 0 {
                break (0, 0);
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..p]).to_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                break (p + 4, len);
            }
        };
        if head_end == 0 {
            continue;
        }
        while buf.len() < head_end + len {
            let Ok(n) = s.read(&mut chunk).await else { break };
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let headers = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
            .collect();
        let body = buf[head_end..(head_end + len).min(buf.len())].to_vec();
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
        let _ = tx.send(Hook { headers, body });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_notifications_are_posted_signed_and_counted() {
    if require_bins(&["signal", "bridge"]).is_none() {
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").await.expect("loopback listener");
    let url = format!("http://{}/hook", l.local_addr().expect("bound"));
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(receiver(l, tx));
    let secret = "test-webhook-key";
    let cluster = Cluster::start(ClusterOptions {
        bridges: 1,
        focus_env: vec![("WEBHOOK_URL".into(), url), ("WEBHOOK_SECRET".into(), secret.into())],
        focus_bin: Some(env!("CARGO_BIN_EXE_focus").into()),
        ..Default::default()
    });
    let p = Peer::join(cluster.c2s, "meet.lan", "hooks", "Ann Example").await;
    let nick = p.nick.clone();
    let mut events = Vec::new();
    while events.len() < 2 {
        let h = tokio::time::timeout(Duration::from_secs(15), rx.recv())
            .await
            .expect("notification within 15 s")
            .expect("receiver up");
        events.push(h);
    }
    p.leave().await;
    while events.len() < 4 {
        let h = tokio::time::timeout(Duration::from_secs(15), rx.recv())
            .await
            .expect("notification within 15 s")
            .expect("receiver up");
        events.push(h);
    }
    let mut names = Vec::new();
    for h in &events {
        let ts = h.headers.get("x-meet-timestamp").expect("timestamp header");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(format!("{ts}.").as_bytes());
        mac.update(&h.body);
        let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(h.headers.get("x-meet-signature"), Some(&want), "signature verifies");
        let v: serde_json::Value = serde_json::from_slice(&h.body).expect("JSON body");
        assert_eq!(v["room"], "hooks");
        assert_eq!(h.headers.get("x-meet-event").map(String::as_str), v["event"].as_str());
        if v["event"] == "participant_joined" {
            assert_eq!(
                (v["participant"].as_str(), v["display_name"].as_str()),
                (Some(nick.as_str()), Some("Ann Example"))
            );
        }
        names.push(v["event"].as_str().unwrap_or_default().to_string());
    }
    assert_eq!(names, ["room_created", "participant_joined", "participant_left", "room_ended"]);
    let stats = cluster.wait_focus_stats("deliveries counted", |s| s["webhooks"]["delivered"] == 4);
    assert_eq!(stats["webhooks"]["failed"], 0);
    let (code, metrics) = http_get(cluster.focus_http, "/metrics").expect("metrics answer");
    assert_eq!(code, 200);
    assert!(metrics.contains("focus_webhooks_delivered_total 4"), "{metrics}");
    assert!(metrics.contains("focus_rooms_created_total 1"), "{metrics}");
    assert!(metrics.contains("focus_participants_left_total 1"), "{metrics}");
}
