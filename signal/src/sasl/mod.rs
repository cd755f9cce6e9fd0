//! SASL for client streams (RFC 6120 §6): ANONYMOUS on `<domain>`, PLAIN and SCRAM-SHA-1 on
//! `auth.<domain>`. Sans-IO: decoded client messages in, challenges or an outcome out. It
//! must never tell an attacker whether a user exists (unknown users fail like bad passwords).

pub mod scram;

use crate::accounts::Accounts;

pub const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";

/// SASL failure conditions we send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    NotAuthorized,
    InvalidMechanism,
    IncorrectEncoding,
    MalformedRequest,
    Aborted,
}

impl Failure {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotAuthorized => "not-authorized",
            Self::InvalidMechanism => "invalid-mechanism",
            Self::IncorrectEncoding => "incorrect-encoding",
            Self::MalformedRequest => "malformed-request",
            Self::Aborted => "aborted",
        }
    }
}

/// What one SASL step produced.
pub enum Step {
    /// Send `<challenge>` with these bytes and wait for a `<response>`.
    Challenge(Vec<u8>),
    /// Authenticated as this local part (`None` = anonymous); `<success>` carries the bytes.
    Success {
        user: Option<String>,
        additional: Vec<u8>,
    },
    Failure(Failure),
}

/// One authentication exchange in progress.
pub enum Exchange {
    Scram(scram::ScramServer),
}

/// Starts mechanism `mech` with the client's initial response.
pub fn start(mech: &str, initial: &[u8], anonymous_host: bool, accounts: &Accounts) -> (Step, Option<Exchange>) {
    match (mech, anonymous_host) {
        ("ANONYMOUS", true) => (Step::Success { user: None, additional: Vec::new() }, None),
        ("PLAIN", false) => (plain(initial, accounts), None),
        ("SCRAM-SHA-1", false) => {
            let (step, server) = scram::ScramServer::start(initial, accounts);
            (step, server.map(Exchange::Scram))
        }
        _ => (Step::Failure(Failure::InvalidMechanism), None),
    }
}

/// The next client response of an exchange.
pub fn respond(ex: Exchange, response: &[u8]) -> Step {
    match ex {
        Exchange::Scram(s) => s.finish(response),
    }
}

/// RFC 4616: `[authzid] NUL authcid NUL passwd`.
fn plain(msg: &[u8], accounts: &Accounts) -> Step {
    let parts: Vec<&[u8]> = msg.split(|b| *b == 0).collect();
    if parts.len() != 3 {
        return Step::Failure(Failure::MalformedRequest);
    }
    let (Ok(authz), Ok(user), Ok(pass)) =
        (std::str::from_utf8(parts[0]), std::str::from_utf8(parts[1]), std::str::from_utf8(parts[2]))
    else {
        return Step::Failure(Failure::MalformedRequest);
    };
    let user = user.to_lowercase();
    let user = user.split('@').next().unwrap_or("").to_string();
    if !authz.is_empty() && authz.split('@').next().map(str::to_lowercase).as_deref() != Some(user.as_str()) {
        return Step::Failure(Failure::NotAuthorized);
    }
    match accounts.get(&user) {
        Ok(Some(keys)) if keys.check_password(pass) => Step::Success { user: Some(user), additional: Vec::new() },
        Ok(_) => Step::Failure(Failure::NotAuthorized),
        Err(e) => {
            tracing::error!("accounts unreadable: {e}");
            Step::Failure(Failure::NotAuthorized)
        }
    }
}
