//! A room as focus follows it: its occupants (participants), the bridge its conference is
//! on, whether media goes through the bridge or peer to peer, and each participant's bridge
//! session state. Plain data; the transitions live in the modules that own each behaviour.

use super::io::{BridgeId, ForcedMute};
use proto::session::Action;
use proto::{EndpointId, RoomName};
use std::collections::BTreeMap;
use std::time::Instant;

#[derive(Debug)]
pub struct Room {
    pub name: RoomName,
    pub join: JoinState,
    pub participants: BTreeMap<EndpointId, Participant>,
    /// The bridge this room's conference lives on; it stays there while it has endpoints.
    pub bridge: Option<BridgeId>,
    pub mode: Mode,
    /// `room_created` was notified (the first participant arrived).
    pub created: bool,
    /// Since when the joined room has had nobody in it.
    pub empty_since: Option<Instant>,
    /// A P2P attempt failed with the current two participants: stay on the bridge until the
    /// membership changes.
    pub p2p_blocked: bool,
    /// After a bus reconnect: the occupants signal announced again before our
    /// self-presence; participants missing from it left while we were away.
    pub resync: Option<std::collections::BTreeSet<EndpointId>>,
    /// When the last conference request for this room was answered: a page that got
    /// `ready` is about to join, so the room is not left right after.
    pub last_request: Option<Instant>,
}

#[derive(Debug)]
pub enum JoinState {
    /// Our presence was sent; conference requests wait for the self-presence.
    Joining {
        deadline: Instant,
        waiters: Vec<(String, String)>,
    },
    Joined,
}

#[derive(Debug)]
pub enum Mode {
    /// Everyone with a session uses the bridge; `p2p_at` is when P2P starts if the room
    /// stays at two participants until then.
    Bridge {
        p2p_at: Option<Instant>,
    },
    P2p(P2p),
}

#[derive(Debug)]
pub struct P2p {
    /// Sends the offer.
    pub initiator: EndpointId,
    pub responder: EndpointId,
    pub sid: String,
    /// Participants that acknowledged their P2P `session-initiate`.
    pub acked: u8,
    /// When the bridge sessions are released (set once both acknowledged).
    pub release_at: Option<Instant>,
    /// The bridge sessions were ended for P2P: the pair's media depends on P2P alone.
    pub released: bool,
}

#[derive(Debug)]
pub struct Participant {
    pub id: EndpointId,
    pub display_name: String,
    pub audio_muted: bool,
    pub video_muted: bool,
    /// What a moderator muted (signal states it in the presence; the bridge enforces it).
    pub forced: ForcedMute,
    pub joined_at: Instant,
    pub session: BridgeSession,
    /// Id of the `source-add`/`source-remove` IQ awaiting the participant's answer.
    pub reneg_in_flight: Option<String>,
    /// The bridge's newest offer not yet sent (replaces older ones: batching).
    pub queued_offer: Option<(Action, String)>,
    /// The bridge reported the endpoint's transport up.
    pub connected: bool,
    /// Transport failures reported by the bridge since the last success.
    pub transport_failures: u32,
    /// Focus gave up on this participant's session (it did not answer, or answered
    /// garbage); it stays in the room without media until it rejoins.
    pub failed: bool,
    /// The participant had an active bridge session at least once (so a later silence is
    /// more likely a network outage than a broken page).
    pub had_session: bool,
}

impl Participant {
    pub fn new(id: EndpointId, now: Instant) -> Self {
        Participant {
            id,
            display_name: String::new(),
            audio_muted: false,
            video_muted: false,
            forced: ForcedMute::default(),
            joined_at: now,
            session: BridgeSession::None,
            reneg_in_flight: None,
            queued_offer: None,
            connected: false,
            transport_failures: 0,
            failed: false,
            had_session: false,
        }
    }

    /// The bridge holding (or being asked for) this participant's endpoint.
    pub fn bridge(&self) -> Option<&BridgeId> {
        match &self.session {
            BridgeSession::Allocating { bridge, .. } | BridgeSession::Active { bridge, .. } => Some(bridge),
            _ => None,
        }
    }
}

/// The bridge session with one participant (see `proto::session`, bridge mode).
#[derive(Debug, Clone, PartialEq)]
pub enum BridgeSession {
    None,
    /// `session-initiate` sent; waiting for its IQ result.
    Initiating {
        sid: String,
    },
    /// Acknowledged; waiting for the participant's `session-accept` with its offer.
    AwaitingAccept {
        sid: String,
        deadline: Instant,
    },
    /// The offer went to `bridge`; the participant's `session-accept` IQ `accept_id` is
    /// answered when the bridge answers.
    Allocating {
        sid: String,
        bridge: BridgeId,
        accept_id: String,
        offer: String,
    },
    Active {
        sid: String,
        bridge: BridgeId,
    },
}

impl BridgeSession {
    pub fn sid(&self) -> Option<&str> {
        match self {
            BridgeSession::None => None,
            BridgeSession::Initiating { sid }
            | BridgeSession::AwaitingAccept { sid, .. }
            | BridgeSession::Allocating { sid, .. }
            | BridgeSession::Active { sid, .. } => Some(sid),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            BridgeSession::None => "none",
            BridgeSession::Initiating { .. } => "initiating",
            BridgeSession::AwaitingAccept { .. } => "awaiting-accept",
            BridgeSession::Allocating { .. } => "allocating",
            BridgeSession::Active { .. } => "active",
        }
    }
}

impl Room {
    pub fn new(name: RoomName, deadline: Instant) -> Self {
        Room {
            name,
            join: JoinState::Joining { deadline, waiters: Vec::new() },
            participants: BTreeMap::new(),
            bridge: None,
            mode: Mode::Bridge { p2p_at: None },
            created: false,
            empty_since: None,
            p2p_blocked: false,
            resync: None,
            last_request: None,
        }
    }

    pub fn is_p2p(&self) -> bool {
        matches!(self.mode, Mode::P2p(_))
    }
}
