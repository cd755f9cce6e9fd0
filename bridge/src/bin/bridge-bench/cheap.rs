//! The cheap participant (`--generator cheap`, issue 13 item 3): str0m sets up ICE, DTLS
//! and the bridge channel and keeps answering STUN, DTLS and RTCP as before, but RTP never
//! goes through it. Sending patches sequence number, timestamp, transport-cc number and
//! send time into a packet prepared once per stream and seals it with the SRTP key str0m
//! negotiated (`srtp.rs`). Receiving counts every RTP datagram by SSRC and sequence number
//! from the clear header (loss as the str0m participant counts it) and opens only every
//! [`SAMPLE`]th one: decryptability and latency are sampled.
//!
//! What the bridge sees from it is a real endpoint: it sends transport-cc feedback every
//! 50 ms from the clear headers of everything it receives (`twcc.rs`), so the bridge's
//! estimate and layer choice toward it follow as toward a str0m participant. Two
//! differences remain, stated in the bridge README: it asks for no retransmissions (no
//! NACK), and it answers none (the NACK messages in the bridge's RTCP, which it opens
//! before str0m gets it, are counted). A bad datagram is dropped and counted, never a panic.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bridge::pktinfo;
use str0m::change::SdpOffer;
use str0m::format::Codec;
use str0m::media::{Mid, Rid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::Extension;
use str0m::{Input, Output, Rtc};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::load::{arrival_instant, counters, nanos_since_epoch, record_latency, Cmd, Signals, VideoWindow, LAYERS};
use crate::srtp::{count_nacks, extend_seq, KeySlot, Keys, RtpView};
use crate::twcc::TwccFeedback;

/// Every SAMPLE-th RTP datagram a participant receives is decrypted and timed.
pub const SAMPLE: u64 = 16;

/// How often transport-cc feedback goes out, as str0m sends it.
const TWCC_INTERVAL: Duration = Duration::from_millis(50);

/// One prepared outgoing stream: a plaintext packet (header with extensions, payload) that
/// each send copies, patches and seals.
struct TxStream {
    ssrc: u32,
    template: Vec<u8>,
    header_len: usize,
    /// Offset of the transport-cc sequence number in the header, when negotiated.
    twcc_at: Option<usize>,
    /// Next extended sequence number (ROC << 16 | SEQ).
    index: u64,
}

impl TxStream {
    fn new(ssrc: u32, pt: u8, exts: &[(u8, Vec<u8>)], twcc_id: Option<u8>, payload_len: usize) -> TxStream {
        let mut p = vec![0x80, pt, 0, 0, 0, 0, 0, 0];
        p.extend_from_slice(&ssrc.to_be_bytes());
        let mut twcc_at = None;
        let mut body = Vec::new();
        for (id, v) in exts {
            // One-byte form: 1 to 16 bytes of value (mid and rid here are a few bytes).
            if v.is_empty() || v.len() > 16 {
                continue;
            }
            body.push(id << 4 | (v.len() as u8 - 1));
            body.extend_from_slice(v);
        }
        if let Some(id) = twcc_id {
            body.push(id << 4 | 1);
            twcc_at = Some(12 + 4 + body.len());
            body.extend_from_slice(&[0, 0]);
        }
        if !body.is_empty() {
            while body.len() % 4 != 0 {
                body.push(0);
            }
            p[0] |= 0x10;
            p.extend_from_slice(&[0xbe, 0xde]);
            p.extend_from_slice(&((body.len() / 4) as u16).to_be_bytes());
            p.extend_from_slice(&body);
        }
        let header_len = p.len();
        p.resize(header_len + payload_len, 0);
        TxStream { ssrc, template: p, header_len, twcc_at, index: 1 }
    }
}

/// What a publishing session sends: its two media lines, and whether keyframes carry the
/// VP8 start code and size (RFC 6386 §9.1; Janus sees a keyframe only by them, our bridge
/// by the frame tag's P bit alone, so the bridge target keeps the short form it was measured with).
pub struct Publish {
    pub audio_mid: Mid,
    pub video_mid: Mid,
    pub vp8_start_code: bool,
}

/// Width and height written into a keyframe of each layer (`LAYERS` order) with
/// `Publish::vp8_start_code`: the heights our bridge assumes for three layers.
pub const LAYER_SIZE: [(u16, u16); 3] = [(320, 180), (640, 360), (1280, 720)];

/// What the participant sends once its keys are known.
struct Sender {
    to: SocketAddr,
    audio: TxStream,
    /// One per simulcast layer, in `LAYERS` order.
    video: Vec<TxStream>,
    twcc_seq: u16,
    /// The session's transport-cc extension id (str0m uses one map for the session).
    twcc_id: Option<u8>,
    vp8_start_code: bool,
    out: Vec<u8>,
}

impl Sender {
    /// Builds the prepared streams from the negotiated session: SSRCs of str0m's send
    /// streams, payload types and header extension ids (one-byte form; an id above 14 is
    /// left out).
    fn new(rtc: &mut Rtc, to: SocketAddr, publish: &Publish) -> Option<Sender> {
        let (audio_mid, video_mid) = (publish.audio_mid, publish.video_mid);
        let pt_of = |c: Codec| rtc.codec_config().find(|p| p.spec().codec == c).map(|p| *p.pt());
        let (opus, vp8) = (pt_of(Codec::Opus)?, pt_of(Codec::Vp8)?);
        let id = |mid: Mid, e: Extension| rtc.media(mid).and_then(|m| m.remote_extmap().id_of(e)).filter(|i| *i <= 14);
        let (a_mid, a_level, a_twcc) = (
            id(audio_mid, Extension::RtpMid),
            id(audio_mid, Extension::AudioLevel),
            id(audio_mid, Extension::TransportSequenceNumber),
        );
        let (v_mid, v_rid, v_twcc) = (
            id(video_mid, Extension::RtpMid),
            id(video_mid, Extension::RtpStreamId),
            id(video_mid, Extension::TransportSequenceNumber),
        );
        let mut api = rtc.direct_api();
        let audio_ssrc = *api.stream_tx_by_mid(audio_mid, None)?.ssrc();
        let mut exts = Vec::new();
        if let Some(i) = a_mid {
            exts.push((i, audio_mid.to_string().into_bytes()));
        }
        if let Some(i) = a_level {
            exts.push((i, vec![0x80 | 40])); // voice activity, -40 dBov
        }
        let audio = TxStream::new(audio_ssrc, opus, &exts, a_twcc, 100);
        let mut video = Vec::new();
        for (rid, _, size) in LAYERS {
            let ssrc = *api.stream_tx_by_mid(video_mid, Some(Rid::from(rid)))?.ssrc();
            let mut exts = Vec::new();
            if let Some(i) = v_mid {
                exts.push((i, video_mid.to_string().into_bytes()));
            }
            if let Some(i) = v_rid {
                exts.push((i, rid.as_bytes().to_vec()));
            }
            video.push(TxStream::new(ssrc, vp8, &exts, v_twcc, size));
        }
        Some(Sender {
            to,
            audio,
            video,
            twcc_seq: 0,
            twcc_id: a_twcc.or(v_twcc),
            vp8_start_code: publish.vp8_start_code,
            out: Vec::with_capacity(1500),
        })
    }

    /// Seals and sends transport-cc feedback for what arrived since the last call.
    fn send_feedback(&mut self, keys: &Keys, socket: &UdpSocket, twcc: &mut TwccFeedback) {
        if twcc.build(&mut self.out) && keys.rtcp_tx.seal_rtcp(&mut self.out, twcc.srtcp_index) {
            twcc.srtcp_index = twcc.srtcp_index.wrapping_add(1);
            let _ = socket.try_send_to(&self.out, self.to);
        }
    }

    /// Sends the next packet of the audio stream (`which` None) or of video layer `which`;
    /// `vp8` is (descriptor byte, frame tag's first byte: P bit 0 = keyframe), None for audio.
    fn send(
        &mut self,
        keys: &Keys,
        socket: &UdpSocket,
        which: Option<usize>,
        ts: u32,
        marker: bool,
        vp8: Option<(u8, u8)>,
    ) {
        let s = match which {
            None => &mut self.audio,
            Some(l) => match self.video.get_mut(l) {
                Some(s) => s,
                None => return,
            },
        };
        let out = &mut self.out;
        out.clear();
        out.extend_from_slice(&s.template);
        out[1] = (out[1] & 0x7f) | if marker { 0x80 } else { 0 };
        out[2..4].copy_from_slice(&(s.index as u16).to_be_bytes());
        out[4..8].copy_from_slice(&ts.to_be_bytes());
        if let Some(at) = s.twcc_at {
            out[at..at + 2].copy_from_slice(&self.twcc_seq.to_be_bytes());
            self.twcc_seq = self.twcc_seq.wrapping_add(1);
        }
        if let Some((first, tag)) = vp8 {
            let h = s.header_len;
            out[h] = first;
            out[h + 1] = tag;
            let size = which.and_then(|l| LAYER_SIZE.get(l));
            if let (true, true, Some(&(w, ht))) = (self.vp8_start_code, first & 0x10 != 0 && tag & 1 == 0, size) {
                // Frame tag (3 bytes), start code, 14-bit width and height (scale 0).
                out[h + 4..h + 7].copy_from_slice(&[0x9d, 0x01, 0x2a]);
                out[h + 7..h + 9].copy_from_slice(&w.to_le_bytes());
                out[h + 9..h + 11].copy_from_slice(&ht.to_le_bytes());
            }
        }
        let n = out.len();
        out[n - 8..].copy_from_slice(&nanos_since_epoch(Instant::now()).to_le_bytes());
        let sealed = keys.tx.seal(out, s.header_len, s.ssrc, s.index);
        s.index += 1;
        if sealed && socket.try_send_to(out, self.to).is_ok() {
            counters().sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Receive-side state: highest extended sequence number per incoming SSRC.
#[derive(Default)]
struct Receiver {
    max_index: HashMap<u32, u64>,
    packets: u64,
    media_pts: Vec<u8>,
    video_pts: Vec<u8>,
    window: VideoWindow,
    twcc: Option<TwccFeedback>,
    rtcp: Vec<u8>,
}

impl Receiver {
    fn on_rtp(&mut self, rx: &Keys, packet: &mut [u8], arrived: Option<SystemTime>) {
        let c = counters();
        let Some(v) = RtpView::parse(packet) else {
            c.bad_rtp.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if let Some(t) = &mut self.twcc {
            t.record(packet, arrived);
        }
        // RTX and padding (the bridge's probes) are not media: the str0m participant
        // does not count them either.
        if v.padding || !self.media_pts.contains(&v.pt) {
            return;
        }
        self.window.on_packet(self.video_pts.contains(&v.pt).then_some(v.ssrc), Instant::now());
        let index = match self.max_index.get_mut(&v.ssrc) {
            None => {
                c.expected.fetch_add(1, Ordering::Relaxed);
                self.max_index.insert(v.ssrc, u64::from(v.seq));
                u64::from(v.seq)
            }
            Some(m) => {
                let i = extend_seq(*m, v.seq);
                if i > *m {
                    c.expected.fetch_add(i - *m, Ordering::Relaxed);
                    *m = i;
                }
                i
            }
        };
        c.received.fetch_add(1, Ordering::Relaxed);
        self.packets += 1;
        if !self.packets.is_multiple_of(SAMPLE) {
            return;
        }
        c.sampled.fetch_add(1, Ordering::Relaxed);
        let Some(range) = rx.rx.open(packet, v.header_len, v.ssrc, index) else {
            c.decrypt_failed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if let Some(ts) = packet.get(range).and_then(|p| p.len().checked_sub(8).and_then(|i| p.get(i..))) {
            let sent = u64::from_le_bytes(ts.try_into().unwrap_or([0; 8]));
            record_latency(nanos_since_epoch(arrival_instant(arrived)).saturating_sub(sent));
        }
    }
}

impl Receiver {
    /// Counts the NACKs in the bridge's RTCP. str0m, which gets the datagram next, answers
    /// none (it sent none of these packets), and cannot count them for us: its egress
    /// stats skip streams it never sent on.
    fn on_rtcp(&mut self, keys: &Keys, packet: &[u8]) {
        counters().sampled.fetch_add(1, Ordering::Relaxed);
        if keys.rtcp_rx.open_rtcp(packet, &mut self.rtcp) {
            let (messages, _) = count_nacks(&self.rtcp);
            counters().nacks.fetch_add(messages, Ordering::Relaxed);
        } else {
            counters().decrypt_failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

struct State {
    sig: Signals,
    /// Where str0m sends: the bridge's media address (the only peer).
    peer: Option<SocketAddr>,
}

/// Polls str0m until its next deadline; `None` when the session failed.
fn drain(rtc: &mut Rtc, socket: &UdpSocket, st: &mut State) -> Option<Instant> {
    loop {
        match rtc.poll_output() {
            Ok(Output::Timeout(t)) => return Some(t),
            Ok(Output::Transmit(t)) => {
                st.peer = Some(t.destination);
                let _ = socket.try_send_to(&t.contents, t.destination);
            }
            Ok(Output::Event(e)) => {
                // Media is counted from the socket, not from str0m's events.
                let _ = st.sig.on_event(rtc, e);
            }
            Err(_) => return None,
        }
    }
}

/// RTP (RFC 5761: first byte 128–191, and not an RTCP packet type 192–223).
fn is_rtp(b: &[u8]) -> bool {
    matches!(b.first(), Some(128..=191)) && !matches!(b.get(1).map(|x| x & 0x7f), Some(64..=95))
}

fn is_rtcp(b: &[u8]) -> bool {
    matches!(b.first(), Some(128..=191)) && matches!(b.get(1).map(|x| x & 0x7f), Some(64..=95))
}

/// Drives one session until `Cmd::Stop`: a publisher (`publish`, with or without
/// receiving, as with our bridge) or a session that only receives (`None`: a Janus
/// subscriber).
pub async fn run(
    mut rtc: Rtc,
    socket: UdpSocket,
    slot: Arc<KeySlot>,
    publish: Option<Publish>,
    signals: Signals,
    mut cmds: mpsc::Receiver<Cmd>,
) {
    let local = socket.local_addr().expect("participant address");
    let mut buf = vec![0u8; 2000];
    let start = Instant::now();
    let offset = Duration::from_micros(u64::from(getrandom::u32().unwrap_or(0)) % 33_000);
    let (mut next_audio, mut next_video) = (start + offset, start + offset);
    let mut next_feedback = start + offset;
    let mut st = State { sig: signals, peer: None };
    let mut keys: Option<Keys> = None;
    let mut sender: Option<Sender> = None;
    let mut receiver = Receiver::default();
    let mut frame: u64 = 0;
    let mut timeout = start;
    loop {
        if Instant::now() >= timeout && rtc.handle_input(Input::Timeout(Instant::now())).is_err() {
            return;
        }
        let Some(t) = drain(&mut rtc, &socket, &mut st) else { return };
        timeout = t;
        if keys.is_none() && st.sig.connected {
            if let (Some(k), Some(to)) = (slot.take().and_then(|c| Keys::derive(&c)), st.peer) {
                keys = Some(k);
                receiver.media_pts = rtc
                    .codec_config()
                    .iter()
                    .filter(|p| matches!(p.spec().codec, Codec::Opus | Codec::Vp8))
                    .map(|p| *p.pt())
                    .collect();
                receiver.video_pts =
                    rtc.codec_config().iter().filter(|p| p.spec().codec == Codec::Vp8).map(|p| *p.pt()).collect();
                if let Some(p) = &publish {
                    sender = Sender::new(&mut rtc, to, p);
                    let ssrc = getrandom::u32().unwrap_or(0x5eed_f00d).max(1);
                    receiver.twcc = sender.as_ref().and_then(|s| s.twcc_id).map(|id| TwccFeedback::new(id, ssrc));
                    if sender.is_none() {
                        eprintln!("cheap participant: no send streams for {local}; it only receives");
                    }
                }
            }
        }
        let wake = if sender.is_some() { timeout.min(next_audio).min(next_video).min(next_feedback) } else { timeout };
        tokio::select! {
            r = socket.readable() => {
                if r.is_err() {
                    return;
                }
                for _ in 0..64 {
                    let Ok(d) = socket.try_io(Interest::READABLE, || pktinfo::recv_datagram(&socket, &mut buf)) else { break };
                    let Some(packet) = buf.get_mut(..d.len) else { continue };
                    if let (true, Some(k)) = (is_rtp(packet), &keys) {
                        receiver.on_rtp(k, packet, d.arrived);
                        continue;
                    }
                    if let (true, Some(k)) = (is_rtcp(packet), &keys) {
                        receiver.on_rtcp(k, packet);
                    }
                    if let Ok(contents) = (&*packet).try_into() {
                        let input = Input::Receive(arrival_instant(d.arrived), Receive { proto: Protocol::Udp, source: d.source, destination: local, contents });
                        let _ = rtc.handle_input(input);
                    }
                    match drain(&mut rtc, &socket, &mut st) {
                        Some(t) => timeout = t,
                        None => return,
                    }
                }
            }
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
            cmd = cmds.recv() => match cmd {
                Some(Cmd::Offer(sdp, reply)) => {
                    let Ok(offer) = SdpOffer::from_sdp_string(&sdp) else { return };
                    let Ok(answer) = rtc.sdp_api().accept_offer(offer) else { return };
                    let _ = reply.send(answer.to_sdp_string());
                    timeout = Instant::now();
                }
                Some(Cmd::Stop) | None => return,
            },
        }
        let (Some(s), Some(keys)) = (sender.as_mut(), &keys) else { continue };
        let now = Instant::now();
        if now >= next_feedback {
            next_feedback = now + TWCC_INTERVAL;
            if let Some(t) = &mut receiver.twcc {
                s.send_feedback(keys, &socket, t);
            }
        }
        if now >= next_audio {
            next_audio += Duration::from_millis(20);
            let ts = (now.duration_since(start).as_micros() as u64 * 48 / 1000) as u32;
            s.send(keys, &socket, None, ts, false, None);
        }
        if now >= next_video {
            next_video += Duration::from_millis(33);
            frame += 1;
            let key = std::mem::take(&mut st.sig.keyframe_wanted) || frame.is_multiple_of(90);
            let ts = (now.duration_since(start).as_micros() as u64 * 90 / 1000) as u32;
            for (li, (_, packets, _)) in LAYERS.iter().enumerate() {
                let Some(key) = st.sig.layer(li, frame, key) else { continue };
                for k in 0..*packets {
                    // VP8 descriptor: S bit on the first packet of the frame; then the
                    // frame tag (P bit 0 = keyframe), as the str0m participant writes them.
                    let first = if k == 0 { 0x10 } else { 0x00 };
                    s.send(
                        keys,
                        &socket,
                        Some(li),
                        ts,
                        k + 1 == *packets,
                        Some((first, if key { 0x00 } else { 0x01 })),
                    );
                }
            }
        }
    }
}
