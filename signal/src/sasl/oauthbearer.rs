//! SASL OAUTHBEARER (RFC 7628) carrying a JWT from another application (`AUTH_MODE=token`).
//!
//! The client's initial response is `gs2-header %x01 *(key=value %x01) %x01`, with
//! `auth=Bearer <jwt>` among the pairs. A good token succeeds at once; a refused one gets the
//! RFC's error challenge (`{"status":"invalid_token"}`), and after the client's `%x01` a
//! `<failure/>` whose text names the reason. It must never accept a token it did not verify.

use super::{Exchange, Failure, Step, Who};
use crate::auth::jwt::Verifier;

/// The bearer token of an initial client response, or why it is malformed.
pub fn bearer_token(msg: &[u8]) -> Result<&str, &'static str> {
    let msg = std::str::from_utf8(msg).map_err(|_| "not UTF-8")?;
    let (gs2, rest) = msg.split_once('\x01').ok_or("no key/value pairs")?;
    let mut gs2_parts = gs2.split(',');
    let (Some(flag), Some(authz), Some(""), None) =
        (gs2_parts.next(), gs2_parts.next(), gs2_parts.next(), gs2_parts.next())
    else {
        return Err("bad GS2 header");
    };
    if !matches!(flag, "n" | "y") || !(authz.is_empty() || authz.starts_with("a=")) {
        return Err("bad GS2 header");
    }
    if !rest.ends_with("\x01\x01") && rest != "\x01" {
        return Err("the pairs must end with two %x01");
    }
    let auth = rest.split('\x01').find_map(|kv| kv.strip_prefix("auth=")).ok_or("no auth= pair")?;
    let (scheme, token) = auth.split_once(' ').ok_or("auth= must be 'Bearer <token>'")?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("auth= must be 'Bearer <token>'");
    }
    let token = token.trim();
    if token.is_empty() {
        return Err("empty token");
    }
    Ok(token)
}

/// Starts the exchange: verifies the token at `now` (seconds since the Unix epoch).
pub fn start(initial: &[u8], verifier: &Verifier, now: i64) -> (Step, Option<Exchange>) {
    let token = match bearer_token(initial) {
        Ok(t) => t,
        Err(why) => return (Step::Refused(Failure::MalformedRequest, format!("OAUTHBEARER: {why}")), None),
    };
    match verifier.verify(token, now) {
        Ok(t) => (Step::Success { who: Who::Token(t), additional: Vec::new() }, None),
        Err(e) => {
            tracing::info!(reason = %e, "token refused");
            (Step::Challenge(br#"{"status":"invalid_token"}"#.to_vec()), Some(Exchange::TokenRefused(e.to_string())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_bearer_token_of_rfc7628_messages() {
        assert_eq!(bearer_token(b"n,,\x01auth=Bearer abc.def.ghi\x01\x01"), Ok("abc.def.ghi"));
        assert_eq!(bearer_token(b"n,a=alice,\x01host=x\x01auth=bearer t\x01\x01"), Ok("t"));
        assert!(bearer_token(b"n,,\x01auth=Basic abc\x01\x01").is_err());
        assert!(bearer_token(b"p=x,,\x01auth=Bearer t\x01\x01").is_err());
        assert!(bearer_token(b"n,,\x01host=x\x01\x01").is_err());
        assert!(bearer_token(b"n,,auth=Bearer t").is_err());
        assert!(bearer_token(b"\xff\xfe").is_err());
    }
}
