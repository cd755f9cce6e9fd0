//! What moderators do to people (`signal/ROOMS.md` section 3): mute one person or everyone,
//! ask someone to unmute, remove a person (kept out for a while, unless allowed back). The
//! person alone clears a mute flag. Every request from a non-moderator is refused with
//! `forbidden` and changes nothing; components are never muted or removed by people.
//!
//! The removed list holds identities (account, token subject, browser key) that never leave
//! signal: moderators see an opaque id and a name.

use super::occupant::{Media, NS_MUC_USER};
use super::room::Room;
use crate::conn::Delivery;
use crate::stanza::{self, Refusal};
use proto::ns::ROOM as NS_ROOM;
use proto::xml::{Element, NS_CLIENT};
use std::time::Instant;

/// One person kept out of the room.
#[derive(Debug)]
pub struct Removed {
    /// Opaque id moderators use to allow the person back.
    pub id: String,
    key: String,
    pub name: String,
    pub reason: String,
    until: Instant,
}

#[derive(Debug, Default)]
pub struct RemovedList {
    entries: Vec<Removed>,
}

impl RemovedList {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn find(&self, key: &str, now: Instant) -> Option<&Removed> {
        self.entries.iter().find(|r| r.key == key && r.until > now)
    }

    fn add(&mut self, key: String, name: String, reason: String, until: Instant) {
        self.entries.retain(|r| r.key != key);
        let id = proto::secrets::random_hex(8).unwrap_or_else(|_| format!("r{}", self.entries.len()));
        self.entries.push(Removed { id, key, name, reason, until });
    }
}

/// `media="audio|video"` of a request.
fn media(q: &Element) -> Result<Media, Refusal> {
    Media::parse(q.get_attr("media")).ok_or(Refusal::new(stanza::BAD_REQUEST, "media must be audio or video"))
}

impl Room {
    /// Our room controls (IQ `set` to the room's bare JID, namespace `urn:meet-lan:room:0`).
    pub(super) fn handle_control(&mut self, real: &str, q: &Element, out: &mut Vec<Delivery>) -> Result<(), Refusal> {
        match q.name() {
            "mute" => self.mute_one(real, q, out),
            "mute-all" => self.mute_all(real, q, out),
            "ask-unmute" => self.ask_unmute(real, q, out),
            "unmute" => self.unmute_self(real, q, out),
            "allow" => self.allow(real, q, out),
            "lobby" => self.set_lobby(real, q, out),
            "admit" => self.admit(real, q, out),
            "deny" => self.deny(real, q, out),
            _ => Err(Refusal::new(stanza::FEATURE_NOT_IMPLEMENTED, "unknown room control")),
        }
    }

    /// A person `nick` a moderator acts on (components are not people).
    fn person_target(&self, q: &Element) -> Result<String, Refusal> {
        let nick = q.get_attr("nick").ok_or(Refusal::new(stanza::BAD_REQUEST, "nick is required"))?;
        let occ = self.occupants.get(nick).ok_or(Refusal::new(stanza::ITEM_NOT_FOUND, "no such occupant"))?;
        if !occ.is_person() {
            return Err(Refusal::new(stanza::NOT_ALLOWED, "the conference focus cannot be changed by people"));
        }
        Ok(nick.to_string())
    }

    fn set_mute(&mut self, nick: &str, media: Media, by: &str, out: &mut Vec<Delivery>) {
        let Some(occ) = self.occupants.get_mut(nick) else { return };
        let flag = match media {
            Media::Audio => &mut occ.muted.audio,
            Media::Video => &mut occ.muted.video,
        };
        if *flag && occ.muted.by == by {
            return;
        }
        *flag = true;
        occ.muted.by = by.to_string();
        self.rebroadcast(nick, out);
    }

    fn mute_one(&mut self, real: &str, q: &Element, out: &mut Vec<Delivery>) -> Result<(), Refusal> {
        let by = self.moderator(real, "mute others")?.nick.clone();
        let media = media(q)?;
        let nick = self.person_target(q)?;
        self.set_mute(&nick, media, &by, out);
        Ok(())
    }

    /// Everyone but the asking moderator (`include-self="true"`: everyone).
    fn mute_all(&mut self, real: &str, q: &Element, out: &mut Vec<Delivery>) -> Result<(), Refusal> {
        let by = self.moderator(real, "mute everyone")?.nick.clone();
        let media = media(q)?;
        let include_self = matches!(q.get_attr("include-self"), Some("true" | "1"));
        let mut nicks: Vec<(u64, String)> = self
            .occupants
            .values()
            .filter(|o| o.is_person() && (include_self || o.nick != by))
            .map(|o| (o.seq, o.nick.clone()))
            .collect();
        nicks.sort();
        for (_, nick) in nicks {
            self.set_mute(&nick, media, &by, out);
        }
        Ok(())
    }

    /// Sends the target `<ask-unmute/>` from the moderator's room JID; changes nothing.
    fn ask_unmute(&mut self, real: &str, q: &Element, out: &mut Vec<Delivery>) -> Result<(), Refusal> {
        let from = self.moderator(real, "ask others to unmute")?.room_jid.clone();
        let media = media(q)?;
        let nick = self.person_target(q)?;
        let target = self.occupants.get(&nick).expect("person_target found it");
        let msg = Element::new("message", NS_CLIENT)
            .attr("from", &*from)
            .attr("type", "headline")
            .child(Element::new("ask-unmute", NS_ROOM).attr("media", media.as_str()));
        out.push(Delivery::new(target.conn, target.real.clone(), &msg));
        Ok(())
    }

    /// Only the person clears their own flag; nobody unmutes anyone else.
    fn unmute_self(&mut self, real: &str, q: &Element, out: &mut Vec<Delivery>) -> Result<(), Refusal> {
        let media = media(q)?;
        let me = self.actor(real)?;
        if q.get_attr("nick").is_some_and(|n| n != me.nick) {
            return Err(Refusal::new(stanza::FORBIDDEN, "only the muted person may unmute; ask them with ask-unmute"));
        }
        let nick = me.nick.clone();
        let occ = self.occupants.get_mut(&nick).expect("actor is an occupant");
        let flag = match media {
            Media::Audio => &mut occ.muted.audio,
            Media::Video => &mut occ.muted.video,
        };
        if !*flag {
            return Ok(());
        }
        *flag = false;
        if !occ.muted.any() {
            occ.muted.by.clear();
        }
        self.rebroadcast(&nick, out);
        Ok(())
    }

    /// Removes a person: the XEP-0045 kick presence (307, actor, reason), and their identity
    /// stays out until the removal period ends or a moderator allows them back.
    pub(super) fn kick(
        &mut self,
        nick: &str,
        actor: &str,
        reason: Option<String>,
        now: Instant,
        out: &mut Vec<Delivery>,
    ) {
        let decorate = |x: &mut Element| {
            if let Some(item) = x.get_child_mut("item", NS_MUC_USER) {
                if !actor.is_empty() {
                    item.append_child(Element::new("actor", NS_MUC_USER).attr("nick", actor));
                }
                if let Some(r) = &reason {
                    item.append_child(Element::new("reason", NS_MUC_USER).text(r.clone()));
                }
            }
        };
        let Some(occ) = self.remove(nick, &["307"], &decorate, out) else { return };
        self.kicked.push(occ.nick.clone());
        if let Some(p) = &occ.person {
            let name = occ.display_name().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| occ.nick.clone());
            let until = now + self.policy.removal;
            self.removed.add(p.removal_key.clone(), name, reason.unwrap_or_default(), until);
            self.send_removed_list(out);
        }
        if occ.is_moderator() {
            self.reelect(None, out);
        }
    }

    /// Refuses a join (or a conference request) of a person on the removed list.
    pub fn removed_refusal(&self, key: &str, now: Instant) -> Option<Refusal> {
        let r = self.removed.find(key, now)?;
        let text = if r.reason.is_empty() {
            "you were removed from this room".to_string()
        } else {
            format!("you were removed from this room: {}", r.reason)
        };
        Some(Refusal::new(stanza::FORBIDDEN, text).room("removed"))
    }

    fn allow(&mut self, real: &str, q: &Element, out: &mut Vec<Delivery>) -> Result<(), Refusal> {
        self.moderator(real, "allow removed people back")?;
        let id = q.get_attr("id").ok_or(Refusal::new(stanza::BAD_REQUEST, "id is required"))?;
        let before = self.removed.entries.len();
        self.removed.entries.retain(|r| r.id != id);
        if self.removed.entries.len() == before {
            return Err(Refusal::new(stanza::ITEM_NOT_FOUND, "nobody with that id is removed"));
        }
        self.send_removed_list(out);
        Ok(())
    }

    /// `<removed xmlns="R"><person id name/>…</removed>`.
    pub(super) fn removed_element(&self) -> Element {
        let mut e = Element::new("removed", NS_ROOM);
        for r in &self.removed.entries {
            e.append_child(Element::new("person", NS_ROOM).attr("id", r.id.as_str()).attr("name", r.name.as_str()));
        }
        e
    }

    fn send_removed_list(&self, out: &mut Vec<Delivery>) {
        self.tell_moderators(self.removed_element(), out);
    }

    /// Ends removals whose time is up (moderators get the shorter list).
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Delivery>) {
        let before = self.removed.entries.len();
        self.removed.entries.retain(|r| r.until > now);
        if self.removed.entries.len() != before {
            self.send_removed_list(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::limits::SourceLimits;
    use super::super::room::{Join, JoinOutcome, Room};
    use crate::auth::{Identity, Policy, Session};
    use crate::conn::ConnId;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn join(room: &mut Room, conn: u64, nick: &str, now: Instant) -> JoinOutcome {
        let p = proto::xml::parse_element(&format!(
            "<presence xmlns='jabber:client' to='r@c/{nick}'><x xmlns='http://jabber.org/protocol/muc'>\
             <browser xmlns='urn:meet-lan:room:0' key='{:032x}'/></x></presence>",
            conn
        ))
        .unwrap();
        let session = Some(Arc::new(Session { identity: Identity::Guest, source: "127.0.0.1".parse().unwrap() }));
        let j =
            Join { conn: ConnId(conn), real: format!("u{conn}@meet.lan/r").into(), nick, presence: &p, session, now };
        room.handle_presence(j, &mut SourceLimits::default(), &mut Vec::new())
    }

    #[test]
    fn a_removal_lasts_the_removal_period_in_virtual_time() {
        let t0 = Instant::now();
        let mut room =
            Room::new("r@c".into(), "r".into(), Policy { removal: Duration::from_secs(600), ..Policy::default() });
        assert!(matches!(join(&mut room, 1, "m", t0), JoinOutcome::Joined));
        assert!(matches!(join(&mut room, 2, "g", t0), JoinOutcome::Joined));
        let mut out = Vec::new();
        room.kick("g", "m", Some("bye".into()), t0, &mut out);
        assert!(out.iter().any(|d| d.conn == ConnId(1) && d.body.name() == "message"), "the moderator gets the list");
        assert!(matches!(join(&mut room, 2, "g", t0 + Duration::from_secs(599)), JoinOutcome::Refused));

        let mut out = Vec::new();
        room.handle_timeout(t0 + Duration::from_secs(599), &mut out);
        assert!(out.is_empty(), "nothing ends early");
        room.handle_timeout(t0 + Duration::from_secs(600), &mut out);
        assert_eq!(out.len(), 1, "the moderator hears that the list is shorter");
        assert!(matches!(join(&mut room, 2, "g", t0 + Duration::from_secs(600)), JoinOutcome::Joined));
    }
}
