//! The page in headless Chromium, served by the real `meet`: prejoin with camera preview
//! and device lists; a display name with markup stays text; a bad room path gets no page.

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prejoin_preview_devices_and_markup_in_names_stay_text() {
    let Some(modules) = common::node_modules() else { return };
    let mut sys = common::System::meet(&[]);
    sys.wait_ready().await;
    let base = sys.base_url();
    tokio::task::spawn_blocking(move || common::run_browser_scenario("page_loads.mjs", &base, &modules, &[]))
        .await
        .expect("the scenario thread does not panic outside its assertion");
    assert!(sys.stop().success(), "meet exits cleanly on SIGTERM");
}
