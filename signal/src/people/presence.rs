//! Presence between people (`signal/PEOPLE.md` section 2): everyone has everyone on the
//! shared roster, so a session's available presence goes to every other available session
//! of every person (their own other sessions too, as RFC 6121 says), `from` its full JID,
//! serialized once. A session's first available presence also brings it everyone's current
//! presence; its unavailable presence, or its end, tells everyone it left.
//!
//! The display name rides in the presence (`<nick xmlns="http://jabber.org/protocol/nick">`,
//! at most 100 characters, no control characters): a new one is saved in the directory and
//! pushed to everyone's roster. A presence with a bad name or `<show/>` is refused whole.

use super::People;
use crate::conn::{ConnId, Delivery};
use crate::muc::occupant::{NS_MUC, NS_MUC_USER, NS_NICK};
use crate::stanza::{self, Refusal};
use proto::xml::{Element, NS_CLIENT};
use std::sync::Arc;

/// Longest display name, in characters.
pub const MAX_NAME: usize = 100;

impl People {
    /// A presence a person's session sent to the server (no `to`).
    pub fn handle_presence(&mut self, conn: ConnId, presence: Element, out: &mut Vec<Delivery>) {
        if !self.sessions.contains_key(&conn) {
            return;
        }
        match presence.get_attr("type") {
            None => {
                if let Err(r) = self.go_available(conn, presence.clone(), out) {
                    // checked above; go_available never removes a session
                    push_refusal(conn, &self.sessions[&conn].full, &presence, &r, out);
                }
            }
            Some("unavailable") => self.go_unavailable(conn, out),
            // probes, subscriptions and errors without an addressee mean nothing here
            _ => {}
        }
    }

    fn go_available(&mut self, conn: ConnId, mut p: Element, out: &mut Vec<Delivery>) -> Result<(), Refusal> {
        if let Some(show) = p.get_child("show", NS_CLIENT) {
            if !matches!(show.text_content().as_str(), "away" | "chat" | "dnd" | "xa") {
                return Err(Refusal::new(stanza::BAD_REQUEST, "show is away, chat, dnd or xa"));
            }
        }
        let name = match p.get_child("nick", NS_NICK) {
            Some(n) => display_name(&n.text_content())?,
            None => None,
        };
        // only signal speaks for rooms; of our namespace a page may say it is in a meeting
        p.remove_children(|c| {
            c.ns() == NS_MUC || c.ns() == NS_MUC_USER || (c.ns() == proto::ns::PEOPLE && c.name() != "in-meeting")
        });
        p.remove_attr("to");
        let s = self.sessions.get_mut(&conn).expect("checked by handle_presence");
        let first = s.presence.is_none();
        let body = Arc::new(p.prepare());
        s.presence = Some(body.clone());
        let bare = s.bare.clone();
        if first && !self.is_available(&bare, conn) {
            self.online += 1;
        }
        if let Some(name) = name {
            if self.directory.set_name(&bare, &name) {
                self.push_item(&bare, out);
            }
        }
        self.broadcast(conn, &body, out);
        if first {
            // everyone's current presence, as a roster-based initial presence would bring
            let to = self.sessions[&conn].full.clone(); // checked by handle_presence
            for other in self.sessions.values().filter(|o| o.conn != conn) {
                if let Some(p) = &other.presence {
                    out.push(Delivery { conn, to: to.clone(), body: p.clone() });
                }
            }
        }
        Ok(())
    }

    /// The session is no longer available (an unavailable presence, or its end).
    pub(super) fn go_unavailable(&mut self, conn: ConnId, out: &mut Vec<Delivery>) {
        let Some(s) = self.sessions.get_mut(&conn) else { return };
        if s.presence.take().is_none() {
            return;
        }
        let gone = Element::new("presence", NS_CLIENT).attr("from", &*s.full).attr("type", "unavailable");
        let bare = s.bare.clone();
        if !self.is_available(&bare, conn) {
            self.online -= 1;
        }
        self.broadcast(conn, &Arc::new(gone.prepare()), out);
    }

    /// `body` to every available session but `from`'s.
    fn broadcast(&self, from: ConnId, body: &Arc<proto::xml::Prepared>, out: &mut Vec<Delivery>) {
        for s in self.sessions.values().filter(|s| s.conn != from && s.presence.is_some()) {
            out.push(Delivery { conn: s.conn, to: s.full.clone(), body: body.clone() });
        }
    }

    /// The current presences of a person's available sessions, to `conn` (a probe).
    pub(super) fn send_presences_of(&self, bare: &str, conn: ConnId, out: &mut Vec<Delivery>) {
        let Some(to) = self.sessions.get(&conn).map(|s| s.full.clone()) else { return };
        for c in self.sessions_of(bare) {
            if let Some(p) = self.sessions.get(c).and_then(|s| s.presence.as_ref()) {
                out.push(Delivery { conn, to: to.clone(), body: p.clone() });
            }
        }
    }
}

/// A display name as given: trimmed; `None` when empty (the old one stays); refused when
/// longer than [`MAX_NAME`] characters or holding control characters.
pub fn display_name(raw: &str) -> Result<Option<String>, Refusal> {
    let name = raw.trim();
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(Refusal::new(
            stanza::NOT_ACCEPTABLE,
            "a display name is at most 100 characters, without control characters",
        ));
    }
    Ok((!name.is_empty()).then(|| name.to_string()))
}

/// The error answer to a person's stanza, to the session that sent it.
pub(super) fn push_refusal(conn: ConnId, to: &Arc<str>, stanza: &Element, r: &Refusal, out: &mut Vec<Delivery>) {
    if let Some(e) = r.reply_to(stanza) {
        out.push(Delivery::new(conn, to.clone(), &e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names() {
        assert_eq!(display_name("  Alice  ").unwrap().as_deref(), Some("Alice"));
        assert_eq!(display_name("   ").unwrap(), None);
        assert!(display_name("bad\u{7}name").is_err());
        assert!(display_name(&"x".repeat(101)).is_err());
        assert!(display_name(&"é".repeat(100)).is_ok(), "characters, not bytes");
    }
}
