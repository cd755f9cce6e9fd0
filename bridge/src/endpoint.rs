//! `Endpoint`: one participant's session on the bridge, a str0m `Rtc` in RTP mode with
//! ICE-lite, plus what the bridge knows about it: the sources it sends (`TrackIn`), the
//! sources forwarded to it (`TrackOut`), its bridge channel and its wishes (constraints).
//!
//! The endpoint turns str0m's outputs into [`EpEvent`]s for its conference and applies what
//! the conference decides; it never decides about other endpoints and never touches a
//! socket or a clock.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use proto::bridge_channel::{self, BridgeChannelMessage, MappedSource, ReceiverVideoConstraints};
use proto::session::source_name;
use proto::EndpointId;
use str0m::bwe::{Bitrate, BweKind};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::ChannelId;
use str0m::media::{Direction, KeyframeRequestKind, MediaKind};
use str0m::net::Transmit;
use str0m::rtp::RtpPacket;
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};

use crate::keyframe;
use crate::track::{EpNum, Layer, TrackIn, TrackOut, TrackOutState};
use crate::Error;

/// Where a new outgoing stream starts its sequence numbers: random, below 2^14, so the
/// SRTP rollover counter starts at zero on the receiver.
fn initial_seq() -> u16 {
    (getrandom::u32().unwrap_or(4242) as u16 & 0x3fff) + 1
}

/// Largest bridge-channel message accepted from a page.
pub const MAX_CHANNEL_MESSAGE: usize = 64 * 1024;
/// Messages kept for a channel that is not open yet.
const MAX_QUEUED_CHANNEL_MESSAGES: usize = 64;
/// An endpoint that has not connected this long after allocation has failed.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Keyframe requests to one sender layer are at most this frequent.
pub const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(300);
/// The packet cache that answers a receiver's NACKs: on a LAN a NACK comes back within
/// tens of milliseconds, so a short cache keeps memory per receiver low.
pub const RTX_CACHE_AGE: Duration = Duration::from_millis(150);
pub const RTX_CACHE_PACKETS: usize = 64;
/// Audio (Opus, 50 packets/s) is not retransmitted by browsers' default set-up; str0m's own
/// default would keep 3 s of it for every receiver.
pub const RTX_CACHE_AUDIO_PACKETS: usize = 8;
/// An offer without an answer this long is given up and made again.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);
/// Immediate timeouts one `poll` serves before it leaves the rest to the driver (a burst
/// of paced packets; bounded so one endpoint cannot hold the media thread).
const MAX_IMMEDIATE_ROUNDS: usize = 64;
/// A str0m deadline this close is served at once (the pacer's "next packet" is 1 µs).
const IMMEDIATE: Duration = Duration::from_micros(20);
/// Starting point of the send-side bandwidth estimate.
pub const INITIAL_BWE: Bitrate = Bitrate::kbps(2_500);

/// What an endpoint tells its conference.
// Media is the common case and is moved, not boxed, to spare an allocation per packet.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum EpEvent {
    /// The participant's offer brought a new source of this kind.
    SourceAdded(MediaKind),
    /// One RTP packet of `tracks_in[track]`, layer `layer`.
    Media {
        track: usize,
        layer: usize,
        packet: RtpPacket,
    },
    /// The receiver asked for a keyframe of the source on one of its `TrackOut`s.
    KeyframeWanted {
        track_out: usize,
    },
    /// A bridge-channel message from the page.
    Channel(BridgeChannelMessage),
    ChannelOpened,
    Connected,
    /// The transport failed; the conference removes the endpoint.
    Failed(String),
    /// The send-side bandwidth estimate changed.
    Bandwidth,
    /// A video layer of this sender started (or came back after a silence).
    LayerStarted,
    /// A bridge-channel message could not be parsed.
    BadChannelMessage,
    /// A bridge-channel message was dropped: the page sends faster than allowed.
    ChannelFlood,
}

/// Bridge-channel messages a page may send per second (sustained), and in a burst. Relayed
/// messages fan out to every other page, so one page must not be able to flood them.
const CHANNEL_RATE: f64 = 50.0;
const CHANNEL_BURST: f64 = 200.0;

/// A token bucket for incoming bridge-channel messages.
#[derive(Debug)]
struct ChannelBudget {
    tokens: f64,
    at: Option<Instant>,
}

impl ChannelBudget {
    fn take(&mut self, now: Instant) -> bool {
        if let Some(at) = self.at {
            self.tokens =
                (self.tokens + now.saturating_duration_since(at).as_secs_f64() * CHANNEL_RATE).min(CHANNEL_BURST);
        }
        self.at = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// An offer the bridge made and its summary for focus.
#[derive(Debug)]
pub struct Offer {
    pub sdp: String,
    pub added: Vec<EndpointId>,
    pub removed: Vec<EndpointId>,
}

/// What every endpoint of this bridge shares.
#[derive(Clone, Copy)]
pub struct Settings<'a> {
    /// The bridge's host candidates (one UDP port).
    pub candidates: &'a [std::net::SocketAddr],
    /// Send-side bandwidth estimation and pacing.
    pub bwe: bool,
    /// The bridge's DTLS certificate (None: str0m makes one per endpoint).
    pub dtls_cert: Option<&'a str0m::config::DtlsCert>,
}

pub struct Endpoint {
    pub num: EpNum,
    pub id: EndpointId,
    pub display_name: String,
    pub rtc: Rtc,
    /// Only grows (a track per received media kind), as do each track's layers: a `(track,
    /// layer)` cached in `ssrcs` or carried by `EpEvent::Media` stays a valid index.
    pub tracks_in: Vec<TrackIn>,
    pub tracks_out: Vec<TrackOut>,
    pending: Option<SdpPendingOffer>,
    /// When the outstanding offer went out.
    pending_since: Option<Instant>,
    channel: Option<ChannelId>,
    channel_queue: VecDeque<String>,
    channel_budget: ChannelBudget,
    /// Incoming SSRC → (track index, layer index).
    ssrcs: HashMap<u32, (usize, usize)>,
    pub connected: bool,
    pub failed: Option<String>,
    pub created: Instant,
    pub next_timeout: Instant,
    /// Set when the endpoint has new input to process or output to flush.
    pub dirty: bool,
    /// Set when something was queued in str0m (RTP written, a request, a channel message)
    /// that only leaves after str0m's timeout handling runs.
    needs_timeout: bool,
    /// The moment str0m last ran its timeout handling (it does after every received
    /// datagram): a poll at that same moment needs no second `Input::Timeout`.
    timeout_ran_at: Option<Instant>,
    pub constraints: ReceiverVideoConstraints,
    /// This receiver's allocation is to be re-run (its bandwidth estimate moved), and the
    /// estimate the last one used.
    pub allocation_due: bool,
    pub allocated_bwe: Option<u64>,
    /// The page has said what it wants (a ReceiverVideoConstraints message came).
    pub constraints_received: bool,
    /// The slot map last sent to the page.
    sent_slot_map: Vec<MappedSource>,
    /// Slots offered so far (numbers their msid track ids).
    slots_offered: u64,
    pub bwe: Option<u64>,
    /// What the bandwidth estimator was last told to probe up to.
    pub desired_bitrate: u64,
    /// Video sources forwarded to this receiver, by source name, as last announced.
    pub forwarded_sources: Vec<String>,
    pub last_n_endpoints: Vec<String>,
    /// A moderator's mute of this endpoint's audio / video (Colibri `ForceMute`): held here
    /// too, so that tracks the offer adds later start muted.
    pub forced_audio: bool,
    pub forced_video: bool,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("id", &self.id).field("connected", &self.connected).finish()
    }
}

impl Endpoint {
    /// Creates the endpoint from the participant's offer and returns it with the bridge's
    /// answer.
    pub fn allocate(
        num: EpNum,
        id: EndpointId,
        display_name: String,
        offer: &str,
        settings: &Settings<'_>,
        now: Instant,
    ) -> Result<(Endpoint, String), Error> {
        let Settings { candidates, bwe, dtls_cert } = *settings;
        let offer =
            SdpOffer::from_sdp_string(offer).map_err(|e| Error::BadRequest(format!("offer is not valid SDP: {e}")))?;
        let mut config = Rtc::builder();
        if let Some(cert) = dtls_cert {
            config = config.set_dtls_cert(cert.clone());
        }
        let mut config = config
            .set_ice_lite(true)
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .enable_bwe(bwe.then_some(INITIAL_BWE));
        // Two H.264 variants (constrained baseline and baseline, packetization mode 1, what
        // browsers send) instead of str0m's eight: every m-line of the bridge's offers lists
        // them, and the offer grows with every participant.
        config.codec_config().add_h264(108.into(), Some(109.into()), true, 0x42e01f);
        config.codec_config().add_h264(127.into(), Some(121.into()), true, 0x42001f);
        let mut rtc = config.build(now);
        for addr in candidates {
            let c = Candidate::host(*addr, "udp").map_err(|e| Error::BadSetting(format!("candidate {addr}: {e}")))?;
            rtc.add_local_candidate(c);
        }
        let answer = rtc.sdp_api().accept_offer(offer).map_err(|e| Error::BadRequest(format!("offer refused: {e}")))?;
        let ep = Endpoint {
            num,
            id,
            display_name,
            rtc,
            tracks_in: Vec::new(),
            tracks_out: Vec::new(),
            pending: None,
            pending_since: None,
            channel: None,
            channel_queue: VecDeque::new(),
            channel_budget: ChannelBudget { tokens: CHANNEL_BURST, at: None },
            ssrcs: HashMap::new(),
            connected: false,
            failed: None,
            created: now,
            next_timeout: now,
            dirty: true,
            needs_timeout: true,
            timeout_ran_at: None,
            constraints: ReceiverVideoConstraints { last_n: -1, ..Default::default() },
            constraints_received: false,
            allocation_due: false,
            allocated_bwe: None,
            sent_slot_map: Vec::new(),
            slots_offered: 0,
            bwe: None,
            desired_bitrate: 0,
            forwarded_sources: Vec::new(),
            last_n_endpoints: Vec::new(),
            forced_audio: false,
            forced_video: false,
        };
        Ok((ep, answer.to_sdp_string()))
    }

    /// Feeds one datagram (already matched to this endpoint).
    pub fn handle_input(&mut self, input: Input) {
        if self.failed.is_some() {
            return;
        }
        let at = match &input {
            Input::Receive(at, _) => Some(*at),
            Input::Timeout(_) => None,
        };
        match self.rtc.handle_input(input) {
            // str0m ran its timeout handling at the receive time: anything queued before
            // this datagram was handled with it.
            Ok(()) => {
                if at.is_some() {
                    self.needs_timeout = false;
                }
                self.timeout_ran_at = at;
            }
            Err(e) => self.failed = Some(format!("transport error: {e}")),
        }
        self.dirty = true;
    }

    pub fn accepts(&self, input: &Input) -> bool {
        self.failed.is_none() && self.rtc.accepts(input)
    }

    /// Advances str0m to `now` and collects its output until the next deadline.
    ///
    /// With bandwidth estimation on, str0m's pacer releases one packet per timeout and asks
    /// for the next timeout 1 µs later: those are served here, up to
    /// [`MAX_IMMEDIATE_ROUNDS`], instead of by a trip through the driver's timer for each
    /// packet (its millisecond ticks made a burst of N packets take N ms). The session's
    /// clock then runs at most that many microseconds ahead of `now`.
    pub fn poll(&mut self, now: Instant, transmits: &mut VecDeque<Transmit>, events: &mut Vec<EpEvent>) {
        let mut at = now;
        let mut force = false;
        for _ in 0..MAX_IMMEDIATE_ROUNDS {
            if !self.poll_once(at, force, transmits, events) || self.next_timeout > at + IMMEDIATE {
                return;
            }
            at = self.next_timeout.max(at);
            force = true;
        }
    }

    /// One round of [`Endpoint::poll`]; false when the session failed. `force` runs str0m's
    /// timeout handling even if it already ran at `now`.
    fn poll_once(
        &mut self,
        now: Instant,
        force: bool,
        transmits: &mut VecDeque<Transmit>,
        events: &mut Vec<EpEvent>,
    ) -> bool {
        if self.failed.is_some() {
            return false;
        }
        // str0m runs its timeout handling after every received datagram; a separate timeout
        // is needed only when due or when we queued something since.
        let fresh = !force && !self.needs_timeout && self.timeout_ran_at == Some(now);
        if !fresh && (force || self.needs_timeout || now >= self.next_timeout) {
            self.needs_timeout = false;
            self.timeout_ran_at = Some(now);
            if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
                self.failed = Some(format!("transport error: {e}"));
                return false;
            }
        }
        if !self.connected && now.saturating_duration_since(self.created) > CONNECT_TIMEOUT {
            self.failed = Some("ICE/DTLS did not connect in time".into());
            return false;
        }
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.next_timeout = t;
                    return true;
                }
                Ok(Output::Transmit(t)) => transmits.push_back(t),
                Ok(Output::Event(e)) => self.on_event(now, e, events),
                Err(e) => {
                    self.failed = Some(format!("transport error: {e}"));
                    return false;
                }
            }
        }
    }

    fn on_event(&mut self, now: Instant, e: Event, events: &mut Vec<EpEvent>) {
        match e {
            Event::Connected => {
                self.connected = true;
                events.push(EpEvent::Connected);
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.failed = Some("ICE disconnected".into());
                events.push(EpEvent::Failed("ICE disconnected".into()));
            }
            Event::MediaAdded(m) => {
                let receives = matches!(m.direction, Direction::RecvOnly | Direction::SendRecv);
                if !receives || self.tracks_in.iter().any(|t| t.kind == m.kind) {
                    return;
                }
                let layers: Vec<Layer> = match &m.simulcast {
                    Some(s) if !s.recv.is_empty() => {
                        s.recv.iter().enumerate().map(|(i, l)| Layer::new(Some(l.rid), i)).collect()
                    }
                    Some(s) if !s.send.is_empty() => {
                        s.send.iter().enumerate().map(|(i, l)| Layer::new(Some(l.rid), i)).collect()
                    }
                    _ => vec![Layer::new(None, 0)],
                };
                let codecs = self
                    .rtc
                    .codec_config()
                    .params()
                    .iter()
                    .filter(|p| p.spec().codec.kind() == m.kind)
                    .map(|p| (p.pt(), *p))
                    .collect();
                let n = layers.len();
                self.tracks_in.push(TrackIn {
                    kind: m.kind,
                    mid: m.mid,
                    source_name: source_name(&self.id, m.kind == MediaKind::Video),
                    layers,
                    codecs,
                    last_keyframe_request: vec![None; n],
                    muted: if m.kind == MediaKind::Audio { self.forced_audio } else { self.forced_video },
                    announced_max_height: None,
                    left_out_everywhere: false,
                });
                events.push(EpEvent::SourceAdded(m.kind));
            }
            Event::RtpPacket(packet) => {
                let ssrc = *packet.header.ssrc;
                let Some((track, layer)) = self.locate(ssrc) else { return };
                // valid indices: see `tracks_in`
                let t = &mut self.tracks_in[track];
                let l = &mut t.layers[layer];
                l.ssrc = Some(ssrc);
                if t.kind == MediaKind::Video && !l.is_active(now) {
                    events.push(EpEvent::LayerStarted);
                }
                l.on_packet(now, packet.payload.len());
                if t.kind == MediaKind::Video {
                    if let Some(h) = keyframe::vp8_keyframe_height(&packet.payload) {
                        l.height = Some(h);
                    }
                }
                events.push(EpEvent::Media { track, layer, packet });
            }
            Event::KeyframeRequest(req) => {
                if let Some(i) = self.tracks_out.iter().position(|t| t.mid() == Some(req.mid)) {
                    events.push(EpEvent::KeyframeWanted { track_out: i });
                }
            }
            Event::ChannelOpen(id, label) if label == bridge_channel::LABEL => {
                self.channel = Some(id);
                events.push(EpEvent::ChannelOpened);
                while let Some(m) = self.channel_queue.pop_front() {
                    self.write_channel(&m);
                }
            }
            Event::ChannelData(d) => {
                if Some(d.id) != self.channel {
                    return;
                }
                if d.data.len() > MAX_CHANNEL_MESSAGE {
                    events.push(EpEvent::BadChannelMessage);
                    return;
                }
                if !self.channel_budget.take(now) {
                    events.push(EpEvent::ChannelFlood);
                    return;
                }
                match serde_json::from_slice::<BridgeChannelMessage>(&d.data) {
                    Ok(m) => events.push(EpEvent::Channel(m)),
                    Err(_) => events.push(EpEvent::BadChannelMessage),
                }
            }
            Event::ChannelClose(id) if Some(id) == self.channel => self.channel = None,
            Event::EgressBitrateEstimate(BweKind::Twcc { estimate, .. }) => {
                self.bwe = Some(estimate.as_u64());
                events.push(EpEvent::Bandwidth);
            }
            _ => {}
        }
    }

    /// Which of our incoming tracks and layers an SSRC belongs to.
    fn locate(&mut self, ssrc: u32) -> Option<(usize, usize)> {
        if let Some(v) = self.ssrcs.get(&ssrc) {
            return Some(*v);
        }
        let (mid, rid) = {
            let mut api = self.rtc.direct_api();
            let s = api.stream_rx(&ssrc.into())?;
            (s.mid(), s.rid())
        };
        let track = self.tracks_in.iter().position(|t| t.mid == mid)?;
        let t = &mut self.tracks_in[track];
        let layer = match t.layer_index(rid) {
            Some(l) => l,
            None if t.layers.len() == 1 && t.layers[0].rid.is_none() => 0,
            None => {
                t.layers.push(Layer::new(rid, t.layers.len()));
                t.last_keyframe_request.push(None);
                t.layers.len() - 1
            }
        };
        self.ssrcs.insert(ssrc, (track, layer));
        Some((track, layer))
    }

    /// Asks this endpoint (a sender) for a keyframe on one layer, at most every
    /// [`KEYFRAME_REQUEST_INTERVAL`]. Returns whether a request went out.
    pub fn request_keyframe(&mut self, track: usize, layer: usize, now: Instant) -> bool {
        let Some(t) = self.tracks_in.get_mut(track) else { return false };
        let Some(rid) = t.layers.get(layer).map(|l| l.rid) else { return false };
        if !t.take_keyframe_request(layer, now, KEYFRAME_REQUEST_INTERVAL) {
            return false;
        }
        let mid = t.mid;
        let mut api = self.rtc.direct_api();
        if let Some(s) = api.stream_rx_by_mid(mid, rid) {
            s.request_keyframe(KeyframeRequestKind::Pli);
            self.mark_written();
            return true;
        }
        false
    }

    /// Sends (or queues until the channel opens) a bridge-channel message.
    pub fn send_channel(&mut self, msg: &BridgeChannelMessage) {
        let Ok(json) = serde_json::to_string(msg) else { return };
        if self.channel.is_some() {
            self.write_channel(&json);
        } else if self.channel_queue.len() < MAX_QUEUED_CHANNEL_MESSAGES {
            self.channel_queue.push_back(json);
        }
    }

    fn write_channel(&mut self, json: &str) {
        if let Some(mut ch) = self.channel.and_then(|id| self.rtc.channel(id)) {
            // A full SCTP buffer drops the message: the channel carries state that is re-sent.
            let _ = ch.write(false, json.as_bytes());
            self.mark_written();
        }
    }

    pub fn channel_open(&self) -> bool {
        self.channel.is_some()
    }

    /// The live slot of `kind` carrying `source`, if any.
    pub fn slot_of(&self, source: EpNum, kind: MediaKind) -> Option<usize> {
        self.tracks_out.iter().position(|t| t.source == Some(source) && t.kind == kind && t.live())
    }

    /// Puts `source`'s track of `kind` on a slot: the one carrying it already, else an idle
    /// slot, else one `reusable` says may be taken over, else a new slot (next offer adds it).
    /// Returns the slot and whether the slot map changed.
    pub fn assign_slot(
        &mut self,
        source: EpNum,
        source_endpoint: &EndpointId,
        kind: MediaKind,
        reusable: impl Fn(&TrackOut) -> bool,
    ) -> (usize, bool) {
        if let Some(i) = self.slot_of(source, kind) {
            return (i, false);
        }
        let fits = |t: &TrackOut| t.kind == kind && t.live();
        let free = self.tracks_out.iter().position(|t| fits(t) && t.source.is_none());
        match free.or_else(|| self.tracks_out.iter().position(|t| fits(t) && reusable(t))) {
            Some(i) => {
                self.tracks_out[i].assign(Some((source, source_endpoint.clone())));
                (i, true)
            }
            None => {
                self.tracks_out.push(TrackOut::new(source, source_endpoint.clone(), kind, initial_seq()));
                (self.tracks_out.len() - 1, true)
            }
        }
    }

    /// Takes `source` off this receiver's slots of `kind` (None: every kind) because it
    /// left or is no longer selected: the slots stay for other sources.
    pub fn release_source(&mut self, source: EpNum, kind: Option<MediaKind>) {
        let carries = |t: &TrackOut| t.source == Some(source) && kind.is_none_or(|k| k == t.kind);
        // A slot not offered yet has no m-line: drop it.
        self.tracks_out.retain(|t| !(carries(t) && t.state == TrackOutState::ToOpen));
        for t in self.tracks_out.iter_mut().filter(|t| carries(t)) {
            t.assign(None);
        }
    }

    /// Stops idle slots of `kind` beyond `keep` live ones (the conference has fewer sources
    /// of that kind than the receiver has slots): the next offer removes their m-lines.
    pub fn trim_slots(&mut self, kind: MediaKind, keep: usize) {
        let mut live = self.tracks_out.iter().filter(|t| t.kind == kind && t.live()).count();
        while live > keep {
            let Some(i) = self.tracks_out.iter().rposition(|t| t.kind == kind && t.live() && t.source.is_none()) else {
                return;
            };
            match self.tracks_out[i].state {
                TrackOutState::ToOpen => {
                    self.tracks_out.remove(i);
                }
                TrackOutState::Negotiating(m) | TrackOutState::Open(m) => {
                    self.tracks_out[i].state = TrackOutState::ToStop(m);
                }
                TrackOutState::ToStop(_) | TrackOutState::Stopping(_) => {}
            }
            live -= 1;
        }
    }

    /// Sends the page the slot map (`SourcesMap`) when it differs from the last one sent.
    pub fn flush_slot_map(&mut self) {
        let map: Vec<MappedSource> = self
            .tracks_out
            .iter()
            .filter(|t| t.live())
            .filter_map(|t| {
                let mid = t.mid()?;
                let video = t.kind == MediaKind::Video;
                Some(MappedSource {
                    mid: mid.to_string(),
                    kind: if video { "video" } else { "audio" }.into(),
                    source: t.source_endpoint.as_ref().map(|e| source_name(e, video)),
                    owner: t.source_endpoint.as_ref().map(|e| e.to_string()),
                })
            })
            .collect();
        if map != self.sent_slot_map {
            self.sent_slot_map = map.clone();
            self.send_channel(&BridgeChannelMessage::SourcesMap { mapped_sources: map });
        }
    }

    /// When an unanswered offer is given up (see [`ANSWER_TIMEOUT`]).
    pub fn offer_deadline(&self) -> Option<Instant> {
        self.pending_since.map(|t| t + ANSWER_TIMEOUT)
    }

    /// Gives up an offer that got no answer in time (lost on the way, or the page was busy):
    /// what it carried goes into the next offer, so the participant is not stuck without
    /// the sources that joined meanwhile.
    pub fn expire_unanswered_offer(&mut self, now: Instant) -> bool {
        if self.offer_deadline().is_none_or(|d| now < d) {
            return false;
        }
        self.pending = None;
        self.pending_since = None;
        self.void_offer();
        true
    }

    /// Forgets what the outstanding offer carried: its additions and removals go into the
    /// next one.
    fn void_offer(&mut self) {
        for t in &mut self.tracks_out {
            t.state = match t.state {
                TrackOutState::Negotiating(_) => TrackOutState::ToOpen,
                TrackOutState::Stopping(m) => TrackOutState::ToStop(m),
                s => s,
            };
        }
    }

    /// Makes the bridge's next offer when sources changed and no offer is outstanding.
    pub fn make_offer(&mut self, now: Instant) -> Option<Offer> {
        if self.pending.is_some() || self.failed.is_some() {
            return None;
        }
        let wanted =
            self.tracks_out.iter().any(|t| matches!(t.state, TrackOutState::ToOpen | TrackOutState::ToStop(_)));
        if !wanted {
            return None;
        }
        let mut added = Vec::new();
        let mut removed = Vec::new();
        let mut api = self.rtc.sdp_api();
        for t in &mut self.tracks_out {
            match t.state {
                TrackOutState::ToOpen => {
                    // The msid names the source the slot starts with (pages without the
                    // slot map bind the track by it; a slot idle by now is named "-"), and
                    // the track id is the slot's own: a source may come back on a second
                    // slot while its first one carries someone else, and browsers refuse
                    // an offer with the same msid twice.
                    let owner = t.source_endpoint.clone();
                    let stream = owner.as_ref().map_or_else(|| "-".to_string(), |e| e.to_string());
                    let name =
                        owner.as_ref().map_or_else(|| "-".to_string(), |e| source_name(e, t.kind == MediaKind::Video));
                    self.slots_offered += 1;
                    let track = format!("{name}#{}", self.slots_offered);
                    let mid = api.add_media(t.kind, Direction::SendOnly, Some(stream), Some(track), None);
                    t.state = TrackOutState::Negotiating(mid);
                    if let Some(e) = owner.filter(|e| !added.contains(e)) {
                        added.push(e);
                    }
                }
                TrackOutState::ToStop(mid) => {
                    api.stop_media(mid);
                    t.state = TrackOutState::Stopping(mid);
                    if let Some(e) = t.last_owner.clone().filter(|e| !removed.contains(e)) {
                        removed.push(e);
                    }
                }
                _ => {}
            }
        }
        let (offer, pending) = api.apply()?;
        self.pending = Some(pending);
        self.pending_since = Some(now);
        self.mark_written();
        Some(Offer { sdp: offer.to_sdp_string(), added, removed })
    }

    /// A new offer from the same page (same DTLS certificate): an ICE restart. It is applied
    /// to the existing session, so DTLS, SRTP and every track survive; an outstanding bridge
    /// offer is given up and made again afterwards. `None` when the offer is from another
    /// certificate (a new page): the caller replaces the endpoint instead.
    pub fn restart(&mut self, offer: &str) -> Option<Result<String, Error>> {
        let fingerprint: str0m::config::Fingerprint =
            offer.lines().find_map(|l| l.trim().strip_prefix("a=fingerprint:")).and_then(|v| v.trim().parse().ok())?;
        if self.rtc.direct_api().remote_dtls_fingerprint() != Some(&fingerprint) {
            return None;
        }
        let parsed = SdpOffer::from_sdp_string(offer).ok()?;
        self.pending = None;
        self.pending_since = None;
        self.void_offer();
        self.mark_written();
        Some(
            self.rtc
                .sdp_api()
                .accept_offer(parsed)
                .map(|a| a.to_sdp_string())
                .map_err(|e| Error::BadRequest(format!("offer refused: {e}"))),
        )
    }

    /// Applies the participant's answer to the bridge's outstanding offer.
    pub fn accept_answer(&mut self, sdp: &str) -> Result<(), Error> {
        let answer =
            SdpAnswer::from_sdp_string(sdp).map_err(|e| Error::BadRequest(format!("answer is not valid SDP: {e}")))?;
        let pending =
            self.pending.take().ok_or_else(|| Error::BadRequest("no offer from the bridge is outstanding".into()))?;
        self.pending_since = None;
        let result = self.rtc.sdp_api().accept_answer(pending, answer);
        self.mark_written();
        match result {
            Ok(()) => {
                let mut opened = Vec::new();
                self.tracks_out.retain_mut(|t| match t.state {
                    TrackOutState::Negotiating(m) => {
                        t.state = TrackOutState::Open(m);
                        opened.push((m, t.kind));
                        true
                    }
                    TrackOutState::Stopping(_) => false,
                    _ => true,
                });
                let mut api = self.rtc.direct_api();
                for (mid, kind) in opened {
                    let Some(tx) = api.stream_tx_by_mid(mid, None) else { continue };
                    if kind == MediaKind::Video {
                        tx.set_rtx_cache(RTX_CACHE_PACKETS, RTX_CACHE_AGE, Some(0.15));
                        // Forwarded video leaves as it comes, as jitsi-videobridge does: the
                        // estimate still picks the layers, and pacing only added latency.
                        tx.set_unpaced(true);
                    } else {
                        tx.set_rtx_cache(RTX_CACHE_AUDIO_PACKETS, RTX_CACHE_AGE, None);
                    }
                }
                Ok(())
            }
            Err(e) => {
                // The offer is void: what it carried goes into the next one.
                self.void_offer();
                Err(Error::BadRequest(format!("answer refused: {e}")))
            }
        }
    }

    /// Something was queued in this endpoint's session: poll it with a timeout soon.
    pub fn mark_written(&mut self) {
        self.dirty = true;
        self.needs_timeout = true;
    }

    pub fn has_pending_offer(&self) -> bool {
        self.pending.is_some()
    }

    pub fn set_bandwidth_hint(&mut self, desired_bps: u64) {
        self.rtc.bwe().set_bitrate(Bitrate::kbps(100), Bitrate::bps(desired_bps.max(100_000)));
    }
}
