//! Names, chat text, private messages and file names carrying markup are rendered as text
//! on every page, and nothing from them runs (`tests/browser/xss.mjs`).

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_names_chat_and_file_names_never_runs() {
    let Some(modules) = common::node_modules() else { return };
    let mut sys = common::System::meet(&[]);
    sys.wait_ready().await;
    let base = sys.base_url();
    tokio::task::spawn_blocking(move || common::run_browser_scenario("xss.mjs", &base, &modules, &[]))
        .await
        .expect("the scenario thread does not panic outside its assertion");
    assert!(sys.stop().success(), "meet exits cleanly on SIGTERM");
}
