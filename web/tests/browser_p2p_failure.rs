//! Two browsers whose P2P connection cannot work (every P2P candidate routed to a dead
//! port): the page tells focus, and both get their media back through the bridge without
//! reload or rejoin (see `tests/browser/p2p_failure.mjs`).

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_p2p_connection_is_reported_and_both_get_the_bridge_back() {
    let Some(modules) = common::node_modules() else { return };
    let mut sys = common::System::meet(&[("P2P_DELAY_MS", "1000")]);
    sys.wait_ready().await;
    let base = sys.base_url();
    tokio::task::spawn_blocking(move || common::run_browser_scenario("p2p_failure.mjs", &base, &modules, &[]))
        .await
        .expect("the scenario thread does not panic outside its assertion");
    assert!(sys.stop().success(), "meet exits cleanly on SIGTERM");
}
