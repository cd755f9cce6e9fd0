//! `TrackIn` (a source an endpoint sends: its audio or its camera, possibly in several
//! simulcast layers) and `TrackOut` (one source forwarded to one receiving endpoint, on an
//! m-line of the bridge's own offer).
//!
//! These are plain state; the forwarding decisions live in `conference` and `allocator`.
//! Nothing here talks to str0m's session or to the network.

use std::time::{Duration, Instant};

use str0m::format::{Codec, PayloadParams};
use str0m::media::{MediaKind, Mid, Pt, Rid};

use crate::rewriter::{Rewriter, Vp8Ids};

/// Bridge-wide number of an endpoint: cheap to copy and compare on the per-packet path
/// (the `EndpointId` string is for signalling and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EpNum(pub u64);

/// How long a layer may be silent before the allocator stops counting on it.
pub const LAYER_IDLE: Duration = Duration::from_millis(1500);

/// One simulcast encoding (or the only encoding without simulcast).
#[derive(Debug, Clone)]
pub struct Layer {
    pub rid: Option<Rid>,
    /// Position in the sender's simulcast list (0 = first listed).
    pub order: usize,
    pub ssrc: Option<u32>,
    pub last_packet: Option<Instant>,
    /// Frame height from the last VP8 keyframe, when known.
    pub height: Option<u16>,
    /// Bytes seen in the current one-second window and the rate measured over the last one.
    window_bytes: u64,
    window_start: Option<Instant>,
    pub bitrate_bps: u64,
}

impl Layer {
    pub fn new(rid: Option<Rid>, order: usize) -> Self {
        Layer {
            rid,
            order,
            ssrc: None,
            last_packet: None,
            height: None,
            window_bytes: 0,
            window_start: None,
            bitrate_bps: 0,
        }
    }

    pub fn is_active(&self, now: Instant) -> bool {
        self.last_packet.is_some_and(|t| now.saturating_duration_since(t) < LAYER_IDLE)
    }

    pub fn on_packet(&mut self, now: Instant, bytes: usize) {
        self.last_packet = Some(now);
        let start = *self.window_start.get_or_insert(now);
        self.window_bytes += bytes as u64;
        let elapsed = now.saturating_duration_since(start);
        if elapsed >= Duration::from_secs(1) {
            self.bitrate_bps = self.window_bytes * 8 * 1000 / (elapsed.as_millis() as u64).max(1);
            self.window_bytes = 0;
            self.window_start = Some(now);
        }
    }
}

/// A source sent by an endpoint.
#[derive(Debug)]
pub struct TrackIn {
    pub kind: MediaKind,
    pub mid: Mid,
    /// `<endpoint>-a0` / `<endpoint>-v0`.
    pub source_name: String,
    pub layers: Vec<Layer>,
    /// Payload types of the sender's session with their codec parameters.
    pub codecs: Vec<(Pt, PayloadParams)>,
    /// When a keyframe was last requested from the sender, per layer index: as long as
    /// `layers` (both are built and pushed together).
    pub last_keyframe_request: Vec<Option<Instant>>,
    pub muted: bool,
    /// The SenderSourceConstraints height last sent to the sender.
    pub announced_max_height: Option<i32>,
    /// Audio left out (not among the loudest, or muted): every receiver's slot carrying it
    /// is paused already, so its next packets need not look at the receivers again. Cleared
    /// when a packet of it is forwarded.
    pub left_out_everywhere: bool,
}

impl TrackIn {
    pub fn layer_index(&self, rid: Option<Rid>) -> Option<usize> {
        self.layers.iter().position(|l| l.rid == rid)
    }

    pub fn codec(&self, pt: Pt) -> Option<&PayloadParams> {
        self.codecs.iter().find(|(p, _)| *p == pt).map(|(_, params)| params)
    }

    /// Whether a keyframe request for `layer` may go out now (at most one per `interval`);
    /// if so, the request is counted as made. Layers learned after the SDP are added.
    pub fn take_keyframe_request(&mut self, layer: usize, now: Instant, interval: Duration) -> bool {
        if self.last_keyframe_request.len() <= layer {
            self.last_keyframe_request.resize(layer + 1, None);
        }
        let last = &mut self.last_keyframe_request[layer];
        if last.is_some_and(|at| now.saturating_duration_since(at) < interval) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// The layer at `index`, added (without a rid) when media names one the SDP did not:
    /// for mirrors of another thread's endpoint, which learn layers from relayed packets.
    pub fn layer_mut(&mut self, index: usize) -> &mut Layer {
        while self.layers.len() <= index {
            let order = self.layers.len();
            self.layers.push(Layer::new(None, order));
            self.last_keyframe_request.push(None);
        }
        &mut self.layers[index]
    }

    pub fn codec_kind(&self, pt: Pt) -> Option<Codec> {
        self.codec(pt).map(|p| p.spec().codec)
    }

    /// Layers ranked from lowest to highest quality: by known height, else by bitrate,
    /// else by their order in the sender's SDP.
    pub fn ranked_layers(&self, now: Instant) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.layers.len()).filter(|i| self.layers[*i].is_active(now)).collect();
        idx.sort_by_key(|i| {
            let l = &self.layers[*i];
            (l.height.unwrap_or(0), l.bitrate_bps / 50_000, l.order)
        });
        idx
    }
}

/// Negotiation state of the m-line carrying a `TrackOut`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackOutState {
    /// Waiting for the next offer to add it.
    ToOpen,
    /// In an offer that is not answered yet.
    Negotiating(Mid),
    /// Answered: media may flow.
    Open(Mid),
    /// The source left: the next offer stops the m-line.
    ToStop(Mid),
    /// In an offer (stopping) not answered yet.
    Stopping(Mid),
}

/// One receiving m-line of a receiver (a "slot"), carrying one source at a time: the
/// receiver gets as many slots per kind as it is forwarded at once (last-N video, routed
/// audio), and a slot moves from source to source as the selection changes. Sequence
/// numbers, timestamps and VP8 picture ids stay continuous across the moves (`rewriter`,
/// `vp8`); the receiver's page learns who is on which slot from a `SourcesMap` message.
#[derive(Debug)]
pub struct TrackOut {
    /// The source carried now; `None` while the slot is idle.
    pub source: Option<EpNum>,
    pub source_endpoint: Option<proto::EndpointId>,
    /// The last source the slot carried (names the slot in offers and in removals).
    pub last_owner: Option<proto::EndpointId>,
    pub kind: MediaKind,
    pub state: TrackOutState,
    pub rewriter: Rewriter,
    pub vp8: Vp8Ids,
    /// Sender pt → receiver pt (None: the receiver lacks that codec), for the current source.
    pub pt_map: Vec<(Pt, Option<Pt>)>,
    /// Layer index the allocator wants; `None` = forward nothing.
    pub target: Option<usize>,
    /// Layer index currently forwarded (switches on a keyframe of `target`).
    pub current: Option<usize>,
    /// Audio left out by loudest-only routing since the last forwarded packet: the next one
    /// starts a talkspurt (RTP marker bit).
    pub paused: bool,
    /// The current source's audio was left out by routing (or muted) at its last packet:
    /// another routed source may take the slot.
    pub left_out: bool,
}

impl TrackOut {
    /// A slot for `kind`, carrying `source` from the start.
    pub fn new(source: EpNum, source_endpoint: proto::EndpointId, kind: MediaKind, initial_seq: u16) -> Self {
        let clock = if kind == MediaKind::Audio { 48_000 } else { 90_000 };
        TrackOut {
            source: Some(source),
            last_owner: Some(source_endpoint.clone()),
            source_endpoint: Some(source_endpoint),
            kind,
            state: TrackOutState::ToOpen,
            rewriter: Rewriter::new(clock, initial_seq),
            vp8: Vp8Ids::default(),
            pt_map: Vec::new(),
            target: None,
            current: None,
            paused: false,
            left_out: false,
        }
    }

    /// Moves the slot to another source (or to none): the next packet starts a new mapping
    /// (continuous numbering, talkspurt marker), video waits for a keyframe of the new source.
    pub fn assign(&mut self, source: Option<(EpNum, proto::EndpointId)>) {
        self.rewriter.pause();
        self.paused = true;
        self.left_out = false;
        self.target = None;
        self.current = None;
        self.pt_map.clear();
        match source {
            Some((num, id)) => {
                self.source = Some(num);
                self.last_owner = Some(id.clone());
                self.source_endpoint = Some(id);
            }
            None => {
                self.source = None;
                self.source_endpoint = None;
            }
        }
    }

    /// Not being stopped: the slot can carry media (now or once negotiated).
    pub fn live(&self) -> bool {
        !matches!(self.state, TrackOutState::ToStop(_) | TrackOutState::Stopping(_))
    }

    pub fn open_mid(&self) -> Option<Mid> {
        match self.state {
            TrackOutState::Open(m) => Some(m),
            _ => None,
        }
    }

    pub fn mid(&self) -> Option<Mid> {
        match self.state {
            TrackOutState::ToOpen => None,
            TrackOutState::Negotiating(m)
            | TrackOutState::Open(m)
            | TrackOutState::ToStop(m)
            | TrackOutState::Stopping(m) => Some(m),
        }
    }
}
