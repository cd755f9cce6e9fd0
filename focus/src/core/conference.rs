//! Conference requests and room lifecycle: joining a room as occupant `focus`, following
//! its occupants, creating the conference with the first participant and ending it with the
//! last (bridge conference expired, room left, notifications).
//!
//! Never trusts a room name or nick from the network before it passed `proto`'s checks.

use super::io::{Addr, Condition, Notification, OccupantPresence, Reply, StanzaError};
use super::room::{JoinState, Mode, Participant, Room};
use super::Focus;
use proto::colibri::ColibriRequest;
use proto::{ConferenceId, EndpointId, RoomName};
use std::time::Instant;

/// The nick focus uses in every room.
pub const FOCUS_NICK: &str = "focus";

impl Focus {
    pub(super) fn on_conference_request(&mut self, now: Instant, from: String, id: String, room: String) {
        self.counters.conference_requests += 1;
        let name = match self.parse_room_attr(&room) {
            Ok(n) => n,
            Err(why) => {
                self.counters.bad_requests += 1;
                tracing::info!(%from, room = %room, %why, "conference request refused");
                self.reply(Addr::Jid(from), id, Err(StanzaError::new(Condition::BadRequest, why)));
                return;
            }
        };
        match self.rooms.get_mut(&name) {
            Some(r) => match &mut r.join {
                JoinState::Joined => {
                    r.last_request = Some(now);
                    self.reply(Addr::Jid(from), id, Ok(Reply::ConferenceReady { room: name }))
                }
                JoinState::Joining { waiters, .. } => waiters.push((from, id)),
            },
            None => {
                let mut r = Room::new(name.clone(), now + self.settings.room_join_timeout);
                if let JoinState::Joining { waiters, .. } = &mut r.join {
                    waiters.push((from, id));
                }
                self.rooms.insert(name.clone(), r);
                self.out.push_back(super::Output::JoinRoom(name));
            }
        }
    }

    /// `room@conference.<domain>` or a bare `room`, checked with [`RoomName::normalize`].
    fn parse_room_attr(&self, attr: &str) -> Result<RoomName, String> {
        let local = match attr.split_once('@') {
            Some((local, domain)) => {
                if !domain.eq_ignore_ascii_case(&self.settings_muc_domain()) {
                    return Err(format!("room must be on {}", self.settings_muc_domain()));
                }
                local
            }
            None => attr,
        };
        RoomName::normalize(local).map_err(|e| format!("bad room name: {e}"))
    }

    fn settings_muc_domain(&self) -> String {
        self.settings.muc_domain.clone()
    }

    pub(super) fn on_join_failed(&mut self, room: RoomName, error: String) {
        let Some(r) = self.rooms.get(&room) else { return };
        if !matches!(r.join, JoinState::Joining { .. }) {
            return;
        }
        tracing::warn!(%room, %error, "could not join room");
        self.drop_room_joining(
            &room,
            StanzaError::new(Condition::ServiceUnavailable, format!("focus could not join the room: {error}")),
        );
    }

    fn drop_room_joining(&mut self, room: &RoomName, error: StanzaError) {
        if let Some(r) = self.rooms.remove(room) {
            if let JoinState::Joining { waiters, .. } = r.join {
                for (from, id) in waiters {
                    self.reply(Addr::Jid(from), id, Err(error.clone()));
                }
            }
            self.forget_pending(room, None);
        }
    }

    pub(super) fn on_occupant(&mut self, now: Instant, room: RoomName, nick: String, p: OccupantPresence) {
        let Some(r) = self.rooms.get_mut(&room) else {
            tracing::debug!(%room, %nick, "presence from a room focus is not in; ignored");
            return;
        };
        if nick == FOCUS_NICK {
            if p.available {
                if let Some(seen) = r.resync.take() {
                    let gone: Vec<EndpointId> = r.participants.keys().filter(|e| !seen.contains(*e)).cloned().collect();
                    for ep in gone {
                        tracing::info!(%room, %ep, "participant left while the bus was down");
                        self.participant_left(now, &room, &ep);
                    }
                    let Some(r) = self.rooms.get_mut(&room) else { return };
                    r.join = JoinState::Joined;
                    return;
                }
                if let JoinState::Joining { waiters, .. } = std::mem::replace(&mut r.join, JoinState::Joined) {
                    if r.participants.is_empty() {
                        r.empty_since = Some(now);
                    }
                    r.last_request = Some(now);
                    for (from, id) in waiters {
                        self.reply(Addr::Jid(from), id, Ok(Reply::ConferenceReady { room: room.clone() }));
                    }
                }
            } else {
                tracing::warn!(%room, "focus was removed from the room; ending its conference");
                self.end_room(now, &room, false);
            }
            return;
        }
        let ep = match EndpointId::new(nick.clone()) {
            Ok(ep) => ep,
            Err(e) => {
                tracing::info!(%room, %nick, error = %e, "occupant nick is not a valid endpoint id; not a participant");
                return;
            }
        };
        if p.available {
            let name = room.clone();
            if let Some(seen) = r.resync.as_mut() {
                seen.insert(ep.clone());
            }
            match r.participants.get_mut(&ep) {
                Some(part) => {
                    part.display_name = p.display_name;
                    part.audio_muted = p.audio_muted;
                    part.video_muted = p.video_muted;
                    if part.forced != p.forced {
                        part.forced = p.forced;
                        self.forced_mute_changed(now, &name, &ep);
                    }
                }
                None => {
                    let mut part = Participant::new(ep.clone(), now);
                    part.display_name = p.display_name.clone();
                    part.audio_muted = p.audio_muted;
                    part.video_muted = p.video_muted;
                    part.forced = p.forced;
                    r.participants.insert(ep.clone(), part);
                    r.empty_since = None;
                    r.p2p_blocked = false;
                    if let Mode::Bridge { p2p_at } = &mut r.mode {
                        *p2p_at = None;
                    }
                    let first = !r.created;
                    r.created = true;
                    self.counters.participants_joined += 1;
                    if first {
                        self.counters.rooms_created += 1;
                        self.notify(Notification::RoomCreated { room: name.clone() });
                    }
                    self.notify(Notification::ParticipantJoined {
                        room: name.clone(),
                        participant: ep,
                        display_name: p.display_name,
                    });
                    self.reconcile(now, &name);
                }
            }
        } else if r.participants.contains_key(&ep) {
            self.participant_left(now, &room, &ep);
        }
    }

    fn participant_left(&mut self, now: Instant, room: &RoomName, ep: &EndpointId) {
        self.counters.participants_left += 1;
        // Its endpoint is expired on the bridge, which then offers the others a
        // renegotiation without its sources (relayed as source-remove).
        self.drop_session(now, room, ep, None, true);
        self.forget_pending(room, Some(ep));
        let Some(r) = self.rooms.get_mut(room) else { return };
        r.participants.remove(ep);
        r.p2p_blocked = false;
        if let Mode::Bridge { p2p_at } = &mut r.mode {
            *p2p_at = None;
        }
        self.notify(Notification::ParticipantLeft { room: room.clone(), participant: ep.clone() });
        let empty = self.rooms.get(room).is_some_and(|r| r.participants.is_empty());
        let expecting = self
            .rooms
            .get(room)
            .and_then(|r| r.last_request)
            .is_some_and(|t| t + self.settings.room_join_timeout > now);
        if empty && expecting {
            // Someone was just told the room is ready and is about to join: the conference
            // ends, but focus stays in the room (left after the idle timeout).
            self.end_conference(now, room);
        } else if empty {
            self.end_room(now, room, true);
        } else {
            self.reconcile(now, room);
        }
    }

    /// The conference is over: expire it on its bridge, leave the room, notify.
    pub(super) fn end_room(&mut self, now: Instant, room: &RoomName, leave: bool) {
        let names: Vec<EndpointId> =
            self.rooms.get(room).map(|r| r.participants.keys().cloned().collect()).unwrap_or_default();
        for ep in &names {
            self.drop_session(now, room, ep, None, false);
        }
        self.release_conference(now, room);
        self.forget_pending(room, None);
        let Some(r) = self.rooms.remove(room) else { return };
        if let JoinState::Joining { waiters, .. } = r.join {
            for (from, id) in waiters {
                self.reply(Addr::Jid(from), id, Err(StanzaError::new(Condition::ServiceUnavailable, "room ended")));
            }
        }
        if leave {
            self.out.push_back(super::Output::LeaveRoom(room.clone()));
        }
        if r.created {
            self.counters.rooms_ended += 1;
            self.notify(Notification::RoomEnded { room: room.clone() });
        }
    }

    /// The conference of a room focus stays in is over: bridge conference expired,
    /// `room_ended` notified, the room idle until someone joins or the idle timeout.
    fn end_conference(&mut self, now: Instant, room: &RoomName) {
        self.release_conference(now, room);
        let Some(r) = self.rooms.get_mut(room) else { return };
        r.mode = Mode::Bridge { p2p_at: None };
        r.empty_since = Some(now);
        if std::mem::replace(&mut r.created, false) {
            self.counters.rooms_ended += 1;
            self.notify(Notification::RoomEnded { room: room.clone() });
        }
    }

    /// Expires the room's conference on its bridge (if it has one) and unpins it.
    pub(super) fn release_conference(&mut self, now: Instant, room: &RoomName) {
        let Some(bridge) = self.rooms.get_mut(room).and_then(|r| r.bridge.take()) else { return };
        let Ok(conference) = ConferenceId::new(room.as_str()) else { return };
        self.send_expire(now, &bridge, ColibriRequest::ExpireConference { conference });
    }

    pub(super) fn room_timeouts(&mut self, now: Instant) {
        let mut join_failed = Vec::new();
        let mut idle = Vec::new();
        for (name, r) in &self.rooms {
            if let JoinState::Joining { deadline, .. } = &r.join {
                if *deadline <= now {
                    join_failed.push(name.clone());
                }
            }
            if r.empty_since.is_some_and(|t| t + self.settings.idle_room_timeout <= now) {
                idle.push(name.clone());
            }
        }
        for name in join_failed {
            tracing::warn!(room = %name, "no self-presence in time; conference request fails");
            self.out.push_back(super::Output::LeaveRoom(name.clone()));
            let rejoining = self.rooms.get(&name).is_some_and(|r| r.resync.is_some());
            if rejoining {
                self.end_room(now, &name, false);
            } else {
                self.drop_room_joining(
                    &name,
                    StanzaError::new(Condition::RemoteServerTimeout, "focus could not join the room in time"),
                );
            }
        }
        for name in idle {
            tracing::info!(room = %name, "nobody entered the room; leaving it");
            self.end_room(now, &name, true);
        }
    }

    /// After a reconnect of the bus, signal has forgotten our occupancy: join every room
    /// again. Participants' presences come again with the self-presence.
    pub(super) fn on_reconnected(&mut self, now: Instant) {
        let deadline = now + self.settings.room_join_timeout;
        let names: Vec<RoomName> = self.rooms.keys().cloned().collect();
        for name in names {
            if let Some(r) = self.rooms.get_mut(&name) {
                if matches!(r.join, JoinState::Joined) {
                    r.join = JoinState::Joining { deadline, waiters: Vec::new() };
                    r.resync = Some(Default::default());
                }
            }
            self.out.push_back(super::Output::JoinRoom(name));
        }
    }
}

impl Focus {
    /// Focus is stopping: every session ends (`reason="ended"`), every conference is
    /// expired on its bridge and every room left.
    pub fn shutdown(&mut self, now: Instant) {
        let names: Vec<RoomName> = self.rooms.keys().cloned().collect();
        for room in names {
            let eps: Vec<EndpointId> =
                self.rooms.get(&room).map(|r| r.participants.keys().cloned().collect()).unwrap_or_default();
            for ep in eps {
                self.drop_session(now, &room, &ep, Some(proto::session::reason::ENDED), false);
            }
            self.end_room(now, &room, true);
        }
    }
}
