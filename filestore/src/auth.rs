//! Room tokens on the way in: every HTTP request and every chat connection passes here
//! before anything else happens. Never trusts a name, nick or room the client sends on its
//! own; those come from the verified token only.

use crate::Error;
use axum::http::HeaderMap;
use proto::token::{Claims, TokenError};
use proto::RoomName;

/// Verifies `token`; when `room` is given the token must be for that room (403 otherwise).
pub fn verify(secret: &[u8], token: &str, room: Option<&RoomName>) -> Result<Claims, Error> {
    proto::token::verify(secret, token, room).map_err(|e| match e {
        TokenError::Expired => Error::TokenExpired,
        TokenError::WrongRoom => Error::Forbidden("token is for another room".into()),
        TokenError::Invalid(_) => Error::Unauthorized("invalid room token".into()),
    })
}

/// The token of an HTTP request: `Authorization: Bearer <jwt>`, else the `token` query
/// parameter (download links and `<img>` thumbnails cannot set headers).
pub fn token_of<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Result<&'a str, Error> {
    if let Some(v) = headers.get(axum::http::header::AUTHORIZATION) {
        let v = v.to_str().map_err(|_| Error::Unauthorized("malformed Authorization header".into()))?;
        return v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::Unauthorized("Authorization must be `Bearer <room token>`".into()));
    }
    query_param(query, "token").ok_or_else(|| Error::Unauthorized("missing room token".into()))
}

/// Authenticates an HTTP request; the resource's room is checked by the caller with
/// [`same_room`] once it knows which room the resource belongs to.
pub fn request(secret: &[u8], headers: &HeaderMap, query: Option<&str>) -> Result<Claims, Error> {
    verify(secret, token_of(headers, query)?, None)
}

pub fn same_room(claims: &Claims, room: &str) -> Result<(), Error> {
    if claims.room.as_str() == room {
        Ok(())
    } else {
        Err(Error::Forbidden("token is for another room".into()))
    }
}

/// A raw query parameter value. Only used for tokens and room names, whose alphabets need
/// no percent-decoding; a value that carries `%` is returned as is and then fails to verify.
pub fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name && !v.is_empty()).then_some(v)
    })
}

/// A display name made safe to show and store: no control or bidi-override characters,
/// at most 64 characters.
pub fn display_name(name: &str) -> String {
    let cleaned: String =
        name.chars().filter(|c| !c.is_control() && !crate::files::name::is_bidi_control(*c)).take(64).collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        "Guest".to_string()
    } else {
        trimmed.to_string()
    }
}
