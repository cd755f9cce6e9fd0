//! Focus stops and a new focus starts under a running meeting: both pages get their
//! conference back by themselves, without a reload (`tests/browser/component_restart.mjs`).
//! Focus runs as its own `meet` process (`MEET_COMPONENTS=focus`), as on a separate machine.

mod common;

use common::System;

fn start_focus(core: &System, bus_secret: &str, http: &str) -> System {
    let env = vec![
        ("MEET_COMPONENTS".to_string(), "focus".to_string()),
        ("BUS_ADDR".into(), core.env("SIGNAL_BUS_ADDR").expect("set")),
        ("BUS_SECRET".into(), bus_secret.to_string()),
        ("FOCUS_HTTP_ADDR".into(), http.to_string()),
        ("P2P_ENABLED".into(), "false".into()),
    ];
    System::start("meet", env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_meeting_comes_back_after_focus_restarts() {
    let Some(modules) = common::node_modules() else { return };
    let mut core = System::meet(&[("MEET_COMPONENTS", "signal,bridge,filestore,web")]);
    core.wait_ready().await;
    let bus_secret =
        std::fs::read_to_string(core.data_dir.join("secrets/bus_secret")).expect("meet generated the bus secret");
    let bus_secret = bus_secret.trim().to_string();
    let http = format!("127.0.0.1:{}", common::free_tcp());
    let mut focus = start_focus(&core, &bus_secret, &http);

    let control = common::temp_dir("focus-control");
    let base = core.base_url();
    let (modules2, control2) = (modules.clone(), control.clone());
    let scenario = tokio::task::spawn_blocking(move || {
        common::run_browser_scenario(
            "component_restart.mjs",
            &base,
            &modules2,
            &[("CONTROL_DIR", control2.to_str().expect("utf-8 temp path")), ("COMPONENT", "focus")],
        )
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    while !control.join("restart-focus").exists() {
        assert!(!scenario.is_finished(), "the scenario ended before asking for the restart");
        assert!(std::time::Instant::now() < deadline, "the scenario never asked for the restart");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(focus.stop().success(), "focus stops cleanly on SIGTERM");
    let mut focus2 = start_focus(&core, &bus_secret, &http);
    std::fs::write(control.join("focus-restarted"), b"").expect("control file");
    scenario.await.expect("the scenario thread does not panic outside its assertion");
    assert!(focus2.stop().success());
    assert!(core.stop().success(), "meet exits cleanly on SIGTERM");
    let _ = std::fs::remove_dir_all(&control);
}
