//! The lobby (`signal/ROOMS.md` section 5). While a moderator has it on, a person who is
//! neither moderator-to-be nor holding the right password *knocks*: their join presence is
//! kept (while their connection lives) and every moderator sees the knock; `admit` completes
//! the stored join exactly like a direct one, `deny` tells the knocker. Knocks are limited
//! per source address and per room.

use super::limits::SourceLimits;
use super::occupant::{Person, NS_NICK};
use super::room::{JoinOutcome, Room};
use crate::conn::{ConnId, Delivery};
use crate::stanza::{self, Refusal};
use proto::ns::ROOM as NS_ROOM;
use proto::xml::Element;
use std::sync::Arc;
use std::time::Instant;

/// Open knocks one room holds at most.
pub const MAX_KNOCKS_PER_ROOM: usize = 100;

/// A join waiting for a moderator.
#[derive(Debug)]
pub struct Knock {
    pub nick: String,
    /// The display name moderators see.
    pub name: String,
    pub real: Arc<str>,
    pub conn: ConnId,
    presence: Element,
    person: Person,
}

impl Knock {
    /// `<knock xmlns="R" nick name/>`, as moderators get it.
    pub fn element(&self) -> Element {
        Element::new("knock", NS_ROOM).attr("nick", self.nick.as_str()).attr("name", self.name.as_str())
    }
}

#[derive(Debug, Default)]
pub struct Lobby {
    pub enabled: bool,
    /// In arrival order.
    knocks: Vec<Knock>,
}

impl Lobby {
    pub fn knocks(&self) -> impl Iterator<Item = &Knock> {
        self.knocks.iter()
    }

    pub fn knock_by_real(&self, real: &str) -> Option<&Knock> {
        self.knocks.iter().find(|k| &*k.real == real)
    }

    /// Is `nick` held by a knocker other than `real`?
    pub fn nick_taken(&self, nick: &str, real: &str) -> bool {
        self.knocks.iter().any(|k| k.nick == nick && &*k.real != real)
    }

    pub fn remove_by_real(&mut self, real: &str) -> Option<Knock> {
        let i = self.knocks.iter().position(|k| &*k.real == real)?;
        Some(self.knocks.remove(i))
    }

    fn remove_by_nick(&mut self, nick: &str) -> Option<Knock> {
        let i = self.knocks.iter().position(|k| k.nick == nick)?;
        Some(self.knocks.remove(i))
    }
}

impl Room {
    /// Puts a join in the lobby: the knocker gets `registration-required` + `<lobby/>`, the
    /// moderators a `<knock/>`. A knocker knocking again (another nick, a new presence)
    /// replaces its knock without counting against the limits.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn knock(
        &mut self,
        conn: ConnId,
        real: Arc<str>,
        nick: &str,
        presence: &Element,
        person: Person,
        limits: &mut SourceLimits,
        now: Instant,
        out: &mut Vec<Delivery>,
    ) -> JoinOutcome {
        let previous = self.lobby.remove_by_real(&real);
        if previous.is_none() {
            let refusal = if let Some(secs) = limits.knock_blocked(person.session.source, now) {
                Some(
                    Refusal::new(stanza::POLICY_VIOLATION, "too many knocks; try again later")
                        .with(Element::new("retry-after", NS_ROOM).attr("seconds", secs.to_string())),
                )
            } else if self.lobby.knocks.len() >= MAX_KNOCKS_PER_ROOM {
                Some(Refusal::new(stanza::RESOURCE_CONSTRAINT, "too many people are waiting in this lobby"))
            } else {
                None
            };
            if let Some(r) = refusal {
                Self::refuse(out, conn, &real, presence, &r);
                return JoinOutcome::Refused;
            }
            limits.record_knock(person.session.source, now);
        }
        let name = person
            .session
            .identity
            .token()
            .and_then(|t| t.name.clone())
            .or_else(|| presence.get_child("nick", NS_NICK).map(|n| n.text_content()))
            .map(|n| n.trim().chars().take(128).collect::<String>())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| nick.to_string());
        let r = Refusal::new(stanza::REGISTRATION_REQUIRED, "the lobby is on: wait for a moderator to let you in")
            .room("lobby");
        Self::refuse(out, conn, &real, presence, &r);
        let k = Knock { nick: nick.to_string(), name, real, conn, presence: presence.clone(), person };
        let changed = previous.as_ref().is_none_or(|p| p.nick != k.nick || p.name != k.name);
        if let (Some(p), true) = (&previous, changed) {
            self.tell_moderators_knock_gone(&p.nick, "left", out);
        }
        if changed {
            self.tell_moderators(k.element(), out);
        }
        self.lobby.knocks.push(k);
        JoinOutcome::Knocked
    }

    pub(super) fn tell_moderators_knock_gone(&self, nick: &str, outcome: &str, out: &mut Vec<Delivery>) {
        self.tell_moderators(Element::new("knock-gone", NS_ROOM).attr("nick", nick).attr("outcome", outcome), out);
    }

    /// `<lobby xmlns="R" enabled="true|false"/>`: off admits every open knock.
    pub(super) fn set_lobby(&mut self, real: &str, q: &Element, out: &mut Vec<Delivery>) -> Result<(), Refusal> {
        self.moderator(real, "turn the lobby on or off")?;
        let enabled = match q.get_attr("enabled") {
            Some("true" | "1") => true,
            Some("false" | "0") => false,
            _ => return Err(Refusal::new(stanza::BAD_REQUEST, "enabled must be true or false")),
        };
        if enabled == self.lobby.enabled {
            return Ok(());
        }
        self.lobby.enabled = enabled;
        self.broadcast_room_state(out);
        if !enabled {
            for k in std::mem::take(&mut self.lobby.knocks) {
                self.admit_knock(k, out);
            }
        }
        Ok(())
    }

    fn admit_knock(&mut self, k: Knock, out: &mut Vec<Delivery>) {
        if self.occupants.contains_key(&k.nick) {
            // cannot happen while knock nicks are reserved; refuse rather than replace
            let r = Refusal::new(stanza::CONFLICT, "that nickname is in use");
            Self::refuse(out, k.conn, &k.real, &k.presence, &r);
            self.tell_moderators_knock_gone(&k.nick, "left", out);
            return;
        }
        let nick = k.nick.clone();
        self.enter(k.conn, k.real, &nick, &k.presence, Some(k.person), out);
        self.tell_moderators_knock_gone(&nick, "admitted", out);
    }

    pub(super) fn admit(&mut self, real: &str, q: &Element, out: &mut Vec<Delivery>) -> Result<(), Refusal> {
        self.moderator(real, "admit people from the lobby")?;
        let nick = q.get_attr("nick").ok_or(Refusal::new(stanza::BAD_REQUEST, "nick is required"))?;
        let k = self
            .lobby
            .remove_by_nick(nick)
            .ok_or(Refusal::new(stanza::ITEM_NOT_FOUND, "nobody knocks as that nick"))?;
        self.admit_knock(k, out);
        Ok(())
    }

    pub(super) fn deny(&mut self, real: &str, q: &Element, out: &mut Vec<Delivery>) -> Result<(), Refusal> {
        self.moderator(real, "deny people in the lobby")?;
        let nick = q.get_attr("nick").ok_or(Refusal::new(stanza::BAD_REQUEST, "nick is required"))?;
        let k = self
            .lobby
            .remove_by_nick(nick)
            .ok_or(Refusal::new(stanza::ITEM_NOT_FOUND, "nobody knocks as that nick"))?;
        let msg = self.headline(Element::new("lobby", NS_ROOM).attr("state", "denied"));
        out.push(Delivery::new(k.conn, k.real.clone(), &msg));
        self.tell_moderators_knock_gone(&k.nick, "denied", out);
        Ok(())
    }

    /// The knocker `real` left (unavailable presence to the room, or its connection ended).
    pub fn knock_left(&mut self, real: &str, out: &mut Vec<Delivery>) -> bool {
        match self.lobby.remove_by_real(real) {
            Some(k) => {
                self.tell_moderators_knock_gone(&k.nick, "left", out);
                true
            }
            None => false,
        }
    }

    /// Knocks of a connection that went away.
    pub fn knocks_of_conn_left(&mut self, conn: ConnId, out: &mut Vec<Delivery>) {
        let reals: Vec<Arc<str>> =
            self.lobby.knocks.iter().filter(|k| k.conn == conn).map(|k| k.real.clone()).collect();
        for r in reals {
            self.knock_left(&r, out);
        }
    }

    /// The room ends: every knocker gets `<lobby state="ended"/>`.
    pub fn end_knocks(&mut self, out: &mut Vec<Delivery>) {
        let msg = Arc::new(self.headline(Element::new("lobby", NS_ROOM).attr("state", "ended")).prepare());
        for k in std::mem::take(&mut self.lobby.knocks) {
            out.push(Delivery { conn: k.conn, to: k.real.clone(), body: msg.clone() });
        }
    }

    pub fn has_knocks(&self) -> bool {
        !self.lobby.knocks.is_empty()
    }
}
