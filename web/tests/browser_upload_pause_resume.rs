//! A tus upload from the side panel is paused mid-way (its PATCH in flight is aborted),
//! resumed from the offset the server reports, and arrives whole: the other participant's
//! download has the source's SHA-256; an image file shows a thumbnail
//! (`tests/browser/upload_pause_resume.mjs`).

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_upload_resumes_from_the_server_offset_and_arrives_whole() {
    let Some(modules) = common::node_modules() else { return };
    let mut sys = common::System::meet(&[]);
    sys.wait_ready().await;
    let base = sys.base_url();
    tokio::task::spawn_blocking(move || common::run_browser_scenario("upload_pause_resume.mjs", &base, &modules, &[]))
        .await
        .expect("the scenario thread does not panic outside its assertion");
    assert!(sys.stop().success(), "meet exits cleanly on SIGTERM");
}
