//! The bridge session with each participant (`proto::session`, bridge mode): initiate,
//! the participant's offer allocated on the bridge, the bridge's answer back, the bridge's
//! renegotiation offers relayed as `source-add`/`source-remove` one at a time (the newest
//! waiting offer replaces older ones), and giving up on participants that do not answer or
//! answer garbage. Never blames a bridge for a participant's bad SDP, nor the reverse.

use super::io::{Addr, Condition, Reply, ResultBody, StanzaError};
use super::jingle::{check_sdp, Jingle};
use super::room::{BridgeSession, Mode};
use super::{BridgeId, Focus, Pending};
use proto::colibri::{ColibriRequest, ColibriResponse};
use proto::session::{reason, Action, SdpType, Transport};
use proto::{ConferenceId, EndpointId, RoomName};
use std::time::Instant;

impl Focus {
    /// Brings one room's sessions in line with its membership: leaves P2P when the pair is
    /// broken, schedules P2P when the room is at two, gives every participant without a
    /// session a bridge session when a bridge is available.
    pub(super) fn reconcile(&mut self, now: Instant, room: &RoomName) {
        let p2p_enabled = self.settings.p2p_enabled;
        let delay = self.settings.p2p_delay;
        let usable = self.pool.any_usable(now);
        let Some(r) = self.rooms.get_mut(room) else { return };
        // A moderator's mute is enforced by the bridge: a pair with one stays off P2P.
        let two_healthy = r.participants.len() == 2 && r.participants.values().all(|p| !p.failed && !p.forced.any());
        let mut cancelled = None;
        match &mut r.mode {
            Mode::P2p(p) => {
                let keep = p2p_enabled
                    && two_healthy
                    && r.participants.contains_key(&p.initiator)
                    && r.participants.contains_key(&p.responder);
                if !keep {
                    tracing::info!(%room, "leaving P2P: the pair changed, or a moderator muted one of them");
                    if let Mode::P2p(p) = std::mem::replace(&mut r.mode, Mode::Bridge { p2p_at: None }) {
                        cancelled = Some(p);
                    }
                }
            }
            Mode::Bridge { p2p_at } => {
                if p2p_enabled && two_healthy && !r.p2p_blocked {
                    p2p_at.get_or_insert(now + delay);
                } else {
                    *p2p_at = None;
                }
            }
        }
        if let Some(p) = cancelled {
            self.cancel_p2p_setup(now, room, &p);
        }
        let Some(r) = self.rooms.get(room) else { return };
        if r.is_p2p() || !usable {
            return;
        }
        let need: Vec<EndpointId> = r
            .participants
            .values()
            .filter(|p| !p.failed && p.session == BridgeSession::None)
            .map(|p| p.id.clone())
            .collect();
        for ep in need {
            self.start_session(now, room, &ep);
        }
    }

    fn start_session(&mut self, now: Instant, room: &RoomName, ep: &EndpointId) {
        let sid = self.next_id();
        let mut j = Jingle::new(Action::SessionInitiate, sid.clone());
        j.transport = Some(Transport::Bridge);
        self.send_session(now, room, ep, j, Pending::Initiate { room: room.clone(), ep: ep.clone(), sid: sid.clone() });
        if let Some(p) = self.participant_mut(room, ep) {
            p.session = BridgeSession::Initiating { sid };
            p.reneg_in_flight = None;
            p.queued_offer = None;
            p.connected = false;
        }
        self.counters.sessions_initiated += 1;
    }

    pub(super) fn participant_mut(
        &mut self,
        room: &RoomName,
        ep: &EndpointId,
    ) -> Option<&mut super::room::Participant> {
        self.rooms.get_mut(room).and_then(|r| r.participants.get_mut(ep))
    }

    pub(super) fn on_initiate_answer(
        &mut self,
        now: Instant,
        room: &RoomName,
        ep: &EndpointId,
        sid: &str,
        body: Result<ResultBody, StanzaError>,
    ) {
        let deadline = now + self.settings.accept_timeout;
        let grace = now + self.settings.unreachable_grace;
        let Some(p) = self.participant_mut(room, ep) else { return };
        if p.session != (BridgeSession::Initiating { sid: sid.to_string() }) {
            return;
        }
        match body {
            Ok(_) => p.session = BridgeSession::AwaitingAccept { sid: sid.to_string(), deadline },
            Err(e) if e.condition == Condition::RemoteServerTimeout && p.had_session => {
                // Probably behind a network outage (that is often why it was moved): the
                // initiate waits in its connection; its accept may come when the link is back.
                tracing::info!(%room, %ep, "no answer to a new session-initiate; waiting for the participant's link");
                p.session = BridgeSession::AwaitingAccept { sid: sid.to_string(), deadline: grace };
            }
            Err(e) => self.fail_participant(
                now,
                room,
                ep,
                &format!("session-initiate refused: {} {}", e.condition.as_str(), e.text),
            ),
        }
    }

    pub(super) fn on_session_iq(
        &mut self,
        now: Instant,
        room: RoomName,
        nick: String,
        id: String,
        jingle: Result<Jingle, String>,
    ) {
        let Ok(ep) = EndpointId::new(nick.clone()) else {
            tracing::info!(%room, %nick, "session IQ from an occupant whose nick is no endpoint id; dropped");
            return;
        };
        let from = Addr::Occupant(room.clone(), ep.clone());
        if self.participant_mut(&room, &ep).is_none() {
            self.reply(from, id, Err(StanzaError::new(Condition::ItemNotFound, "not a participant of a conference")));
            return;
        }
        let j = match jingle {
            Ok(j) => j,
            Err(why) => {
                self.counters.bad_requests += 1;
                self.reply(from, id, Err(StanzaError::new(Condition::BadRequest, why)));
                return;
            }
        };
        match j.action {
            Action::SessionAccept => self.on_session_accept(now, &room, &ep, id, j),
            Action::SessionTerminate => {
                self.reply(from, id, Ok(Reply::Empty));
                if self.is_p2p_session(&room, &ep, &j.sid) {
                    tracing::info!(%room, %ep, reason = ?j.reason, "participant ended the P2P session; back to the bridge");
                    self.abort_p2p(now, &room);
                    return;
                }
                let matches = self.participant_mut(&room, &ep).is_some_and(|p| p.session.sid() == Some(j.sid.as_str()));
                if matches {
                    tracing::info!(%room, %ep, "participant ended its bridge session");
                    self.drop_session(now, &room, &ep, None, true);
                    if let Some(p) = self.participant_mut(&room, &ep) {
                        p.failed = true;
                    }
                    self.reconcile(now, &room);
                }
            }
            other => self.reply(
                from,
                id,
                Err(StanzaError::new(
                    Condition::FeatureNotImplemented,
                    format!("focus does not take {other} from participants"),
                )),
            ),
        }
    }

    fn on_session_accept(&mut self, now: Instant, room: &RoomName, ep: &EndpointId, id: String, j: Jingle) {
        let from = Addr::Occupant(room.clone(), ep.clone());
        let Some(p) = self.participant_mut(room, ep) else { return };
        let restart = matches!(&p.session, BridgeSession::Active { sid, .. } if *sid == j.sid);
        let sid = match &p.session {
            BridgeSession::Initiating { sid } | BridgeSession::AwaitingAccept { sid, .. } if *sid == j.sid => {
                sid.clone()
            }
            // A new offer on the current session: an ICE restart (re-allocated below).
            BridgeSession::Active { sid, .. } if *sid == j.sid => sid.clone(),
            BridgeSession::Allocating { sid, .. } if *sid == j.sid => {
                self.reply(
                    from,
                    id,
                    Err(StanzaError::new(
                        Condition::UnexpectedRequest,
                        "an offer for this session is already being allocated",
                    )),
                );
                return;
            }
            _ => {
                self.reply(
                    from,
                    id,
                    Err(StanzaError::new(Condition::ItemNotFound, format!("unknown session {:?}", j.sid))),
                );
                return;
            }
        };
        let offer = match j.sdp(SdpType::Offer) {
            Ok(o) => o.to_string(),
            Err(why) => {
                self.counters.bad_requests += 1;
                tracing::info!(%room, %ep, %why, "session-accept with unusable SDP");
                self.reply(from, id, Err(StanzaError::new(Condition::BadRequest, why)));
                return;
            }
        };
        if restart {
            // Allocate on the endpoint's bridge replaces the endpoint there; a renegotiation
            // in flight or queued belongs to the replaced transport (the bridge offers again).
            tracing::info!(%room, %ep, "new offer on an active session (ICE restart): re-allocating");
            if let Some(p) = self.participant_mut(room, ep) {
                p.reneg_in_flight = None;
                p.queued_offer = None;
                p.connected = false;
            }
        }
        self.allocate(now, room, ep, sid, id, offer);
    }

    /// Sends the participant's offer to the room's bridge (chosen now if the room has
    /// none); the participant's `session-accept` IQ `accept_id` is answered later.
    pub(super) fn allocate(
        &mut self,
        now: Instant,
        room: &RoomName,
        ep: &EndpointId,
        sid: String,
        accept_id: String,
        offer: String,
    ) {
        let from = Addr::Occupant(room.clone(), ep.clone());
        let (Some(bridge), Ok(conference)) = (self.choose_bridge(now, room), ConferenceId::new(room.as_str())) else {
            tracing::warn!(%room, %ep, "no usable bridge; the participant gets a session when one appears");
            self.reply(from, accept_id, Err(StanzaError::new(Condition::ServiceUnavailable, "no bridge available")));
            if let Some(p) = self.participant_mut(room, ep) {
                p.session = BridgeSession::None;
            }
            return;
        };
        self.drop_kept_expire(&bridge, room, ep);
        let display_name = self.participant_mut(room, ep).map(|p| p.display_name.clone()).unwrap_or_default();
        let request = ColibriRequest::Allocate { conference, endpoint: ep.clone(), display_name, offer: offer.clone() };
        let timeout = self.settings.colibri_timeout;
        let what = Pending::Allocate { room: room.clone(), ep: ep.clone(), sid: sid.clone(), bridge: bridge.clone() };
        self.send_colibri(now, &bridge, request, what, timeout);
        if let Some(p) = self.participant_mut(room, ep) {
            p.session = BridgeSession::Allocating { sid, bridge, accept_id, offer };
        }
    }

    /// The room's bridge if it is still usable, else the least-stressed usable one (which
    /// the room then stays on).
    fn choose_bridge(&mut self, now: Instant, room: &RoomName) -> Option<BridgeId> {
        let pinned = self.rooms.get(room)?.bridge.clone();
        if let Some(b) = pinned.filter(|b| self.pool.usable(b, now)) {
            return Some(b);
        }
        let b = self.pool.select(now)?;
        tracing::info!(%room, bridge = %b, "conference placed on bridge");
        if let Some(r) = self.rooms.get_mut(room) {
            r.bridge = Some(b.clone());
        }
        Some(b)
    }

    pub(super) fn on_allocated(
        &mut self,
        now: Instant,
        room: &RoomName,
        ep: &EndpointId,
        sid: &str,
        bridge: &BridgeId,
        body: Result<ResultBody, StanzaError>,
    ) {
        let accept_deadline = now + self.settings.accept_timeout;
        let Some(p) = self.participant_mut(room, ep) else { return };
        let BridgeSession::Allocating { sid: s, bridge: b, accept_id, .. } = &p.session else { return };
        if s != sid || b != bridge {
            return;
        }
        let accept_id = accept_id.clone();
        let from = Addr::Occupant(room.clone(), ep.clone());
        match body {
            Ok(ResultBody::Colibri(ColibriResponse::Allocated { answer })) if check_sdp(&answer).is_ok() => {
                p.session = BridgeSession::Active { sid: sid.to_string(), bridge: bridge.clone() };
                p.had_session = true;
                let forced = p.forced;
                let j = Jingle::new(Action::SessionAccept, sid).with_sdp(SdpType::Answer, answer);
                self.reply(from, accept_id, Ok(Reply::Jingle(j)));
                if forced.any() {
                    // A new endpoint on the bridge (a join, an ICE restart, a move) starts
                    // unmuted: state the moderator's mute again.
                    self.send_force_mute(now, room, ep);
                }
                self.flush_reneg(now, room, ep);
            }
            Ok(other) => {
                tracing::warn!(%bridge, answer = ?short(&other), "bridge answered an allocation with garbage");
                self.bridge_failed(now, bridge, "allocation answer unreadable");
            }
            Err(e) if e.condition == Condition::BadRequest => {
                // The bridge could not use the participant's offer: the participant's fault.
                p.session = BridgeSession::AwaitingAccept { sid: sid.to_string(), deadline: accept_deadline };
                self.counters.bad_requests += 1;
                self.reply(
                    from,
                    accept_id,
                    Err(StanzaError::new(Condition::BadRequest, format!("bridge refused the offer: {}", e.text))),
                );
            }
            Err(e) => {
                let why = format!("allocation failed: {} {}", e.condition.as_str(), e.text);
                self.bridge_failed(now, bridge, &why);
            }
        }
    }

    /// Queues the bridge's offer for the participant (replacing an older unsent one) and
    /// sends it if no other renegotiation is waiting for the participant's answer.
    pub(super) fn relay_offer(
        &mut self,
        now: Instant,
        room: &RoomName,
        ep: &EndpointId,
        action: Action,
        offer: String,
    ) {
        let Some(p) = self.participant_mut(room, ep) else { return };
        let replaced = p.queued_offer.replace((action, offer)).is_some();
        if replaced {
            self.counters.offers_coalesced += 1;
        }
        self.flush_reneg(now, room, ep);
    }

    fn flush_reneg(&mut self, now: Instant, room: &RoomName, ep: &EndpointId) {
        let Some(p) = self.participant_mut(room, ep) else { return };
        let BridgeSession::Active { sid, .. } = &p.session else { return };
        if p.reneg_in_flight.is_some() {
            return;
        }
        let Some((action, offer)) = p.queued_offer.take() else { return };
        let sid = sid.clone();
        let j = Jingle::new(action, sid.clone()).with_sdp(SdpType::Offer, offer);
        let id = self.send_session(now, room, ep, j, Pending::Reneg { room: room.clone(), ep: ep.clone(), sid });
        if let Some(p) = self.participant_mut(room, ep) {
            p.reneg_in_flight = Some(id);
        }
        self.counters.source_updates += 1;
    }

    pub(super) fn on_reneg_answer(
        &mut self,
        now: Instant,
        room: &RoomName,
        ep: &EndpointId,
        sid: &str,
        id: &str,
        body: Result<ResultBody, StanzaError>,
    ) {
        let Some(p) = self.participant_mut(room, ep) else { return };
        let BridgeSession::Active { sid: s, bridge } = &p.session else { return };
        if s != sid || p.reneg_in_flight.as_deref() != Some(id) {
            return;
        }
        let bridge = bridge.clone();
        p.reneg_in_flight = None;
        let answer = match &body {
            Ok(ResultBody::Jingle(j)) => j.sdp(SdpType::Answer).map(str::to_string),
            Ok(ResultBody::Unparsable(why)) => Err(why.clone()),
            Ok(_) => Err("the result carries no SDP answer".to_string()),
            Err(e) => Err(format!("{} {}", e.condition.as_str(), e.text)),
        };
        match answer {
            Ok(answer) => {
                let Ok(conference) = ConferenceId::new(room.as_str()) else { return };
                let request = ColibriRequest::Answer { conference, endpoint: ep.clone(), answer };
                let what = Pending::Answer { room: room.clone(), ep: ep.clone(), bridge: bridge.clone() };
                let timeout = self.settings.colibri_timeout;
                self.send_colibri(now, &bridge, request, what, timeout);
                self.flush_reneg(now, room, ep);
            }
            Err(why) => {
                self.counters.bad_requests += 1;
                self.fail_participant(now, room, ep, &format!("renegotiation failed: {why}"));
            }
        }
    }

    pub(super) fn on_answer_done(
        &mut self,
        now: Instant,
        room: &RoomName,
        ep: &EndpointId,
        bridge: &BridgeId,
        body: Result<ResultBody, StanzaError>,
    ) {
        let still_there = self.participant_mut(room, ep).is_some_and(|p| p.bridge() == Some(bridge));
        if !still_there {
            return;
        }
        match body {
            Ok(ResultBody::Colibri(ColibriResponse::Done)) | Ok(ResultBody::Empty) => {}
            Ok(other) => {
                tracing::warn!(%bridge, answer = ?short(&other), "bridge answered garbage to an SDP answer");
                self.bridge_failed(now, bridge, "answer acknowledgement unreadable");
            }
            Err(e) if e.condition == Condition::BadRequest => {
                self.fail_participant(now, room, ep, &format!("bridge refused the participant's answer: {}", e.text))
            }
            Err(e) => self.bridge_failed(now, bridge, &format!("answer failed: {} {}", e.condition.as_str(), e.text)),
        }
    }

    /// Ends the participant's bridge session: answers a waiting `session-accept` with an
    /// error, sends `session-terminate` when `terminate` names a reason, and expires its
    /// endpoint on the bridge when `expire` (not needed when the whole conference goes).
    pub(super) fn drop_session(
        &mut self,
        now: Instant,
        room: &RoomName,
        ep: &EndpointId,
        terminate: Option<&str>,
        expire: bool,
    ) {
        let Some(p) = self.participant_mut(room, ep) else { return };
        let session = std::mem::replace(&mut p.session, BridgeSession::None);
        p.reneg_in_flight = None;
        p.queued_offer = None;
        p.connected = false;
        let from = Addr::Occupant(room.clone(), ep.clone());
        if let BridgeSession::Allocating { accept_id, .. } = &session {
            self.reply(from, accept_id.clone(), Err(StanzaError::new(Condition::ItemNotFound, "session ended")));
        }
        let bridge = match &session {
            BridgeSession::Allocating { bridge, .. } | BridgeSession::Active { bridge, .. } => Some(bridge.clone()),
            _ => None,
        };
        if let (Some(reason), Some(sid)) = (terminate, session.sid()) {
            let mut j = Jingle::new(Action::SessionTerminate, sid);
            j.reason = Some(reason.to_string());
            self.send_session(now, room, ep, j, Pending::Terminate);
        }
        if let (true, Some(bridge), Ok(conference)) = (expire, bridge, ConferenceId::new(room.as_str())) {
            self.send_expire(now, &bridge, ColibriRequest::Expire { conference, endpoint: ep.clone() });
        }
    }

    /// Gives up on one participant's session; everyone else carries on.
    pub(super) fn fail_participant(&mut self, now: Instant, room: &RoomName, ep: &EndpointId, why: &str) {
        tracing::warn!(%room, %ep, %why, "giving up on the participant's session");
        self.counters.participant_failures += 1;
        self.drop_session(now, room, ep, Some(reason::FAILED), true);
        if let Some(p) = self.participant_mut(room, ep) {
            p.failed = true;
        }
        self.reconcile(now, room);
    }

    pub(super) fn session_timeouts(&mut self, now: Instant) {
        let late: Vec<(RoomName, EndpointId)> = self
            .rooms
            .values()
            .flat_map(|r| {
                r.participants.values().filter_map(move |p| match &p.session {
                    BridgeSession::AwaitingAccept { deadline, .. } if *deadline <= now => {
                        Some((r.name.clone(), p.id.clone()))
                    }
                    _ => None,
                })
            })
            .collect();
        for (room, ep) in late {
            self.fail_participant(now, &room, &ep, "no session-accept in time");
        }
    }
}

/// A short rendering of an unexpected payload for logs.
fn short(b: &ResultBody) -> String {
    let s = format!("{b:?}");
    s.chars().take(120).collect()
}
