//! A real XMPP client (slixmpp, with an account) and a person on the web page exchange
//! one-to-one messages (issue 15, point 6): `slixmpp_chat.py` beside
//! `tests/browser/people_xmpp.mjs`, both against one `meet`.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slixmpp_and_a_web_page_chat() {
    let Some(modules) = common::node_modules() else { return };
    let python = match std::env::var("MEET_PYTHON") {
        Ok(p) => p,
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => panic!("CI=true but MEET_PYTHON is not set"),
        Err(_) => {
            eprintln!("SKIPPED: MEET_PYTHON not set (run ./run-tests.sh)");
            return;
        }
    };
    let data_dir = common::temp_dir("xmpp-chat");
    let mut add = Command::new(common::bin("signal"))
        .args(["add-account", "xmppuser"])
        .env("DATA_DIR", &data_dir)
        .stdin(Stdio::piped())
        .spawn()
        .expect("signal add-account starts");
    add.stdin.take().expect("piped stdin").write_all(b"xmpp-pass-1\n").expect("password written");
    assert!(add.wait().expect("signal add-account ends").success());
    let dir = data_dir.display().to_string();
    let mut sys = common::System::meet(&[("DATA_DIR", &dir)]);
    sys.wait_ready().await;
    let c2s = sys.env("SIGNAL_C2S_ADDR").expect("meet's c2s address");
    let (host, port) = c2s.rsplit_once(':').expect("host:port");
    let script = common::workspace_root().join("web/tests/slixmpp_chat.py");
    let client = Command::new(python)
        .arg(script)
        .args([host, port, "xmppuser", "xmpp-pass-1", "Wendy"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python starts");
    let base = sys.base_url();
    tokio::task::spawn_blocking(move || {
        common::run_browser_scenario("people_xmpp.mjs", &base, &modules, &[("PEER", "xmppuser")])
    })
    .await
    .expect("the scenario thread does not panic outside its assertion");
    let out = client.wait_with_output().expect("the client ends");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("OK"), "slixmpp: {text}");
    assert!(sys.stop().success());
}
