//! Moderators (issue 14, point 1): election, re-election, granting, marks, and a non-moderator's refused requests, in three or four Chromium pages
//! (`tests/browser/moderators.mjs`).

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderators_in_chromium() {
    let Some(modules) = common::node_modules() else { return };
    let mut sys = common::System::meet(&[]);
    sys.wait_ready().await;
    let base = sys.base_url();
    tokio::task::spawn_blocking(move || common::run_browser_scenario("moderators.mjs", &base, &modules, &[]))
        .await
        .expect("the scenario thread does not panic outside its assertion");
    assert!(sys.stop().success(), "meet exits cleanly on SIGTERM");
}
