//! Moderator actions (issue 14, point 2): mute one (stopped at the bridge even when the page ignores it), ask to unmute, mute everyone, remove and allow back, end the meeting
//! (`tests/browser/moderator_actions.mjs`).

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderator_actions_in_chromium() {
    let Some(modules) = common::node_modules() else { return };
    let mut sys = common::System::meet(&[]);
    sys.wait_ready().await;
    let base = sys.base_url();
    tokio::task::spawn_blocking(move || common::run_browser_scenario("moderator_actions.mjs", &base, &modules, &[]))
        .await
        .expect("the scenario thread does not panic outside its assertion");
    assert!(sys.stop().success(), "meet exits cleanly on SIGTERM");
}
