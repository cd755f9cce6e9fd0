//! Tokens from another application (issue 14, point 6): with `AUTH_MODE=token`, HS256 tokens
//! minted here the way an intranet would (README) join with their name, avatar and moderator
//! flag; none, expired, for another room, or badly signed: a clear page
//! (`tests/browser/tokens.mjs`).

mod common;

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::json;

fn token(secret: &[u8], room: &str, name: &str, moderator: bool, exp_offset: i64, avatar: &str) -> String {
    let now = proto::token::now_secs() as i64;
    let claims = json!({
        "iss": "intranet", "aud": "jitsi", "sub": "meet.lan", "room": room,
        "nbf": now - 60, "exp": now + exp_offset,
        "context": { "user": { "id": name.to_lowercase(), "name": name, "avatar": avatar, "moderator": moderator } },
    });
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret)).expect("token signs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_mode_in_chromium() {
    let Some(modules) = common::node_modules() else { return };
    let secret = proto::secrets::random_hex(32).expect("OS randomness");
    let mut sys =
        common::System::meet(&[("AUTH_MODE", "token"), ("JWT_APP_ID", "intranet"), ("JWT_APP_SECRET", &secret)]);
    sys.wait_ready().await;
    let base = sys.base_url();
    let room = "planning";
    let avatar = format!("{base}/favicon.ico");
    let s = secret.as_bytes();
    let tokens = json!({
        "moderator": token(s, room, "Mona Moderator", true, 3600, &avatar),
        "participant": token(s, room, "Pat Participant", false, 3600, ""),
        "expired": token(s, room, "Old", false, -3600, ""),
        "otherRoom": token(s, "another-room", "Ozzy", true, 3600, ""),
        "badSignature": token(b"not-the-secret-of-this-server", room, "Mallory", true, 3600, ""),
    })
    .to_string();
    tokio::task::spawn_blocking(move || {
        common::run_browser_scenario("tokens.mjs", &base, &modules, &[("TOKENS", &tokens), ("TOKEN_ROOM", room)])
    })
    .await
    .expect("the scenario thread does not panic outside its assertion");
    assert!(sys.stop().success(), "meet exits cleanly on SIGTERM");
}
