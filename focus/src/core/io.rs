//! What goes into the core and what comes out of it: typed stanzas with the XML already
//! stripped off, addresses as the core knows them, and notifications for webhooks.
//!
//! The driver owns the mapping to and from XMPP addresses and elements; nothing here knows
//! a JID's domain part.

use super::jingle::Jingle;
use proto::colibri::{BridgeStats, ColibriEvent, ColibriRequest, ColibriResponse};
use proto::{EndpointId, RoomName};
use serde::Serialize;
use std::fmt;

/// A bridge's id: the `<BRIDGE_ID>` of `<BRIDGE_ID>.<domain>` and of its occupant nick in
/// `bridges@internal.<domain>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct BridgeId(String);

impl BridgeId {
    /// Letters, digits, `-` and `_`, at most 64 bytes (it becomes a DNS-like label).
    pub fn new(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            Ok(BridgeId(s.to_string()))
        } else {
            Err(format!("not a bridge id: {s:?}"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BridgeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who a stanza is from or to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    /// Anyone outside the rooms: the sender of a conference request (full JID, opaque here).
    Jid(String),
    /// `<room>@conference.<domain>/<nick>`.
    Occupant(RoomName, EndpointId),
    /// `<bridge>.<domain>`.
    Bridge(BridgeId),
}

/// An occupant's presence as focus sees it in a room.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OccupantPresence {
    pub available: bool,
    pub display_name: String,
    pub audio_muted: bool,
    pub video_muted: bool,
    /// A moderator's mute as signal states it (`<muted xmlns=proto::ns::ROOM/>`, written by
    /// signal alone): focus makes the bridge stop forwarding these media.
    pub forced: ForcedMute,
}

/// Which of an occupant's media a moderator muted (signal/ROOMS.md, section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ForcedMute {
    pub audio: bool,
    pub video: bool,
}

impl ForcedMute {
    pub fn any(self) -> bool {
        self.audio || self.video
    }
}

/// A bridge's presence in `bridges@internal.<domain>`.
#[derive(Debug, Clone, PartialEq)]
pub enum BridgePresence {
    /// Available, with its `<stats/>` (or why they could not be read).
    Available(Result<BridgeStats, String>),
    Unavailable,
}

/// The payload of an IQ result for one of our requests.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultBody {
    Empty,
    Jingle(Jingle),
    Colibri(ColibriResponse),
    /// A payload that could not be read (what was wrong).
    Unparsable(String),
}

/// An IQ error, as received or as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StanzaError {
    pub condition: Condition,
    pub text: String,
}

/// The XMPP error conditions focus uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    BadRequest,
    ItemNotFound,
    ServiceUnavailable,
    RemoteServerTimeout,
    UnexpectedRequest,
    FeatureNotImplemented,
    InternalServerError,
    /// Any condition focus does not act on specifically.
    Other,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::BadRequest => "bad-request",
            Condition::ItemNotFound => "item-not-found",
            Condition::ServiceUnavailable => "service-unavailable",
            Condition::RemoteServerTimeout => "remote-server-timeout",
            Condition::UnexpectedRequest => "unexpected-request",
            Condition::FeatureNotImplemented => "feature-not-implemented",
            Condition::InternalServerError => "internal-server-error",
            Condition::Other => "undefined-condition",
        }
    }
    pub fn parse(s: &str) -> Condition {
        match s {
            "bad-request" => Condition::BadRequest,
            "item-not-found" => Condition::ItemNotFound,
            "service-unavailable" => Condition::ServiceUnavailable,
            "remote-server-timeout" => Condition::RemoteServerTimeout,
            "unexpected-request" => Condition::UnexpectedRequest,
            "feature-not-implemented" => Condition::FeatureNotImplemented,
            "internal-server-error" => Condition::InternalServerError,
            _ => Condition::Other,
        }
    }
    /// `wait` for conditions that may clear by themselves, `modify` for the sender's fault.
    pub fn error_type(self) -> &'static str {
        match self {
            Condition::BadRequest | Condition::UnexpectedRequest => "modify",
            Condition::ServiceUnavailable | Condition::RemoteServerTimeout | Condition::InternalServerError => "wait",
            _ => "cancel",
        }
    }
}

impl StanzaError {
    pub fn new(condition: Condition, text: impl Into<String>) -> Self {
        StanzaError { condition, text: text.into() }
    }
}

/// One event for the core.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// IQ set `<conference xmlns="http://jitsi.org/protocol/focus" room="…"/>`; `room` is
    /// the attribute as received (a bare JID or a local part), not yet checked.
    ConferenceRequest { from: String, id: String, room: String },
    /// Presence of `<room>@conference/<nick>`; `nick` is not yet checked. Our own nick
    /// (`focus`) is the self-presence that completes a join.
    Occupant { room: RoomName, nick: String, presence: OccupantPresence },
    /// Our join of `room` was refused (presence type `error`).
    JoinFailed { room: RoomName, error: String },
    /// IQ set with `<jingle/>` from an occupant (or why its `<jingle/>` was unreadable).
    SessionIq { room: RoomName, nick: String, id: String, jingle: Result<Jingle, String> },
    /// IQ result for a request of ours.
    IqResult { id: String, from: Addr, body: ResultBody },
    /// IQ error for a request of ours.
    IqError { id: String, from: Addr, error: StanzaError },
    /// Presence of a bridge in `bridges@internal.<domain>`; `bridge` is its nick, unchecked.
    Bridge { bridge: String, presence: BridgePresence },
    /// IQ set `<colibri/>` from a bridge (or why its JSON was unreadable).
    BridgeEvent { bridge: BridgeId, id: String, event: Result<ColibriEvent, String> },
    /// The bus connection was re-established: every room must be joined again.
    Reconnected,
}

/// One thing for the driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Presence to `<room>@conference.<domain>/focus` (join as occupant `focus`).
    JoinRoom(RoomName),
    /// Unavailable presence to `<room>@conference.<domain>/focus`.
    LeaveRoom(RoomName),
    /// IQ set with `<jingle/>` from focus to the occupant.
    SessionIq { id: String, room: RoomName, nick: EndpointId, jingle: Jingle },
    /// IQ set with `<colibri/>` to a bridge.
    Colibri { id: String, bridge: BridgeId, request: ColibriRequest },
    /// An IQ result or error answering a request someone sent us.
    Reply { to: Addr, id: String, body: Result<Reply, StanzaError> },
    /// A server notification for the webhook.
    Notify(Notification),
}

/// The payload of a result we send.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Empty,
    /// `<conference ready="true" focusjid="focus.<domain>"/>`.
    ConferenceReady {
        room: RoomName,
    },
    Jingle(Jingle),
}

/// Server notifications (webhook bodies: `{"event": "...", ...}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Notification {
    RoomCreated { room: RoomName },
    ParticipantJoined { room: RoomName, participant: EndpointId, display_name: String },
    ParticipantLeft { room: RoomName, participant: EndpointId },
    RoomEnded { room: RoomName },
}
