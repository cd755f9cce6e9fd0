//! The core's timing and policy knobs, fixed at start. Plain data: the driver fills it from
//! the environment, tests shorten nothing (they run in virtual time).

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Two participants talk peer to peer when true (`P2P_ENABLED`).
    pub p2p_enabled: bool,
    /// How long a room must stay at exactly two participants before P2P starts.
    pub p2p_delay: Duration,
    /// How long bridge sessions are kept after both peers acknowledged the P2P session, so
    /// media does not stop while the peers connect to each other.
    pub p2p_overlap: Duration,
    /// How long a participant has to answer one of our IQs (initiate, source-add/remove).
    pub participant_timeout: Duration,
    /// How long a participant has to send its `session-accept` after a `session-initiate`.
    pub accept_timeout: Duration,
    /// A participant that already had media and gets a new session (moved, or its
    /// transport failed) may be behind a network outage: its page receives the
    /// `session-initiate` only when its link is back. Not answering it in
    /// `participant_timeout` then does not fail it; it has this long to send its
    /// `session-accept` (a page that is really gone leaves the room anyway).
    pub unreachable_grace: Duration,
    /// How long a bridge has to answer a Colibri request.
    pub colibri_timeout: Duration,
    /// Health-check period per bridge.
    pub health_interval: Duration,
    /// How long a failed bridge is avoided.
    pub bridge_avoid: Duration,
    /// How long joining a room may take before the conference request fails.
    pub room_join_timeout: Duration,
    /// A room that focus joined for a request but nobody entered is left after this.
    pub idle_room_timeout: Duration,
    /// Prefix of every IQ id and session id this focus makes; random per process, so ids of
    /// a restarted focus never match answers meant for the previous one.
    pub id_prefix: String,
    /// `conference.<domain>`: the only rooms service a conference request may name.
    pub muc_domain: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            p2p_enabled: true,
            p2p_delay: Duration::from_secs(3),
            p2p_overlap: Duration::from_secs(2),
            participant_timeout: Duration::from_secs(10),
            accept_timeout: Duration::from_secs(20),
            unreachable_grace: Duration::from_secs(120),
            colibri_timeout: Duration::from_secs(8),
            health_interval: Duration::from_secs(10),
            bridge_avoid: Duration::from_secs(60),
            room_join_timeout: Duration::from_secs(10),
            idle_room_timeout: Duration::from_secs(60),
            id_prefix: "f".into(),
            muc_domain: "conference.meet.lan".into(),
        }
    }
}
