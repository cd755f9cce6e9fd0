//! One XEP-0045 room: its occupants, password and subject, and what each occupant action
//! (join, presence update, leave, groupchat, private message, IQ to the room or an occupant)
//! sends to whom. The rules of `signal/ROOMS.md` live beside it, one concept a file:
//! [`super::election`] (who is moderator), [`super::moderation`] (mute, remove, the removed
//! list), [`super::lobby`] (knocks), [`super::config`] (configuration form, password, room
//! state, destroy).
//!
//! Sans-IO: every method takes the time it needs and appends [`Delivery`]s; the hub writes
//! them. A broadcast is serialized once and shared by all its copies. It must never look up
//! anything outside the room (the service does addressing and access checks that span rooms)
//! and never trust a `muc#user` or room-namespace child a client put in its presence.

use super::limits::SourceLimits;
use super::lobby::Lobby;
use super::moderation::RemovedList;
use super::occupant::{Affiliation, Occupant, Person, Role, NS_MUC, NS_MUC_USER, NS_NICK};
use crate::auth::{constant_time_eq, Policy, Session};
use crate::conn::{ConnId, Delivery};
use crate::stanza::{self, Cond, Refusal};
use proto::ns::ROOM as NS_ROOM;
use proto::xml::{Element, NS_CLIENT};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

pub const NS_MUC_OWNER: &str = "http://jabber.org/protocol/muc#owner";
pub const NS_MUC_ADMIN: &str = "http://jabber.org/protocol/muc#admin";
pub const NS_DATA: &str = "jabber:x:data";

#[derive(Debug)]
pub struct Room {
    /// `room@conference.meet.lan`
    pub jid: Arc<str>,
    pub name: String,
    pub(super) policy: Policy,
    pub(super) occupants: HashMap<String, Occupant>,
    /// real JID → nick
    pub(super) by_real: HashMap<Arc<str>, String>,
    pub password: Option<String>,
    pub(super) subject: String,
    /// True until the first occupant joined (it gets status 201).
    pub(super) created: bool,
    /// A host has been an occupant since the room was created: guests may come in.
    pub hosted: bool,
    pub(super) next_seq: u64,
    pub(super) lobby: Lobby,
    pub(super) removed: RemovedList,
    /// Nicks removed by a moderator since the service last looked: their room tokens are
    /// revoked at the archive (`take_kicked`).
    pub(super) kicked: Vec<String>,
}

/// The answer to a join attempt, for the service's bookkeeping.
pub enum JoinOutcome {
    Joined,
    /// In the lobby, waiting for a moderator.
    Knocked,
    Updated,
    Refused,
}

/// An available presence to `room/nick` from someone not yet in the room.
pub struct Join<'a> {
    pub conn: ConnId,
    pub real: Arc<str>,
    pub nick: &'a str,
    pub presence: &'a Element,
    /// `None` for components.
    pub session: Option<Arc<Session>>,
    pub now: Instant,
}

impl Room {
    pub fn new(jid: Arc<str>, name: String, policy: Policy) -> Self {
        Room {
            jid,
            name,
            policy,
            occupants: HashMap::new(),
            by_real: HashMap::new(),
            password: None,
            subject: String::new(),
            created: true,
            hosted: false,
            next_seq: 0,
            lobby: Lobby::default(),
            removed: RemovedList::default(),
            kicked: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.occupants.is_empty()
    }

    pub fn len(&self) -> usize {
        self.occupants.len()
    }

    pub fn occupant(&self, nick: &str) -> Option<&Occupant> {
        self.occupants.get(nick)
    }

    pub fn occupant_by_real(&self, real: &str) -> Option<&Occupant> {
        self.by_real.get(real).and_then(|n| self.occupants.get(n))
    }

    /// Is any session of this bare JID an occupant?
    pub fn has_bare(&self, bare: &str) -> bool {
        self.by_real.keys().any(|r| r.split_once('/').map_or(&**r, |(b, _)| b) == bare)
    }

    /// People (not components) in the room.
    pub fn people(&self) -> usize {
        self.occupants.values().filter(|o| o.is_person()).count()
    }

    /// Open to join without asking: no password, no lobby.
    pub fn is_open(&self) -> bool {
        self.password.is_none() && !self.lobby.enabled
    }

    /// An occupant or a knocker.
    pub fn has_real(&self, real: &str) -> bool {
        self.by_real.contains_key(real) || self.lobby.knock_by_real(real).is_some()
    }

    pub fn occupant_jid(&self, nick: &str) -> String {
        format!("{}/{}", self.jid, nick)
    }

    pub(super) fn reply_err(
        out: &mut Vec<Delivery>,
        conn: ConnId,
        real: &Arc<str>,
        stanza: &Element,
        cond: Cond,
        text: Option<&str>,
    ) {
        if let Some(e) = stanza::error_reply(stanza, cond, text) {
            out.push(Delivery::new(conn, real.clone(), &e));
        }
    }

    pub(super) fn refuse(out: &mut Vec<Delivery>, conn: ConnId, real: &Arc<str>, stanza: &Element, r: &Refusal) {
        if let Some(e) = r.reply_to(stanza) {
            out.push(Delivery::new(conn, real.clone(), &e));
        }
    }

    /// The presence children an occupant shows: the join element and anything claiming
    /// roles, mute flags or room state (`muc#user`, our namespace) are dropped from people's
    /// presences; a token session's name and avatar are the token's.
    pub(super) fn payload(presence: &Element, session: Option<&Session>) -> Vec<Element> {
        let mut payload: Vec<Element> = presence
            .children()
            .filter(|c| !(c.ns() == NS_MUC || c.ns() == NS_MUC_USER))
            .filter(|c| session.is_none() || c.ns() != NS_ROOM)
            .cloned()
            .collect();
        if let Some(t) = session.and_then(|s| s.identity.token()) {
            if let Some(name) = &t.name {
                payload.retain(|c| !c.is("nick", NS_NICK));
                payload.push(Element::new("nick", NS_NICK).text(name.clone()));
            }
            if let Some(avatar) = &t.avatar {
                payload.push(Element::new("avatar", NS_ROOM).text(avatar.clone()));
            }
        }
        payload
    }

    /// Available presence from `real` to `room/nick`: a join (which may end in the lobby) or
    /// a presence update.
    pub fn handle_presence(&mut self, j: Join, limits: &mut SourceLimits, out: &mut Vec<Delivery>) -> JoinOutcome {
        let (conn, real, nick, presence) = (j.conn, j.real.clone(), j.nick, j.presence);
        if let Some(current) = self.by_real.get(&real).cloned() {
            let payload = {
                let occ = self.occupants.get(&current).expect("by_real and occupants hold the same nicks");
                Self::payload(presence, occ.person.as_ref().map(|p| &*p.session))
            };
            if current != nick {
                if self.occupants.contains_key(nick) || self.lobby.nick_taken(nick, &real) {
                    Self::reply_err(out, conn, &real, presence, stanza::CONFLICT, Some("that nickname is in use"));
                    return JoinOutcome::Refused;
                }
                self.change_nick(&current, nick, payload, out);
                return JoinOutcome::Updated;
            }
            let occ = self.occupants.get_mut(nick).expect("by_real and occupants hold the same nicks");
            occ.payload = payload;
            self.rebroadcast(nick, out);
            return JoinOutcome::Updated;
        }
        if self.occupants.contains_key(nick) || self.lobby.nick_taken(nick, &real) {
            Self::reply_err(out, conn, &real, presence, stanza::CONFLICT, Some("that nickname is in use"));
            return JoinOutcome::Refused;
        }
        let Some(session) = j.session.clone() else {
            // components (focus, bridges) are never held back
            self.enter(conn, real, nick, presence, None, out);
            return JoinOutcome::Joined;
        };
        let person = Person {
            removal_key: removal_key(&session, presence, &real),
            host: self.policy.is_host(&session.identity, &self.name),
            session,
        };
        if let Some(r) = self.removed_refusal(&person.removal_key, j.now) {
            Self::refuse(out, conn, &real, presence, &r);
            return JoinOutcome::Refused;
        }
        let password_ok = match self.check_password(&person, presence, limits, j.now) {
            Ok(ok) => ok,
            Err(r) => {
                Self::refuse(out, conn, &real, presence, &r);
                return JoinOutcome::Refused;
            }
        };
        let bypasses_lobby = password_ok || (self.password.is_none() && self.would_be_moderator(&person));
        if self.lobby.enabled && !bypasses_lobby {
            return self.knock(conn, real, nick, presence, person, limits, j.now, out);
        }
        if !password_ok && self.password.is_some() {
            let r = Refusal::new(stanza::NOT_AUTHORIZED, "this room needs a password").room("password-required");
            Self::refuse(out, conn, &real, presence, &r);
            return JoinOutcome::Refused;
        }
        self.enter(conn, real, nick, presence, Some(person), out);
        JoinOutcome::Joined
    }

    /// `Ok(true)`: the right password was given; `Ok(false)`: none given (or none needed);
    /// `Err`: a wrong one (counted) or too many wrong ones from this source.
    fn check_password(
        &self,
        person: &Person,
        presence: &Element,
        limits: &mut SourceLimits,
        now: Instant,
    ) -> Result<bool, Refusal> {
        let Some(pw) = &self.password else { return Ok(false) };
        let given =
            presence.get_child("x", NS_MUC).and_then(|x| x.get_child("password", NS_MUC)).map(|p| p.text_content());
        let Some(given) = given else { return Ok(false) };
        let source = person.session.source;
        if let Some(secs) = limits.password_blocked(source, now) {
            return Err(Refusal::new(stanza::POLICY_VIOLATION, "too many wrong passwords; try again later")
                .with(Element::new("retry-after", NS_ROOM).attr("seconds", secs.to_string())));
        }
        if constant_time_eq(given.as_bytes(), pw.as_bytes()) {
            return Ok(true);
        }
        limits.record_password_failure(source, now);
        Err(Refusal::new(stanza::NOT_AUTHORIZED, "wrong password").room("password-wrong"))
    }

    /// Completes a join: presences both ways, the self-presence, room state, subject; then a
    /// new moderator's lists. Used for direct joins and for admitted knocks alike.
    pub(super) fn enter(
        &mut self,
        conn: ConnId,
        real: Arc<str>,
        nick: &str,
        presence: &Element,
        person: Option<Person>,
        out: &mut Vec<Delivery>,
    ) {
        let payload = Self::payload(presence, person.as_ref().map(|p| &*p.session));
        let creator = self.occupants.is_empty() && self.created;
        self.created = false;
        let moderator = match &person {
            None => true,
            Some(p) => self.would_be_moderator(p),
        };
        if person.as_ref().is_some_and(|p| p.host) {
            self.hosted = true;
        }
        let is_person = person.is_some();
        let (aff, role) =
            if moderator { (Affiliation::Owner, Role::Moderator) } else { (Affiliation::None, Role::Participant) };
        let room_jid: Arc<str> = self.occupant_jid(nick).into();
        let seq = self.next_seq;
        self.next_seq += 1;
        let occ = Occupant::new(nick.to_string(), room_jid, real.clone(), conn, aff, role, payload, person, seq);
        // 1. everyone already here, to the joiner
        for o in self.occupants.values() {
            out.push(Delivery { conn, to: real.clone(), body: o.presence.clone() });
        }
        // 2. the joiner, to everyone already here (one serialization)
        for o in self.occupants.values() {
            out.push(Delivery { conn: o.conn, to: o.real.clone(), body: occ.presence.clone() });
        }
        // 3. the joiner's own presence: 110 self, 100 real JIDs visible, 201 created
        let mut codes = vec!["100", "110"];
        if creator {
            codes.push("201");
        }
        out.push(Delivery::new(conn, real.clone(), &occ.presence_element(None, &codes)));
        // 4. the room state (104 for other clients), then the subject: clients wait for it
        out.push(Delivery::new(conn, real.clone(), &self.room_state_message()));
        let mut subject = Element::new("message", NS_CLIENT).attr("from", &*self.jid).attr("type", "groupchat");
        subject.set_attr("id", format!("subject-{}", self.occupants.len()));
        subject.append_child(Element::new("subject", NS_CLIENT).text(self.subject.clone()));
        out.push(Delivery::new(conn, real.clone(), &subject));
        self.by_real.insert(real.clone(), nick.to_string());
        self.occupants.insert(nick.to_string(), occ);
        if self.lobby.remove_by_real(&real).is_some() {
            self.tell_moderators_knock_gone(nick, "admitted", out);
        }
        if moderator && is_person {
            self.send_moderator_lists(nick, out);
        }
    }

    /// XEP-0045 §7.6: unavailable from the old nick with 303 and the new nick, then available
    /// from the new nick (110 in both for the occupant itself).
    fn change_nick(&mut self, old: &str, new: &str, payload: Vec<Element>, out: &mut Vec<Delivery>) {
        let Some(mut occ) = self.occupants.remove(old) else { return };
        let mark = |mut p: Element, codes: &[&str]| {
            if let Some(x) = p.get_child_mut("x", NS_MUC_USER) {
                if let Some(item) = x.get_child_mut("item", NS_MUC_USER) {
                    item.set_attr("nick", new);
                }
                for c in codes {
                    x.append_child(Element::new("status", NS_MUC_USER).attr("code", *c));
                }
            }
            p
        };
        let gone_others = Arc::new(mark(occ.presence_element(Some("unavailable"), &[]), &["303"]).prepare());
        let gone_self = mark(occ.presence_element(Some("unavailable"), &[]), &["303", "110"]);
        occ.nick = new.to_string();
        occ.room_jid = self.occupant_jid(new).into();
        occ.payload = payload;
        occ.refresh();
        for o in self.occupants.values() {
            out.push(Delivery { conn: o.conn, to: o.real.clone(), body: gone_others.clone() });
            out.push(Delivery { conn: o.conn, to: o.real.clone(), body: occ.presence.clone() });
        }
        out.push(Delivery::new(occ.conn, occ.real.clone(), &gone_self));
        out.push(Delivery::new(occ.conn, occ.real.clone(), &occ.presence_element(None, &["110"])));
        self.by_real.insert(occ.real.clone(), new.to_string());
        self.occupants.insert(new.to_string(), occ);
    }

    /// Removes `nick`, telling it (with `self_codes` + 110) and the others (with `codes`).
    /// `decorate` adds to the `<x/>` of every copy (actor, reason, `<destroy/>`).
    pub(super) fn remove(
        &mut self,
        nick: &str,
        codes: &[&str],
        decorate: &dyn Fn(&mut Element),
        out: &mut Vec<Delivery>,
    ) -> Option<Occupant> {
        let occ = self.occupants.remove(nick)?;
        self.by_real.remove(&occ.real);
        let mut others = occ.presence_element(Some("unavailable"), codes);
        let mut self_codes: Vec<&str> = codes.to_vec();
        self_codes.push("110");
        let mut mine = occ.presence_element(Some("unavailable"), &self_codes);
        for p in [&mut others, &mut mine] {
            if let Some(x) = p.get_child_mut("x", NS_MUC_USER) {
                decorate(x);
            }
        }
        let body = Arc::new(others.prepare());
        for o in self.occupants.values() {
            out.push(Delivery { conn: o.conn, to: o.real.clone(), body: body.clone() });
        }
        out.push(Delivery::new(occ.conn, occ.real.clone(), &mine));
        Some(occ)
    }

    /// Unavailable presence (or a presence error, or a lost connection) of the occupant.
    pub fn leave(&mut self, nick: &str, out: &mut Vec<Delivery>) -> Option<Occupant> {
        let occ = self.remove(nick, &[], &|_| {}, out)?;
        if occ.is_moderator() && occ.is_person() {
            self.reelect(None, out);
        }
        Some(occ)
    }

    /// Sends `nick`'s current presence to everyone (110 to itself) after a change.
    pub(super) fn rebroadcast(&mut self, nick: &str, out: &mut Vec<Delivery>) {
        let Some(occ) = self.occupants.get_mut(nick) else { return };
        occ.refresh();
        let body = occ.presence.clone();
        let mine = occ.presence_element(None, &["110"]);
        let (c, r) = (occ.conn, occ.real.clone());
        for o in self.occupants.values() {
            if o.nick != nick {
                out.push(Delivery { conn: o.conn, to: o.real.clone(), body: body.clone() });
            }
        }
        out.push(Delivery::new(c, r, &mine));
    }

    /// A message of ours from the room's bare JID, to every person who is moderator.
    pub(super) fn tell_moderators(&self, payload: Element, out: &mut Vec<Delivery>) {
        let msg = Arc::new(self.headline(payload).prepare());
        for o in self.occupants.values().filter(|o| o.is_moderator() && o.is_person()) {
            out.push(Delivery { conn: o.conn, to: o.real.clone(), body: msg.clone() });
        }
    }

    /// `<message type="headline" from="room">payload</message>`.
    pub(super) fn headline(&self, payload: Element) -> Element {
        Element::new("message", NS_CLIENT).attr("from", &*self.jid).attr("type", "headline").child(payload)
    }

    /// Groupchat message from occupant `real`: broadcast to all with `from=room/nick`.
    pub fn handle_groupchat(&mut self, conn: ConnId, real: Arc<str>, mut msg: Element, out: &mut Vec<Delivery>) {
        let Some(nick) = self.by_real.get(&real).cloned() else {
            Self::reply_err(
                out,
                conn,
                &real,
                &msg,
                stanza::NOT_ACCEPTABLE,
                Some("only occupants may send to the room"),
            );
            return;
        };
        let occ = self.occupants.get(&nick).expect("by_real and occupants hold the same nicks");
        if occ.role == Role::Visitor {
            Self::reply_err(out, conn, &real, &msg, stanza::FORBIDDEN, Some("visitors may not speak"));
            return;
        }
        if let Some(s) = msg.get_child("subject", NS_CLIENT) {
            if occ.role != Role::Moderator {
                Self::reply_err(
                    out,
                    conn,
                    &real,
                    &msg,
                    stanza::FORBIDDEN,
                    Some("only moderators may change the subject"),
                );
                return;
            }
            self.subject = s.text_content();
        }
        // our namespace is written by signal only
        msg.remove_children(|c| c.ns() == NS_ROOM || c.ns() == NS_MUC_USER);
        msg.remove_attr("to");
        msg.set_attr("from", &*occ.room_jid);
        let body = Arc::new(msg.prepare());
        for o in self.occupants.values() {
            out.push(Delivery { conn: o.conn, to: o.real.clone(), body: body.clone() });
        }
    }

    /// A message or IQ from `real` to occupant `nick`: forwarded to the target's real JID
    /// with `from` = the sender's room JID. IQ answers take the same path back.
    pub fn handle_to_occupant(
        &mut self,
        conn: ConnId,
        real: Arc<str>,
        nick: &str,
        mut stanza: Element,
        out: &mut Vec<Delivery>,
    ) {
        let Some(sender) = self.by_real.get(&real).and_then(|n| self.occupants.get(n)) else {
            if stanza.name() == "iq" && !stanza::is_iq_request(&stanza) {
                return;
            }
            Self::reply_err(
                out,
                conn,
                &real,
                &stanza,
                stanza::NOT_ACCEPTABLE,
                Some("only occupants may address occupants"),
            );
            return;
        };
        let Some(target) = self.occupants.get(nick) else {
            Self::reply_err(out, conn, &real, &stanza, stanza::ITEM_NOT_FOUND, Some("no such occupant"));
            return;
        };
        if stanza.name() == "message" && stanza.get_attr("type") == Some("groupchat") {
            Self::reply_err(out, conn, &real, &stanza, stanza::BAD_REQUEST, Some("groupchat goes to the room"));
            return;
        }
        if stanza.name() == "message" && sender.is_person() {
            // an ask-unmute or a lobby answer comes from signal, never from a person
            stanza.remove_children(|c| c.ns() == NS_ROOM);
        }
        stanza.set_attr("from", &*sender.room_jid);
        stanza.remove_attr("to");
        out.push(Delivery::new(target.conn, target.real.clone(), &stanza));
    }

    /// IQs to the room itself: disco, ping, muc#owner (configuration, destroy), muc#admin
    /// (roles: grant, demote, remove) and our room controls. Returns true when the room was
    /// destroyed.
    pub fn handle_room_iq(
        &mut self,
        conn: ConnId,
        real: Arc<str>,
        iq: &Element,
        now: Instant,
        out: &mut Vec<Delivery>,
    ) -> bool {
        let Some(q) = iq.first_child() else {
            Self::reply_err(out, conn, &real, iq, stanza::BAD_REQUEST, None);
            return false;
        };
        let ty = iq.get_attr("type").unwrap_or("");
        let reply_ok = |out: &mut Vec<Delivery>, payload: Option<Element>| {
            out.push(Delivery::new(conn, real.clone(), &proto::bus::iq_result(iq, payload)));
        };
        let result = match (ty, q.name(), q.ns()) {
            ("get", "query", super::NS_DISCO_INFO) => {
                reply_ok(out, Some(self.disco_info()));
                return false;
            }
            ("get", "query", super::NS_DISCO_ITEMS) => {
                reply_ok(out, Some(Element::new("query", q.ns())));
                return false;
            }
            ("get", "ping", "urn:xmpp:ping") => {
                reply_ok(out, None);
                return false;
            }
            (_, "query", NS_MUC_OWNER) => match self.handle_owner(&real, ty, q, out) {
                Ok(super::config::OwnerOutcome::Form(form)) => {
                    reply_ok(out, Some(Element::new("query", NS_MUC_OWNER).child(form)));
                    return false;
                }
                Ok(super::config::OwnerOutcome::Destroy(d)) => {
                    reply_ok(out, None);
                    self.destroy(&d, out);
                    return true;
                }
                Ok(super::config::OwnerOutcome::Done) => Ok(()),
                Err(r) => Err(r),
            },
            ("set", "query", NS_MUC_ADMIN) => self.handle_admin(&real, q, now, out),
            ("set", _, NS_ROOM) => self.handle_control(&real, q, out),
            _ => {
                if stanza::is_iq_request(iq) {
                    Self::reply_err(out, conn, &real, iq, stanza::SERVICE_UNAVAILABLE, None);
                }
                return false;
            }
        };
        match result {
            Ok(()) => reply_ok(out, None),
            Err(r) => Self::refuse(out, conn, &real, iq, &r),
        }
        false
    }

    fn disco_info(&self) -> Element {
        let ns = super::NS_DISCO_INFO;
        let mut r = Element::new("query", ns).child(
            Element::new("identity", ns).attr("category", "conference").attr("type", "text").attr("name", &self.name),
        );
        let pw = if self.password.is_some() { "muc_passwordprotected" } else { "muc_unsecured" };
        for f in [ns, NS_MUC, "muc_public", "muc_open", "muc_nonanonymous", "muc_temporary", pw, NS_ROOM] {
            r.append_child(Element::new("feature", ns).attr("var", f));
        }
        r
    }

    /// The occupant sending a request, with what it may do.
    pub(super) fn actor(&self, real: &str) -> Result<&Occupant, Refusal> {
        self.occupant_by_real(real).ok_or_else(|| Refusal::new(stanza::NOT_ACCEPTABLE, "not an occupant of this room"))
    }

    /// The occupant sending a request, when it is a moderator.
    pub(super) fn moderator(&self, real: &str, what: &str) -> Result<&Occupant, Refusal> {
        let me = self.actor(real)?;
        if !me.is_moderator() {
            return Err(Refusal::new(stanza::FORBIDDEN, format!("only moderators may {what}")));
        }
        Ok(me)
    }

    /// All occupants (for the service's cleanup when a connection goes away).
    pub fn occupants(&self) -> impl Iterator<Item = &Occupant> {
        self.occupants.values()
    }
}

/// Who is kept out when this person is removed: their account or token subject; for a
/// guest the browser key sent at join (`<browser xmlns="urn:meet-lan:room:0" key="…"/>`
/// inside the MUC `<x/>`), else the session's bare JID.
fn removal_key(session: &Session, presence: &Element, real: &str) -> String {
    if let Some(k) = session.identity.removal_key() {
        return k;
    }
    match presence.get_child("x", NS_MUC).and_then(|x| x.get_child("browser", NS_ROOM)).and_then(|b| b.get_attr("key"))
    {
        Some(k) if browser_key_valid(k) => format!("browser:{}", k.to_ascii_lowercase()),
        _ => format!("jid:{}", real.split('/').next().unwrap_or(real)),
    }
}

/// 32 hex digits (128 random bits the page keeps).
pub fn browser_key_valid(k: &str) -> bool {
    k.len() == 32 && k.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Identity;

    fn join(room: &mut Room, conn: u64, nick: &str) -> Vec<Delivery> {
        let mut out = Vec::new();
        let p = proto::xml::parse_element(&format!(
            "<presence xmlns='jabber:client' to='r@c/{nick}'><x xmlns='http://jabber.org/protocol/muc'/></presence>"
        ))
        .unwrap();
        let real: Arc<str> = format!("u{conn}@meet.lan/r").into();
        let session = Some(Arc::new(Session { identity: Identity::Guest, source: "127.0.0.1".parse().unwrap() }));
        let j = Join { conn: ConnId(conn), real, nick, presence: &p, session, now: Instant::now() };
        assert!(matches!(room.handle_presence(j, &mut SourceLimits::default(), &mut out), JoinOutcome::Joined));
        out
    }

    #[test]
    fn a_join_is_serialized_once_for_all_and_cached_presences_are_reused() {
        let mut room = Room::new("r@c".into(), "r".into(), Policy::default());
        for i in 0..10 {
            join(&mut room, i, &format!("n{i}"));
        }
        let out = join(&mut room, 10, "n10");
        // 10 presences to the joiner, 10 copies of the joiner's presence, self, room state, subject
        assert_eq!(out.len(), 23);
        let to_others: Vec<&Delivery> = out.iter().filter(|d| d.conn != ConnId(10)).collect();
        assert_eq!(to_others.len(), 10);
        assert!(to_others.iter().all(|d| Arc::ptr_eq(&d.body, &to_others[0].body)), "one body for every copy");
        let joiner = room.occupant("n10").unwrap();
        assert!(Arc::ptr_eq(&to_others[0].body, &joiner.presence));
        let to_joiner: Vec<&Delivery> = out.iter().filter(|d| d.conn == ConnId(10)).take(10).collect();
        for d in to_joiner {
            let nick = room.occupants().find(|o| Arc::ptr_eq(&o.presence, &d.body)).map(|o| o.nick.clone());
            assert!(nick.is_some(), "existing occupants' cached presences are sent as they are");
        }
    }

    #[test]
    fn leaving_tells_everyone_and_the_last_leave_empties_the_room() {
        let mut room = Room::new("r@c".into(), "r".into(), Policy::default());
        join(&mut room, 1, "a");
        join(&mut room, 2, "b");
        let mut out = Vec::new();
        assert!(room.leave("b", &mut out).is_some());
        assert_eq!(out.len(), 2);
        assert!(room.leave("b", &mut out).is_none());
        room.leave("a", &mut out);
        assert!(room.is_empty());
    }

    #[test]
    fn the_longest_present_person_is_elected_when_the_moderator_leaves() {
        let mut room = Room::new("r@c".into(), "r".into(), Policy::default());
        join(&mut room, 1, "a");
        join(&mut room, 2, "b");
        join(&mut room, 3, "c");
        assert!(room.occupant("a").unwrap().is_moderator());
        assert!(!room.occupant("b").unwrap().is_moderator());
        room.leave("a", &mut Vec::new());
        assert!(room.occupant("b").unwrap().is_moderator());
        assert!(!room.occupant("c").unwrap().is_moderator());
    }
}
