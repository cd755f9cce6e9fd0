//! Room password (issue 14, point 3): set from the page, asked for, a wrong one refused with the prompt kept, held after the moderator left, removed
//! (`tests/browser/room_password.mjs`).

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_password_in_chromium() {
    let Some(modules) = common::node_modules() else { return };
    let mut sys = common::System::meet(&[]);
    sys.wait_ready().await;
    let base = sys.base_url();
    tokio::task::spawn_blocking(move || common::run_browser_scenario("room_password.mjs", &base, &modules, &[]))
        .await
        .expect("the scenario thread does not panic outside its assertion");
    assert!(sys.stop().success(), "meet exits cleanly on SIGTERM");
}
