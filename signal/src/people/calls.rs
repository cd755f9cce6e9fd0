//! Calls between people (XEP-0353 Jingle Message Initiation, `signal/PEOPLE.md` section 5):
//! what signal checks before it routes a call stanza, and the proposals still open. signal
//! only routes and limits; ringing, busy and missed calls are the pages' and the archive's.
//!
//! Limits: 5 proposals per caller per minute, and one open proposal per caller and callee
//! (open until accepted, proceeded, rejected or retracted, or [`OPEN_FOR`] after it was made).

use crate::stanza::{self, Refusal};
use proto::xml::Element;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const NS_JMI: &str = "urn:xmpp:jingle-message:0";
/// Proposals one caller may make within a minute.
pub const PROPOSALS_PER_MINUTE: usize = 5;
/// A proposal nobody answered stops counting as open after this (pages give up after 30 s,
/// the archive calls it missed after 45 s).
pub const OPEN_FOR: Duration = Duration::from_secs(60);
/// Longest call id taken.
const MAX_ID: usize = 128;

/// The XEP-0353 actions signal knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Propose,
    Accept,
    Proceed,
    Reject,
    Retract,
}

impl Action {
    fn parse(name: &str) -> Option<Action> {
        Some(match name {
            "propose" => Action::Propose,
            "accept" => Action::Accept,
            "proceed" => Action::Proceed,
            "reject" => Action::Reject,
            "retract" => Action::Retract,
            _ => return None,
        })
    }
}

/// A call stanza's action and call id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallStanza {
    pub action: Action,
    pub id: String,
}

/// Reads the XEP-0353 element of a message: `None` when there is none or it is one signal
/// passes on as it is (`<ringing/>` and later additions), a refusal when it is malformed (no
/// id, a bad `<call/>` room).
pub fn parse(msg: &Element) -> Option<Result<CallStanza, Refusal>> {
    let el = msg.children().find(|c| c.ns() == NS_JMI)?;
    let action = Action::parse(el.name())?;
    Some(parse_element(el, action))
}

fn parse_element(el: &Element, action: Action) -> Result<CallStanza, Refusal> {
    let id = el.get_attr("id").unwrap_or("");
    if id.is_empty() || id.len() > MAX_ID || id.chars().any(char::is_control) {
        return Err(Refusal::new(stanza::BAD_REQUEST, "a call needs an id of at most 128 characters"));
    }
    if let Some(call) = el.get_child("call", proto::ns::PEOPLE) {
        let room = call.get_attr("room").unwrap_or("");
        if !call_room_valid(room) {
            return Err(Refusal::new(stanza::BAD_REQUEST, "a call room is call- and 32 hex digits"));
        }
        let password = call.get_attr("password").unwrap_or("");
        if password.is_empty() || password.len() > 64 || password.chars().any(char::is_control) {
            return Err(Refusal::new(stanza::BAD_REQUEST, "a call room's password is 1 to 64 characters"));
        }
    }
    Ok(CallStanza { action, id: id.to_string() })
}

/// `call-` and 32 lower-case hex digits.
pub fn call_room_valid(room: &str) -> bool {
    room.strip_prefix("call-")
        .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

struct Open {
    id: String,
    until: Instant,
}

/// Proposals not yet answered, by (caller, callee).
#[derive(Default)]
pub struct OpenCalls {
    open: HashMap<(Arc<str>, Arc<str>), Open>,
}

impl OpenCalls {
    /// Refuses a second proposal while one to the same person is open.
    pub fn check_propose(&self, caller: &Arc<str>, callee: &Arc<str>, now: Instant) -> Result<(), Refusal> {
        match self.open.get(&(caller.clone(), callee.clone())) {
            Some(o) if o.until > now => {
                Err(Refusal::new(stanza::RESOURCE_CONSTRAINT, "you are already calling this person"))
            }
            _ => Ok(()),
        }
    }

    pub fn proposed(&mut self, caller: Arc<str>, callee: Arc<str>, id: &str, now: Instant) {
        self.open.insert((caller, callee), Open { id: id.to_string(), until: now + OPEN_FOR });
    }

    /// A stanza of call `id` from `from` to `to` (bare JIDs) that ends the proposal: the
    /// callee's accept (to their own JID), proceed or reject, or the caller's retract.
    pub fn answered(&mut self, action: Action, from: &Arc<str>, to: &Arc<str>, id: &str) {
        match action {
            Action::Propose => {}
            Action::Retract => self.close_if(&(from.clone(), to.clone()), id),
            Action::Accept | Action::Proceed | Action::Reject if from == to => {
                // the callee tells their own other pages: the caller is whoever called
                self.open.retain(|(_, callee), o| !(callee == from && o.id == id));
            }
            Action::Accept | Action::Proceed | Action::Reject => self.close_if(&(to.clone(), from.clone()), id),
        }
    }

    fn close_if(&mut self, key: &(Arc<str>, Arc<str>), id: &str) {
        if self.open.get(key).is_some_and(|o| o.id == id) {
            self.open.remove(key);
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.open.retain(|_, o| o.until > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_open_proposal_per_pair_until_answered_or_stale() {
        let (a, b, c): (Arc<str>, Arc<str>, Arc<str>) = ("a@x".into(), "b@x".into(), "c@x".into());
        let t0 = Instant::now();
        let mut calls = OpenCalls::default();
        calls.proposed(a.clone(), b.clone(), "c1", t0);
        assert!(calls.check_propose(&a, &b, t0).is_err());
        assert!(calls.check_propose(&a, &c, t0).is_ok(), "another callee");
        assert!(calls.check_propose(&b, &a, t0).is_ok(), "the other way round");
        calls.answered(Action::Reject, &b, &a, "other-id");
        assert!(calls.check_propose(&a, &b, t0).is_err(), "an answer to another call changes nothing");
        calls.answered(Action::Accept, &b, &b, "c1");
        assert!(calls.check_propose(&a, &b, t0).is_ok(), "accepted on the callee's own JID");
        calls.proposed(a.clone(), b.clone(), "c2", t0);
        calls.answered(Action::Retract, &a, &b, "c2");
        assert!(calls.check_propose(&a, &b, t0).is_ok());
        calls.proposed(a.clone(), b.clone(), "c3", t0);
        assert!(calls.check_propose(&a, &b, t0 + OPEN_FOR).is_ok(), "stale after OPEN_FOR");
        calls.handle_timeout(t0 + OPEN_FOR);
        assert!(calls.open.is_empty());
    }

    #[test]
    fn call_rooms_and_ids() {
        assert!(call_room_valid("call-0123456789abcdef0123456789abcdef"));
        assert!(!call_room_valid("call-0123456789ABCDEF0123456789abcdef"));
        assert!(!call_room_valid("planning"));
        let bad = proto::xml::parse_element(
            "<message xmlns='jabber:client'><propose xmlns='urn:xmpp:jingle-message:0'/></message>",
        )
        .unwrap();
        assert!(parse(&bad).unwrap().is_err(), "no id");
        let none = proto::xml::parse_element("<message xmlns='jabber:client'><body>hi</body></message>").unwrap();
        assert!(parse(&none).is_none());
        let ringing = proto::xml::parse_element(
            "<message xmlns='jabber:client'><ringing xmlns='urn:xmpp:jingle-message:0' id='c1'/></message>",
        )
        .unwrap();
        assert!(parse(&ringing).is_none(), "passed on as it is");
    }
}
