//! Calls (XEP-0353 as PEOPLE.md section 5 uses it): each proposal is stored, then settled
//! once: accepted (accept/proceed), declined (reject), or missed — retracted, rejected as
//! busy by a page already in a call, unanswered when its ring time runs out, or made while
//! the callee had no session. A missed call becomes a notification for the callee.
//!
//! Only the two people of a call can settle it: a stanza settles the calls whose callee (or
//! caller, for a retract) is its sender, never another person's.

use super::incoming::Media;
use super::jid::BareJid;
use super::notifications::{self, Kind, Notification};
use crate::Error;
use proto::RoomName;
use rusqlite::{params, Connection};

/// A call: who called whom, under the caller's call id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallKey {
    pub caller: String,
    pub callee: String,
    pub id: String,
}

impl CallKey {
    /// The source of its missed-call notification (one per call).
    fn source(&self) -> String {
        format!("call\n{}\n{}\n{}", self.caller, self.callee, self.id)
    }
}

pub struct Proposal<'a> {
    pub key: &'a CallKey,
    pub caller_name: &'a str,
    pub media: Media,
    pub room: Option<&'a RoomName>,
    pub at: i64,
}

/// How a proposal ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Declined,
    /// Rejected by a page already in a call or ringing: the callee did not choose; missed.
    Busy,
    Missed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Declined => "declined",
            Outcome::Busy => "busy",
            Outcome::Missed => "missed",
        }
    }

    fn is_missed(self) -> bool {
        matches!(self, Outcome::Busy | Outcome::Missed)
    }
}

/// Which open proposals a stanza settles: those to `callee` with call id `id` (and from
/// `caller`, when the stanza names them).
pub struct CallMatch<'a> {
    pub callee: &'a BareJid,
    pub caller: Option<&'a BareJid>,
    pub id: &'a str,
}

/// Stores a proposal; false when it is known already (a second copy).
pub fn propose(c: &Connection, p: &Proposal) -> Result<bool, Error> {
    let n = c.execute(
        "INSERT INTO calls (caller, callee, id, caller_name, media, room, proposed_at, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'proposed') ON CONFLICT DO NOTHING",
        params![
            p.key.caller,
            p.key.callee,
            p.key.id,
            p.caller_name,
            p.media.as_str(),
            p.room.map(|r| r.as_str()),
            p.at
        ],
    )?;
    Ok(n > 0)
}

/// Settles the open proposals `m` names with `outcome` (a settled call stays as it is); a
/// missed one becomes the callee's notification, returned for the headline.
pub fn settle(c: &mut Connection, m: &CallMatch, outcome: Outcome, now: i64) -> Result<Vec<Notification>, Error> {
    let tx = c.transaction()?;
    let settled: Vec<(String, String, String, i64)> = {
        let mut st = tx.prepare_cached(
            "UPDATE calls SET state = ?4, ended_at = ?5
             WHERE callee = ?1 AND id = ?2 AND (?3 IS NULL OR caller = ?3) AND state = 'proposed'
             RETURNING caller, caller_name, media, proposed_at",
        )?;
        let rows = st
            .query_map(params![m.callee.as_str(), m.id, m.caller.map(|c| c.as_str()), outcome.as_str(), now], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
        rows.collect::<Result<_, _>>()?
    };
    let mut out = Vec::new();
    if outcome.is_missed() {
        for (caller, name, media, at) in settled {
            let key = CallKey { caller: caller.clone(), callee: m.callee.to_string(), id: m.id.to_string() };
            let kind = Kind::MissedCall { media: Media::parse(&media) };
            out.extend(notifications::add(&tx, m.callee.as_str(), &caller, &name, at, kind, Some(&key.source()))?);
        }
    }
    tx.commit()?;
    Ok(out)
}

/// Proposals not settled yet, with when they were made (the archive's timers after a start).
pub fn open(c: &Connection) -> Result<Vec<(CallKey, i64)>, Error> {
    let mut st = c.prepare("SELECT caller, callee, id, proposed_at FROM calls WHERE state = 'proposed'")?;
    let rows =
        st.query_map([], |r| Ok((CallKey { caller: r.get(0)?, callee: r.get(1)?, id: r.get(2)? }, r.get(3)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// How a call ended (`proposed` while open); `None` for an unknown call.
pub fn state(c: &Connection, key: &CallKey) -> Result<Option<String>, Error> {
    use rusqlite::OptionalExtension;
    Ok(c.query_row(
        "SELECT state FROM calls WHERE caller = ?1 AND callee = ?2 AND id = ?3",
        params![key.caller, key.callee, key.id],
        |r| r.get(0),
    )
    .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::db::migrate(&mut c, super::super::schema::MIGRATIONS).unwrap();
        c
    }

    fn key(id: &str) -> CallKey {
        CallKey { caller: "alice@x".into(), callee: "bob@x".into(), id: id.into() }
    }

    fn propose_call(c: &Connection, id: &str) {
        let k = key(id);
        let p = Proposal { key: &k, caller_name: "Alice", media: Media::Audio, room: None, at: 10 };
        assert!(propose(c, &p).unwrap());
        assert!(!propose(c, &p).unwrap(), "a second copy is the same call");
    }

    #[test]
    fn settled_once_and_only_missed_ones_notify() {
        let mut c = open_db();
        let (alice, bob, carol) =
            (BareJid::of("alice@x").unwrap(), BareJid::of("bob@x").unwrap(), BareJid::of("carol@x").unwrap());
        propose_call(&c, "c1");
        propose_call(&c, "c2");
        propose_call(&c, "c3");
        // Carol cannot settle Bob's call, nor Alice as if she were the callee.
        assert!(settle(&mut c, &CallMatch { callee: &carol, caller: None, id: "c1" }, Outcome::Declined, 20)
            .unwrap()
            .is_empty());
        assert!(settle(&mut c, &CallMatch { callee: &alice, caller: Some(&bob), id: "c1" }, Outcome::Missed, 20)
            .unwrap()
            .is_empty());
        assert_eq!(state(&c, &key("c1")).unwrap().as_deref(), Some("proposed"));
        assert!(settle(&mut c, &CallMatch { callee: &bob, caller: None, id: "c1" }, Outcome::Accepted, 20)
            .unwrap()
            .is_empty());
        // A retract after the accept changes nothing.
        assert!(settle(&mut c, &CallMatch { callee: &bob, caller: Some(&alice), id: "c1" }, Outcome::Missed, 30)
            .unwrap()
            .is_empty());
        assert_eq!(state(&c, &key("c1")).unwrap().as_deref(), Some("accepted"));
        let n = settle(&mut c, &CallMatch { callee: &bob, caller: Some(&alice), id: "c2" }, Outcome::Busy, 30).unwrap();
        assert_eq!(n.len(), 1);
        assert_eq!((n[0].person.as_str(), n[0].from.as_str(), n[0].at), ("bob@x", "alice@x", 10));
        assert_eq!(open(&c).unwrap().into_iter().map(|(k, _)| k).collect::<Vec<_>>(), vec![key("c3")]);
    }
}
