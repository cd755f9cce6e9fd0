//! `AUTH_MODE=token` (ROOMS.md sections 1 and 6): sessions sign in with SASL OAUTHBEARER
//! carrying a JWT another application minted (HS256 with `JWT_APP_SECRET`; RS256 or ES256
//! with `JWT_PUBLIC_KEY`, as PEM text or a file). Name and avatar come from the token; its
//! moderator claim decides (true: moderator at join; false: never elected); its room claim
//! scopes joins and conference requests (`*`: every room). ANONYMOUS is not offered.

mod common;

use common::jwt::*;
use common::*;
use std::time::Duration;

#[tokio::test]
async fn token_sessions_get_their_name_avatar_role_and_rooms_from_the_token() {
    let signal = Signal::start_with(&token_mode_env());

    // no guests in token mode
    let mut s = RawStream::connect(signal.c2s, false).await;
    s.send(HEADER_TO_DOMAIN).await;
    s.next().await;
    let features = s.stanza().await.to_string();
    assert!(features.contains("OAUTHBEARER") && !features.contains("ANONYMOUS"), "{features}");
    s.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/>").await;
    let f = s.stanza().await;
    assert!(f.get_child("invalid-mechanism", "urn:ietf:params:xml:ns:xmpp-sasl").is_some(), "{f}");

    let mut alice =
        Client::token(&signal, &hs256(&claims("planning", "Alice Example", None))).await.expect("alice signs in");
    let mut bob = Client::token(&signal, &hs256(&claims("planning", "Bob", Some(false)))).await.expect("bob signs in");
    let mut carol = Client::token(&signal, &hs256(&claims("planning", "Carol", Some(true)))).await.expect("carol");
    let mut dave = Client::token(&signal, &hs256(&claims("*", "Dave", None))).await.expect("dave");
    let mut erin = Client::token(&signal, &hs256(&claims("other", "Erin", None))).await.expect("erin");

    // the client's own nick is replaced by the token's name, and the avatar is added
    let me = alice.try_join("planning", "a1", "").await;
    assert_eq!(role_of(&me).as_deref(), Some("moderator"), "{me}");
    assert_eq!(me.get_child("nick", "http://jabber.org/protocol/nick").unwrap().text_content(), "Alice Example");
    assert_eq!(me.get_child("avatar", NS_ROOM).unwrap().text_content(), "https://intranet.example/a/Alice-Example.png");
    let b = bob.try_join("planning", "b1", "").await;
    assert_eq!(role_of(&b).as_deref(), Some("participant"));
    let c = carol.try_join("planning", "c1", "").await;
    assert_eq!(role_of(&c).as_deref(), Some("moderator"), "moderator: true makes a moderator at join");
    let d = dave.try_join("planning", "d1", "").await;
    assert_eq!(role_of(&d).as_deref(), Some("participant"), "room * lets dave in");

    // a token for another room: its joins and conference requests are refused
    assert_refused(&erin.try_join("planning", "e1", "").await, "not-authorized", Some("token-room"));
    let mut focus = FakeFocus::connect(&signal).await;
    assert_refused(&erin.iq("c1", &conference_request("c1", "planning")).await, "not-authorized", Some("token-room"));
    assert!(focus.next_within(Duration::from_millis(300), |s| s.name() == "iq").await.is_none());
    erin.send(&conference_request("c2", "other")).await;
    focus.next(|s| s.get_attr("id") == Some("c2")).await;

    // moderators leave: dave (electable, present longest after bob) is elected, never bob
    for (c, nick) in [(&mut alice, "a1"), (&mut carol, "c1")] {
        c.send(&format!("<presence to='planning@conference.meet.lan/{nick}' type='unavailable'/>")).await;
    }
    let d_now = dave
        .until(|s| {
            s.get_attr("from") == Some("planning@conference.meet.lan/d1") && role_of(s).as_deref() == Some("moderator")
        })
        .await;
    assert!(status_codes(&d_now).contains(&"110".to_string()));
    // dave may still grant bob
    let r = dave.admin("planning", "g1", "<item nick='b1' role='moderator'/>").await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
}

async fn signs_in_with_key(env: &[(&str, &str)], good: &str, bad: &str) {
    let signal = Signal::start_with(env);
    let mut c = Client::token(&signal, good).await.expect("a token signed with the configured key signs in");
    let me = c.try_join("planning", "x", "").await;
    assert_eq!(role_of(&me).as_deref(), Some("moderator"));
    let why = Client::token(&signal, bad).await.err().expect("a token of another algorithm is refused");
    assert!(why.contains("algorithm"), "{why}");
}

#[tokio::test]
async fn rs256_and_es256_public_keys_verify_their_tokens() {
    let c = claims("planning", "Rita", None);
    let rs_env = [("AUTH_MODE", "token"), ("JWT_APP_ID", APP_ID), ("JWT_PUBLIC_KEY", RS256_PUBLIC)];
    signs_in_with_key(&rs_env, &rs256(&c, RS256_PRIVATE), &hs256(&c)).await;

    let dir = temp_dir("es256-key");
    let path = dir.join("es256-public.pem");
    std::fs::write(&path, ES256_PUBLIC).unwrap();
    let path = path.to_string_lossy().to_string();
    let es_env = [("AUTH_MODE", "token"), ("JWT_APP_ID", APP_ID), ("JWT_PUBLIC_KEY", path.as_str())];
    signs_in_with_key(&es_env, &es256(&c), &rs256(&c, RS256_PRIVATE)).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn accounts_still_sign_in_and_open_any_room_in_token_mode() {
    let signal = Signal::start_with(&token_mode_env());
    add_account(&signal, "admin", "admin-pw");
    let mut admin = Client::account(&signal, "admin", "admin-pw").await;
    let (me, _) = admin.join("anything", "admin").await;
    assert_eq!(role_of(&me).as_deref(), Some("moderator"));
}

#[tokio::test]
async fn the_readme_script_mints_a_token_signal_accepts() {
    let Some(py) = meet_python() else { return };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/mint-token.py");
    let out = std::process::Command::new(py)
        .args([script, "planning", "Alice Example", "true"])
        .env("JWT_APP_ID", APP_ID)
        .env("JWT_APP_SECRET", SECRET)
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let signal = Signal::start_with(&token_mode_env());
    let mut alice = Client::token(&signal, &token).await.expect("the minted token signs in");
    let me = alice.try_join("planning", "a", "").await;
    assert_eq!(role_of(&me).as_deref(), Some("moderator"));
    assert_eq!(me.get_child("nick", "http://jabber.org/protocol/nick").unwrap().text_content(), "Alice Example");
}

#[tokio::test]
async fn in_open_mode_a_token_is_optional_and_its_moderator_claim_counts_only_in_its_room() {
    let signal = Signal::start_with(&[("JWT_APP_ID", APP_ID), ("JWT_APP_SECRET", SECRET)]);
    let mut guest = Client::anonymous(&signal).await;
    guest.join("lounge", "g").await;
    let mut other_room = Client::token(&signal, &hs256(&claims("planning", "Pat", Some(true)))).await.expect("pat");
    let p = other_room.try_join("lounge", "p", "").await;
    assert_eq!(role_of(&p).as_deref(), Some("participant"), "a planning token makes no moderator in lounge");
    let mut here = Client::token(&signal, &hs256(&claims("lounge", "Lou", Some(true)))).await.expect("lou");
    let l = here.try_join("lounge", "l", "").await;
    assert_eq!(role_of(&l).as_deref(), Some("moderator"), "a lounge token does");
}
