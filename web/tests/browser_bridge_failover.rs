//! A bridge killed with SIGKILL under a running meeting: focus moves the sessions to the
//! other bridge and both pages play each other's video again, without reload or rejoin
//! (`tests/browser/bridge_failover.mjs`). The system is `meet` without a bridge plus two
//! `meet` processes that each run only a bridge (`MEET_COMPONENTS=bridge`), as a second
//! machine would.

mod common;

use common::System;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_bridge_in_use_moves_the_meeting_to_another_bridge() {
    let Some(modules) = common::node_modules() else { return };
    let mut core = System::meet(&[("MEET_COMPONENTS", "signal,focus,filestore,web"), ("P2P_ENABLED", "false")]);
    core.wait_ready().await;
    let bus_secret =
        std::fs::read_to_string(core.data_dir.join("secrets/bus_secret")).expect("meet generated the bus secret");
    let bus = core.env("SIGNAL_BUS_ADDR").expect("set");
    let mut bridges = Vec::new();
    for id in ["jvb-fail-a", "jvb-fail-b"] {
        let http = format!("127.0.0.1:{}", common::free_tcp());
        let env = vec![
            ("MEET_COMPONENTS".to_string(), "bridge".to_string()),
            ("BRIDGE_ID".into(), id.into()),
            ("BUS_ADDR".into(), bus.clone()),
            ("BUS_SECRET".into(), bus_secret.trim().to_string()),
            ("BRIDGE_MEDIA_ADDR".into(), format!("127.0.0.1:{}", common::free_udp())),
            ("BRIDGE_HTTP_ADDR".into(), http.clone()),
            ("ADVERTISE_IPS".into(), "127.0.0.1".into()),
        ];
        bridges.push((System::start("meet", env), http));
    }
    let spec: Vec<String> = bridges.iter().map(|(s, http)| format!("{}@http://{http}", s.child.id())).collect();
    let focus_metrics = format!("http://{}/metrics", core.env("FOCUS_HTTP_ADDR").expect("set"));
    let base = core.base_url();
    let spec = spec.join(",");
    tokio::task::spawn_blocking(move || {
        common::run_browser_scenario(
            "bridge_failover.mjs",
            &base,
            &modules,
            &[("BRIDGES", spec.as_str()), ("FOCUS_METRICS", focus_metrics.as_str())],
        )
    })
    .await
    .expect("the scenario thread does not panic outside its assertion");
    for (b, _) in bridges.iter_mut() {
        if let Ok(None) = b.child.try_wait() {
            assert!(b.stop().success(), "the surviving bridge stops cleanly");
        }
    }
    assert!(core.stop().success(), "meet exits cleanly on SIGTERM");
}
