//! Lobby (issue 14, point 4): knock, admit without new input, deny, straight in with the password, no media while waiting
//! (`tests/browser/lobby.mjs`).

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lobby_in_chromium() {
    let Some(modules) = common::node_modules() else { return };
    let mut sys = common::System::meet(&[]);
    sys.wait_ready().await;
    let base = sys.base_url();
    tokio::task::spawn_blocking(move || common::run_browser_scenario("lobby.mjs", &base, &modules, &[]))
        .await
        .expect("the scenario thread does not panic outside its assertion");
    assert!(sys.stop().success(), "meet exits cleanly on SIGTERM");
}
