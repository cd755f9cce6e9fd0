//! Private messages in the side panel reach only their target; the chat tab counts unread
//! messages while the panel is closed; edit and delete are offered on one's own messages
//! only and reach the others (`tests/browser/chat_private.mjs`).

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_messages_reach_only_their_target_with_unread_count_and_own_edits() {
    let Some(modules) = common::node_modules() else { return };
    let mut sys = common::System::meet(&[]);
    sys.wait_ready().await;
    let base = sys.base_url();
    tokio::task::spawn_blocking(move || common::run_browser_scenario("chat_private.mjs", &base, &modules, &[]))
        .await
        .expect("the scenario thread does not panic outside its assertion");
    assert!(sys.stop().success(), "meet exits cleanly on SIGTERM");
}
