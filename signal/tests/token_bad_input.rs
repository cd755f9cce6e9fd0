//! Bad tokens (issue 14 "Done when"): `alg: none`, a token signed with another key, an
//! oversized one, a room claim differing in case or carrying path characters, expired, not
//! yet valid, from another issuer or for another audience — each fails SASL OAUTHBEARER
//! (the RFC 7628 error challenge, then `<failure><not-authorized/><text>why</text>`), and
//! nothing changes in the room the token names.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use common::jwt::*;
use common::*;

fn with(f: impl Fn(&mut serde_json::Value)) -> String {
    let mut c = claims("planning", "Mallory", Some(true));
    f(&mut c);
    hs256(&c)
}

#[tokio::test]
async fn bad_tokens_are_refused_with_a_reason_and_change_nothing() {
    let signal = Signal::start_with(&token_mode_env());
    let mut alice = Client::token(&signal, &hs256(&claims("planning", "Alice", None))).await.expect("alice");
    alice.join("planning", "alice").await;

    let unsigned = format!(
        "{}.{}.",
        B64URL.encode(br#"{"alg":"none","typ":"JWT"}"#),
        B64URL.encode(serde_json::to_vec(&claims("planning", "Mallory", Some(true))).unwrap())
    );
    let other_key = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims("planning", "Mallory", Some(true)),
        &jsonwebtoken::EncodingKey::from_secret(b"not-the-secret"),
    )
    .unwrap();
    let now = unix_now();
    let cases: Vec<(&str, String, &str)> = vec![
        ("alg none", unsigned, "unsigned"),
        ("another key", other_key, "bad signature"),
        ("another algorithm", rs256(&claims("planning", "Mallory", Some(true)), RS256_PRIVATE), "algorithm"),
        ("oversized", with(|c| c["context"]["user"]["name"] = serde_json::json!("x".repeat(9000))), "too large"),
        ("room case", with(|c| c["room"] = serde_json::json!("Planning")), "room"),
        ("room path", with(|c| c["room"] = serde_json::json!("../planning")), "room"),
        ("room slash", with(|c| c["room"] = serde_json::json!("planning/x")), "room"),
        ("expired", with(|c| c["exp"] = serde_json::json!(now - 120)), "expired"),
        ("not yet valid", with(|c| c["nbf"] = serde_json::json!(now + 600)), "not valid yet"),
        ("issuer", with(|c| c["iss"] = serde_json::json!("evil")), "issuer"),
        ("audience", with(|c| c["aud"] = serde_json::json!("elsewhere")), "audience"),
        ("no expiry", with(|c| drop(c.as_object_mut().unwrap().remove("exp"))), "exp"),
    ];
    for (what, token, reason) in cases {
        let why = Client::token(&signal, &token).await.err().unwrap_or_else(|| panic!("{what}: token accepted"));
        assert!(why.contains(reason), "{what}: {why:?} should say {reason:?}");
    }

    // the room saw nothing: no presence reached alice, alice is still the only person
    alice.no_presence_until_ping("after").await;
    let (_, m) = http_get(signal.http, "/metrics").await;
    assert_eq!(metric_value(&m, "signal_occupants"), 1);
    assert_eq!(metric_value(&m, "signal_auth_failures_total"), 12, "each refused token is a failed sign-in");
}
