//! The optional STUN/TURN setting (`ICE_SERVERS`): off by default (the page contacts no
//! server beyond ours), handed to the page in `/config.json` when set, really used by the
//! page's peer connections, and refused at start-up when it is not a STUN/TURN URL.

mod common;

use common::{get, https_request, System};
use std::time::{Duration, Instant};

fn ice_servers_of(body: &str) -> serde_json::Value {
    let json = body.split("\r\n\r\n").nth(1).unwrap_or(body);
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect("/config.json is JSON");
    v["iceServers"].clone()
}

#[tokio::test]
async fn none_by_default_and_listed_in_config_json_when_set() {
    let mut sys = System::start("web", vec![]);
    sys.wait_ready().await;
    let r = https_request(&sys, &get("/config.json")).await.expect("config.json");
    assert_eq!(ice_servers_of(&r.text()), serde_json::json!([]), "no STUN/TURN unless the admin sets one");
    assert!(sys.stop().success());

    let mut sys = System::start(
        "web",
        vec![
            ("ICE_SERVERS".into(), "stun:10.1.2.3:3478,turn:turn.lan:3478?transport=udp".into()),
            ("TURN_USERNAME".into(), "meet".into()),
            ("TURN_CREDENTIAL".into(), "pw".into()),
        ],
    );
    sys.wait_ready().await;
    let r = https_request(&sys, &get("/config.json")).await.expect("config.json");
    assert_eq!(
        ice_servers_of(&r.text()),
        serde_json::json!([
            {"urls": "stun:10.1.2.3:3478"},
            {"urls": "turn:turn.lan:3478?transport=udp", "username": "meet", "credential": "pw"}
        ])
    );
    assert!(sys.stop().success());
}

#[tokio::test]
async fn a_value_that_is_not_stun_or_turn_stops_web_with_a_clear_error() {
    for bad in ["https://stun.example.org", "stun:</script>", "turn:turn.lan:3478"] {
        let mut sys = System::start("web", vec![("ICE_SERVERS".into(), bad.into())]);
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Ok(Some(s)) = sys.child.try_wait() {
                break s;
            }
            assert!(Instant::now() < deadline, "web kept running with ICE_SERVERS={bad:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(!status.success(), "web must refuse ICE_SERVERS={bad:?}");
        // The reader threads may still be draining stderr.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(sys.logs_contain("ICE_SERVERS"), "the error names the setting ({bad:?})");
    }
}

/// A STUN server of the test's own on loopback: the page's peer connection must send it a
/// Binding request (RFC 5389: type 0x0001, magic cookie 0x2112A442).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_gathers_through_the_configured_stun_server() {
    let Some(modules) = common::node_modules() else { return };
    let stun = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("bind the test STUN socket");
    let url = format!("stun:127.0.0.1:{}", stun.local_addr().expect("bound").port());
    let mut sys = System::meet(&[("P2P_ENABLED", "false"), ("ICE_SERVERS", &url)]);
    sys.wait_ready().await;
    let base = sys.base_url();
    let done = common::temp_dir("ice-done").join("done");
    let done_env = done.display().to_string();
    let browser = tokio::task::spawn_blocking(move || {
        common::run_browser_scenario("ice_servers.mjs", &base, &modules, &[("DONE_FILE", &done_env)])
    });
    let mut buf = [0u8; 1500];
    let got = tokio::time::timeout(Duration::from_secs(90), async {
        loop {
            let (n, _) = stun.recv_from(&mut buf).await.expect("recv on the test STUN socket");
            if n >= 20 && buf[0..2] == [0x00, 0x01] && buf[4..8] == [0x21, 0x12, 0xA4, 0x42] {
                return;
            }
        }
    })
    .await;
    std::fs::write(&done, b"ok").expect("tell the scenario it may close");
    browser.await.expect("the scenario thread does not panic outside its assertion");
    assert!(got.is_ok(), "no STUN Binding request reached the configured server");
    assert!(sys.stop().success(), "meet exits cleanly on SIGTERM");
}
