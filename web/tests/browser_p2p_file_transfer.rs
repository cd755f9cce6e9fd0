//! Peer-to-peer file transfer between two browsers, signalled through filestore's `/chat`
//! behind web's proxy: the incremental SHA-256 against known vectors, a few MiB over a
//! direct data channel with matching hashes on both ends, and a transfer whose direct path
//! is made to fail (every candidate pointed at a dead port) that falls back to filestore's
//! streamed relay, with matching hashes (`tests/browser/p2p_file_transfer.mjs`).

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2p_file_transfer_verified_direct_and_through_relay() {
    let Some(modules) = common::node_modules() else { return };
    let mut sys = common::System::meet(&[]);
    sys.wait_ready().await;
    let base = sys.base_url();
    tokio::task::spawn_blocking(move || common::run_browser_scenario("p2p_file_transfer.mjs", &base, &modules, &[]))
        .await
        .expect("the scenario thread does not panic outside its assertion");
    assert!(sys.stop().success(), "meet exits cleanly on SIGTERM");
}
