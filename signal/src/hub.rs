//! The hub: the one task that owns all routing state (bound client sessions, connected
//! components, both MUC services, the people of the directory) and moves every stanza.
//! Connections send it [`HubMsg`]s; it answers through each connection's bounded outbox.
//!
//! Authority over addresses lives here: a client's `from` is always rewritten to its bound
//! JID; a component's `from` must lie within its own domain, or the stanza is refused. The hub
//! must never block: a connection whose outbox is full is closed (slow consumer), never waited
//! for.

use crate::auth::{Auth, Policy, Session};
use crate::conn::{ConnId, Delivery, Outbound};
use crate::jid::{domain_within, Jid};
use crate::metrics::Metrics;
use crate::muc::{Access, MucService, Sender, NS_DISCO_INFO, NS_DISCO_ITEMS};
use crate::people::{self, GuestRefusal, People};
use crate::stanza;
use proto::xml::{Element, NS_CLIENT};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// What kind of peer a connection is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerKind {
    /// A client session (TCP or WebSocket) bound to a full JID.
    Client,
    /// A component owning a domain (and its subdomains).
    Component,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegisterError {
    #[error("another component already serves {0}")]
    Conflict(String),
    #[error("{0} is served by signal itself")]
    Reserved(String),
}

pub enum HubMsg {
    /// A client bound a resource, or a component completed its handshake. The reply carries
    /// the JID finally assigned (a client resource may be changed to avoid a conflict).
    Register {
        conn: ConnId,
        kind: PeerKind,
        jid: Jid,
        /// Who a client session is and where it comes from (`None` for components).
        session: Option<Arc<Session>>,
        outbox: mpsc::Sender<Outbound>,
        kill: CancellationToken,
        reply: oneshot::Sender<Result<Jid, RegisterError>>,
    },
    /// A recognised guest's SASL PLAIN (`signal/PEOPLE.md` section 1): is this the secret of
    /// this guest id? Only the secret's SHA-256 comes here.
    GuestLogin {
        id: String,
        secret_sha256: [u8; 32],
        source: std::net::IpAddr,
        reply: oneshot::Sender<Result<(), GuestRefusal>>,
    },
    /// A stanza received from a registered connection.
    Stanza { conn: ConnId, stanza: Element },
    /// The connection ended.
    Gone { conn: ConnId },
}

struct Peer {
    kind: PeerKind,
    jid: Jid,
    session: Option<Arc<Session>>,
    jid_str: Arc<str>,
    outbox: mpsc::Sender<Outbound>,
    kill: CancellationToken,
}

pub struct Hub {
    domain: String,
    auth_domain: String,
    conference: MucService,
    internal: MucService,
    people: People,
    /// Revocations for the archive made while it was away, sent when it comes (a room token
    /// lives [`proto::token::DEFAULT_TTL_SECS`]: older ones no longer matter).
    pending_revokes: VecDeque<(Instant, Element)>,
    peers: HashMap<ConnId, Peer>,
    sessions: HashMap<Jid, ConnId>,
    components: HashMap<String, ConnId>,
    metrics: Arc<Metrics>,
    out: Vec<Delivery>,
    /// The time of the message being handled.
    now: Instant,
}

/// How often time-based room work runs (removals ending, limit windows).
const TICK: Duration = Duration::from_secs(1);

impl Hub {
    pub fn new(domain: &str, token_secret: Vec<u8>, metrics: Arc<Metrics>, auth: &Auth, people: People) -> Self {
        Hub {
            domain: domain.to_string(),
            auth_domain: format!("auth.{domain}"),
            conference: MucService::new(
                format!("conference.{domain}"),
                Access::Everyone,
                Some(token_secret),
                auth.policy,
            ),
            internal: MucService::new(format!("internal.{domain}"), Access::ComponentsOnly, None, Policy::default()),
            people,
            pending_revokes: VecDeque::new(),
            peers: HashMap::new(),
            sessions: HashMap::new(),
            components: HashMap::new(),
            metrics,
            out: Vec::new(),
            now: Instant::now(),
        }
    }

    /// Domains served by signal itself (no component may claim them).
    pub fn is_reserved(&self, d: &str) -> bool {
        d == self.domain
            || d == self.auth_domain
            || d == self.people.guest_domain()
            || d == self.conference.domain()
            || d == self.internal.domain()
    }

    /// Runs until every sender of `rx` is gone or `shutdown` fires.
    pub async fn run(mut self, mut rx: mpsc::Receiver<HubMsg>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let msg = tokio::select! {
                m = rx.recv() => match m { Some(m) => m, None => break },
                _ = tick.tick() => {
                    self.handle_timeout(Instant::now());
                    continue;
                }
                _ = shutdown.cancelled() => break,
            };
            self.handle(msg);
            // Drain what is already queued before yielding, to batch deliveries.
            for _ in 0..256 {
                match rx.try_recv() {
                    Ok(m) => self.handle(m),
                    Err(_) => break,
                }
            }
        }
    }

    /// Time-based work of the rooms.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        let mut out = std::mem::take(&mut self.out);
        self.conference.handle_timeout(now, &mut out);
        self.out = out;
        self.people.handle_timeout(now);
        let ttl = Duration::from_secs(proto::token::DEFAULT_TTL_SECS);
        while self.pending_revokes.front().is_some_and(|(t, _)| now.saturating_duration_since(*t) >= ttl) {
            self.pending_revokes.pop_front();
        }
        self.flush();
    }

    pub fn handle(&mut self, msg: HubMsg) {
        self.now = Instant::now();
        match msg {
            HubMsg::Register { conn, kind, jid, session, outbox, kill, reply } => {
                let r = self.register(conn, kind, jid, session, outbox, kill);
                let _ = reply.send(r);
            }
            HubMsg::GuestLogin { id, secret_sha256, source, reply } => {
                let mut out = std::mem::take(&mut self.out);
                let verdict = self.people.check_guest(&id, secret_sha256, source, self.now, &mut out);
                self.out = out;
                let _ = reply.send(verdict);
                self.update_gauges();
            }
            HubMsg::Stanza { conn, stanza } => {
                Metrics::inc(&self.metrics.stanzas_in);
                self.handle_stanza(conn, stanza);
            }
            HubMsg::Gone { conn } => self.gone(conn),
        }
        self.flush();
    }

    fn register(
        &mut self,
        conn: ConnId,
        kind: PeerKind,
        mut jid: Jid,
        session: Option<Arc<Session>>,
        outbox: mpsc::Sender<Outbound>,
        kill: CancellationToken,
    ) -> Result<Jid, RegisterError> {
        match kind {
            PeerKind::Component => {
                let d = jid.domain().to_string();
                if self.is_reserved(&d) {
                    return Err(RegisterError::Reserved(d));
                }
                if self.components.contains_key(&d) {
                    return Err(RegisterError::Conflict(d));
                }
                self.components.insert(d, conn);
            }
            PeerKind::Client => {
                if self.sessions.contains_key(&jid) {
                    let base = jid.resource().unwrap_or("r").to_string();
                    let suffix = proto::secrets::random_hex(4).unwrap_or_else(|_| format!("{}", conn.0));
                    jid = jid.with_resource(&format!("{base}-{suffix}"));
                }
                self.sessions.insert(jid.clone(), conn);
            }
        }
        let jid_str: Arc<str> = jid.to_string().into();
        if let Some(identity) = session.as_ref().map(|s| &s.identity) {
            let mut out = std::mem::take(&mut self.out);
            self.people.handle_bind(conn, &jid, identity, &mut out);
            self.out = out;
        }
        let is_archive = kind == PeerKind::Component && jid.domain() == &**self.people.archive_jid();
        self.peers.insert(conn, Peer { kind, jid: jid.clone(), session, jid_str, outbox, kill });
        if is_archive {
            for (_, revoke) in std::mem::take(&mut self.pending_revokes) {
                self.out.push(Delivery::new(conn, self.people.archive_jid().clone(), &revoke));
            }
        }
        self.update_gauges();
        Ok(jid)
    }

    fn gone(&mut self, conn: ConnId) {
        let Some(peer) = self.peers.remove(&conn) else { return };
        match peer.kind {
            PeerKind::Client => {
                self.sessions.remove(&peer.jid);
            }
            PeerKind::Component => {
                self.components.remove(peer.jid.domain());
            }
        }
        let mut out = std::mem::take(&mut self.out);
        self.people.handle_gone(conn, &mut out);
        self.conference.handle_conn_gone(conn, &mut out);
        self.internal.handle_conn_gone(conn, &mut out);
        self.out = out;
        self.update_gauges();
    }

    fn update_gauges(&self) {
        use std::sync::atomic::Ordering;
        self.metrics.rooms.store((self.conference.room_count() + self.internal.room_count()) as i64, Ordering::Relaxed);
        self.metrics
            .occupants
            .store((self.conference.occupant_count() + self.internal.occupant_count()) as i64, Ordering::Relaxed);
        self.metrics.room_password_failures.store(self.conference.password_failures(), Ordering::Relaxed);
        self.metrics.people.store(self.people.known() as i64, Ordering::Relaxed);
        self.metrics.people_online.store(self.people.online() as i64, Ordering::Relaxed);
        self.metrics.people_messages.store(self.people.routed, Ordering::Relaxed);
    }

    /// Sends what the last step produced.
    fn flush(&mut self) {
        let out = std::mem::take(&mut self.out);
        for d in &out {
            self.deliver(d.conn, d.to.clone(), d.body.clone());
        }
        let mut out = out;
        out.clear();
        self.out = out;
    }

    fn deliver(&self, conn: ConnId, to: Arc<str>, body: Arc<proto::xml::Prepared>) {
        let Some(peer) = self.peers.get(&conn) else { return };
        Metrics::inc(&self.metrics.stanzas_out);
        match peer.outbox.try_send(Outbound::Stanza { to, body }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(jid = %peer.jid, "outbox full: closing a connection that does not read");
                peer.kill.cancel();
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    fn reply(&mut self, conn: ConnId, to: &Arc<str>, stanza: &Element) {
        self.out.push(Delivery::new(conn, to.clone(), stanza));
    }

    fn refuse(&mut self, conn: ConnId, to: &Arc<str>, stanza: &Element, cond: stanza::Cond, text: Option<&str>) {
        if let Some(e) = stanza::error_reply(stanza, cond, text) {
            Metrics::inc(&self.metrics.stanza_errors);
            self.reply(conn, to, &e);
        }
    }

    fn handle_stanza(&mut self, conn: ConnId, mut stanza: Element) {
        let Some(peer) = self.peers.get(&conn) else { return };
        let (kind, peer_jid, peer_str) = (peer.kind.clone(), peer.jid.clone(), peer.jid_str.clone());
        let session = peer.session.clone();
        if stanza::kind(&stanza).is_none() {
            return;
        }
        // Who is speaking: a client is its bound JID; a component says so, within its domain.
        let from = match kind {
            PeerKind::Client => {
                stanza.set_attr("from", &*peer_str);
                peer_jid.clone()
            }
            PeerKind::Component => match stanza.get_attr("from").map(Jid::parse) {
                None => {
                    stanza.set_attr("from", &*peer_str);
                    peer_jid.clone()
                }
                Some(Ok(j)) if j.is_within(peer_jid.domain()) => j,
                Some(_) => {
                    stanza.set_attr("from", &*peer_str);
                    let text = format!("from must be within {}", peer_jid.domain());
                    self.refuse(conn, &peer_str, &stanza, stanza::FORBIDDEN, Some(&text));
                    return;
                }
            },
        };
        let from_str: Arc<str> = if from == peer_jid { peer_str.clone() } else { from.to_string().into() };
        let to = match stanza.get_attr("to").map(Jid::parse) {
            None => None,
            Some(Ok(j)) => Some(j),
            Some(Err(_)) => {
                self.refuse(conn, &from_str, &stanza, stanza::JID_MALFORMED, None);
                return;
            }
        };
        let Some(to) = to else {
            if stanza.name() == "presence" {
                let mut out = std::mem::take(&mut self.out);
                self.people.handle_presence(conn, stanza, &mut out);
                self.out = out;
                self.update_gauges();
            } else {
                self.handle_server(conn, &from_str, &stanza);
            }
            return;
        };
        let d = to.domain().to_string();
        let sender = Sender { conn, session, now: self.now };
        if d == self.conference.domain() {
            if let Some(q) = conversation_token_request(&stanza) {
                let answer = match self.people.conversation_token(conn, q) {
                    Ok(t) => proto::bus::iq_result(&stanza, Some(Element::new("token", proto::ns::TOKEN).text(t))),
                    Err(r) => match r.reply_to(&stanza) {
                        Some(e) => e,
                        None => return,
                    },
                };
                self.reply(conn, &from_str, &answer);
                return;
            }
            let mut out = std::mem::take(&mut self.out);
            self.conference.handle_stanza(&sender, &from, stanza, &mut out);
            self.out = out;
            for (room, nick) in self.conference.take_kicked() {
                self.revoke(&room, &nick);
            }
            self.update_gauges();
        } else if d == self.internal.domain() {
            let mut out = std::mem::take(&mut self.out);
            self.internal.handle_stanza(&sender, &from, stanza, &mut out);
            self.out = out;
            self.update_gauges();
        } else if d == self.domain || d == self.auth_domain || d == self.people.guest_domain() {
            self.handle_local(conn, kind, &from_str, &to, stanza);
        } else if let Some(target) = self.component_for(&d) {
            if let Some(session) = &sender.session {
                if let Some(r) = self.conference_request_refused(session, &stanza) {
                    Metrics::inc(&self.metrics.stanza_errors);
                    if let Some(e) = r.reply_to(&stanza) {
                        self.reply(conn, &from_str, &e);
                    }
                    return;
                }
            }
            let to_str: Arc<str> = to.to_string().into();
            stanza.remove_attr("to");
            self.out.push(Delivery::new(target, to_str, &stanza));
        } else {
            self.refuse(conn, &from_str, &stanza, stanza::REMOTE_SERVER_NOT_FOUND, Some("no such domain here"));
        }
    }

    /// A client's conference request (the IQ that makes focus open a room) is checked here,
    /// before focus sees it: in `accounts` and `token` modes a non-host only gets a room a
    /// host has been in, a token session only its token's rooms; removed people none.
    fn conference_request_refused(&self, session: &Session, stanza: &Element) -> Option<stanza::Refusal> {
        if stanza.name() != "iq" || stanza.get_attr("type") != Some("set") {
            return None;
        }
        let q = stanza.first_child().filter(|q| q.is("conference", proto::ns::FOCUS))?;
        self.conference.conference_gate(session, q, self.now).err()
    }

    /// The component serving `d`: exact match, else the nearest parent domain.
    fn component_for(&self, d: &str) -> Option<ConnId> {
        let mut cur = d;
        loop {
            if let Some(c) = self.components.get(cur) {
                return Some(*c);
            }
            let (_, rest) = cur.split_once('.')?;
            if !domain_within(rest, &self.domain) || rest == self.domain {
                return None;
            }
            cur = rest;
        }
    }

    /// Tells the archive that a moderator removed `nick` from `room` (ROOMS.md section 3):
    /// filestore closes that person's chat and refuses their room token. Kept for the archive
    /// while it is away.
    fn revoke(&mut self, room: &str, nick: &str) {
        let revoke = Element::new("message", NS_CLIENT)
            .attr("from", &**self.people.server_jid())
            .child(Element::new("revoke", proto::ns::PEOPLE).attr("room", room).attr("nick", nick));
        match self.archive() {
            Some(archive) => self.out.push(Delivery::new(archive, self.people.archive_jid().clone(), &revoke)),
            None => {
                tracing::warn!(%room, %nick, "the archive is away: the removal reaches it when it comes back");
                self.pending_revokes.push_back((self.now, revoke));
            }
        }
    }

    /// The archive's connection, when it is on the bus.
    fn archive(&self) -> Option<ConnId> {
        self.components.get(&**self.people.archive_jid()).copied()
    }

    /// Stanzas to a JID on the server's own domains: people's one-to-one stanzas to
    /// [`People`], the rest as before (full JIDs to their session).
    fn handle_local(&mut self, conn: ConnId, kind: PeerKind, from_str: &Arc<str>, to: &Jid, stanza: Element) {
        if to.local().is_none() {
            self.handle_server(conn, from_str, &stanza);
            return;
        }
        if self.people.is_person_domain(to.domain()) {
            let what = (stanza.name(), &kind, to.resource().is_some());
            let mut out = std::mem::take(&mut self.out);
            match what {
                ("message", PeerKind::Client, _) => {
                    let conference = &self.conference;
                    let in_room = |room: &str, bare: &str| conference.has_person(room, bare);
                    let ctx = people::Ctx { now: self.now, archive: self.archive(), in_room: &in_room };
                    self.people.handle_message(conn, stanza, to, &ctx, &mut out);
                }
                ("message", PeerKind::Component, false) => self.people.deliver_from_component(to, &stanza, &mut out),
                ("presence", PeerKind::Client, false) => {
                    self.people.handle_directed_presence(conn, to, &stanza, &mut out)
                }
                _ => {
                    self.out = out;
                    return self.route_to_session(conn, from_str, to, stanza);
                }
            }
            self.out = out;
            self.update_gauges();
            return;
        }
        self.route_to_session(conn, from_str, to, stanza);
    }

    /// A stanza to a client's JID: a full JID to its session; an IQ to one's own bare JID to
    /// the server; presence to a bare JID is dropped; anything else has no recipient.
    fn route_to_session(&mut self, conn: ConnId, from_str: &Arc<str>, to: &Jid, mut stanza: Element) {
        if to.resource().is_some() {
            if let Some(target) = self.sessions.get(to).copied() {
                let to_str: Arc<str> = to.to_string().into();
                stanza.remove_attr("to");
                self.out.push(Delivery::new(target, to_str, &stanza));
                return;
            }
        } else if stanza.name() == "iq" && &*to.to_string() == from_str.split('/').next().unwrap_or("") {
            // IQ to one's own bare JID (roster and similar account data): handled by the server.
            self.handle_server(conn, from_str, &stanza);
            return;
        }
        match stanza.name() {
            "presence" => {}
            "iq" if !stanza::is_iq_request(&stanza) => {}
            _ => self.refuse(conn, from_str, &stanza, stanza::SERVICE_UNAVAILABLE, Some("no such recipient")),
        }
    }

    /// IQs to the server itself: ping, disco, session, an empty roster. Everything else gets
    /// `service-unavailable`.
    fn handle_server(&mut self, conn: ConnId, from_str: &Arc<str>, stanza: &Element) {
        if stanza.name() != "iq" || !stanza::is_iq_request(stanza) {
            return;
        }
        let mut stanza = stanza.clone();
        if stanza.get_attr("to").is_none() {
            // RFC 6120 §10.3.3: handled for the account, so the answer comes from its bare JID
            // (clients such as slixmpp drop a roster result from anyone else)
            let account = from_str.split_once('/').map(|(bare, _)| bare).filter(|b| b.contains('@'));
            stanza.set_attr("to", account.unwrap_or(&self.domain));
        }
        let ty = stanza.get_attr("type").unwrap_or("");
        let payload = stanza.first_child().map(|q| (q.name().to_string(), q.ns().to_string()));
        if payload.as_ref().is_some_and(|(n, s)| n == "query" && s == people::roster::NS_ROSTER)
            && self.people.is_person_session(conn)
        {
            let mut out = std::mem::take(&mut self.out);
            self.people.handle_roster(conn, &stanza, &mut out);
            self.out = out;
            return;
        }
        let result = match (ty, payload.as_ref().map(|(n, s)| (n.as_str(), s.as_str()))) {
            ("get", Some(("ping", "urn:xmpp:ping"))) => Some(None),
            ("set", Some(("session", "urn:ietf:params:xml:ns:xmpp-session"))) => Some(None),
            // not a person: nobody on their roster
            ("get", Some(("query", "jabber:iq:roster"))) => Some(Some(Element::new("query", "jabber:iq:roster"))),
            ("set", Some((on @ ("enable" | "disable"), people::chat::NS_CARBONS))) => {
                self.people.set_carbons(conn, on == "enable").then_some(None)
            }
            ("get", Some(("query", NS_DISCO_INFO))) => {
                let mut q = Element::new("query", NS_DISCO_INFO).child(
                    Element::new("identity", NS_DISCO_INFO)
                        .attr("category", "server")
                        .attr("type", "im")
                        .attr("name", "signal"),
                );
                for f in [NS_DISCO_INFO, NS_DISCO_ITEMS, "urn:xmpp:ping", people::chat::NS_CARBONS] {
                    q.append_child(Element::new("feature", NS_DISCO_INFO).attr("var", f));
                }
                Some(Some(q))
            }
            ("get", Some(("query", NS_DISCO_ITEMS))) => Some(Some(Element::new("query", NS_DISCO_ITEMS).child(
                Element::new("item", NS_DISCO_ITEMS).attr("jid", self.conference.domain()).attr("name", "Rooms"),
            ))),
            _ => None,
        };
        match result {
            Some(payload) => {
                let r = proto::bus::iq_result(&stanza, payload);
                self.reply(conn, from_str, &r);
            }
            None => self.refuse(conn, from_str, &stanza, stanza::SERVICE_UNAVAILABLE, None),
        }
    }
}

/// `<token xmlns="urn:meet-lan:token:0" with="…"/>` in an IQ get: a conversation's token
/// (PEOPLE.md section 4), which [`People`] issues; a room's token (`room="…"`) is the rooms
/// service's.
fn conversation_token_request(stanza: &Element) -> Option<&Element> {
    if stanza.name() != "iq" || stanza.get_attr("type") != Some("get") {
        return None;
    }
    stanza.first_child().filter(|q| q.is("token", proto::ns::TOKEN) && q.get_attr("with").is_some())
}
