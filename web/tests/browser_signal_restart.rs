//! Signal stops and starts again under a running meeting: every page's WebSocket drops,
//! focus and the bridge reconnect to the bus, and both pages get their conference back by
//! themselves, without a reload (`tests/browser/component_restart.mjs`). Signal runs as its own
//! `meet` process (`MEET_COMPONENTS=signal`), the rest in another.

mod common;

use common::System;

fn start_signal(env: &[(String, String)]) -> System {
    let mut env = env.to_vec();
    env.push(("MEET_COMPONENTS".into(), "signal".into()));
    System::start("meet", env)
}

async fn wait_listening(addr: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(std::time::Instant::now() < deadline, "{addr} does not listen");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_meeting_comes_back_after_signal_restarts() {
    let Some(modules) = common::node_modules() else { return };
    let data_dir = common::temp_dir("signal-restart");
    let (c2s, http, bus) = (
        format!("127.0.0.1:{}", common::free_tcp()),
        format!("127.0.0.1:{}", common::free_tcp()),
        format!("127.0.0.1:{}", common::free_tcp()),
    );
    let signal_env: Vec<(String, String)> = vec![
        ("DATA_DIR".into(), data_dir.display().to_string()),
        ("SIGNAL_C2S_ADDR".into(), c2s),
        ("SIGNAL_HTTP_ADDR".into(), http.clone()),
        ("SIGNAL_BUS_ADDR".into(), bus.clone()),
    ];
    let mut signal = start_signal(&signal_env);
    wait_listening(&bus).await;
    let secret = |name: &str| {
        std::fs::read_to_string(data_dir.join("secrets").join(name))
            .expect("signal generated the secret")
            .trim()
            .to_string()
    };
    let mut rest = System::meet(&[
        ("MEET_COMPONENTS", "focus,bridge,filestore,web"),
        ("SIGNAL_HTTP_ADDR", http.as_str()),
        ("SIGNAL_BUS_ADDR", bus.as_str()),
        ("BUS_SECRET", secret("bus_secret").as_str()),
        ("TOKEN_SECRET", secret("token_secret").as_str()),
        ("P2P_ENABLED", "false"),
    ]);
    rest.wait_ready().await;

    let control = common::temp_dir("signal-control");
    let base = rest.base_url();
    let (modules2, control2) = (modules.clone(), control.clone());
    let scenario = tokio::task::spawn_blocking(move || {
        common::run_browser_scenario(
            "component_restart.mjs",
            &base,
            &modules2,
            &[("CONTROL_DIR", control2.to_str().expect("utf-8 temp path")), ("COMPONENT", "signal")],
        )
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    while !control.join("restart-signal").exists() {
        assert!(!scenario.is_finished(), "the scenario ended before asking for the restart");
        assert!(std::time::Instant::now() < deadline, "the scenario never asked for the restart");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(signal.stop().success(), "signal stops cleanly on SIGTERM");
    let mut signal2 = start_signal(&signal_env);
    wait_listening(&bus).await;
    std::fs::write(control.join("signal-restarted"), b"").expect("control file");
    scenario.await.expect("the scenario thread does not panic outside its assertion");
    assert!(rest.stop().success(), "meet exits cleanly on SIGTERM");
    assert!(signal2.stop().success());
    let _ = std::fs::remove_dir_all(&control);
}
