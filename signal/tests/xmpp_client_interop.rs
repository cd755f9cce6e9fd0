//! Interop with @xmpp/client (npm), a real XMPP library, over RFC 7395 WebSocket: two
//! anonymous clients join a room, see each other, exchange groupchat and private messages.
//! Needs Node and `$MEET_NODE_MODULES` (tests/node); under `CI=true` their absence fails.

mod common;

use common::*;
use std::process::Command;

fn node_modules() -> Option<String> {
    let m = std::env::var("MEET_NODE_MODULES").ok().filter(|p| !p.is_empty()).or_else(|| {
        let local = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/node/node_modules");
        std::path::Path::new(local).join("@xmpp/client").exists().then(|| local.to_string())
    });
    if m.is_none() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "MEET_NODE_MODULES is required under CI=true");
        eprintln!("skipping: MEET_NODE_MODULES not set");
    }
    m
}

#[test]
fn xmpp_client_over_websocket_joins_and_chats() {
    let Some(modules) = node_modules() else { return };
    let signal = Signal::start();
    // ESM resolves packages from the script's folder upwards: run a copy beside node_modules.
    let dir = temp_dir("node");
    let script = dir.join("xmpp_ws_room.mjs");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/xmpp_ws_room.mjs"), &script).unwrap();
    std::os::unix::fs::symlink(&modules, dir.join("node_modules")).unwrap();
    let url = format!("ws://{}/xmpp-websocket", signal.http);
    let out = Command::new("node")
        .arg("--experimental-websocket")
        .arg(&script)
        .args([url.as_str(), "wsinterop"])
        .output()
        .expect("node runs");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("OK"),
        "@xmpp/client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
