//! The whole system started by `meet`, three headless Chromium participants (see
//! `tests/browser/conference.mjs`): everyone plays everyone's video, mute shows as muted to
//! the others, a screen share appears, a reload is seen as leave + return.

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_browsers_see_each_other_mute_share_and_rejoin() {
    let Some(modules) = common::node_modules() else { return };
    let mut sys = common::System::meet(&[("P2P_DELAY_MS", "1000")]);
    sys.wait_ready().await;
    let base = sys.base_url();
    tokio::task::spawn_blocking(move || common::run_browser_scenario("conference.mjs", &base, &modules, &[]))
        .await
        .expect("the scenario thread does not panic outside its assertion");
    assert!(sys.stop().success(), "meet exits cleanly on SIGTERM");
}

/// The same meeting on a bridge with two media threads that places each participant on
/// the other thread in turn (`BRIDGE_THREAD_SLACK=0`): the conference spans both threads
/// and the pages see the same things. While the scenario runs, the bridge's `/metrics`
/// must show endpoints on both threads at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_browsers_on_a_conference_spanning_two_media_threads() {
    let Some(modules) = common::node_modules() else { return };
    let mut sys =
        common::System::meet(&[("P2P_DELAY_MS", "1000"), ("BRIDGE_MEDIA_THREADS", "2"), ("BRIDGE_THREAD_SLACK", "0")]);
    sys.wait_ready().await;
    let base = sys.base_url();
    let bridge_http = sys.env("BRIDGE_HTTP_ADDR").expect("meet sets it");
    let scenario =
        tokio::task::spawn_blocking(move || common::run_browser_scenario("conference.mjs", &base, &modules, &[]));
    let addr: std::net::SocketAddr = bridge_http.parse().expect("an address");
    let mut both_threads = false;
    while !scenario.is_finished() {
        if let Ok(r) = common::http_request(addr, &common::get("/metrics")).await {
            let per_thread: Vec<u64> = (0..2)
                .map(|t| {
                    let name = format!("bridge_thread_endpoints{{thread=\"{t}\"}} ");
                    r.text().lines().find_map(|l| l.strip_prefix(&name)?.trim().parse().ok()).unwrap_or(0)
                })
                .collect();
            both_threads |= per_thread.iter().all(|n| *n > 0);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    scenario.await.expect("the scenario thread does not panic outside its assertion");
    assert!(both_threads, "the meeting had endpoints on both media threads at once");
    assert!(sys.stop().success(), "meet exits cleanly on SIGTERM");
}
