//! Expires a bridge must get even if it cannot be reached right now. After a bus outage
//! (a signal restart), focus resyncs its rooms and expires the endpoints of participants
//! that left meanwhile, but the bridge may not be back on the bus yet (or may have left
//! the pool after failed health checks): such an expire would be lost and the bridge
//! would keep forwarding those endpoints to the pages that rejoined. An expire that the
//! bridge did not take (no answer, unreachable, not in the pool) is kept and sent again
//! when the bridge announces itself; one the bridge refuses as unknown is done.
//!
//! Never re-sends an expire that would hit a session focus runs now on that bridge (the
//! same endpoint allocated again, or a conference placed there again).

use super::io::{BridgeId, Condition, ResultBody, StanzaError};
use super::{Focus, Pending};
use proto::colibri::ColibriRequest;
use proto::{EndpointId, RoomName};
use std::time::Instant;

/// At most this many undelivered expires are kept (the oldest go first): a bridge that
/// never comes back must not make focus grow without bound.
const MAX_UNDELIVERED: usize = 4096;

impl Focus {
    /// Sends `request` (an `Expire` or `ExpireConference`) to `bridge`, or keeps it for
    /// when the bridge is back in the pool.
    pub(super) fn send_expire(&mut self, now: Instant, bridge: &BridgeId, request: ColibriRequest) {
        if self.pool.get(bridge).is_none() {
            self.keep_expire(bridge.clone(), request);
            return;
        }
        let timeout = self.settings.colibri_timeout;
        let what = Pending::Expire { bridge: bridge.clone(), request: request.clone() };
        self.send_colibri(now, bridge, request, what, timeout);
    }

    pub(super) fn on_expire_done(
        &mut self,
        bridge: BridgeId,
        request: ColibriRequest,
        body: Result<ResultBody, StanzaError>,
    ) {
        match body {
            Ok(_) => {}
            Err(e) if matches!(e.condition, Condition::ItemNotFound | Condition::BadRequest) => {
                tracing::info!(%bridge, error = %e.text, "bridge refused an expire (already gone)");
            }
            Err(e) => {
                tracing::info!(%bridge, error = %e.text, "expire not delivered; sent again when the bridge is back");
                self.keep_expire(bridge, request);
            }
        }
    }

    pub(super) fn keep_expire(&mut self, bridge: BridgeId, request: ColibriRequest) {
        if self.undelivered_expires.len() >= MAX_UNDELIVERED {
            self.undelivered_expires.remove(0);
        }
        self.undelivered_expires.push((bridge, request));
    }

    /// `bridge` announced itself: send it the expires it missed, except those that would
    /// now hit a live session.
    pub(super) fn flush_expires(&mut self, now: Instant, bridge: &BridgeId) {
        if !self.undelivered_expires.iter().any(|(b, _)| b == bridge) {
            return;
        }
        let (mine, rest): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.undelivered_expires).into_iter().partition(|(b, _)| b == bridge);
        self.undelivered_expires = rest;
        for (_, request) in mine {
            if self.expire_hits_live_session(bridge, &request) {
                continue;
            }
            tracing::info!(%bridge, ?request, "sending an expire the bridge missed");
            self.send_expire(now, bridge, request);
        }
    }

    fn expire_hits_live_session(&self, bridge: &BridgeId, request: &ColibriRequest) -> bool {
        let (conference, endpoint) = match request {
            ColibriRequest::Expire { conference, endpoint } => (conference, Some(endpoint)),
            ColibriRequest::ExpireConference { conference } => (conference, None),
            _ => return false,
        };
        let Ok(room) = RoomName::new(conference.as_str()) else { return false };
        let Some(r) = self.rooms.get(&room) else { return false };
        match endpoint {
            Some(ep) => r.participants.get(ep).is_some_and(|p| p.bridge() == Some(bridge)),
            None => r.bridge.as_ref() == Some(bridge) || r.participants.values().any(|p| p.bridge() == Some(bridge)),
        }
    }

    /// `ep` of `room` is being allocated on `bridge`: an older undelivered expire of it
    /// there must not remove the new one.
    pub(super) fn drop_kept_expire(&mut self, bridge: &BridgeId, room: &RoomName, ep: &EndpointId) {
        self.undelivered_expires.retain(|(b, r)| {
            !(b == bridge && matches!(r, ColibriRequest::Expire { conference, endpoint } if conference.as_str() == room.as_str() && endpoint == ep))
        });
    }
}
