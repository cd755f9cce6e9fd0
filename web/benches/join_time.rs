//! Join time benchmark: click "Join meeting" → first decoded frame of the participant
//! already in the room, p50 over 10 joins, with the whole system started by `meet` and
//! headless Chromium (`tests/browser/bench_join.mjs`).
//!
//! Run: `cargo bench -p web --bench join_time` (JOINS=n to change the count).

#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let Some(modules) = common::node_modules() else { return };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    rt.block_on(async {
        let mut sys = common::System::meet(&[("RUST_LOG", "warn")]);
        sys.wait_ready().await;
        let base = sys.base_url();
        let joins = std::env::var("JOINS").unwrap_or_else(|_| "10".into());
        tokio::task::spawn_blocking(move || {
            common::run_browser_scenario("bench_join.mjs", &base, &modules, &[("JOINS", joins.as_str())])
        })
        .await
        .expect("the bench thread does not panic outside its assertion");
        sys.stop();
    });
}
