//! /health answers without a token; /metrics is Prometheus text that counts what happened.

mod common;
use common::*;

#[tokio::test]
async fn health_and_metrics() {
    let server = Server::start(&[]);
    let a = &server.addr;
    let h = http(a, "GET", "/health", &[], vec![]).await;
    assert_eq!((h.status, h.text().as_str()), (200, "ok\n"));
    let tok = token("m", "alice01");
    upload(a, &tok, "a.bin", &[7u8; 4096]).await;
    let _chat = Chat::connect(a, &tok).await;
    let m = http(a, "GET", "/metrics", &[], vec![]).await;
    assert_eq!(m.status, 200);
    assert!(m.header("content-type").is_some_and(|c| c.starts_with("text/plain")));
    let t = m.text();
    for line in [
        "filestore_uploads_created_total 1",
        "filestore_uploads_completed_total 1",
        "filestore_upload_bytes_total 4096",
        "filestore_chat_connections 1",
    ] {
        assert!(t.lines().any(|l| l == line), "{line} missing in\n{t}");
    }
    assert!(t.contains("# TYPE filestore_upload_bytes_total counter"));
}
