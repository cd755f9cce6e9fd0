//! A moderator's mute, enforced where the media is: signal states in each person's
//! presence what a moderator muted (`signal/ROOMS.md`, section 3); focus tells the bridge
//! holding that person's endpoint to stop (or resume) forwarding it, and keeps such a room
//! off P2P, where no bridge could stop anything. A page that ignores the mute is not heard.

use super::room::BridgeSession;
use super::{Focus, Pending};
use proto::colibri::ColibriRequest;
use proto::{ConferenceId, EndpointId, RoomName};
use std::time::Instant;

impl Focus {
    /// The presence of `ep` changed what a moderator muted.
    pub(super) fn forced_mute_changed(&mut self, now: Instant, room: &RoomName, ep: &EndpointId) {
        tracing::info!(%room, %ep, forced = ?self.participant_mut(room, ep).map(|p| p.forced), "moderator mute changed");
        self.send_force_mute(now, room, ep);
        self.reconcile(now, room);
    }

    /// States `ep`'s moderator mute to the bridge holding its endpoint, if any. Without an
    /// active endpoint there is nothing to stop now: the allocation under way (or the next
    /// one) states it when it is answered (see `on_allocated`).
    pub(super) fn send_force_mute(&mut self, now: Instant, room: &RoomName, ep: &EndpointId) {
        let Some(p) = self.rooms.get(room).and_then(|r| r.participants.get(ep)) else { return };
        let BridgeSession::Active { bridge, .. } = &p.session else { return };
        let (bridge, forced) = (bridge.clone(), p.forced);
        let Ok(conference) = ConferenceId::new(room.as_str()) else { return };
        let request =
            ColibriRequest::ForceMute { conference, endpoint: ep.clone(), audio: forced.audio, video: forced.video };
        let timeout = self.settings.colibri_timeout;
        self.send_colibri(now, &bridge, request, Pending::ForceMute { bridge: bridge.clone() }, timeout);
    }
}
