//! The bridge's slot pool seen by Chromium (see `tests/browser/slots.mjs`): a page follows the
//! bridge's SourcesMap when a receiving m-line moves from one participant to another, and
//! shows the moved video in the right tile without a renegotiation.

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_slot_shows_the_right_participant_in_chromium() {
    let Some(modules) = common::node_modules() else { return };
    let mut sys = common::System::meet(&[("P2P_ENABLED", "false")]);
    sys.wait_ready().await;
    let base = sys.base_url();
    tokio::task::spawn_blocking(move || common::run_browser_scenario("slots.mjs", &base, &modules, &[]))
        .await
        .expect("the scenario thread does not panic outside its assertion");
    assert!(sys.stop().success(), "meet exits cleanly on SIGTERM");
}
