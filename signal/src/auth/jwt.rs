//! Verifying the JWTs another application mints for its users (`AUTH_MODE=token`,
//! `signal/ROOMS.md` section 6), the way Jitsi's token authentication reads them.
//!
//! One key, one algorithm: HS256 with `JWT_APP_SECRET`, RS256 with an RSA `JWT_PUBLIC_KEY`,
//! ES256 with a P-256 one. A token is refused, with a reason a person can act on, when it
//! is larger than 8 KiB, unsigned (`alg: none`) or signed with another algorithm or key, from
//! an issuer or for an audience not accepted, expired or not yet valid (30 s leeway), or
//! when its `room` is not exactly a lower-case room name or `*`. Time comes in as an
//! argument; this module never reads a clock.

use super::{RoomScope, TokenIdentity};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// Largest token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Clock difference tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: i64 = 30;

/// The key a deployment configured: exactly one of `JWT_APP_SECRET` / `JWT_PUBLIC_KEY`.
#[derive(Debug, Clone)]
pub enum KeySetting {
    Secret(String),
    /// PEM text (SubjectPublicKeyInfo, or PKCS#1 for RSA).
    PublicKeyPem(String),
}

/// The JWT settings of one server.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub app_id: String,
    pub key: KeySetting,
    /// `JWT_ACCEPTED_ISSUERS` (default: the app id).
    pub issuers: Vec<String>,
    /// `JWT_ACCEPTED_AUDIENCES` (default: `jitsi`).
    pub audiences: Vec<String>,
}

/// Why a token was refused; the text goes to the client in the SASL `<failure/>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("token too large (at most {MAX_TOKEN_BYTES} bytes)")]
    TooLarge,
    #[error("token malformed: {0}")]
    Malformed(String),
    #[error("unsigned tokens (alg none) are refused")]
    Unsigned,
    #[error("token algorithm {got} not accepted (this server checks {expected})")]
    Algorithm { got: String, expected: &'static str },
    #[error("bad signature")]
    BadSignature,
    #[error("token issuer not accepted")]
    Issuer,
    #[error("token audience not accepted")]
    Audience,
    #[error("token has no exp")]
    NoExpiry,
    #[error("token expired")]
    Expired,
    #[error("token not valid yet (nbf)")]
    NotYetValid,
    #[error("token room {0:?} is not a lower-case room name or *")]
    Room(String),
    #[error("token sub {0:?} is not this server's domain or *")]
    Subject(String),
}

/// Checks tokens against one configured key.
pub struct Verifier {
    key: DecodingKey,
    alg: Algorithm,
    issuers: Vec<String>,
    audiences: Vec<String>,
    domain: String,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("alg", &self.alg).field("issuers", &self.issuers).finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Text(String),
}

#[derive(Deserialize, Default)]
struct User {
    id: Option<String>,
    name: Option<String>,
    avatar: Option<String>,
    moderator: Option<Flag>,
}

#[derive(Deserialize, Default)]
struct Context {
    #[serde(default)]
    user: User,
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    aud: Option<OneOrMany>,
    sub: Option<String>,
    room: Option<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
    #[serde(default)]
    context: Context,
}

impl Verifier {
    /// The verifier for these settings, or why they cannot work (a bad key).
    pub fn new(settings: &JwtSettings, domain: &str) -> Result<Verifier, String> {
        let (key, alg) = match &settings.key {
            KeySetting::Secret(s) => (DecodingKey::from_secret(s.as_bytes()), Algorithm::HS256),
            KeySetting::PublicKeyPem(pem) => {
                if let Ok(k) = DecodingKey::from_rsa_pem(pem.as_bytes()) {
                    (k, Algorithm::RS256)
                } else {
                    let k = DecodingKey::from_ec_pem(pem.as_bytes())
                        .map_err(|e| format!("JWT_PUBLIC_KEY is neither an RSA nor an EC public key in PEM: {e}"))?;
                    // an uncompressed P-256 point is 65 bytes; other curves do not fit ES256
                    if k.as_bytes().len() != 65 {
                        return Err("JWT_PUBLIC_KEY: only P-256 EC keys (ES256) are supported".into());
                    }
                    (k, Algorithm::ES256)
                }
            }
        };
        Ok(Verifier {
            key,
            alg,
            issuers: settings.issuers.clone(),
            audiences: settings.audiences.clone(),
            domain: domain.to_ascii_lowercase(),
        })
    }

    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Checks `token` at `now` (seconds since the Unix epoch).
    pub fn verify(&self, token: &str, now: i64) -> Result<TokenIdentity, JwtError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(JwtError::TooLarge);
        }
        self.check_header(token)?;
        let mut v = Validation::new(self.alg);
        // claims are checked below, against the `now` given (not the system clock)
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::InvalidSignature => JwtError::BadSignature,
                ErrorKind::InvalidAlgorithm => {
                    JwtError::Algorithm { got: "another".into(), expected: alg_name(self.alg) }
                }
                _ => JwtError::Malformed(e.to_string()),
            }
        })?;
        self.check_claims(data.claims, now)
    }

    /// The header, read before any cryptography: `alg: none` and other algorithms get their
    /// own clear error.
    fn check_header(&self, token: &str) -> Result<(), JwtError> {
        let head = token.split('.').next().unwrap_or("");
        let bytes = B64URL.decode(head.trim_end_matches('=')).map_err(|_| JwtError::Malformed("header".into()))?;
        let header: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed("header".into()))?;
        let alg = header.get("alg").and_then(|a| a.as_str()).unwrap_or("");
        if alg.eq_ignore_ascii_case("none") || alg.is_empty() {
            return Err(JwtError::Unsigned);
        }
        if alg != alg_name(self.alg) {
            return Err(JwtError::Algorithm { got: alg.chars().take(16).collect(), expected: alg_name(self.alg) });
        }
        if token.split('.').count() != 3 {
            return Err(JwtError::Malformed("a JWT has three parts".into()));
        }
        Ok(())
    }

    fn check_claims(&self, c: Claims, now: i64) -> Result<TokenIdentity, JwtError> {
        let iss = c.iss.filter(|i| self.issuers.contains(i)).ok_or(JwtError::Issuer)?;
        let aud_ok = match &c.aud {
            Some(OneOrMany::One(a)) => self.audiences.contains(a),
            Some(OneOrMany::Many(all)) => all.iter().any(|a| self.audiences.contains(a)),
            None => false,
        };
        if !aud_ok {
            return Err(JwtError::Audience);
        }
        let exp = c.exp.ok_or(JwtError::NoExpiry)?;
        if exp.saturating_add(LEEWAY_SECS) < now {
            return Err(JwtError::Expired);
        }
        if c.nbf.is_some_and(|nbf| nbf.saturating_sub(LEEWAY_SECS) > now) {
            return Err(JwtError::NotYetValid);
        }
        if let Some(sub) = &c.sub {
            if sub != "*" && !sub.eq_ignore_ascii_case(&self.domain) {
                return Err(JwtError::Subject(sub.chars().take(64).collect()));
            }
        }
        let room = match c.room.as_deref() {
            Some("*") => RoomScope::Any,
            Some(r) => match proto::RoomName::normalize(r) {
                Ok(name) if name.as_str() == r => RoomScope::Room(name),
                _ => return Err(JwtError::Room(r.chars().take(64).collect())),
            },
            None => return Err(JwtError::Room(String::new())),
        };
        let user = c.context.user;
        let who = user.id.clone().filter(|i| !i.is_empty()).or(c.sub.clone()).unwrap_or_default();
        let moderator = match user.moderator {
            Some(Flag::Bool(b)) => Some(b),
            Some(Flag::Text(t)) if t.eq_ignore_ascii_case("true") => Some(true),
            Some(Flag::Text(t)) if t.eq_ignore_ascii_case("false") => Some(false),
            Some(Flag::Text(_)) | None => None,
        };
        let name = user.name.map(|n| n.trim().chars().take(128).collect::<String>()).filter(|n| !n.is_empty());
        let avatar = user.avatar.filter(|a| is_http_url(a));
        Ok(TokenIdentity { removal_key: format!("{iss}/{who}"), room, name, avatar, moderator })
    }
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::RS256 => "RS256",
        Algorithm::ES256 => "ES256",
        _ => "another algorithm",
    }
}

/// An avatar goes into everyone's page: only plain `http(s)` URLs without markup or spaces.
fn is_http_url(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() <= 2048
        && !s.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '\''))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    const NOW: i64 = 1_767_222_000;
    const RSA_PRIVATE: &str = include_str!("../../tests/keys/rs256-private.pem");
    const RSA_PUBLIC: &str = include_str!("../../tests/keys/rs256-public.pem");
    const OTHER_RSA_PRIVATE: &str = include_str!("../../tests/keys/other-rs256-private.pem");
    const EC_PRIVATE: &str = include_str!("../../tests/keys/es256-private.pem");
    const EC_PUBLIC: &str = include_str!("../../tests/keys/es256-public.pem");

    fn settings(key: KeySetting) -> JwtSettings {
        JwtSettings {
            app_id: "intranet".into(),
            key,
            issuers: vec!["intranet".into()],
            audiences: vec!["jitsi".into()],
        }
    }

    fn hs() -> Verifier {
        Verifier::new(&settings(KeySetting::Secret("s3cret".into())), "meet.lan").unwrap()
    }

    fn claims() -> serde_json::Value {
        json!({ "iss": "intranet", "aud": "jitsi", "sub": "meet.lan", "room": "planning", "exp": NOW + 3600,
                "context": { "user": { "id": "u-17", "name": "Alice", "avatar": "https://x.example/a.png", "moderator": true } } })
    }

    fn sign_hs(c: &serde_json::Value, secret: &str) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), c, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
    }

    #[test]
    fn a_good_hs256_token_gives_name_avatar_moderator_and_room() {
        let t = hs().verify(&sign_hs(&claims(), "s3cret"), NOW).unwrap();
        assert_eq!(t.room, RoomScope::Room(proto::RoomName::new("planning").unwrap()));
        assert_eq!(t.name.as_deref(), Some("Alice"));
        assert_eq!(t.avatar.as_deref(), Some("https://x.example/a.png"));
        assert_eq!(t.moderator, Some(true));
        assert_eq!(t.removal_key, "intranet/u-17");
    }

    #[test]
    fn rs256_and_es256_keys_pick_their_algorithm() {
        let rs = Verifier::new(&settings(KeySetting::PublicKeyPem(RSA_PUBLIC.into())), "meet.lan").unwrap();
        assert_eq!(rs.algorithm(), Algorithm::RS256);
        let tok = jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &claims(),
            &EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
        )
        .unwrap();
        assert!(rs.verify(&tok, NOW).is_ok());
        let other = jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &claims(),
            &EncodingKey::from_rsa_pem(OTHER_RSA_PRIVATE.as_bytes()).unwrap(),
        )
        .unwrap();
        assert_eq!(rs.verify(&other, NOW), Err(JwtError::BadSignature));
        // an HS256 token "signed" with the public key text must not pass (algorithm confusion)
        let confused = sign_hs(&claims(), RSA_PUBLIC);
        assert!(matches!(rs.verify(&confused, NOW), Err(JwtError::Algorithm { .. })));

        let es = Verifier::new(&settings(KeySetting::PublicKeyPem(EC_PUBLIC.into())), "meet.lan").unwrap();
        assert_eq!(es.algorithm(), Algorithm::ES256);
        let tok = jsonwebtoken::encode(
            &Header::new(Algorithm::ES256),
            &claims(),
            &EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap(),
        )
        .unwrap();
        assert!(es.verify(&tok, NOW).is_ok());
        assert!(Verifier::new(&settings(KeySetting::PublicKeyPem("not a key".into())), "meet.lan").is_err());
    }

    #[test]
    fn bad_tokens_are_refused_with_their_reason() {
        let v = hs();
        let with = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut c = claims();
            f(&mut c);
            v.verify(&sign_hs(&c, "s3cret"), NOW)
        };
        assert_eq!(v.verify(&sign_hs(&claims(), "other"), NOW), Err(JwtError::BadSignature));
        assert_eq!(with(&|c| c["exp"] = json!(NOW - 31)), Err(JwtError::Expired));
        assert!(with(&|c| c["exp"] = json!(NOW - 29)).is_ok(), "30 s leeway");
        assert_eq!(with(&|c| c["nbf"] = json!(NOW + 60)), Err(JwtError::NotYetValid));
        assert_eq!(with(&|c| c.as_object_mut().unwrap().remove("exp").map(drop).unwrap()), Err(JwtError::NoExpiry));
        assert_eq!(with(&|c| c["iss"] = json!("evil")), Err(JwtError::Issuer));
        assert_eq!(with(&|c| c["aud"] = json!("other")), Err(JwtError::Audience));
        assert!(with(&|c| c["aud"] = json!(["x", "jitsi"])).is_ok());
        assert_eq!(with(&|c| c["room"] = json!("Planning")), Err(JwtError::Room("Planning".into())));
        assert_eq!(with(&|c| c["room"] = json!("../x")), Err(JwtError::Room("../x".into())));
        assert_eq!(with(&|c| c["room"] = json!(".x")), Err(JwtError::Room(".x".into())));
        assert!(matches!(
            with(&|c| c.as_object_mut().unwrap().remove("room").map(drop).unwrap()),
            Err(JwtError::Room(_))
        ));
        assert_eq!(with(&|c| c["room"] = json!("*")).unwrap().room, RoomScope::Any);
        assert_eq!(with(&|c| c["sub"] = json!("other.lan")), Err(JwtError::Subject("other.lan".into())));
        assert_eq!(with(&|c| c["context"]["user"]["moderator"] = json!("false")).unwrap().moderator, Some(false));
        assert_eq!(with(&|c| c["context"]["user"]["avatar"] = json!("javascript:x")).unwrap().avatar, None);

        let unsigned = format!(
            "{}.{}.",
            B64URL.encode(br#"{"alg":"none","typ":"JWT"}"#),
            B64URL.encode(serde_json::to_vec(&claims()).unwrap())
        );
        assert_eq!(v.verify(&unsigned, NOW), Err(JwtError::Unsigned));
        let huge = format!("{}.{}.x", B64URL.encode(br#"{"alg":"HS256"}"#), "a".repeat(MAX_TOKEN_BYTES));
        assert_eq!(v.verify(&huge, NOW), Err(JwtError::TooLarge));
        assert!(matches!(v.verify("garbage", NOW), Err(JwtError::Malformed(_))));
    }
}
