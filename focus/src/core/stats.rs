//! Counters and a snapshot of the core's state, for `/stats` and `/metrics`. Read-only
//! views: nothing here changes a room or a session.

use super::room::Mode;
use super::Focus;
use serde::Serialize;
use std::time::Instant;

/// Monotonic counters since start.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Counters {
    pub conference_requests: u64,
    pub bad_requests: u64,
    pub rooms_created: u64,
    pub rooms_ended: u64,
    pub participants_joined: u64,
    pub participants_left: u64,
    pub sessions_initiated: u64,
    pub source_updates: u64,
    /// Bridge offers replaced by a newer one before they were sent (batching).
    pub offers_coalesced: u64,
    pub participant_failures: u64,
    pub bridge_failures: u64,
    pub bridge_garbage: u64,
    /// Active sessions moved to another bridge.
    pub moves: u64,
    pub p2p_started: u64,
    pub p2p_failures: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub rooms: usize,
    pub participants: usize,
    pub bridge_sessions_active: usize,
    pub p2p_rooms: usize,
    pub counters: Counters,
    pub room_list: Vec<RoomView>,
    pub bridges: Vec<BridgeView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoomView {
    pub name: String,
    pub mode: &'static str,
    pub bridge: Option<String>,
    pub participants: Vec<ParticipantView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParticipantView {
    pub id: String,
    pub display_name: String,
    pub session: &'static str,
    pub connected: bool,
    pub failed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct BridgeView {
    pub id: String,
    pub stress: f64,
    pub endpoints: u32,
    pub draining: bool,
    pub failed: bool,
    pub last_failure: Option<String>,
}

impl Focus {
    pub fn stats(&self, now: Instant) -> Stats {
        let room_list: Vec<RoomView> = self
            .rooms
            .values()
            .map(|r| RoomView {
                name: r.name.to_string(),
                mode: match r.mode {
                    Mode::Bridge { .. } => "bridge",
                    Mode::P2p(_) => "p2p",
                },
                bridge: r.bridge.as_ref().map(|b| b.to_string()),
                participants: r
                    .participants
                    .values()
                    .map(|p| ParticipantView {
                        id: p.id.to_string(),
                        display_name: p.display_name.clone(),
                        session: p.session.name(),
                        connected: p.connected,
                        failed: p.failed,
                    })
                    .collect(),
            })
            .collect();
        Stats {
            rooms: room_list.len(),
            participants: room_list.iter().map(|r| r.participants.len()).sum(),
            bridge_sessions_active: room_list
                .iter()
                .flat_map(|r| &r.participants)
                .filter(|p| p.session == "active")
                .count(),
            p2p_rooms: room_list.iter().filter(|r| r.mode == "p2p").count(),
            counters: self.counters.clone(),
            room_list,
            bridges: self
                .pool
                .iter()
                .map(|(id, e)| BridgeView {
                    id: id.to_string(),
                    stress: e.stats.stress,
                    endpoints: e.stats.endpoints,
                    draining: e.stats.draining,
                    failed: !self.pool.usable(id, now) && !e.stats.draining,
                    last_failure: e.last_failure.clone(),
                })
                .collect(),
        }
    }
}
