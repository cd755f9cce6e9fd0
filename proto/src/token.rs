//! Room tokens: short-lived HS256 JWTs that `signal` issues to a room's occupants and
//! `filestore` checks on every chat message and every upload or download.
//!
//! The token binds a participant to one room and one nickname; `filestore` takes the sender
//! fields of chat messages and uploads from it, never from what the client says.

use crate::{EndpointId, RoomName};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// The audience every room token carries; a token for anything else is refused.
pub const AUDIENCE: &str = "filestore";
/// The issuer every room token carries.
pub const ISSUER: &str = "signal";
/// How long a token lives; clients ask for a fresh one before it runs out.
pub const DEFAULT_TTL_SECS: u64 = 15 * 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The occupant's real JID, for audit.
    pub sub: String,
    pub room: RoomName,
    /// The occupant's nickname in the room (its endpoint id).
    pub nick: EndpointId,
    /// Display name at the time of issue, shown as the sender of chat messages and files.
    pub name: String,
    pub iat: u64,
    pub exp: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token expired")]
    Expired,
    #[error("token is for another room")]
    WrongRoom,
    #[error("token invalid: {0}")]
    Invalid(String),
}

pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Claims {
    pub fn new(sub: String, room: RoomName, nick: EndpointId, name: String, ttl_secs: u64) -> Self {
        let iat = now_secs();
        Claims { iss: ISSUER.into(), aud: AUDIENCE.into(), sub, room, nick, name, iat, exp: iat + ttl_secs }
    }
}

/// Signs `claims` with the shared token secret.
pub fn issue(secret: &[u8], claims: &Claims) -> Result<String, TokenError> {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret))
        .map_err(|e| TokenError::Invalid(e.to_string()))
}

/// Checks signature, algorithm, audience, issuer and expiry (no leeway), and the room when
/// `room` is given. Only HS256 is accepted, whatever the header says.
pub fn verify(secret: &[u8], token: &str, room: Option<&RoomName>) -> Result<Claims, TokenError> {
    let mut v = Validation::new(Algorithm::HS256);
    v.leeway = 0;
    v.set_audience(&[AUDIENCE]);
    v.set_issuer(&[ISSUER]);
    v.set_required_spec_claims(&["exp", "aud", "iss"]);
    let data =
        jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(secret), &v).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
            _ => TokenError::Invalid(e.to_string()),
        })?;
    if let Some(room) = room {
        if &data.claims.room != room {
            return Err(TokenError::WrongRoom);
        }
    }
    Ok(data.claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(ttl: u64) -> Claims {
        Claims::new(
            "a@meet.lan/x".into(),
            RoomName::new("standup").unwrap(),
            EndpointId::new("abc123").unwrap(),
            "Alice".into(),
            ttl,
        )
    }

    #[test]
    fn round_trip_and_room_check() {
        let t = issue(b"k1", &claims(60)).unwrap();
        let c = verify(b"k1", &t, Some(&RoomName::new("standup").unwrap())).unwrap();
        assert_eq!(c.name, "Alice");
        assert!(matches!(verify(b"k1", &t, Some(&RoomName::new("other").unwrap())), Err(TokenError::WrongRoom)));
        assert!(matches!(verify(b"k2", &t, None), Err(TokenError::Invalid(_))));
    }

    #[test]
    fn expired_is_refused() {
        let mut c = claims(60);
        c.iat -= 120;
        c.exp = now_secs() - 1;
        let t = issue(b"k", &c).unwrap();
        assert!(matches!(verify(b"k", &t, None), Err(TokenError::Expired)));
    }

    #[test]
    fn alg_none_is_refused() {
        // header {"alg":"none","typ":"JWT"}, the claims of a valid token, no signature
        let t = issue(b"k", &claims(60)).unwrap();
        let body = t.split('.').nth(1).unwrap();
        let forged = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{body}.");
        assert!(verify(b"k", &forged, None).is_err());
    }
}
