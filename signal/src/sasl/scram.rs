//! SCRAM-SHA-1 server side (RFC 5802), without channel binding (no TLS on loopback):
//! client-first → server-first (nonce, salt, iterations) → client-final with proof → success
//! with the server signature. An unknown user gets a made-up salt and fails at the proof.

use super::{Failure, Step};
use crate::accounts::{hmac_sha1, Accounts, ScramKeys, ITERATIONS};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sha1::{Digest, Sha1};

pub struct ScramServer {
    user: String,
    keys: Option<ScramKeys>,
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

/// Decodes a SCRAM `saslname` (`=2C` → `,`, `=3D` → `=`).
fn saslname(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return None,
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

impl ScramServer {
    pub fn start(msg: &[u8], accounts: &Accounts) -> (Step, Option<ScramServer>) {
        let fail = |f| (Step::Failure(f), None);
        let Ok(msg) = std::str::from_utf8(msg) else { return fail(Failure::MalformedRequest) };
        // gs2-header: "n,," or "y,," (we offer no -PLUS, so "y" is fine); "p=" is refused.
        let mut it = msg.splitn(3, ',');
        let (Some(cb), Some(authz), Some(bare)) = (it.next(), it.next(), it.next()) else {
            return fail(Failure::MalformedRequest);
        };
        if !(cb == "n" || cb == "y") || !(authz.is_empty() || authz.starts_with("a=")) {
            return fail(Failure::MalformedRequest);
        }
        let mut user = None;
        let mut cnonce = None;
        for attr in bare.split(',') {
            match attr.split_once('=') {
                Some(("n", v)) => user = saslname(v),
                Some(("r", v)) => cnonce = Some(v.to_string()),
                Some(("m", _)) => return fail(Failure::MalformedRequest),
                _ => {}
            }
        }
        let (Some(user), Some(cnonce)) = (user, cnonce) else { return fail(Failure::MalformedRequest) };
        if cnonce.is_empty() || cnonce.contains(',') || cnonce.len() > 256 {
            return fail(Failure::MalformedRequest);
        }
        let user = user.to_lowercase();
        let keys = accounts.get(&user).ok().flatten();
        let salt = match &keys {
            Some(k) => k.salt.clone(),
            // Unknown user: a stable-looking salt derived from the name, so probing learns nothing.
            None => B64.encode(&Sha1::digest(format!("signal-unknown-user:{user}").as_bytes())[..16]),
        };
        let iterations = keys.as_ref().map(|k| k.iterations).unwrap_or(ITERATIONS);
        let snonce = proto::secrets::random_hex(18).unwrap_or_else(|_| "0".repeat(36));
        let nonce = format!("{cnonce}{snonce}");
        let server_first = format!("r={nonce},s={salt},i={iterations}");
        let server = ScramServer {
            user,
            keys,
            gs2_header: format!("{cb},{authz},"),
            client_first_bare: bare.to_string(),
            server_first: server_first.clone(),
            nonce,
        };
        (Step::Challenge(server_first.into_bytes()), Some(server))
    }

    pub fn finish(self, msg: &[u8]) -> Step {
        let fail = |f| Step::Failure(f);
        let Ok(msg) = std::str::from_utf8(msg) else { return fail(Failure::MalformedRequest) };
        let Some((without_proof, proof)) = msg.rsplit_once(",p=") else { return fail(Failure::MalformedRequest) };
        let mut channel = None;
        let mut nonce = None;
        for attr in without_proof.split(',') {
            match attr.split_once('=') {
                Some(("c", v)) => channel = Some(v),
                Some(("r", v)) => nonce = Some(v),
                _ => {}
            }
        }
        if channel != Some(B64.encode(self.gs2_header.as_bytes()).as_str()) || nonce != Some(self.nonce.as_str()) {
            return fail(Failure::NotAuthorized);
        }
        let Ok(proof) = B64.decode(proof) else { return fail(Failure::IncorrectEncoding) };
        let Some(keys) = self.keys else { return fail(Failure::NotAuthorized) };
        let auth_message = format!("{},{},{}", self.client_first_bare, self.server_first, without_proof);
        let stored = keys.stored_key_bytes();
        let signature = hmac_sha1(&stored, auth_message.as_bytes());
        if proof.len() != signature.len() {
            return fail(Failure::NotAuthorized);
        }
        let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
        let candidate = Sha1::digest(&client_key);
        let same =
            candidate.len() == stored.len() && candidate.iter().zip(&stored).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0;
        if !same {
            return fail(Failure::NotAuthorized);
        }
        let server_sig = hmac_sha1(&keys.server_key_bytes(), auth_message.as_bytes());
        Step::Success {
            who: super::Who::Account(self.user),
            additional: format!("v={}", B64.encode(server_sig)).into_bytes(),
        }
    }
}
