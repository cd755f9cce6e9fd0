//! Names, chat text, private messages and file names carrying markup are rendered as text
//! on every page, and nothing from them runs (`tests/browser/xss.mjs`). The same run
//! (chat, private messages and an upload, each with a room token) checks that no token
//! reaches the logs, with our components logging at debug level.

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_names_chat_and_file_names_never_runs() {
    let Some(modules) = common::node_modules() else { return };
    let mut sys = common::System::meet(&[(
        "RUST_LOG",
        "info,signal=debug,focus=debug,bridge=debug,filestore=debug,web=debug,proto=debug,meet=debug",
    )]);
    sys.wait_ready().await;
    let base = sys.base_url();
    tokio::task::spawn_blocking(move || common::run_browser_scenario("xss.mjs", &base, &modules, &[]))
        .await
        .expect("the scenario thread does not panic outside its assertion");
    assert!(sys.stop().success(), "meet exits cleanly on SIGTERM");
    // Room tokens are JWTs: base64url of `{"` starts every one with `eyJ`.
    let leaked: Vec<String> = sys.log.lock().expect("log lock").iter().filter(|l| l.contains("eyJ")).cloned().collect();
    assert!(leaked.is_empty(), "tokens in the logs: {leaked:?}");
}
