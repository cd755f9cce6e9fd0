//! One-to-one stanzas between people (`signal/PEOPLE.md` sections 4 to 6): chat messages,
//! read markers (XEP-0333), invitations (XEP-0249) and calls (XEP-0353), routed the same
//! way: checked (a person to a person of the directory, size, rate), stamped
//! (`<stanza-id/>`, `<delay/>`), copied to the archive from the server's JID, delivered to
//! every session of the recipient (or the one full JID named), and copied to the sender's
//! other sessions as XEP-0280 `<sent/>`. Other chat payloads (chat states, receipts, a
//! call's `<ringing/>`) are routed as they are: not stamped, not stored.
//!
//! What a client may not say is taken out before anything is routed: stanza ids and delays
//! of its own, carbons, forwards, archive results and our namespace at the top level.

use super::calls::{self, Action, CallStanza};
use super::presence::push_refusal;
use super::{Ctx, People};
use crate::conn::{ConnId, Delivery};
use crate::jid::Jid;
use crate::ratelimit::Window;
use crate::stanza::{self, Refusal};
use proto::xml::{Element, NS_CLIENT};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub const NS_MARKERS: &str = "urn:xmpp:chat-markers:0";
pub const NS_CONFERENCE: &str = "jabber:x:conference";
pub const NS_SID: &str = "urn:xmpp:sid:0";
pub const NS_DELAY: &str = "urn:xmpp:delay";
pub const NS_FORWARD: &str = "urn:xmpp:forward:0";
pub const NS_CARBONS: &str = "urn:xmpp:carbons:2";
const NS_LEGACY_DELAY: &str = "jabber:x:delay";
const NS_MAM: &str = "urn:xmpp:mam:2";
const NS_INBOX: &str = "urn:xmpp:inbox:1";

/// Longest message body (and invitation reason), in characters.
pub const MAX_BODY: usize = 4000;
/// Messages and invitations one person may send within [`SHORT_WINDOW`].
pub const MESSAGES: usize = 20;
/// Markers, call answers and other chat stanzas one person may send within [`SHORT_WINDOW`].
pub const SIGNALS: usize = 60;
pub const SHORT_WINDOW: Duration = Duration::from_secs(10);
/// The window of [`calls::PROPOSALS_PER_MINUTE`].
pub const PROPOSAL_WINDOW: Duration = Duration::from_secs(60);
/// Longest marker id.
const MAX_MARKER_ID: usize = 128;

/// The per-person rate limits of one-to-one stanzas.
pub struct Limits {
    messages: Window<Arc<str>>,
    signals: Window<Arc<str>>,
    proposals: Window<Arc<str>>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            messages: Window::new(SHORT_WINDOW),
            signals: Window::new(SHORT_WINDOW),
            proposals: Window::new(PROPOSAL_WINDOW),
        }
    }
}

impl Limits {
    pub fn prune(&mut self, now: Instant) {
        self.messages.prune(now);
        self.signals.prune(now);
        self.proposals.prune(now);
    }
}

/// What a one-to-one stanza is, by its payload.
#[derive(Debug)]
enum What {
    Chat,
    /// A XEP-0249 invitation to this room (local name).
    Invitation(String),
    Marker,
    Call(CallStanza),
    /// Chat states, receipts and the like: routed, not stored.
    Other,
}

impl What {
    /// Stamped and copied to the archive.
    fn stored(&self) -> bool {
        !matches!(self, What::Other)
    }

    /// Refused while the archive is away (what would be lost); markers and call answers still
    /// go through, so a call does not break while the archive restarts.
    fn needs_archive(&self) -> bool {
        match self {
            What::Chat | What::Invitation(_) => true,
            What::Call(c) => c.action == Action::Propose,
            What::Marker | What::Other => false,
        }
    }
}

impl People {
    /// A `<message/>` from a client to a person's JID (bare or full) on `auth.` or `guest.`.
    pub fn handle_message(&mut self, conn: ConnId, mut msg: Element, to: &Jid, ctx: &Ctx, out: &mut Vec<Delivery>) {
        if msg.get_attr("type") == Some("error") {
            self.route_error(conn, &msg, to, ctx.now, out);
            return;
        }
        if let Err(r) = self.route(conn, &mut msg, to, ctx, out) {
            let from: Arc<str> = msg.get_attr("from").unwrap_or_default().into();
            push_refusal(conn, &from, &msg, &r, out);
        }
    }

    fn route(
        &mut self,
        conn: ConnId,
        msg: &mut Element,
        to: &Jid,
        ctx: &Ctx,
        out: &mut Vec<Delivery>,
    ) -> Result<(), Refusal> {
        let me = self.sessions.get(&conn).ok_or_else(|| {
            Refusal::new(
                stanza::FORBIDDEN,
                "only people of this server send one-to-one messages: sign in, or log in as a recognised guest",
            )
        })?;
        let (my_bare, my_full) = (me.bare.clone(), me.full.clone());
        if !matches!(msg.get_attr("type"), None | Some("chat" | "normal")) {
            return Err(Refusal::new(stanza::BAD_REQUEST, "one-to-one messages are of type chat"));
        }
        let peer = self
            .directory
            .get(&to.bare().to_string())
            .map(|e| e.jid.clone())
            .ok_or_else(|| Refusal::new(stanza::ITEM_NOT_FOUND, "no such person"))?;
        let what = classify(msg, &self.conference_domain)?;
        let to_self = peer == my_bare;
        self.check(&what, msg, to, to_self, &my_bare, ctx)?;

        // everything is checked: from here on the stanza goes out
        self.record(&what, &my_bare, &peer, ctx.now);
        sanitize(msg);
        if what.stored() {
            let st = self.stamper.next(SystemTime::now());
            msg.append_child(Element::new("stanza-id", NS_SID).attr("by", &*self.server).attr("id", st.id));
            msg.append_child(Element::new("delay", NS_DELAY).attr("from", &*self.server).attr("stamp", st.time));
        }
        let targets = self.recipients(to, &peer, conn);
        if let (true, Some(archive)) = (what.stored(), ctx.archive) {
            // PEOPLE.md section 3: the sender's name as people see it (for notifications) and
            // whether a session of the recipient got the stanza (a proposal to nobody's page
            // is a missed call at once).
            let name = self.directory.get(&my_bare).map_or(String::new(), |e| e.shown_name().to_string());
            let copy = Element::new("message", NS_CLIENT).attr("from", &*self.server).child(
                Element::new("archive", proto::ns::PEOPLE)
                    .attr("name", name)
                    .attr("delivered", if targets.is_empty() { "false" } else { "true" })
                    .child(Element::new("forwarded", NS_FORWARD).child(msg.clone())),
            );
            out.push(Delivery::new(archive, self.archive_jid.clone(), &copy));
        }
        let body = Arc::new(msg.prepare());
        self.deliver_to_sessions(&targets, None, &body, out);
        if !to_self {
            let ty = msg.get_attr("type").unwrap_or("normal").to_string();
            let sent = Element::new("message", NS_CLIENT).attr("from", &*my_bare).attr("type", ty).child(
                Element::new("sent", NS_CARBONS).child(Element::new("forwarded", NS_FORWARD).child(msg.clone())),
            );
            let body = Arc::new(sent.prepare());
            // sessions_of names only registered connections (see `by_person`)
            let mine: Vec<ConnId> =
                self.sessions_of(&my_bare).iter().copied().filter(|c| self.sessions[c].carbons).collect();
            self.deliver_to_sessions(&mine, Some(conn), &body, out);
        }
        self.routed += 1;
        tracing::debug!(from = %my_full, to = %peer, "one-to-one stanza routed");
        Ok(())
    }

    /// Size, rights and limits of a stanza about to be routed; changes nothing.
    fn check(
        &self,
        what: &What,
        msg: &Element,
        to: &Jid,
        to_self: bool,
        me: &Arc<str>,
        ctx: &Ctx,
    ) -> Result<(), Refusal> {
        let too_long = |t: &str| t.chars().count() > MAX_BODY;
        if msg.children().any(|b| b.is("body", NS_CLIENT) && too_long(&b.text_content())) {
            return Err(Refusal::new(stanza::NOT_ACCEPTABLE, "messages are at most 4000 characters"));
        }
        match what {
            What::Call(c) if c.action == Action::Propose && (to_self || to.resource().is_some()) => {
                return Err(Refusal::new(stanza::BAD_REQUEST, "call another person, at their bare JID"));
            }
            What::Call(_) => {}
            _ if to_self => return Err(Refusal::new(stanza::BAD_REQUEST, "write to another person")),
            What::Invitation(room) => {
                if !(ctx.in_room)(room, me) {
                    return Err(Refusal::new(stanza::FORBIDDEN, "invite people only to a room you are in"));
                }
                let x = msg.get_child("x", NS_CONFERENCE).expect("classified as an invitation");
                if x.get_attr("reason").is_some_and(too_long) {
                    return Err(Refusal::new(
                        stanza::NOT_ACCEPTABLE,
                        "an invitation's reason is at most 4000 characters",
                    ));
                }
            }
            What::Chat | What::Marker | What::Other => {}
        }
        let (window, max) = self.window_of(what);
        if let Some(secs) = window.blocked(me, max, ctx.now) {
            let noun = match what {
                What::Chat | What::Invitation(_) => "messages",
                What::Call(c) if c.action == Action::Propose => "calls",
                _ => "chat signals",
            };
            return Err(Refusal::new(stanza::RESOURCE_CONSTRAINT, format!("too many {noun}; try again in {secs} s")));
        }
        if let What::Call(c) = what {
            if c.action == Action::Propose {
                self.calls.check_propose(me, &to.bare().to_string().into(), ctx.now)?;
            }
        }
        if what.needs_archive() && ctx.archive.is_none() {
            return Err(Refusal::new(stanza::SERVICE_UNAVAILABLE, "messages cannot be stored now"));
        }
        Ok(())
    }

    fn window_of(&self, what: &What) -> (&Window<Arc<str>>, usize) {
        match what {
            What::Chat | What::Invitation(_) => (&self.limits.messages, MESSAGES),
            What::Call(c) if c.action == Action::Propose => (&self.limits.proposals, calls::PROPOSALS_PER_MINUTE),
            _ => (&self.limits.signals, SIGNALS),
        }
    }

    /// Counts a routed stanza against its sender's limits; opens or closes call proposals.
    fn record(&mut self, what: &What, me: &Arc<str>, peer: &Arc<str>, now: Instant) {
        let l = &mut self.limits;
        match what {
            What::Chat | What::Invitation(_) => l.messages.record(me.clone(), MESSAGES, now),
            What::Call(c) if c.action == Action::Propose => {
                l.proposals.record(me.clone(), calls::PROPOSALS_PER_MINUTE, now);
                self.calls.proposed(me.clone(), peer.clone(), &c.id, now);
            }
            What::Call(c) => {
                l.signals.record(me.clone(), SIGNALS, now);
                self.calls.answered(c.action, me, peer, &c.id);
            }
            What::Marker | What::Other => l.signals.record(me.clone(), SIGNALS, now),
        }
    }

    /// The sessions a stanza to `to` reaches: the one full JID named, when it is a session of
    /// that person; else every session of the person but the sender's.
    fn recipients(&self, to: &Jid, peer: &str, sender: ConnId) -> Vec<ConnId> {
        let mine = self.sessions_of(peer);
        if to.resource().is_some() {
            let full = to.to_string();
            if let Some(c) = mine.iter().find(|c| self.sessions.get(c).is_some_and(|s| *s.full == *full)) {
                return vec![*c];
            }
        }
        mine.iter().copied().filter(|c| *c != sender).collect()
    }

    /// A person's error answer to another person's stanza: to the full JID it names, if that
    /// session exists; never answered, never stored. Counted as a chat signal, dropped past it.
    fn route_error(&mut self, conn: ConnId, msg: &Element, to: &Jid, now: Instant, out: &mut Vec<Delivery>) {
        let Some(me) = self.sessions.get(&conn).map(|s| s.bare.clone()) else { return };
        if to.resource().is_none() || self.limits.signals.blocked(&me, SIGNALS, now).is_some() {
            return;
        }
        let full = to.to_string();
        let Some(target) = self.sessions.values().find(|s| *s.full == *full).map(|s| s.conn) else { return };
        self.limits.signals.record(me, SIGNALS, now);
        out.push(Delivery::new(target, full.into(), msg));
    }

    /// XEP-0280 `<enable/>` / `<disable/>` of a person's session; false for others.
    pub fn set_carbons(&mut self, conn: ConnId, on: bool) -> bool {
        match self.sessions.get_mut(&conn) {
            Some(s) => {
                s.carbons = on;
                true
            }
            None => false,
        }
    }
}

/// What a message carries: a call (XEP-0353) before an invitation (XEP-0249) before a body
/// before a read marker (XEP-0333); anything else is [`What::Other`].
fn classify(msg: &Element, conference_domain: &str) -> Result<What, Refusal> {
    if let Some(call) = calls::parse(msg) {
        return call.map(What::Call);
    }
    if let Some(x) = msg.get_child("x", NS_CONFERENCE) {
        let room = x
            .get_attr("jid")
            .and_then(|j| Jid::parse(j).ok())
            .filter(|j| j.domain() == conference_domain && j.resource().is_none())
            .and_then(|j| j.local().map(str::to_string))
            .filter(|r| proto::RoomName::new(r.as_str()).is_ok())
            .ok_or_else(|| Refusal::new(stanza::BAD_REQUEST, "an invitation names a room of this server"))?;
        return Ok(What::Invitation(room));
    }
    if msg.get_child("body", NS_CLIENT).is_some() {
        return Ok(What::Chat);
    }
    if let Some(m) = msg.children().find(|c| c.ns() == NS_MARKERS && c.name() != "markable") {
        let id = m.get_attr("id").unwrap_or("");
        if id.is_empty() || id.len() > MAX_MARKER_ID {
            return Err(Refusal::new(stanza::BAD_REQUEST, "a marker names the message it marks by id"));
        }
        return Ok(What::Marker);
    }
    Ok(What::Other)
}

/// Takes out what only servers may say: stanza ids and delays, carbons and forwards, archive
/// results, `muc#user` and our namespace at the top level (a client's `<origin-id/>` stays).
fn sanitize(msg: &mut Element) {
    msg.remove_children(|c| {
        (c.ns() == NS_SID && c.name() == "stanza-id")
            || [NS_DELAY, NS_LEGACY_DELAY, NS_CARBONS, NS_FORWARD, NS_MAM, NS_INBOX, proto::ns::PEOPLE]
                .contains(&c.ns())
            || c.ns() == crate::muc::occupant::NS_MUC_USER
    });
}
