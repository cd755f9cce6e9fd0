//! P2P for two (`proto::session`, P2P mode), decided here in focus: when a room has stayed
//! at exactly two participants for `p2p_delay`, both get a P2P `session-initiate` (the
//! earlier joiner offers); once both acknowledged, their bridge sessions are kept for
//! `p2p_overlap` and then terminated (`reason="p2p"`) and the conference expired on the
//! bridge. A third participant (or a leave) puts the room back on the bridge (see
//! `reconcile`). If one of the two refuses or ignores the P2P initiate, or reports that its
//! P2P connection failed (`session-terminate` of the P2P sid), both go back to the bridge
//! and P2P is not tried again until the membership changes. Media never passes through focus.

use super::io::{ResultBody, StanzaError};
use super::jingle::Jingle;
use super::room::{Mode, P2p};
use super::{Focus, Pending};
use proto::session::{reason, Action, Transport};
use proto::{EndpointId, RoomName};
use std::time::Instant;

impl Focus {
    pub(super) fn p2p_timeouts(&mut self, now: Instant) {
        let mut start = Vec::new();
        let mut release = Vec::new();
        for (name, r) in &self.rooms {
            match &r.mode {
                Mode::Bridge { p2p_at: Some(t) } if *t <= now => start.push(name.clone()),
                Mode::P2p(p) if p.release_at.is_some_and(|t| t <= now) => release.push(name.clone()),
                _ => {}
            }
        }
        for name in start {
            self.start_p2p(now, &name);
        }
        for name in release {
            self.release_bridge_for_p2p(now, &name);
        }
    }

    fn start_p2p(&mut self, now: Instant, room: &RoomName) {
        let Some(r) = self.rooms.get_mut(room) else { return };
        r.mode = Mode::Bridge { p2p_at: None };
        if r.participants.len() != 2 || r.participants.values().any(|p| p.failed) {
            return;
        }
        let mut pair: Vec<(Instant, EndpointId)> =
            r.participants.values().map(|p| (p.joined_at, p.id.clone())).collect();
        pair.sort();
        // two participants: checked above
        let (initiator, responder) = (pair[0].1.clone(), pair[1].1.clone());
        let sid = self.next_id();
        tracing::info!(%room, %initiator, %responder, "switching to P2P");
        for (ep, peer, first) in [(&initiator, &responder, true), (&responder, &initiator, false)] {
            let mut j = Jingle::new(Action::SessionInitiate, sid.clone());
            j.transport = Some(Transport::P2p);
            j.peer = Some(peer.to_string());
            j.initiator = Some(first);
            self.send_session(now, room, ep, j, Pending::P2pInitiate { room: room.clone(), sid: sid.clone() });
        }
        if let Some(r) = self.rooms.get_mut(room) {
            r.mode = Mode::P2p(P2p { initiator, responder, sid, acked: 0, release_at: None, released: false });
        }
        self.counters.p2p_started += 1;
    }

    pub(super) fn on_p2p_answer(
        &mut self,
        now: Instant,
        room: &RoomName,
        sid: &str,
        body: Result<ResultBody, StanzaError>,
    ) {
        let overlap = self.settings.p2p_overlap;
        let Some(r) = self.rooms.get_mut(room) else { return };
        let Mode::P2p(p) = &mut r.mode else { return };
        if p.sid != sid {
            return;
        }
        match body {
            Ok(_) => {
                p.acked += 1;
                if p.acked >= 2 {
                    p.release_at = Some(now + overlap);
                }
            }
            Err(e) => {
                tracing::warn!(%room, error = %e.text, "a participant refused or ignored P2P; staying on the bridge");
                self.abort_p2p(now, room);
            }
        }
    }

    pub(super) fn abort_p2p(&mut self, now: Instant, room: &RoomName) {
        let Some(r) = self.rooms.get_mut(room) else { return };
        let Mode::P2p(p) = std::mem::replace(&mut r.mode, Mode::Bridge { p2p_at: None }) else { return };
        r.p2p_blocked = true;
        self.counters.p2p_failures += 1;
        for ep in [&p.initiator, &p.responder] {
            let mut j = Jingle::new(Action::SessionTerminate, p.sid.clone());
            j.transport = Some(Transport::P2p);
            j.reason = Some(reason::FAILED.to_string());
            self.send_session(now, room, ep, j, Pending::Terminate);
        }
        self.reconcile(now, room);
    }

    /// The pair changed (a third participant, a leave) while the P2P session was still being
    /// set up, i.e. before the bridge sessions were released: both pages still have their
    /// bridge media, so their P2P session ends now (`session-terminate transport="p2p"
    /// reason="moving"`, sent to those of the two still in the room) instead of lingering
    /// beside the bridge with three in the room. After the release no terminate is sent: the
    /// pages keep P2P media until the bridge's flows (`proto::session`, P2P step 3).
    pub(super) fn cancel_p2p_setup(&mut self, now: Instant, room: &RoomName, p: &P2p) {
        self.pending
            .retain(|_, q| !matches!(&q.what, Pending::P2pInitiate { room: r, sid } if r == room && *sid == p.sid));
        if p.released {
            return;
        }
        for ep in [&p.initiator, &p.responder] {
            if self.participant_mut(room, ep).is_none() {
                continue;
            }
            let mut j = Jingle::new(Action::SessionTerminate, p.sid.clone());
            j.transport = Some(Transport::P2p);
            j.reason = Some(reason::MOVING.to_string());
            self.send_session(now, room, ep, j, Pending::Terminate);
        }
    }

    /// True when `sid` is the room's current P2P session and `ep` one of its two peers.
    pub(super) fn is_p2p_session(&self, room: &RoomName, ep: &EndpointId, sid: &str) -> bool {
        self.rooms.get(room).is_some_and(|r| match &r.mode {
            Mode::P2p(p) => p.sid == sid && (p.initiator == *ep || p.responder == *ep),
            Mode::Bridge { .. } => false,
        })
    }

    /// Both peers took the P2P session and had `p2p_overlap` to connect: stop their bridge
    /// sessions so the bridge forwards nothing for them.
    fn release_bridge_for_p2p(&mut self, now: Instant, room: &RoomName) {
        let Some(r) = self.rooms.get_mut(room) else { return };
        let Mode::P2p(p) = &mut r.mode else { return };
        p.release_at = None;
        p.released = true;
        let eps: Vec<EndpointId> = r.participants.keys().cloned().collect();
        for ep in &eps {
            self.drop_session(now, room, ep, Some(reason::P2P), false);
        }
        self.release_conference(now, room);
    }
}
