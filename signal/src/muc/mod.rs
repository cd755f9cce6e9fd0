//! The XEP-0045 rooms service of one MUC domain (`conference.<domain>` for people,
//! `internal.<domain>` where bridges announce themselves to focus).
//!
//! The service addresses rooms, creates them on first join and drops them after the last
//! leave, answers service-level IQs (disco, ping, the room-token request of CLIENT_FLOW step
//! 6) and forgets a connection's occupants and knocks when it goes away. It holds the gate
//! of `signal/ROOMS.md` section 1 (in `accounts` and `token` modes only hosts get a room
//! going; a token session stays in its token's rooms) and the per-source limits shared by
//! all rooms. Sans-IO like [`room::Room`]: stanzas and time in, [`Delivery`]s out. It must
//! never trust a `from` it was not given by the hub, and a refused join creates nothing.

pub mod config;
pub mod election;
pub mod limits;
pub mod lobby;
pub mod moderation;
pub mod occupant;
pub mod room;

use crate::auth::{Policy, Session};
use crate::conn::{ConnId, Delivery};
use crate::jid::Jid;
use crate::stanza::{self, Refusal};
use limits::SourceLimits;
use proto::xml::Element;
use room::{Join, JoinOutcome, Room};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

pub const NS_DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
pub const NS_DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";

/// Rooms one client connection may be in at once.
pub const MAX_ROOMS_PER_CLIENT: usize = 16;

/// Who may use a MUC service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any client or component (the public rooms service).
    Everyone,
    /// Components only (the internal service: a browser must not pose as a bridge).
    ComponentsOnly,
}

/// Who sent a stanza to the service, as the hub knows it.
pub struct Sender {
    pub conn: ConnId,
    /// `None` for components.
    pub session: Option<Arc<Session>>,
    pub now: Instant,
}

pub struct MucService {
    domain: String,
    access: Access,
    policy: Policy,
    limits: SourceLimits,

    rooms: HashMap<String, Room>,
    /// Which rooms each connection has occupants in, for cleanup.
    by_conn: HashMap<ConnId, HashSet<String>>,
    /// Signing key for room tokens; `None` on services that do not issue them.
    token_secret: Option<Vec<u8>>,
    occupants: usize,
    /// (room, nick) a moderator removed, for the hub to tell the archive (`take_kicked`).
    kicked: Vec<(String, String)>,
}

/// Most rooms `<rooms xmlns="urn:meet-lan:people:0"/>` lists.
pub const MAX_OPEN_ROOMS: usize = 200;

impl MucService {
    pub fn new(domain: String, access: Access, token_secret: Option<Vec<u8>>, policy: Policy) -> Self {
        MucService {
            domain,
            access,
            policy,
            limits: SourceLimits::default(),
            rooms: HashMap::new(),
            by_conn: HashMap::new(),
            token_secret,
            occupants: 0,
            kicked: Vec::new(),
        }
    }

    /// Is any session of `bare` an occupant of room `room_name` now?
    pub fn has_person(&self, room_name: &str, bare: &str) -> bool {
        self.rooms.get(room_name).is_some_and(|r| r.has_bare(bare))
    }

    /// The (room, nick) pairs moderators removed since the last call.
    pub fn take_kicked(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.kicked)
    }

    /// Wrong room passwords so far (`signal_room_password_failures_total`).
    pub fn password_failures(&self) -> u64 {
        self.limits.password_failures_total
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    pub fn occupant_count(&self) -> usize {
        self.occupants
    }

    /// A stanza addressed to this service's domain. `from` is the sender's authoritative JID
    /// (the hub has checked or rewritten it).
    pub fn handle_stanza(&mut self, sender: &Sender, from: &Jid, stanza: Element, out: &mut Vec<Delivery>) {
        // Occupant counts move only in the one room the stanza addresses.
        let room_name =
            stanza.get_attr("to").and_then(|t| Jid::parse(t).ok()).and_then(|j| j.local().map(str::to_string));
        let len = |me: &Self| room_name.as_ref().and_then(|n| me.rooms.get(n)).map(Room::len).unwrap_or(0);
        let before = len(self);
        self.handle_stanza_inner(sender, from, stanza, out);
        let after = len(self);
        self.occupants = (self.occupants + after).saturating_sub(before);
    }

    fn handle_stanza_inner(&mut self, sender: &Sender, from: &Jid, stanza: Element, out: &mut Vec<Delivery>) {
        let (conn, is_component) = (sender.conn, sender.session.is_none());
        let real: Arc<str> = from.to_string().into();
        if self.access == Access::ComponentsOnly && !is_component {
            if let Some(e) =
                stanza::error_reply(&stanza, stanza::FORBIDDEN, Some("this service is for components only"))
            {
                out.push(Delivery::new(conn, real, &e));
            }
            return;
        }
        let to = match stanza.get_attr("to").map(Jid::parse) {
            Some(Ok(j)) => j,
            _ => return,
        };
        let Some(room_name) = to.local().map(str::to_string) else {
            self.handle_service(conn, real, &stanza, out);
            return;
        };
        match (stanza.name(), to.resource()) {
            ("presence", Some(nick)) => self.handle_presence(sender, real, &room_name, nick, stanza, out),
            ("presence", None) => {
                if let Some(e) =
                    stanza::error_reply(&stanza, stanza::JID_MALFORMED, Some("join with room@service/nick"))
                {
                    out.push(Delivery::new(conn, real, &e));
                }
            }
            (_, nick) => {
                let Some(room) = self.rooms.get_mut(&room_name) else {
                    if stanza.name() != "iq" || stanza::is_iq_request(&stanza) {
                        if let Some(e) = stanza::error_reply(&stanza, stanza::ITEM_NOT_FOUND, Some("no such room")) {
                            out.push(Delivery::new(conn, real, &e));
                        }
                    }
                    return;
                };
                match (stanza.name(), nick) {
                    ("message", None) if stanza.get_attr("type") == Some("groupchat") => {
                        room.handle_groupchat(conn, real, stanza, out)
                    }
                    ("message", None) => {
                        if let Some(e) = stanza::error_reply(
                            &stanza,
                            stanza::NOT_ACCEPTABLE,
                            Some("only groupchat messages go to the room"),
                        ) {
                            out.push(Delivery::new(conn, real, &e));
                        }
                    }
                    ("iq", None) if room.handle_room_iq(conn, real.clone(), &stanza, sender.now, out) => {
                        self.rooms.remove(&room_name);
                    }
                    ("iq", None) => {}
                    (_, Some(nick)) => room.handle_to_occupant(conn, real, nick, stanza, out),
                    _ => {}
                }
                self.sync_after(&room_name, out);
            }
        }
    }

    fn handle_presence(
        &mut self,
        sender: &Sender,
        real: Arc<str>,
        room_name: &str,
        nick: &str,
        presence: Element,
        out: &mut Vec<Delivery>,
    ) {
        let (conn, is_component) = (sender.conn, sender.session.is_none());
        match presence.get_attr("type") {
            None => {
                if !is_component && !self.may_join_another(conn, &real, room_name) {
                    if let Some(e) =
                        stanza::error_reply(&presence, stanza::RESOURCE_CONSTRAINT, Some("in too many rooms at once"))
                    {
                        out.push(Delivery::new(conn, real, &e));
                    }
                    return;
                }
                if proto::RoomName::new(room_name).is_err() {
                    if let Some(e) = stanza::error_reply(
                        &presence,
                        stanza::JID_MALFORMED,
                        Some("room names are lowercase letters, digits, - _ ."),
                    ) {
                        out.push(Delivery::new(conn, real, &e));
                    }
                    return;
                }
                let known = self.rooms.get(room_name).is_some_and(|r| r.has_real(&real));
                if let (Some(session), false) = (&sender.session, known) {
                    if let Err(r) = self.gate(session, room_name) {
                        if let Some(e) = r.reply_to(&presence) {
                            out.push(Delivery::new(conn, real, &e));
                        }
                        return;
                    }
                }
                let jid: Arc<str> = format!("{room_name}@{}", self.domain).into();
                let policy = self.policy;
                let room = self
                    .rooms
                    .entry(room_name.to_string())
                    .or_insert_with(|| Room::new(jid, room_name.to_string(), policy));
                let j =
                    Join { conn, real, nick, presence: &presence, session: sender.session.clone(), now: sender.now };
                match room.handle_presence(j, &mut self.limits, out) {
                    JoinOutcome::Joined | JoinOutcome::Knocked => {
                        self.by_conn.entry(conn).or_default().insert(room_name.to_string());
                    }
                    JoinOutcome::Updated => {}
                    JoinOutcome::Refused => self.sync_after(room_name, out),
                }
            }
            Some("unavailable") | Some("error") => {
                let Some(room) = self.rooms.get_mut(room_name) else { return };
                match room.occupant_by_real(&real).map(|o| o.nick.clone()) {
                    Some(my_nick) => {
                        room.leave(&my_nick, out);
                    }
                    None => {
                        room.knock_left(&real, out);
                    }
                }
                self.sync_after(room_name, out);
            }
            _ => {}
        }
    }

    /// Section 1 of ROOMS.md for a person's new join: a token session only in its token's
    /// rooms (`token` mode); in `accounts` and `token` modes a non-host only into a room a
    /// host has been in.
    fn gate(&self, session: &Session, room_name: &str) -> Result<(), Refusal> {
        if self.policy.token_room_refused(&session.identity, room_name) {
            return Err(
                Refusal::new(stanza::NOT_AUTHORIZED, "your token does not let you into this room").room("token-room")
            );
        }
        let hosted = self.rooms.get(room_name).is_some_and(|r| r.hosted);
        if self.policy.gated() && !hosted && !self.policy.is_host(&session.identity, room_name) {
            return Err(
                Refusal::new(stanza::NOT_AUTHORIZED, "this room is waiting for a signed-in host").room("host-required")
            );
        }
        Ok(())
    }

    /// The conference request a client sends focus (`room` attribute: `room@<this service>`
    /// or a bare name), checked before it is routed: the gate, and the removed list.
    /// Requests naming no room of this service pass (focus answers them).
    pub fn conference_gate(&self, session: &Session, q: &Element, now: Instant) -> Result<(), Refusal> {
        let attr = q.get_attr("room").unwrap_or("");
        let local = match attr.split_once('@') {
            Some((l, d)) if d.eq_ignore_ascii_case(&self.domain) => l,
            Some(_) => return Ok(()),
            None => attr,
        };
        let Ok(name) = proto::RoomName::normalize(local) else { return Ok(()) };
        self.gate(session, name.as_str())?;
        let Some(room) = self.rooms.get(name.as_str()) else { return Ok(()) };
        // a guest's browser key: Jitsi's `machine-uid` attribute, or our `<browser key/>`
        let key = session.identity.removal_key().or_else(|| {
            q.get_attr("machine-uid")
                .or_else(|| q.get_child("browser", proto::ns::ROOM).and_then(|b| b.get_attr("key")))
                .filter(|k| room::browser_key_valid(k))
                .map(|k| format!("browser:{}", k.to_ascii_lowercase()))
        });
        match key.and_then(|k| room.removed_refusal(&k, now)) {
            Some(r) => Err(r),
            None => Ok(()),
        }
    }

    /// Time passes: removals end, limit windows are pruned.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Delivery>) {
        self.limits.handle_timeout(now);
        for room in self.rooms.values_mut() {
            room.handle_timeout(now, out);
        }
    }

    /// A client may be in at most [`MAX_ROOMS_PER_CLIENT`] rooms (components are not limited:
    /// focus joins every conference). Forgets rooms the connection has left meanwhile.
    fn may_join_another(&mut self, conn: ConnId, real: &str, room_name: &str) -> bool {
        let Some(mine) = self.by_conn.get_mut(&conn) else { return true };
        if mine.contains(room_name) {
            return true;
        }
        let rooms = &self.rooms;
        mine.retain(|r| rooms.get(r).is_some_and(|room| room.has_real(real)));
        mine.len() < MAX_ROOMS_PER_CLIENT
    }

    /// Keeps the counts and the per-connection index right after a room changed; drops the
    /// room when it is empty (rooms are destroyed after the last leave).
    fn sync_after(&mut self, room_name: &str, out: &mut Vec<Delivery>) {
        if let Some(room) = self.rooms.get_mut(room_name) {
            self.kicked.extend(room.kicked.drain(..).map(|n| (room_name.to_string(), n)));
        }
        if self.rooms.get(room_name).is_some_and(Room::is_empty) {
            if let Some(mut room) = self.rooms.remove(room_name) {
                room.end_knocks(out);
            }
        }
    }

    /// The connection went away: its occupants leave every room they were in.
    pub fn handle_conn_gone(&mut self, conn: ConnId, out: &mut Vec<Delivery>) {
        let Some(rooms) = self.by_conn.remove(&conn) else { return };
        for name in rooms {
            let Some(room) = self.rooms.get_mut(&name) else { continue };
            room.knocks_of_conn_left(conn, out);
            let nicks: Vec<String> = room.occupants().filter(|o| o.conn == conn).map(|o| o.nick.clone()).collect();
            for n in nicks {
                if room.leave(&n, out).is_some() {
                    self.occupants = self.occupants.saturating_sub(1);
                }
            }
            self.sync_after(&name, out);
        }
    }

    /// IQs to the service itself (`conference.<domain>`).
    fn handle_service(&mut self, conn: ConnId, real: Arc<str>, stanza: &Element, out: &mut Vec<Delivery>) {
        if stanza.name() != "iq" {
            return;
        }
        let ty = stanza.get_attr("type").unwrap_or("");
        let Some(q) = stanza.first_child() else {
            if stanza::is_iq_request(stanza) {
                if let Some(e) = stanza::error_reply(stanza, stanza::BAD_REQUEST, None) {
                    out.push(Delivery::new(conn, real, &e));
                }
            }
            return;
        };
        let ok = |payload: Option<Element>| proto::bus::iq_result(stanza, payload);
        let reply = match (ty, q.name(), q.ns()) {
            ("get", "query", NS_DISCO_INFO) => {
                let mut r = Element::new("query", NS_DISCO_INFO).child(
                    Element::new("identity", NS_DISCO_INFO)
                        .attr("category", "conference")
                        .attr("type", "text")
                        .attr("name", "Rooms"),
                );
                let mut features = vec![NS_DISCO_INFO, NS_DISCO_ITEMS, occupant::NS_MUC, "urn:xmpp:ping"];
                if self.token_secret.is_some() {
                    features.push(proto::ns::TOKEN);
                }
                for f in features {
                    r.append_child(Element::new("feature", NS_DISCO_INFO).attr("var", f));
                }
                ok(Some(r))
            }
            ("get", "query", NS_DISCO_ITEMS) => {
                let mut r = Element::new("query", NS_DISCO_ITEMS);
                let mut names: Vec<&String> = self.rooms.keys().collect();
                names.sort();
                for name in names.into_iter().take(1000) {
                    r.append_child(
                        Element::new("item", NS_DISCO_ITEMS)
                            .attr("jid", format!("{name}@{}", self.domain))
                            .attr("name", name.as_str()),
                    );
                }
                ok(Some(r))
            }
            ("get", "ping", "urn:xmpp:ping") => ok(None),
            ("get", "rooms", proto::ns::PEOPLE) => ok(Some(self.open_rooms())),
            ("get", "token", proto::ns::TOKEN) if self.token_secret.is_some() => match self.room_token(&real, q) {
                Ok(t) => ok(Some(Element::new("token", proto::ns::TOKEN).text(t))),
                Err((cond, text)) => match stanza::error_reply(stanza, cond, Some(text)) {
                    Some(e) => e,
                    None => return,
                },
            },
            _ if stanza::is_iq_request(stanza) => {
                match stanza::error_reply(stanza, stanza::SERVICE_UNAVAILABLE, None) {
                    Some(e) => e,
                    None => return,
                }
            }
            _ => return,
        };
        out.push(Delivery::new(conn, real, &reply));
    }

    /// `<rooms xmlns="urn:meet-lan:people:0">`: rooms with people in them that anyone may
    /// join without asking (no password, no lobby), by name, at most [`MAX_OPEN_ROOMS`]. Call
    /// rooms (`call-` + 32 hex) are never listed, even before their password is set.
    fn open_rooms(&self) -> Element {
        let mut open: Vec<(&String, usize)> = self
            .rooms
            .iter()
            .filter(|(name, r)| r.is_open() && !crate::people::calls::call_room_valid(name))
            .map(|(name, r)| (name, r.people()))
            .filter(|(_, n)| *n > 0)
            .collect();
        open.sort();
        let mut e = Element::new("rooms", proto::ns::PEOPLE);
        for (name, n) in open.into_iter().take(MAX_OPEN_ROOMS) {
            e.append_child(
                Element::new("room", proto::ns::PEOPLE).attr("name", name.as_str()).attr("people", n.to_string()),
            );
        }
        e
    }

    /// A room token for a current occupant of the named room (CLIENT_FLOW step 6).
    fn room_token(&self, real: &str, q: &Element) -> Result<String, (stanza::Cond, &'static str)> {
        let secret = self.token_secret.as_deref().ok_or((stanza::SERVICE_UNAVAILABLE, "no tokens here"))?;
        let room_name = q.get_attr("room").ok_or((stanza::BAD_REQUEST, "missing room attribute"))?;
        let room_name = proto::RoomName::normalize(room_name).map_err(|_| (stanza::BAD_REQUEST, "bad room name"))?;
        let occ = self
            .rooms
            .get(room_name.as_str())
            .and_then(|r| r.occupant_by_real(real))
            .ok_or((stanza::FORBIDDEN, "only occupants of the room get its token"))?;
        let nick = proto::EndpointId::new(occ.nick.clone())
            .map_err(|_| (stanza::NOT_ACCEPTABLE, "nickname is not a valid endpoint id"))?;
        let name = occ.display_name().filter(|n| !n.is_empty()).unwrap_or_else(|| occ.nick.clone());
        let claims = proto::token::Claims::new(real.to_string(), room_name, nick, name, proto::token::DEFAULT_TTL_SECS);
        proto::token::issue(secret, &claims).map_err(|_| (stanza::SERVICE_UNAVAILABLE, "could not sign the token"))
    }
}
