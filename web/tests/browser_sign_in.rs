//! Sign-in, "secure domain" (issue 14, point 5): with `AUTH_MODE=accounts` a guest waits for
//! a host, a wrong password is refused, the host signs in on the page and moderates, the
//! guest joins by itself and cannot be made moderator (`tests/browser/sign_in.mjs`).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_mode_sign_in_in_chromium() {
    let Some(modules) = common::node_modules() else { return };
    let data_dir = common::temp_dir("sign-in");
    let password = format!("pw-{}", proto::secrets::random_hex(6).expect("OS randomness"));
    // The admin's way (README): `signal add-account <user>`, the password on stdin.
    let mut add = Command::new(common::bin("signal"))
        .args(["add-account", "hank"])
        .env("DATA_DIR", &data_dir)
        .stdin(Stdio::piped())
        .spawn()
        .expect("signal add-account starts");
    add.stdin.take().expect("piped stdin").write_all(format!("{password}\n").as_bytes()).expect("password written");
    assert!(add.wait().expect("signal add-account ends").success(), "the account is created");

    let dir = data_dir.display().to_string();
    let mut sys = common::System::meet(&[("AUTH_MODE", "accounts"), ("DATA_DIR", &dir)]);
    sys.wait_ready().await;
    let base = sys.base_url();
    tokio::task::spawn_blocking(move || {
        common::run_browser_scenario(
            "sign_in.mjs",
            &base,
            &modules,
            &[("ACCOUNT_USER", "hank"), ("ACCOUNT_PASSWORD", &password)],
        )
    })
    .await
    .expect("the scenario thread does not panic outside its assertion");
    assert!(sys.stop().success(), "meet exits cleanly on SIGTERM");
}
