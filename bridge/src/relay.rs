//! What the media threads tell each other about a conference that spans them (issue 13,
//! stage 2): each thread holds a *shard* of the conference (its own endpoints, with their
//! str0m sessions) and a mirror of the endpoints on the other threads, fed by these
//! messages. A sender's packet is decrypted once, on its thread, forwarded there to the
//! local receivers and handed on as a [`Fwd`] (the payload shared, not copied) to every
//! other thread of the conference, which forwards it to its own receivers.
//!
//! Messages between two threads keep their order (one queue per pair), and the sans-IO
//! core only produces and consumes them: the driver carries them in batches, the
//! virtual-time tests hand them over directly.

use std::sync::Arc;
use std::time::Instant;

use proto::bridge_channel::BridgeChannelMessage;
use proto::{ConferenceId, EndpointId};
use str0m::format::PayloadParams;
use str0m::media::{MediaKind, Pt};
use str0m::rtp::{ExtensionValues, RtpPacket};

use crate::track::EpNum;

/// Index of a media thread.
pub type ThreadIndex = usize;

/// One received RTP packet as forwarding needs it: header fields, the extensions the bridge
/// passes on, and the payload behind an `Arc` (shared by every thread that forwards it).
#[derive(Debug, Clone)]
pub struct Fwd {
    pub pt: Pt,
    pub ssrc: u32,
    /// Extended sequence number (no rollover to handle).
    pub seq: u64,
    pub rtp_time: u32,
    /// When the bridge received it.
    pub arrived: Instant,
    pub marker: bool,
    /// Audio level, voice activity and video orientation; nothing else is passed on.
    pub ext: ExtensionValues,
    pub payload: Arc<[u8]>,
}

impl Fwd {
    pub fn of(packet: &RtpPacket) -> Fwd {
        let e = &packet.header.ext_vals;
        Fwd {
            pt: packet.header.payload_type,
            ssrc: *packet.header.ssrc,
            seq: *packet.seq_no,
            rtp_time: packet.header.timestamp,
            arrived: packet.timestamp,
            marker: packet.header.marker,
            ext: ExtensionValues {
                audio_level: e.audio_level,
                voice_activity: e.voice_activity,
                video_orientation: e.video_orientation,
                ..Default::default()
            },
            payload: packet.payload.clone(),
        }
    }
}

/// A source of an endpoint on another thread, as its receivers here need it.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    pub kind: MediaKind,
    pub source_name: String,
    /// Simulcast layers known at the time (more may follow with media).
    pub layers: usize,
    /// The sender's payload types (for mapping them to each receiver's).
    pub codecs: Vec<(Pt, PayloadParams)>,
    pub muted: bool,
}

/// An endpoint on another thread: who it is and what it sends, in the order of its
/// `tracks_in` (track indices in [`Relay::Media`] and [`Relay::Keyframe`] refer to it).
#[derive(Debug, Clone)]
pub struct EndpointInfo {
    pub num: EpNum,
    pub id: EndpointId,
    pub sources: Vec<SourceInfo>,
}

/// One message from the shard of a conference on one thread to its shard on another.
#[derive(Debug)]
pub enum Relay {
    /// The sending thread holds the conference, with these endpoints (all of them). Sent
    /// to every thread when a shard is created, and answered once by each thread that
    /// holds the conference too, so both learn of each other whoever started first.
    Joined { endpoints: Vec<EndpointInfo> },
    /// The sending thread no longer holds the conference: forget its endpoints.
    Left,
    /// An endpoint of the sending thread was added or changed (a new source, a mute).
    Endpoint(EndpointInfo),
    /// An endpoint of the sending thread left.
    EndpointGone(EpNum),
    /// A packet of `tracks_in[track]`, layer `layer`, of endpoint `num`.
    Media { num: EpNum, track: usize, layer: usize, pkt: Fwd },
    /// A receiver on the sending thread wants a keyframe of this layer of endpoint `num`.
    Keyframe { num: EpNum, track: usize, layer: usize },
    /// The largest height the sending thread's receivers want of endpoint `num`'s video
    /// (for SenderSourceConstraints).
    Wish { num: EpNum, max_height: i32 },
    /// A bridge-channel message for the receiving thread's endpoints (`to` empty: all of
    /// them; else the one with that id), `from` already set by the sender's thread.
    Channel { to: String, msg: BridgeChannelMessage },
}

impl Relay {
    /// Media may be dropped when a thread falls behind (RTX and PLI recover); the rest
    /// keeps the shards consistent and never is.
    pub fn droppable(&self) -> bool {
        matches!(self, Relay::Media { .. })
    }
}

/// Messages for other threads, in the order they were made, per destination.
#[derive(Debug, Default)]
pub struct Outbox {
    pub to: Vec<Vec<(ConferenceId, Relay)>>,
}

impl Outbox {
    pub fn push(&mut self, thread: ThreadIndex, conference: &ConferenceId, msg: Relay) {
        if self.to.len() <= thread {
            self.to.resize_with(thread + 1, Vec::new);
        }
        self.to[thread].push((conference.clone(), msg));
    }

    pub fn is_empty(&self) -> bool {
        self.to.iter().all(Vec::is_empty)
    }
}
