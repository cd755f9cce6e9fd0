//! Server notifications posted to `WEBHOOK_URL` (room created, participant joined / left,
//! room ended), one at a time in order, as JSON with an HMAC-SHA256 signature:
//!
//! - `X-Meet-Event`: the event name (`room_created`, …)
//! - `X-Meet-Timestamp`: Unix seconds when the request was signed
//! - `X-Meet-Signature`: `sha256=` + hex HMAC-SHA256(key, `<timestamp>.<body>`)
//!
//! The key is `WEBHOOK_SECRET`, else generated into `DATA_DIR/secrets/webhook_secret`.
//! A receiver recomputes the HMAC over the timestamp, a dot and the raw body, compares in
//! constant time, and refuses old timestamps (replays). Delivery is tried three times
//! (5 s timeout each); failures are counted, never retried forever, and never slow focus:
//! the queue is bounded and overflow is dropped and counted.

use crate::core::Notification;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sha2::Sha256;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How many notifications may wait for delivery before new ones are dropped.
pub const QUEUE: usize = 1024;
const ATTEMPTS: u32 = 3;
const TIMEOUT: Duration = Duration::from_secs(5);

/// Delivery counters, shared with `/stats` and `/metrics` (plain atomics, written by the
/// webhook task only).
#[derive(Debug, Default)]
pub struct WebhookCounters {
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
}

/// Only `http://host[:port]/path` (a LAN receiver; no TLS client is built in).
pub fn check_url(url: &str) -> Result<hyper::Uri, String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("only http:// URLs are supported".into());
    }
    if uri.authority().is_none() {
        return Err("URL has no host".into());
    }
    Ok(uri)
}

/// `sha256=<hex>` over `<timestamp>.<body>`.
pub fn signature(key: &[u8], timestamp: u64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The JSON body: the notification plus `at` (Unix milliseconds).
pub fn body(n: &Notification) -> Vec<u8> {
    let mut v = serde_json::to_value(n).expect("notifications are plain data and always serialize");
    let at = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    if let Some(o) = v.as_object_mut() {
        o.insert("at".into(), at.into());
    }
    serde_json::to_vec(&v).expect("a JSON value always serializes")
}

fn event_name(n: &Notification) -> &'static str {
    match n {
        Notification::RoomCreated { .. } => "room_created",
        Notification::ParticipantJoined { .. } => "participant_joined",
        Notification::ParticipantLeft { .. } => "participant_left",
        Notification::RoomEnded { .. } => "room_ended",
    }
}

/// Starts the delivery task; notifications go into the returned sender.
pub fn spawn(
    uri: hyper::Uri,
    key: String,
    counters: Arc<WebhookCounters>,
    shutdown: CancellationToken,
) -> mpsc::Sender<Notification> {
    let (tx, mut rx) = mpsc::channel::<Notification>(QUEUE);
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    tokio::spawn(async move {
        loop {
            let n = tokio::select! {
                _ = shutdown.cancelled() => break,
                n = rx.recv() => match n { Some(n) => n, None => break },
            };
            let body = body(&n);
            let mut ok = false;
            for attempt in 0..ATTEMPTS {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
                }
                match deliver(&client, &uri, key.as_bytes(), event_name(&n), &body).await {
                    Ok(()) => {
                        ok = true;
                        break;
                    }
                    Err(e) => tracing::warn!(url = %uri, attempt, error = %e, "webhook delivery failed"),
                }
            }
            let c = if ok { &counters.delivered } else { &counters.failed };
            c.fetch_add(1, Ordering::Relaxed);
        }
    });
    tx
}

async fn deliver(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    uri: &hyper::Uri,
    key: &[u8],
    event: &str,
    body: &[u8],
) -> Result<(), String> {
    let ts = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let req = hyper::Request::post(uri.clone())
        .header("content-type", "application/json")
        .header("x-meet-event", event)
        .header("x-meet-timestamp", ts.to_string())
        .header("x-meet-signature", signature(key, ts, body))
        .body(Full::new(Bytes::copy_from_slice(body)))
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(TIMEOUT, client.request(req)).await {
        Err(_) => Err("timed out".into()),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(resp)) if resp.status().is_success() => Ok(()),
        Ok(Ok(resp)) => Err(format!("HTTP {}", resp.status())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls_with_a_host() {
        assert!(check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(check_url("https://example.org/hook").is_err());
        assert!(check_url("ftp://x").is_err());
        assert!(check_url("not a url").is_err());
    }

    #[test]
    fn signature_covers_timestamp_and_body() {
        let a = signature(b"k", 1, b"{}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64);
        assert_ne!(a, signature(b"k", 2, b"{}"));
        assert_ne!(a, signature(b"k", 1, b"{ }"));
        assert_ne!(a, signature(b"other", 1, b"{}"));
    }
}
