//! Two browsers meet peer-to-peer; a third's arrival moves them to the bridge without a
//! frozen video (see `tests/browser/p2p_to_bridge.mjs`).

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2p_moves_to_the_bridge_without_frozen_video() {
    let Some(modules) = common::node_modules() else { return };
    let mut sys = common::System::meet(&[("P2P_DELAY_MS", "1000")]);
    sys.wait_ready().await;
    let base = sys.base_url();
    tokio::task::spawn_blocking(move || common::run_browser_scenario("p2p_to_bridge.mjs", &base, &modules, &[]))
        .await
        .expect("the scenario thread does not panic outside its assertion");
    assert!(sys.stop().success(), "meet exits cleanly on SIGTERM");
}
