//! The sans-IO core of focus: rooms, participants, sessions, the bridge pool and failover.
//!
//! Inputs arrive through [`Focus::handle_input`] and [`Focus::handle_timeout`] with the
//! current time; stanzas to send and notifications come out of [`Focus::poll_output`], and
//! [`Focus::poll_timeout`] says when to call `handle_timeout` next. The core never touches a
//! socket or reads a clock, so every behaviour is tested in virtual time. It never panics on
//! input: anything malformed is answered with an error or ignored and logged.

mod bridge_pool;
mod conference;
mod expiry;
mod failover;
mod io;
mod jingle;
mod moderation;
mod p2p;
mod room;
mod session;
mod settings;
mod stats;

pub use bridge_pool::BridgePool;
pub use conference::FOCUS_NICK;
pub use io::{
    Addr, BridgeId, BridgePresence, Condition, ForcedMute, Input, Notification, OccupantPresence, Output, Reply,
    ResultBody, StanzaError,
};
pub use jingle::{check_sdp, Description, Jingle, MAX_SDP_BYTES};
pub use room::BridgeSession;
pub use settings::Settings;
pub use stats::{Counters, Stats};

use proto::colibri::ColibriRequest;
use proto::{EndpointId, RoomName};
use room::Room;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// What one of our outstanding IQs was for.
#[derive(Debug, Clone)]
enum Pending {
    Initiate {
        room: RoomName,
        ep: EndpointId,
        sid: String,
    },
    Reneg {
        room: RoomName,
        ep: EndpointId,
        sid: String,
    },
    P2pInitiate {
        room: RoomName,
        sid: String,
    },
    /// A `session-terminate`: its answer changes nothing.
    Terminate,
    Allocate {
        room: RoomName,
        ep: EndpointId,
        sid: String,
        bridge: BridgeId,
    },
    Answer {
        room: RoomName,
        ep: EndpointId,
        bridge: BridgeId,
    },
    /// An `Expire` or `ExpireConference` (kept to be sent again if it was not delivered).
    Expire {
        bridge: BridgeId,
        request: ColibriRequest,
    },
    Health {
        bridge: BridgeId,
    },
    /// A `ForceMute`: a refusal is logged (the endpoint is gone or moving, and the next
    /// allocation states the mute again).
    ForceMute {
        bridge: BridgeId,
    },
}

impl Pending {
    fn bridge(&self) -> Option<&BridgeId> {
        match self {
            Pending::Allocate { bridge, .. }
            | Pending::Answer { bridge, .. }
            | Pending::Expire { bridge, .. }
            | Pending::Health { bridge }
            | Pending::ForceMute { bridge } => Some(bridge),
            _ => None,
        }
    }
    fn participant(&self) -> Option<(&RoomName, Option<&EndpointId>)> {
        match self {
            Pending::Initiate { room, ep, .. } | Pending::Reneg { room, ep, .. } => Some((room, Some(ep))),
            Pending::Allocate { room, ep, .. } | Pending::Answer { room, ep, .. } => Some((room, Some(ep))),
            Pending::P2pInitiate { room, .. } => Some((room, None)),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct PendingIq {
    to: Addr,
    deadline: Instant,
    what: Pending,
}

/// The focus state machine. One instance owns every room.
pub struct Focus {
    settings: Settings,
    rooms: BTreeMap<RoomName, Room>,
    pool: BridgePool,
    pending: HashMap<String, PendingIq>,
    out: VecDeque<Output>,
    seq: u64,
    counters: Counters,
    /// Expires a bridge did not get (see `expiry.rs`).
    undelivered_expires: Vec<(BridgeId, ColibriRequest)>,
}

impl Focus {
    pub fn new(settings: Settings) -> Self {
        Focus {
            settings,
            rooms: BTreeMap::new(),
            pool: BridgePool::default(),
            pending: HashMap::new(),
            out: VecDeque::new(),
            seq: 0,
            counters: Counters::default(),
            undelivered_expires: Vec::new(),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn handle_input(&mut self, now: Instant, input: Input) {
        match input {
            Input::ConferenceRequest { from, id, room } => self.on_conference_request(now, from, id, room),
            Input::Occupant { room, nick, presence } => self.on_occupant(now, room, nick, presence),
            Input::JoinFailed { room, error } => self.on_join_failed(room, error),
            Input::SessionIq { room, nick, id, jingle } => self.on_session_iq(now, room, nick, id, jingle),
            Input::IqResult { id, from, body } => self.on_response(now, id, from, Ok(body)),
            Input::IqError { id, from, error } => self.on_response(now, id, from, Err(error)),
            Input::Bridge { bridge, presence } => self.on_bridge_presence(now, bridge, presence),
            Input::BridgeEvent { bridge, id, event } => self.on_bridge_event(now, bridge, id, event),
            Input::Reconnected => self.on_reconnected(now),
        }
    }

    /// Runs everything whose time has come: IQ timeouts, P2P switches, health checks,
    /// join timeouts, idle rooms.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired: Vec<String> =
            self.pending.iter().filter(|(_, p)| p.deadline <= now).map(|(id, _)| id.clone()).collect();
        for id in expired {
            if let Some(p) = self.pending.remove(&id) {
                let error = StanzaError::new(Condition::RemoteServerTimeout, "no answer in time");
                self.on_pending_done(now, id, p.what, Err(error));
            }
        }
        self.session_timeouts(now);
        self.p2p_timeouts(now);
        self.room_timeouts(now);
        self.health_checks(now);
        if self.pool.expire_failures(now) {
            self.reconcile_all(now);
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When `handle_timeout` must run next (None: only an input can change anything).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let pending = self.pending.values().map(|p| p.deadline).min();
        let idle = self.settings.idle_room_timeout;
        let rooms = self.rooms.values().flat_map(|r| room_deadlines(r, idle)).min();
        [pending, rooms, self.pool.next_deadline()].into_iter().flatten().min()
    }

    fn next_id(&mut self) -> String {
        self.seq += 1;
        format!("{}{}", self.settings.id_prefix, self.seq)
    }

    fn send_session(
        &mut self,
        now: Instant,
        room: &RoomName,
        ep: &EndpointId,
        jingle: Jingle,
        what: Pending,
    ) -> String {
        let id = self.next_id();
        let timeout = self.settings.participant_timeout;
        self.pending.insert(
            id.clone(),
            PendingIq { to: Addr::Occupant(room.clone(), ep.clone()), deadline: now + timeout, what },
        );
        self.out.push_back(Output::SessionIq { id: id.clone(), room: room.clone(), nick: ep.clone(), jingle });
        id
    }

    fn send_colibri(
        &mut self,
        now: Instant,
        bridge: &BridgeId,
        request: ColibriRequest,
        what: Pending,
        timeout: Duration,
    ) -> String {
        let id = self.next_id();
        self.pending.insert(id.clone(), PendingIq { to: Addr::Bridge(bridge.clone()), deadline: now + timeout, what });
        self.out.push_back(Output::Colibri { id: id.clone(), bridge: bridge.clone(), request });
        id
    }

    fn reply(&mut self, to: Addr, id: String, body: Result<Reply, StanzaError>) {
        self.out.push_back(Output::Reply { to, id, body });
    }

    fn notify(&mut self, n: Notification) {
        self.out.push_back(Output::Notify(n));
    }

    /// An answer (or error, or timeout) to one of our IQs.
    fn on_response(&mut self, now: Instant, id: String, from: Addr, body: Result<ResultBody, StanzaError>) {
        let Some(p) = self.pending.remove(&id) else {
            tracing::debug!(%id, "answer to no request of ours (late or unknown); ignored");
            return;
        };
        if p.to != from {
            tracing::warn!(%id, ?from, expected = ?p.to, "answer from the wrong address; ignored");
            self.pending.insert(id, p);
            return;
        }
        self.on_pending_done(now, id, p.what, body);
    }

    fn on_pending_done(&mut self, now: Instant, id: String, what: Pending, body: Result<ResultBody, StanzaError>) {
        match what {
            Pending::Initiate { room, ep, sid } => self.on_initiate_answer(now, &room, &ep, &sid, body),
            Pending::Reneg { room, ep, sid } => self.on_reneg_answer(now, &room, &ep, &sid, &id, body),
            Pending::P2pInitiate { room, sid } => self.on_p2p_answer(now, &room, &sid, body),
            Pending::Terminate => {}
            Pending::Allocate { room, ep, sid, bridge } => self.on_allocated(now, &room, &ep, &sid, &bridge, body),
            Pending::Answer { room, ep, bridge } => self.on_answer_done(now, &room, &ep, &bridge, body),
            Pending::Expire { bridge, request } => self.on_expire_done(bridge, request, body),
            Pending::Health { bridge } => self.on_health(now, &bridge, &id, body),
            Pending::ForceMute { bridge } => {
                if let Err(e) = body {
                    tracing::warn!(%bridge, error = %e.text, "the bridge did not take a force-mute");
                }
            }
        }
    }

    /// Forgets our outstanding IQs that concern `room` (and `ep`, if given): their answers
    /// no longer matter.
    fn forget_pending(&mut self, room: &RoomName, ep: Option<&EndpointId>) {
        self.pending.retain(|_, p| match p.what.participant() {
            Some((r, e)) => !(r == room && (ep.is_none() || e.is_none() || e == ep)),
            None => true,
        });
    }

    /// Forgets our outstanding IQs to `bridge`; its expires are kept to be sent again when
    /// it is back.
    fn forget_pending_to_bridge(&mut self, bridge: &BridgeId) {
        let ids: Vec<String> =
            self.pending.iter().filter(|(_, p)| p.what.bridge() == Some(bridge)).map(|(id, _)| id.clone()).collect();
        for id in ids {
            if let Some(PendingIq { what: Pending::Expire { bridge, request }, .. }) = self.pending.remove(&id) {
                self.keep_expire(bridge, request);
            }
        }
    }

    /// Brings every room's sessions in line with its mode (after a bridge appeared or
    /// became usable again).
    fn reconcile_all(&mut self, now: Instant) {
        let names: Vec<RoomName> = self.rooms.keys().cloned().collect();
        for name in names {
            self.reconcile(now, &name);
        }
    }
}

fn room_deadlines(r: &Room, idle: Duration) -> impl Iterator<Item = Instant> + '_ {
    let join = match &r.join {
        room::JoinState::Joining { deadline, .. } => Some(*deadline),
        room::JoinState::Joined => None,
    };
    let mode = match &r.mode {
        room::Mode::Bridge { p2p_at } => *p2p_at,
        room::Mode::P2p(p) => p.release_at,
    };
    let sessions = r.participants.values().filter_map(|p| match &p.session {
        BridgeSession::AwaitingAccept { deadline, .. } => Some(*deadline),
        _ => None,
    });
    [join, mode, r.empty_since.map(|t| t + idle)].into_iter().flatten().chain(sessions)
}

#[cfg(test)]
mod tests;
