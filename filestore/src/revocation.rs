//! Room tokens of removed people. When a moderator removes someone from a room, signal tells
//! the archive `<revoke room nick/>` (signal/PEOPLE.md section 7); from then on every token
//! for that room and nick issued up to that moment is refused, on `/chat` and `/files/`,
//! until it would have expired anyway. A token issued later (the person was allowed back and
//! joined again) is accepted.
//!
//! The set is read on every request, written rarely (a removal), so it is a read-write lock
//! around a small map; the archive persists each entry and reloads them at start. Nothing
//! here decides who is removed: that is signal's, told only through the server JID.

use crate::Error;
use proto::token::Claims;
use std::collections::HashMap;
use std::sync::RwLock;

/// How long a revocation is kept: far beyond any room token's life (15 min), so a token
/// issued before the removal cannot outlive it.
pub const KEEP_SECS: u64 = 24 * 3600;

#[derive(Default)]
pub struct Revocations {
    /// (room, nick) → the removal's time in seconds since the epoch.
    at: RwLock<HashMap<(String, String), u64>>,
}

impl Revocations {
    /// Refuses `claims` if their (room, nick) was removed at or after the token was issued.
    pub fn check(&self, claims: &Claims) -> Result<(), Error> {
        let map = self.at.read().unwrap_or_else(|e| e.into_inner());
        match map.get(&(claims.room.to_string(), claims.nick.to_string())) {
            Some(&at) if claims.iat <= at => {
                Err(Error::Forbidden("you were removed from this room: this room token is no longer accepted".into()))
            }
            _ => Ok(()),
        }
    }

    /// Records a removal (the later one wins) and forgets those older than [`KEEP_SECS`].
    pub fn insert(&self, room: &str, nick: &str, at_secs: u64) {
        let mut map = self.at.write().unwrap_or_else(|e| e.into_inner());
        let e = map.entry((room.to_string(), nick.to_string())).or_insert(at_secs);
        *e = (*e).max(at_secs);
        let horizon = proto::token::now_secs().saturating_sub(KEEP_SECS);
        map.retain(|_, at| *at >= horizon);
    }

    pub fn len(&self) -> usize {
        self.at.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::{EndpointId, RoomName};

    fn claims(room: &str, nick: &str, iat: u64) -> Claims {
        let mut c = Claims::new(
            "a@meet.lan/x".into(),
            RoomName::new(room).unwrap(),
            EndpointId::new(nick).unwrap(),
            "A".into(),
            900,
        );
        c.iat = iat;
        c
    }

    #[test]
    fn tokens_issued_up_to_the_removal_are_refused_later_ones_and_others_pass() {
        let r = Revocations::default();
        let now = proto::token::now_secs();
        r.insert("standup", "abc", now);
        assert!(r.check(&claims("standup", "abc", now - 60)).is_err());
        assert!(r.check(&claims("standup", "abc", now)).is_err());
        assert!(r.check(&claims("standup", "abc", now + 1)).is_ok(), "issued after the removal");
        assert!(r.check(&claims("standup", "other", now - 60)).is_ok(), "another nick");
        assert!(r.check(&claims("planning", "abc", now - 60)).is_ok(), "another room");
    }

    #[test]
    fn old_removals_are_forgotten() {
        let r = Revocations::default();
        let now = proto::token::now_secs();
        r.insert("a", "x", now - KEEP_SECS - 10);
        r.insert("b", "y", now);
        assert_eq!(r.len(), 1);
    }
}
