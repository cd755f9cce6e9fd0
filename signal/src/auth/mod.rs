//! Who a client session is, and what that allows in rooms (`signal/ROOMS.md` section 1).
//!
//! Every bound client session carries one [`Identity`], fixed at SASL time: a guest (SASL
//! ANONYMOUS), a recognised guest (PLAIN on `guest.<domain>` with the browser's guest secret,
//! `signal/PEOPLE.md`), an account of `signal add-account` (PLAIN / SCRAM-SHA-1), or a token
//! session (OAUTHBEARER with a JWT checked by [`jwt::Verifier`]). [`Policy`] turns the `AUTH_MODE`
//! and an identity into the two questions rooms ask: may this person open a room and be
//! elected moderator (a *host*), and may they be in this room at all. Nothing here does I/O.

pub mod jwt;

use std::time::Duration;

/// `AUTH_MODE`: `Open` (anyone opens any room), `Accounts` (only accounts, and token
/// sessions for their rooms, open rooms and become moderators; guests join rooms a host has
/// been in), `Token` (only token sessions for their rooms, and accounts). Declared once in
/// `proto`: web tells the page the same setting.
pub use proto::config::AuthMode;

/// Which rooms a token lets its bearer into (the `room` claim).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomScope {
    /// `"*"`: every room.
    Any,
    /// Exactly this (lower-case, valid) room name.
    Room(proto::RoomName),
}

impl RoomScope {
    pub fn covers(&self, room: &str) -> bool {
        match self {
            RoomScope::Any => true,
            RoomScope::Room(r) => r.as_str() == room,
        }
    }
}

/// What a verified token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIdentity {
    /// `iss` + (`context.user.id` or `sub`): who is kept out when this person is removed.
    pub removal_key: String,
    pub room: RoomScope,
    /// `context.user.name`: forced into the session's presence.
    pub name: Option<String>,
    /// `context.user.avatar`, only when it is an `http(s)` URL.
    pub avatar: Option<String>,
    /// `context.user.moderator`: `Some(true)` moderator at join, `Some(false)` never elected.
    pub moderator: Option<bool>,
}

/// The identity of one client session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// An anonymous guest (SASL ANONYMOUS): a new random JID every time.
    Guest,
    /// A guest recognised by the secret their browser keeps, by their bare JID
    /// `<guest id>@guest.<domain>`: a person of the directory, but a guest for `AUTH_MODE`.
    RecognisedGuest(String),
    /// An account on `auth.<domain>`, by its bare JID.
    Account(String),
    Token(TokenIdentity),
}

impl Identity {
    /// The key a removal is recorded under. Guests have none of their own: the room uses the
    /// browser key they send at join (or, without one, their session's JID).
    pub fn removal_key(&self) -> Option<String> {
        match self {
            Identity::Guest => None,
            Identity::RecognisedGuest(bare) => Some(format!("guest:{bare}")),
            Identity::Account(bare) => Some(format!("account:{bare}")),
            Identity::Token(t) => Some(format!("token:{}", t.removal_key)),
        }
    }

    /// The bare JID of a person of the directory (an account or a recognised guest); `None`
    /// for anonymous guests and token sessions, who are not people of the directory.
    pub fn person(&self) -> Option<&str> {
        match self {
            Identity::RecognisedGuest(bare) | Identity::Account(bare) => Some(bare),
            Identity::Guest | Identity::Token(_) => None,
        }
    }

    pub fn token(&self) -> Option<&TokenIdentity> {
        match self {
            Identity::Token(t) => Some(t),
            _ => None,
        }
    }
}

/// One bound client session as the hub and the rooms know it.
#[derive(Debug)]
pub struct Session {
    pub identity: Identity,
    /// The client's address (TCP peer, or what `web` forwards), for per-source limits.
    pub source: std::net::IpAddr,
}

/// The room rules of one server: auth mode, and how long a removed person stays out.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub mode: AuthMode,
    /// How long a removed person is kept out (`SIGNAL_REMOVAL_SECS`, default 600).
    pub removal: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { mode: AuthMode::Open, removal: Duration::from_secs(600) }
    }
}

impl Policy {
    /// May `who` open `room` and be elected its moderator?
    pub fn is_host(&self, who: &Identity, room: &str) -> bool {
        match (self.mode, who) {
            (AuthMode::Open, _) => true,
            (_, Identity::Account(_)) => true,
            (_, Identity::Token(t)) => t.room.covers(room),
            (_, Identity::Guest | Identity::RecognisedGuest(_)) => false,
        }
    }

    /// In `token` mode a token session may only be in the rooms its token names.
    pub fn token_room_refused(&self, who: &Identity, room: &str) -> bool {
        self.mode == AuthMode::Token && who.token().is_some_and(|t| !t.room.covers(room))
    }

    /// True when rooms need a host to get going (`accounts` and `token` modes).
    pub fn gated(&self) -> bool {
        self.mode != AuthMode::Open
    }
}

/// What the client streams and the rooms of one server need to know about sign-in.
#[derive(Debug)]
pub struct Auth {
    pub policy: Policy,
    /// Present when `JWT_APP_ID` is set: OAUTHBEARER is offered on `<domain>`.
    pub verifier: Option<jwt::Verifier>,
}

impl Auth {
    /// Everything open, no tokens (today's behaviour; tests of other parts use it).
    pub fn open() -> Auth {
        Auth { policy: Policy::default(), verifier: None }
    }
}

/// Compares secrets (passwords, handshakes, secret hashes) without stopping at the first
/// differing byte, so the time taken tells an attacker nothing.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(room: RoomScope) -> Identity {
        Identity::Token(TokenIdentity { removal_key: "iss/u1".into(), room, name: None, avatar: None, moderator: None })
    }

    #[test]
    fn hosts_by_mode() {
        let planning = RoomScope::Room(proto::RoomName::new("planning").unwrap());
        let p = |mode| Policy { mode, ..Policy::default() };
        assert!(p(AuthMode::Open).is_host(&Identity::Guest, "x"));
        assert!(!p(AuthMode::Accounts).is_host(&Identity::Guest, "x"));
        assert!(!p(AuthMode::Accounts).is_host(&Identity::RecognisedGuest("g@guest.meet.lan".into()), "x"));
        assert!(p(AuthMode::Open).is_host(&Identity::RecognisedGuest("g@guest.meet.lan".into()), "x"));
        assert!(p(AuthMode::Accounts).is_host(&Identity::Account("a@auth.meet.lan".into()), "x"));
        assert!(p(AuthMode::Token).is_host(&token(planning.clone()), "planning"));
        assert!(!p(AuthMode::Token).is_host(&token(planning.clone()), "other"));
        assert!(p(AuthMode::Token).is_host(&token(RoomScope::Any), "other"));
        assert!(p(AuthMode::Token).token_room_refused(&token(planning.clone()), "other"));
        assert!(!p(AuthMode::Accounts).token_room_refused(&token(planning), "other"));
    }
}
