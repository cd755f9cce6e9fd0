//! The whole system started by `meet`, three headless Chromium participants (see
//! `tests/browser/conference.mjs`): everyone plays everyone's video, mute shows as muted to
//! the others, a screen share appears, a reload is seen as leave + return.

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_browsers_see_each_other_mute_share_and_rejoin() {
    let Some(modules) = common::node_modules() else { return };
    let mut sys = common::System::meet(&[("P2P_DELAY_MS", "1000")]);
    sys.wait_ready().await;
    let base = sys.base_url();
    tokio::task::spawn_blocking(move || common::run_browser_scenario("conference.mjs", &base, &modules, &[]))
        .await
        .expect("the scenario thread does not panic outside its assertion");
    assert!(sys.stop().success(), "meet exits cleanly on SIGTERM");
}
