//! The listeners admit at most `SIGNAL_MAX_CONNECTIONS` connections (all transports); the
//! next one is closed at once, and a slot frees when a connection ends.

mod common;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Waits until the readiness probes of the harness are gone (per /metrics).
async fn wait_until_no_connections(signal: &Signal) {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let mut s = tokio::net::TcpStream::connect(signal.http).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut body = String::new();
        s.read_to_string(&mut body).await.unwrap();
        let open: i64 = body
            .lines()
            .filter(|l| l.starts_with("signal_connections{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<i64>().ok())
            .sum();
        if open == 0 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "probe connections never closed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn connections_past_the_limit_are_closed_and_slots_come_back() {
    // the harness's readiness probes use slots briefly; they are closed before start returns
    let signal = Signal::start_with(&[("SIGNAL_MAX_CONNECTIONS", "2")]);
    wait_until_no_connections(&signal).await;
    let mut a = Client::anonymous(&signal).await;
    let b = Client::anonymous(&signal).await;
    let mut third = tokio::net::TcpStream::connect(signal.c2s).await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(TIMEOUT, third.read(&mut buf)).await.expect("closed promptly").unwrap_or(0);
    assert_eq!(n, 0, "the third connection is closed without a word");
    still_served(&mut a, "p1").await;
    drop(b);
    // the freed slot admits a new client (retry while the server notices b is gone)
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let mut s = RawStream::connect(signal.c2s, false).await;
        s.send(HEADER_TO_DOMAIN).await;
        if s.next().await.is_some() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "slot never freed");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
