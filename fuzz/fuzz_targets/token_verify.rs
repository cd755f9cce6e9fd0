//! Room tokens (`proto::token::verify`), as filestore checks them on every request: an
//! arbitrary string must be refused unless it is a token signed with the secret, for the
//! room asked. The fuzzer also gets to edit a real token (first byte: which part).
#![no_main]

use libfuzzer_sys::fuzz_target;
use proto::token::{issue, verify, Claims, TokenError};
use proto::{EndpointId, RoomName};

const SECRET: &[u8] = b"fuzz-secret-0123456789abcdef0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let room = RoomName::new("standup").expect("a valid room name");
    if let Ok(c) = verify(SECRET, text, Some(&room)) {
        // Only a token we signed can pass: it must carry what we would have signed.
        assert_eq!(c.room, room);
        assert_eq!((c.iss.as_str(), c.aud.as_str()), (proto::token::ISSUER, proto::token::AUDIENCE));
        assert!(c.exp > proto::token::now_secs().saturating_sub(1));
    }
    // A genuine token with the fuzz input spliced into one of its parts.
    let claims = Claims::new(
        "a@meet.lan/x".into(),
        room.clone(),
        EndpointId::new("abc123").expect("a valid nick"),
        "Alice".into(),
        60,
    );
    let token = issue(SECRET, &claims).expect("signing works");
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let which = data.first().map(|b| *b as usize % 3).unwrap_or(0);
    parts[which] = text.get(1..).unwrap_or("").to_string();
    let forged = parts.join(".");
    match verify(SECRET, &forged, Some(&room)) {
        Ok(c) => assert_eq!(c, claims, "a changed token passed with other claims: {forged}"),
        Err(TokenError::Expired | TokenError::WrongRoom | TokenError::Invalid(_)) => {}
    }
    assert!(verify(b"another secret", &token, None).is_err());
});
