//! Loudest-only audio routing seen by Chromium (see `tests/browser/loudest_audio.mjs`): with
//! `BRIDGE_LOUDEST_AUDIO=1` the bridge leaves audio out, and no page counts a lost packet
//! when a sender's audio stops and resumes.

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_lose_no_audio_packets_when_only_the_loudest_is_routed() {
    let Some(modules) = common::node_modules() else { return };
    let mut sys = common::System::meet(&[("BRIDGE_LOUDEST_AUDIO", "1"), ("P2P_ENABLED", "false")]);
    sys.wait_ready().await;
    let base = sys.base_url();
    let bridge_http =
        sys.env.iter().find(|(k, _)| k == "BRIDGE_HTTP_ADDR").map(|(_, v)| v.clone()).expect("meet sets it");
    let metrics = format!("http://{bridge_http}/metrics");
    tokio::task::spawn_blocking(move || {
        common::run_browser_scenario("loudest_audio.mjs", &base, &modules, &[("BRIDGE_METRICS_URL", &metrics)])
    })
    .await
    .expect("the scenario thread does not panic outside its assertion");
    assert!(sys.stop().success(), "meet exits cleanly on SIGTERM");
}
