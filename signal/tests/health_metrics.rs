//! `/health` answers, and `/metrics` (Prometheus text) counts connections, rooms, occupants
//! and stanzas as they change.

mod common;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).await.unwrap();
    let code = body.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, body)
}

fn value(text: &str, name: &str) -> i64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("metric {name} missing in {text}"))
}

#[tokio::test]
async fn health_and_metrics_follow_the_server_state() {
    let signal = Signal::start();
    let (code, body) = get(signal.http, "/health").await;
    assert_eq!(code, 200);
    assert!(body.ends_with("ok\n"));
    let (_, m) = get(signal.http, "/metrics").await;
    assert_eq!(value(&m, "signal_rooms"), 0);

    let mut a = Client::anonymous(&signal).await;
    let mut b = Client::anonymous(&signal).await;
    a.join("m1", "a").await;
    b.join("m1", "b").await;
    let (_, m) = get(signal.http, "/metrics").await;
    assert_eq!(value(&m, "signal_rooms"), 1);
    assert_eq!(value(&m, "signal_occupants"), 2);
    assert_eq!(value(&m, "signal_connections{transport=\"tcp\"}"), 2);
    assert!(value(&m, "signal_stanzas_in_total") >= 2);
    assert!(value(&m, "signal_stanzas_out_total") >= 5);

    let (code, _) = get(signal.http, "/nothing").await;
    assert_eq!(code, 404);
}
