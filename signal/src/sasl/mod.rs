//! SASL for client streams (RFC 6120 §6): ANONYMOUS and OAUTHBEARER (RFC 7628, a JWT) on
//! `<domain>` as `AUTH_MODE` allows, PLAIN and SCRAM-SHA-1 on `auth.<domain>`, PLAIN with a
//! guest id and secret on `guest.<domain>` (checked by the hub, which keeps the directory:
//! [`Step::CheckGuest`]). Sans-IO: decoded client messages (and the time) in, challenges or
//! an outcome out. It must never tell an attacker whether a user exists (unknown users fail
//! like bad passwords), and never keeps a guest secret (only its SHA-256 leaves here).

pub mod oauthbearer;
pub mod scram;

use crate::accounts::Accounts;
use crate::auth::jwt::Verifier;
use crate::auth::TokenIdentity;
use sha2::{Digest, Sha256};

pub const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";

/// SASL failure conditions we send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    NotAuthorized,
    InvalidMechanism,
    IncorrectEncoding,
    MalformedRequest,
    Aborted,
    /// Too many wrong guest secrets from this address: try again later.
    TemporaryAuthFailure,
}

impl Failure {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotAuthorized => "not-authorized",
            Self::InvalidMechanism => "invalid-mechanism",
            Self::IncorrectEncoding => "incorrect-encoding",
            Self::MalformedRequest => "malformed-request",
            Self::Aborted => "aborted",
            Self::TemporaryAuthFailure => "temporary-auth-failure",
        }
    }
}

/// Who the client turned out to be.
#[derive(Debug)]
pub enum Who {
    Anonymous,
    /// An account, by its local part on `auth.<domain>`.
    Account(String),
    /// A recognised guest, by its guest id (the local part on `guest.<domain>`).
    Guest(String),
    Token(TokenIdentity),
}

/// What one SASL step produced.
pub enum Step {
    /// Send `<challenge>` with these bytes and wait for a `<response>`.
    Challenge(Vec<u8>),
    /// Authenticated; `<success>` carries the bytes.
    Success {
        who: Who,
        additional: Vec<u8>,
    },
    Failure(Failure),
    /// A failure with a `<text/>` saying why (a refused token).
    Refused(Failure, String),
    /// A guest's PLAIN: the hub checks the id against the secret's hash and the directory
    /// (trust on first use), then [`crate::c2s::negotiation::ClientStream::handle_guest_checked`].
    CheckGuest {
        id: String,
        secret_sha256: [u8; 32],
    },
}

/// One authentication exchange in progress.
pub enum Exchange {
    Scram(scram::ScramServer),
    /// RFC 7628 §3.2.2: the error challenge went out; the client's `\x01` gets this failure.
    TokenRefused(String),
}

/// What the addressed host offers.
pub struct Offer<'a> {
    /// SASL ANONYMOUS (guests), on `<domain>` unless `AUTH_MODE=token`.
    pub anonymous: bool,
    /// OAUTHBEARER, on `<domain>` when JWT is configured.
    pub token: Option<&'a Verifier>,
    /// PLAIN and SCRAM-SHA-1, on `auth.<domain>`.
    pub accounts: Option<&'a Accounts>,
    /// PLAIN with a guest id and secret, on `guest.<domain>` unless `AUTH_MODE=token`.
    pub guests: bool,
    /// Seconds since the Unix epoch, for token expiry.
    pub now: i64,
}

impl Offer<'_> {
    /// The `<mechanism/>` names, in order of preference.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.accounts.is_some() {
            v.extend(["SCRAM-SHA-1", "PLAIN"]);
        }
        if self.guests {
            v.push("PLAIN");
        }
        if self.token.is_some() {
            v.push("OAUTHBEARER");
        }
        if self.anonymous {
            v.push("ANONYMOUS");
        }
        v
    }
}

/// Starts mechanism `mech` with the client's initial response.
pub fn start(mech: &str, initial: &[u8], offer: &Offer) -> (Step, Option<Exchange>) {
    match (mech, offer.accounts, offer.token) {
        ("ANONYMOUS", _, _) if offer.anonymous => (Step::Success { who: Who::Anonymous, additional: Vec::new() }, None),
        ("PLAIN", Some(accounts), _) => (plain(initial, accounts), None),
        ("PLAIN", None, _) if offer.guests => (guest_plain(initial), None),
        ("SCRAM-SHA-1", Some(accounts), _) => {
            let (step, server) = scram::ScramServer::start(initial, accounts);
            (step, server.map(Exchange::Scram))
        }
        ("OAUTHBEARER", _, Some(verifier)) => oauthbearer::start(initial, verifier, offer.now),
        _ => (Step::Failure(Failure::InvalidMechanism), None),
    }
}

/// The next client response of an exchange.
pub fn respond(ex: Exchange, response: &[u8]) -> Step {
    match ex {
        Exchange::Scram(s) => s.finish(response),
        Exchange::TokenRefused(why) => Step::Refused(Failure::NotAuthorized, why),
    }
}

/// RFC 4616: `[authzid] NUL authcid NUL passwd`, as (the authcid in lower case without a
/// domain, the password). An authzid must name the authcid.
fn plain_parts(msg: &[u8]) -> Result<(String, &[u8]), Failure> {
    let parts: Vec<&[u8]> = msg.split(|b| *b == 0).collect();
    if parts.len() != 3 {
        return Err(Failure::MalformedRequest);
    }
    let (Ok(authz), Ok(user)) = (std::str::from_utf8(parts[0]), std::str::from_utf8(parts[1])) else {
        return Err(Failure::MalformedRequest);
    };
    let user = user.to_lowercase();
    let user = user.split('@').next().unwrap_or("").to_string();
    if !authz.is_empty() && authz.split('@').next().map(str::to_lowercase).as_deref() != Some(user.as_str()) {
        return Err(Failure::NotAuthorized);
    }
    Ok((user, parts[2]))
}

fn plain(msg: &[u8], accounts: &Accounts) -> Step {
    let (user, pass) = match plain_parts(msg) {
        Ok(p) => p,
        Err(f) => return Step::Failure(f),
    };
    let Ok(pass) = std::str::from_utf8(pass) else { return Step::Failure(Failure::MalformedRequest) };
    match accounts.get(&user) {
        Ok(Some(keys)) if keys.check_password(pass) => {
            Step::Success { who: Who::Account(user), additional: Vec::new() }
        }
        Ok(_) => Step::Failure(Failure::NotAuthorized),
        Err(e) => {
            tracing::error!("accounts unreadable: {e}");
            Step::Failure(Failure::NotAuthorized)
        }
    }
}

/// Shortest guest secret taken: the page makes 32 random bytes (43 base64url characters); a
/// short one would make the guest id, which everyone sees, a guessable hash.
pub const MIN_GUEST_SECRET: usize = 16;
/// Longest guest secret taken.
pub const MAX_GUEST_SECRET: usize = 1024;

/// A guest's PLAIN: authcid = guest id, password = guest secret. The secret is hashed here
/// and dropped; the hub decides (wrong ids are counted there, with the per-source limit).
fn guest_plain(msg: &[u8]) -> Step {
    let (id, secret) = match plain_parts(msg) {
        Ok(p) => p,
        Err(f) => return Step::Failure(f),
    };
    if !(MIN_GUEST_SECRET..=MAX_GUEST_SECRET).contains(&secret.len()) {
        return Step::Refused(Failure::NotAuthorized, "a guest secret is 16 to 1024 bytes".into());
    }
    Step::CheckGuest { id, secret_sha256: Sha256::digest(secret).into() }
}
