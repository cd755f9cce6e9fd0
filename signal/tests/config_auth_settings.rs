//! Sign-in settings that cannot work stop signal at start with a message naming the setting:
//! `AUTH_MODE=token` without `JWT_APP_ID`, both `JWT_APP_SECRET` and `JWT_PUBLIC_KEY`, a
//! public key that is no PEM key, an unknown `AUTH_MODE`.

mod common;

use common::*;
use std::process::{Command, Stdio};

fn refused(env: &[(&str, &str)]) -> String {
    let data = temp_dir("cfg");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_signal"));
    cmd.env("DATA_DIR", &data)
        .env("SIGNAL_C2S_ADDR", free_addr().to_string())
        .env("SIGNAL_HTTP_ADDR", free_addr().to_string())
        .env("SIGNAL_BUS_ADDR", free_addr().to_string())
        .env("BUS_SECRET", BUS_SECRET)
        .env("TOKEN_SECRET", TOKEN_SECRET)
        .env_remove("AUTH_MODE")
        .env_remove("JWT_APP_ID")
        .env_remove("JWT_APP_SECRET")
        .env_remove("JWT_PUBLIC_KEY")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("signal runs");
    let _ = std::fs::remove_dir_all(data);
    assert!(!out.status.success(), "signal must refuse to start with {env:?}");
    String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout)
}

#[test]
fn unusable_sign_in_settings_stop_signal_with_the_setting_named() {
    assert!(refused(&[("AUTH_MODE", "token")]).contains("JWT_APP_ID"));
    assert!(refused(&[("AUTH_MODE", "sometimes")]).contains("AUTH_MODE"));
    let both = refused(&[("JWT_APP_ID", "a"), ("JWT_APP_SECRET", "s"), ("JWT_PUBLIC_KEY", jwt::RS256_PUBLIC)]);
    assert!(both.contains("JWT_APP_SECRET") && both.contains("not both"), "{both}");
    assert!(refused(&[("JWT_APP_ID", "a"), ("JWT_PUBLIC_KEY", "-----BEGIN nonsense")]).contains("JWT_PUBLIC_KEY"));
    assert!(refused(&[("JWT_APP_ID", "a")]).contains("JWT_APP_SECRET"));
    assert!(refused(&[("JWT_APP_SECRET", "s")]).contains("JWT_APP_ID"));
}
