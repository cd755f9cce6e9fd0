//! The one-command run: `meet` starts every component in one process with generated
//! secrets, prints the URLs other machines open, and stops all of it on Ctrl-C / SIGTERM.

mod common;

use common::{get, http_request, System};
use std::time::Duration;

async fn wait_http_ok(addr: &str, path: &str) {
    let addr: std::net::SocketAddr = addr.parse().expect("tests pass socket addresses");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http_request(addr, &get(path)).await {
            if r.status == 200 {
                return;
            }
        }
        assert!(std::time::Instant::now() < deadline, "{addr}{path} did not answer 200");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meet_starts_every_component_prints_urls_and_stops_cleanly() {
    let mut sys = System::meet(&[]);
    sys.wait_ready().await;
    wait_http_ok(&sys.env("FILESTORE_ADDR").expect("set"), "/health").await;
    wait_http_ok(&sys.env("BRIDGE_HTTP_ADDR").expect("set"), "/health").await;
    wait_http_ok(&sys.env("FOCUS_HTTP_ADDR").expect("set"), "/health").await;
    let bus = sys.env("SIGNAL_BUS_ADDR").expect("set");
    tokio::net::TcpStream::connect(&bus).await.expect("signal's bus listens");
    // Secrets were generated into DATA_DIR, once, for all components.
    for s in ["bus_secret", "token_secret"] {
        let v = std::fs::read_to_string(sys.data_dir.join("secrets").join(s)).expect("secret generated");
        assert_eq!(v.trim().len(), 64, "{s} is 256 bits of hex");
    }
    assert!(sys.logs_contain(&format!("https://127.0.0.1:{}/", sys.https.port())), "meet prints the URL to open");

    // Ctrl-C is SIGINT; the process must end by itself with success and free its ports.
    let _ = std::process::Command::new("kill").arg("-INT").arg(sys.child.id().to_string()).status();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Ok(Some(s)) = sys.child.try_wait() {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "meet did not stop within 20 s of Ctrl-C");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "meet exits with success after Ctrl-C: {status}");
    assert!(tokio::net::TcpStream::connect(sys.https).await.is_err(), "HTTPS port closed");
    assert!(tokio::net::TcpStream::connect(&bus).await.is_err(), "bus port closed");
}

#[tokio::test]
async fn meet_refuses_bad_settings_with_a_clear_error() {
    let out = std::process::Command::new(common::bin("meet"))
        .env("WEB_HTTPS_ADDR", "not-an-address")
        .env("DATA_DIR", common::temp_dir("badsettings"))
        .output()
        .expect("meet runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("WEB_HTTPS_ADDR"), "the error names the setting: {err}");
}
