//! The bridge pool's inputs and failover: bridges appear and leave by presence, answer
//! health checks every `health_interval`, send events (renegotiation offers, transport
//! state, draining). When a bridge is gone, fails (health, Colibri errors, garbage) or
//! drains, every session on it moves: allocations in flight are re-sent to another bridge
//! with the same offer, active sessions get `session-terminate reason="moving"` and a new
//! `session-initiate`. Nothing here ever waits on a dead bridge.

use super::io::{Addr, BridgeId, BridgePresence, Condition, Reply, ResultBody, StanzaError};
use super::jingle::check_sdp;
use super::room::BridgeSession;
use super::{Focus, Pending};
use proto::colibri::{ColibriEvent, ColibriRequest, ColibriResponse};
use proto::session::{reason, Action};
use proto::{ConferenceId, EndpointId, RoomName};
use std::time::Instant;

/// A bridge that fails this many health checks in a row leaves the pool until it announces
/// itself again (a bridge gone while the bus was down never sends "unavailable").
const DROP_AFTER_HEALTH_FAILURES: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    Gone,
    Failed,
    Draining,
}

impl Focus {
    pub(super) fn on_bridge_presence(&mut self, now: Instant, nick: String, presence: BridgePresence) {
        let id = match BridgeId::new(&nick) {
            Ok(id) => id,
            Err(e) => {
                tracing::warn!(%e, "bridge presence with a bad nick; ignored");
                return;
            }
        };
        match presence {
            BridgePresence::Available(Ok(stats)) => {
                let draining = stats.draining;
                if self.pool.upsert(&id, stats, now) {
                    tracing::info!(bridge = %id, "bridge joined the pool");
                    self.reconcile_all(now);
                }
                self.flush_expires(now, &id);
                if draining {
                    self.move_off(now, &id, Why::Draining);
                }
            }
            BridgePresence::Available(Err(e)) => {
                self.counters.bridge_garbage += 1;
                tracing::warn!(bridge = %id, error = %e, "bridge presence with unreadable stats; ignored");
            }
            BridgePresence::Unavailable => {
                if self.pool.remove(&id) {
                    tracing::warn!(bridge = %id, "bridge left the pool");
                    self.counters.bridge_failures += 1;
                    self.move_off(now, &id, Why::Gone);
                }
            }
        }
    }

    pub(super) fn bridge_failed(&mut self, now: Instant, bridge: &BridgeId, why: &str) {
        let avoid = self.settings.bridge_avoid;
        tracing::warn!(%bridge, %why, "bridge failed; avoided for {avoid:?}");
        if self.pool.mark_failed(bridge, now, avoid, why) {
            self.counters.bridge_failures += 1;
        }
        self.move_off(now, bridge, Why::Failed);
    }

    /// Moves every session off `bridge`.
    fn move_off(&mut self, now: Instant, bridge: &BridgeId, why: Why) {
        self.forget_pending_to_bridge(bridge);
        if let Some(e) = self.pool.get_mut(bridge) {
            e.health_in_flight = None;
        }
        let mut affected: Vec<(RoomName, EndpointId)> = Vec::new();
        let mut rooms: Vec<RoomName> = Vec::new();
        for (name, r) in self.rooms.iter_mut() {
            let pinned = r.bridge.as_ref() == Some(bridge);
            if pinned {
                r.bridge = None;
            }
            let before = affected.len();
            affected.extend(
                r.participants.values().filter(|p| p.bridge() == Some(bridge)).map(|p| (name.clone(), p.id.clone())),
            );
            if pinned || affected.len() > before {
                rooms.push(name.clone());
            }
        }
        if why != Why::Draining {
            // The bridge may only be cut off (a bus outage): once it is back it must drop
            // what focus moved away, or it would keep forwarding those endpoints.
            for (room, ep) in &affected {
                if let Ok(conference) = ConferenceId::new(room.as_str()) {
                    self.keep_expire(bridge.clone(), ColibriRequest::Expire { conference, endpoint: ep.clone() });
                }
            }
            for room in &rooms {
                if let Ok(conference) = ConferenceId::new(room.as_str()) {
                    self.keep_expire(bridge.clone(), ColibriRequest::ExpireConference { conference });
                }
            }
        }
        for (room, ep) in &affected {
            let Some(p) = self.participant_mut(room, ep) else { continue };
            match std::mem::replace(&mut p.session, BridgeSession::None) {
                BridgeSession::Allocating { sid, accept_id, offer, .. } => {
                    // The participant's offer does not depend on the bridge: re-send it.
                    self.allocate(now, room, ep, sid, accept_id, offer);
                }
                BridgeSession::Active { sid, .. } => {
                    p.reneg_in_flight = None;
                    p.queued_offer = None;
                    p.connected = false;
                    let mut j = super::Jingle::new(Action::SessionTerminate, sid);
                    j.reason = Some(reason::MOVING.to_string());
                    self.send_session(now, room, ep, j, Pending::Terminate);
                    self.counters.moves += 1;
                }
                other => {
                    p.session = other;
                }
            }
        }
        if why == Why::Draining {
            for room in &rooms {
                if let Ok(conference) = ConferenceId::new(room.as_str()) {
                    self.send_expire(now, bridge, ColibriRequest::ExpireConference { conference });
                }
            }
        }
        if !affected.is_empty() {
            tracing::info!(%bridge, ?why, sessions = affected.len(), rooms = rooms.len(), "moved sessions off bridge");
        }
        for room in rooms {
            self.reconcile(now, &room);
        }
    }

    pub(super) fn health_checks(&mut self, now: Instant) {
        let interval = self.settings.health_interval;
        let timeout = self.settings.colibri_timeout.min(interval / 2);
        for id in self.pool.ids() {
            let due = self.pool.get(&id).is_some_and(|e| e.next_health <= now && e.health_in_flight.is_none());
            if !due {
                continue;
            }
            let iq =
                self.send_colibri(now, &id, ColibriRequest::Health, Pending::Health { bridge: id.clone() }, timeout);
            if let Some(e) = self.pool.get_mut(&id) {
                e.health_in_flight = Some(iq);
                e.next_health = now + interval;
            }
        }
    }

    pub(super) fn on_health(
        &mut self,
        now: Instant,
        bridge: &BridgeId,
        id: &str,
        body: Result<ResultBody, StanzaError>,
    ) {
        let Some(e) = self.pool.get_mut(bridge) else { return };
        if e.health_in_flight.as_deref() != Some(id) {
            return;
        }
        e.health_in_flight = None;
        let ok = matches!(body, Ok(ResultBody::Colibri(ColibriResponse::Health { .. })));
        e.health_failures = if ok { 0 } else { e.health_failures + 1 };
        if e.health_failures >= DROP_AFTER_HEALTH_FAILURES {
            tracing::warn!(%bridge, "bridge failed {DROP_AFTER_HEALTH_FAILURES} health checks in a row; dropped from the pool");
            self.pool.remove(bridge);
            self.move_off(now, bridge, Why::Gone);
            return;
        }
        match body {
            Ok(ResultBody::Colibri(ColibriResponse::Health { stats })) => {
                let draining = stats.draining;
                e.stats = stats;
                if draining {
                    self.move_off(now, bridge, Why::Draining);
                }
            }
            Ok(_) => {
                self.counters.bridge_garbage += 1;
                self.bridge_failed(now, bridge, "health answer unreadable");
            }
            Err(e) => {
                self.bridge_failed(now, bridge, &format!("health check failed: {} {}", e.condition.as_str(), e.text))
            }
        }
    }

    pub(super) fn on_bridge_event(
        &mut self,
        now: Instant,
        bridge: BridgeId,
        id: String,
        event: Result<ColibriEvent, String>,
    ) {
        let from = Addr::Bridge(bridge.clone());
        let event = match event {
            Ok(ev) => ev,
            Err(why) => {
                self.counters.bridge_garbage += 1;
                tracing::warn!(%bridge, %why, "unreadable event from bridge");
                self.reply(from, id, Err(StanzaError::new(Condition::BadRequest, why)));
                return;
            }
        };
        match event {
            ColibriEvent::Draining => {
                self.reply(from, id, Ok(Reply::Empty));
                tracing::info!(%bridge, "bridge is draining");
                self.pool.set_draining(&bridge);
                self.move_off(now, &bridge, Why::Draining);
            }
            ColibriEvent::Offer { conference, endpoint, offer, added, removed } => {
                let Some(room) = self.session_on(&bridge, &conference, &endpoint) else {
                    self.reply(
                        from,
                        id,
                        Err(StanzaError::new(Condition::ItemNotFound, "no such endpoint on this bridge")),
                    );
                    return;
                };
                if let Err(why) = check_sdp(&offer) {
                    self.counters.bridge_garbage += 1;
                    self.reply(from, id, Err(StanzaError::new(Condition::BadRequest, why)));
                    return;
                }
                self.reply(from, id, Ok(Reply::Empty));
                let action =
                    if removed.is_empty() || !added.is_empty() { Action::SourceAdd } else { Action::SourceRemove };
                self.relay_offer(now, &room, &endpoint, action, offer);
            }
            ColibriEvent::EndpointConnected { conference, endpoint } => {
                let Some(room) = self.session_on(&bridge, &conference, &endpoint) else {
                    self.reply(
                        from,
                        id,
                        Err(StanzaError::new(Condition::ItemNotFound, "no such endpoint on this bridge")),
                    );
                    return;
                };
                self.reply(from, id, Ok(Reply::Empty));
                if let Some(p) = self.participant_mut(&room, &endpoint) {
                    p.connected = true;
                    p.transport_failures = 0;
                }
            }
            ColibriEvent::EndpointFailed { conference, endpoint, reason: why } => {
                let Some(room) = self.session_on(&bridge, &conference, &endpoint) else {
                    self.reply(
                        from,
                        id,
                        Err(StanzaError::new(Condition::ItemNotFound, "no such endpoint on this bridge")),
                    );
                    return;
                };
                self.reply(from, id, Ok(Reply::Empty));
                self.on_transport_failed(now, &room, &endpoint, &why);
            }
        }
    }

    /// The bridge lost the participant's transport (and removed the endpoint): start a new
    /// session, up to three times in a row.
    fn on_transport_failed(&mut self, now: Instant, room: &RoomName, ep: &EndpointId, why: &str) {
        let Some(p) = self.participant_mut(room, ep) else { return };
        if !matches!(p.session, BridgeSession::Active { .. }) {
            return;
        }
        p.transport_failures += 1;
        if p.transport_failures > 3 {
            self.fail_participant(now, room, ep, &format!("transport failed repeatedly: {why}"));
            return;
        }
        tracing::info!(%room, %ep, %why, "participant's transport failed; new session");
        self.drop_session(now, room, ep, Some(reason::MOVING), false);
        self.reconcile(now, room);
    }

    /// The room whose participant `endpoint` has its session on `bridge` in `conference`.
    fn session_on(&self, bridge: &BridgeId, conference: &ConferenceId, endpoint: &EndpointId) -> Option<RoomName> {
        let room = RoomName::new(conference.as_str()).ok()?;
        let p = self.rooms.get(&room)?.participants.get(endpoint)?;
        (p.bridge() == Some(bridge)).then_some(room)
    }
}
