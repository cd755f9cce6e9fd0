//! The load: participants that each publish Opus-sized audio and three simulcast
//! VP8-shaped layers (~1 Mbit/s in all) and subscribe to everyone else through the bridge.
//! Here the shared parts (layers, counters, setup) and the str0m participant in RTP mode
//! (no packetizer, no jitter buffer; `--generator str0m`); `cheap.rs` has the one that
//! sends and receives RTP beside str0m. Every payload ends with its send time, so a
//! subscriber measures the latency through the bridge (up to the kernel's arrival stamp at
//! its socket, SO_TIMESTAMPNS); sequence numbers give the loss. Counters are process-wide
//! atomics read by the ramp controller.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use bridge::participant::{publisher_offer, PublisherOffer};
use bridge::pktinfo;
use proto::bridge_channel::{BridgeChannelMessage, ReceiverVideoConstraints, VideoConstraints};

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{ExtensionValues, RtpWrite};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::cheap;
use crate::srtp::{capturing_provider, KeySlot};

/// (rid, packets per frame, bytes per packet): ~720 + 216 + 72 kbit/s at 30 fps.
pub const LAYERS: [(&str, usize, usize); 3] = [("q", 1, 300), ("h", 1, 900), ("f", 3, 1000)];

static EPOCH: OnceLock<Instant> = OnceLock::new();

pub fn nanos_since_epoch(t: Instant) -> u64 {
    t.saturating_duration_since(*EPOCH.get_or_init(Instant::now)).as_nanos() as u64
}

/// Latency histogram buckets: 10 µs each up to 50 ms.
pub const BUCKET_US: u64 = 10;
pub const BUCKETS: usize = 5000;

pub struct Counters {
    pub received: AtomicU64,
    pub expected: AtomicU64,
    pub sent: AtomicU64,
    pub latency: Vec<AtomicU64>,
    /// Cheap participants: packets opened (every 16th RTP, every RTCP from the bridge),
    /// those that did not authenticate, RTP-looking datagrams too short for their header,
    /// and NACK messages in the bridge's RTCP (they are not answered).
    pub sampled: AtomicU64,
    pub decrypt_failed: AtomicU64,
    pub bad_rtp: AtomicU64,
    pub nacks: AtomicU64,
    /// Each second, how many video sources sent a receiver media (distinct SSRCs of video
    /// payload types, [`VideoWindow`]), as receiver-seconds counted, their sum and the
    /// fewest any receiver got (reset per step by the caller).
    pub video_windows: AtomicU64,
    pub video_sources: AtomicU64,
    pub video_sources_min: AtomicU64,
}

pub fn counters() -> &'static Counters {
    static C: OnceLock<Counters> = OnceLock::new();
    C.get_or_init(|| Counters {
        received: AtomicU64::new(0),
        expected: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        latency: (0..=BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        sampled: AtomicU64::new(0),
        decrypt_failed: AtomicU64::new(0),
        bad_rtp: AtomicU64::new(0),
        nacks: AtomicU64::new(0),
        video_windows: AtomicU64::new(0),
        video_sources: AtomicU64::new(0),
        video_sources_min: AtomicU64::new(u64::MAX),
    })
}

/// The video sources one receiver got media from, counted into [`Counters`] once a second
/// (a source reaches a receiver under one SSRC, whatever the layer).
#[derive(Default)]
pub struct VideoWindow {
    sources: std::collections::HashSet<u32>,
    start: Option<Instant>,
}

impl VideoWindow {
    /// Notes a received media packet, `Some(ssrc)` when it is video.
    pub fn on_packet(&mut self, video_ssrc: Option<u32>, now: Instant) {
        if let Some(ssrc) = video_ssrc {
            self.sources.insert(ssrc);
        }
        let start = *self.start.get_or_insert(now);
        if now.saturating_duration_since(start) < Duration::from_secs(1) {
            return;
        }
        let c = counters();
        let n = self.sources.len() as u64;
        c.video_windows.fetch_add(1, Ordering::Relaxed);
        c.video_sources.fetch_add(n, Ordering::Relaxed);
        c.video_sources_min.fetch_min(n, Ordering::Relaxed);
        self.sources.clear();
        self.start = Some(now);
    }
}

/// Counts one latency (send time in the payload to the kernel's arrival stamp).
pub fn record_latency(nanos: u64) {
    let b = ((nanos / 1000 / BUCKET_US) as usize).min(BUCKETS);
    counters().latency[b].fetch_add(1, Ordering::Relaxed);
}

/// A copy of the counters, to take differences over a window.
#[derive(Clone)]
pub struct Snapshot {
    pub received: u64,
    pub expected: u64,
    pub latency: Vec<u64>,
    pub sampled: u64,
    pub decrypt_failed: u64,
    pub nacks: u64,
    pub video_windows: u64,
    pub video_sources: u64,
}

pub fn snapshot() -> Snapshot {
    let c = counters();
    Snapshot {
        received: c.received.load(Ordering::Relaxed),
        expected: c.expected.load(Ordering::Relaxed),
        latency: c.latency.iter().map(|b| b.load(Ordering::Relaxed)).collect(),
        sampled: c.sampled.load(Ordering::Relaxed),
        decrypt_failed: c.decrypt_failed.load(Ordering::Relaxed),
        nacks: c.nacks.load(Ordering::Relaxed),
        video_windows: c.video_windows.load(Ordering::Relaxed),
        video_sources: c.video_sources.load(Ordering::Relaxed),
    }
}

/// Percentile `p` (0..1) in microseconds of the latency between two snapshots.
pub fn percentile(a: &Snapshot, b: &Snapshot, p: f64) -> u64 {
    let diff: Vec<u64> = b.latency.iter().zip(&a.latency).map(|(x, y)| x - y).collect();
    let total: u64 = diff.iter().sum();
    if total == 0 {
        return 0;
    }
    let target = (total as f64 * p).ceil() as u64;
    let mut acc = 0;
    for (i, n) in diff.iter().enumerate() {
        acc += n;
        if acc >= target {
            return i as u64 * BUCKET_US + BUCKET_US / 2;
        }
    }
    BUCKETS as u64 * BUCKET_US
}

pub enum Cmd {
    Offer(String, oneshot::Sender<String>),
    Stop,
}

/// Which participant drives the load: str0m end to end, or str0m for ICE/DTLS/RTCP with
/// prepared SRTP packets sent and received beside it (`cheap.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generator {
    Str0m,
    Cheap,
}

impl std::str::FromStr for Generator {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "str0m" => Ok(Generator::Str0m),
            "cheap" => Ok(Generator::Cheap),
            _ => Err(format!("unknown generator {s} (str0m or cheap)")),
        }
    }
}

pub struct Setup {
    pub offer: String,
    rtc: Rtc,
    socket: UdpSocket,
    pending: SdpPendingOffer,
    audio_mid: Mid,
    video_mid: Mid,
    /// The cheap participant's SRTP keys, filled by its DTLS handshake.
    keys: Option<Arc<KeySlot>>,
    /// Cheap participant: keyframes carry the VP8 start code and size (Janus needs them).
    vp8_start_code: bool,
    /// Follow the bridge's SenderSourceConstraints as the page does.
    follow_sender_constraints: bool,
}

/// A participant's session before negotiation: str0m in RTP mode with Opus and VP8, one
/// host candidate on a socket bound to `ip` (loopback for our bridge, the veth address for
/// Janus), and with the cheap generator the slot its DTLS keys go to.
async fn session(ip: IpAddr, generator: Generator) -> (Rtc, UdpSocket, Option<Arc<KeySlot>>) {
    let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await.expect("participant udp bind");
    pktinfo::enable_timestamps(&socket).expect("SO_TIMESTAMPNS on a UDP socket");
    let addr = socket.local_addr().expect("participant address");
    let mut config = Rtc::builder().set_rtp_mode(true).clear_codecs().enable_opus(true, false).enable_vp8(true);
    let keys = (generator == Generator::Cheap).then(|| Arc::new(KeySlot::default()));
    if let Some(slot) = &keys {
        config = config.set_crypto_provider(capturing_provider(slot.clone()));
    }
    let mut rtc = config.build(Instant::now());
    rtc.add_local_candidate(Candidate::host(addr, "udp").expect("host candidate"));
    (rtc, socket, keys)
}

impl Setup {
    pub async fn new(name: &str, generator: Generator) -> Setup {
        Setup::on(name, generator, IpAddr::from([127, 0, 0, 1])).await
    }

    /// A publisher whose socket is bound to `ip`.
    pub async fn on(name: &str, generator: Generator, ip: IpAddr) -> Setup {
        let (mut rtc, socket, keys) = session(ip, generator).await;
        let rids = LAYERS.map(|(rid, _, _)| rid);
        let PublisherOffer { offer, pending, audio_mid, video_mid } = publisher_offer(&mut rtc, name, &rids);
        Setup {
            offer,
            rtc,
            socket,
            pending,
            audio_mid,
            video_mid,
            keys,
            vp8_start_code: false,
            follow_sender_constraints: true,
        }
    }

    /// Keyframes carry the VP8 start code and size (cheap generator only).
    pub fn with_vp8_start_code(mut self) -> Setup {
        self.vp8_start_code = true;
        self
    }

    /// Sends every layer whatever the bridge's SenderSourceConstraints say (as toward Janus,
    /// which sends none): the like-for-like incoming load.
    pub fn ignoring_sender_constraints(mut self) -> Setup {
        self.follow_sender_constraints = false;
        self
    }

    /// Applies the bridge's answer and starts the participant; with `max_height` and/or
    /// `last_n`, it asks the bridge (ReceiverVideoConstraints on the bridge channel) for at
    /// most that height of every video and at most that many videos, as a page in tile view
    /// does with small tiles and the tiles it shows.
    pub fn start(mut self, answer: &str, max_height: Option<i32>, last_n: Option<i32>) -> mpsc::Sender<Cmd> {
        let answer = SdpAnswer::from_sdp_string(answer).expect("bridge answer parses");
        self.rtc.sdp_api().accept_answer(self.pending, answer).expect("answer accepted");
        let (tx, rx) = mpsc::channel(8);
        let wish = (max_height.is_some() || last_n.is_some()).then(|| {
            let c = ReceiverVideoConstraints {
                last_n: last_n.unwrap_or(-1),
                default_constraints: max_height.map(|h| VideoConstraints { max_height: h }),
                ..Default::default()
            };
            serde_json::to_string(&BridgeChannelMessage::ReceiverVideoConstraints(c)).expect("constraints serialize")
        });
        let signals = Signals::new(wish, self.follow_sender_constraints);
        match self.keys {
            Some(slot) => {
                let publish = cheap::Publish {
                    audio_mid: self.audio_mid,
                    video_mid: self.video_mid,
                    vp8_start_code: self.vp8_start_code,
                };
                tokio::spawn(cheap::run(self.rtc, self.socket, slot, Some(publish), signals, rx))
            }
            None => tokio::spawn(run(self.rtc, self.socket, self.audio_mid, self.video_mid, signals, rx)),
        };
        tx
    }
}

/// A cheap session that only receives (a Janus subscriber): answers `offer` and starts;
/// `None` when str0m does not accept the offer.
pub async fn receive_only(ip: IpAddr, offer: &str) -> Option<(String, mpsc::Sender<Cmd>)> {
    let (mut rtc, socket, keys) = session(ip, Generator::Cheap).await;
    let offer = SdpOffer::from_sdp_string(offer).ok()?;
    let answer = rtc.sdp_api().accept_offer(offer).ok()?.to_sdp_string();
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(cheap::run(rtc, socket, keys?, None, Signals::new(None, false), rx));
    Some((answer, tx))
}

/// The kernel's arrival time of a datagram as an `Instant` (now when it was not stamped):
/// latency is measured at the subscriber's socket, not when this busy thread read it.
pub fn arrival_instant(arrived: Option<SystemTime>) -> Instant {
    let now = Instant::now();
    let ago = arrived.and_then(|t| SystemTime::now().duration_since(t).ok()).unwrap_or_default();
    now.checked_sub(ago).unwrap_or(now)
}

async fn run(
    mut rtc: Rtc,
    socket: UdpSocket,
    audio_mid: Mid,
    video_mid: Mid,
    signals: Signals,
    mut cmds: mpsc::Receiver<Cmd>,
) {
    let c = counters();
    let local = socket.local_addr().expect("participant address");
    let mut buf = vec![0u8; 2000];
    let start = Instant::now();
    // Spread publishers over the frame interval so the load is smooth.
    let offset = Duration::from_micros(u64::from(getrandom::u32().unwrap_or(0)) % 33_000);
    let (mut next_audio, mut next_video) = (start + offset, start + offset);
    let opus_pt = rtc.codec_config().find(|p| p.spec().codec == Codec::Opus).map(|p| p.pt());
    let mut st = State {
        sig: signals,
        max_seq: HashMap::new(),
        received_at: Instant::now(),
        opus_pt,
        window: VideoWindow::default(),
    };
    let mut frame: u64 = 0;
    let mut audio_seq: u64 = 1;
    let mut video_seq = [1u64; 3];
    loop {
        let Some(timeout) = drain(&mut rtc, &socket, &mut st) else { return };
        let wake = timeout.min(next_audio).min(next_video);
        tokio::select! {
            r = socket.readable() => {
                if r.is_err() {
                    return;
                }
                // Take what is queued without going back to the scheduler; str0m holds one
                // RTP packet at a time, so poll after each.
                for _ in 0..33 {
                    let Ok(d) = socket.try_io(Interest::READABLE, || pktinfo::recv_datagram(&socket, &mut buf)) else { break };
                    st.received_at = arrival_instant(d.arrived);
                    if let Ok(contents) = buf[..d.len].try_into() {
                        let input = Input::Receive(st.received_at, Receive { proto: Protocol::Udp, source: d.source, destination: local, contents });
                        let _ = rtc.handle_input(input);
                    }
                    if drain(&mut rtc, &socket, &mut st).is_none() {
                        return;
                    }
                }
            }
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
            cmd = cmds.recv() => match cmd {
                Some(Cmd::Offer(sdp, reply)) => {
                    let Ok(offer) = SdpOffer::from_sdp_string(&sdp) else { return };
                    let Ok(answer) = rtc.sdp_api().accept_offer(offer) else { return };
                    let _ = reply.send(answer.to_sdp_string());
                }
                Some(Cmd::Stop) | None => return,
            },
        }
        let now = Instant::now();
        if st.sig.connected && now >= next_audio {
            next_audio += Duration::from_millis(20);
            if let Some(pt) = st.opus_pt {
                let mut payload = vec![0x55u8; 100];
                payload[92..].copy_from_slice(&nanos_since_epoch(now).to_le_bytes());
                let ext = ExtensionValues { audio_level: Some(-40), voice_activity: Some(true), ..Default::default() };
                let ts = (now.duration_since(start).as_micros() as u64 * 48 / 1000) as u32;
                let mut api = rtc.direct_api();
                if let Some(tx) = api.stream_tx_by_mid(audio_mid, None) {
                    tx.write_rtp(RtpWrite::new(pt, audio_seq.into(), ts, now, payload).ext_vals(ext));
                    audio_seq += 1;
                    c.sent.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if st.sig.connected && now >= next_video {
            next_video += Duration::from_millis(33);
            frame += 1;
            let key = std::mem::take(&mut st.sig.keyframe_wanted) || frame.is_multiple_of(90);
            if let Some(pt) = rtc.codec_config().find(|p| p.spec().codec == Codec::Vp8).map(|p| p.pt()) {
                let ts = (now.duration_since(start).as_micros() as u64 * 90 / 1000) as u32;
                let mut api = rtc.direct_api();
                for (li, (rid, packets, size)) in LAYERS.iter().enumerate() {
                    let Some(key) = st.sig.layer(li, frame, key) else { continue };
                    let Some(tx) = api.stream_tx_by_mid(video_mid, Some((*rid).into())) else { continue };
                    for k in 0..*packets {
                        let mut payload = vec![0u8; *size];
                        // VP8 descriptor: S bit on the first packet of the frame; then the
                        // frame tag (P bit 0 = keyframe).
                        payload[0] = if k == 0 { 0x10 } else { 0x00 };
                        payload[1] = if key { 0x00 } else { 0x01 };
                        let n = payload.len();
                        payload[n - 8..].copy_from_slice(&nanos_since_epoch(now).to_le_bytes());
                        let w = RtpWrite::new(pt, video_seq[li].into(), ts, now, payload)
                            .marker(k + 1 == *packets)
                            .nackable(true);
                        tx.write_rtp(w);
                        video_seq[li] += 1;
                        c.sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        if rtc.handle_input(Input::Timeout(now)).is_err() {
            return;
        }
    }
}

struct State {
    sig: Signals,
    /// Incoming SSRC → highest extended sequence number seen.
    max_seq: HashMap<u32, u64>,
    received_at: Instant,
    /// Received RTP of another payload type is video.
    opus_pt: Option<Pt>,
    window: VideoWindow,
}

/// What session events tell a participant (both kinds): the connection, keyframe requests,
/// the constraints to send once the bridge channel opens, and which video layers to send.
pub struct Signals {
    pub connected: bool,
    pub keyframe_wanted: bool,
    /// ReceiverVideoConstraints to send once the bridge channel opens.
    wish: Option<String>,
    /// The last SenderSourceConstraints height (None: not told yet).
    max_height: Option<i32>,
    /// Follow it as the page does (false: every layer always, as toward Janus).
    follow: bool,
    /// The frame each layer was last sent in.
    last_sent: [u64; 3],
}

impl Signals {
    pub fn new(wish: Option<String>, follow: bool) -> Signals {
        Signals { connected: false, keyframe_wanted: true, wish, max_height: None, follow, last_sent: [0; 3] }
    }

    /// Notes a session event; returns the events it leaves to the caller.
    pub fn on_event(&mut self, rtc: &mut Rtc, e: Event) -> Option<Event> {
        match e {
            Event::Connected => self.connected = true,
            Event::ChannelOpen(id, _) => {
                if let (Some(w), Some(mut ch)) = (self.wish.take(), rtc.channel(id)) {
                    let _ = ch.write(false, w.as_bytes());
                }
            }
            Event::ChannelData(d) => {
                if let Ok(BridgeChannelMessage::SenderSourceConstraints { max_height, .. }) =
                    serde_json::from_slice(&d.data)
                {
                    self.max_height = Some(max_height);
                }
            }
            Event::KeyframeRequest(_) => self.keyframe_wanted = true,
            other => return Some(other),
        }
        None
    }

    /// Whether video layer `li` goes out in `frame`, and if so whether as a keyframe. As the
    /// page does: layers taller than the announced height are paused, the lowest stays while
    /// anyone watches; a layer that resumes starts with a keyframe, as an encoder does.
    pub fn layer(&mut self, li: usize, frame: u64, key: bool) -> Option<bool> {
        let height = i32::from(cheap::LAYER_SIZE.get(li).map_or(0, |s| s.1));
        if let (true, Some(m)) = (self.follow, self.max_height) {
            if m <= 0 || (li > 0 && height > m) {
                return None;
            }
        }
        let last = self.last_sent.get_mut(li)?;
        let resumed = *last + 1 != frame;
        *last = frame;
        Some(key || resumed)
    }
}

fn drain(rtc: &mut Rtc, socket: &UdpSocket, st: &mut State) -> Option<Instant> {
    let c = counters();
    loop {
        match rtc.poll_output() {
            Ok(Output::Timeout(t)) => return Some(t),
            Ok(Output::Transmit(t)) => {
                let _ = socket.try_send_to(&t.contents, t.destination);
            }
            Ok(Output::Event(e)) => {
                let left = st.sig.on_event(rtc, e);
                if let Some(Event::RtpPacket(p)) = left {
                    let ssrc = *p.header.ssrc;
                    let seq = *p.seq_no;
                    st.window.on_packet((Some(p.header.payload_type) != st.opus_pt).then_some(ssrc), st.received_at);
                    match st.max_seq.get(&ssrc).copied() {
                        None => {
                            c.expected.fetch_add(1, Ordering::Relaxed);
                            st.max_seq.insert(ssrc, seq);
                        }
                        Some(m) if seq > m => {
                            c.expected.fetch_add(seq - m, Ordering::Relaxed);
                            st.max_seq.insert(ssrc, seq);
                        }
                        _ => {}
                    }
                    c.received.fetch_add(1, Ordering::Relaxed);
                    if let Some(ts) = p.payload.len().checked_sub(8).and_then(|i| p.payload.get(i..)) {
                        let sent = u64::from_le_bytes(ts.try_into().unwrap_or([0; 8]));
                        record_latency(nanos_since_epoch(st.received_at).saturating_sub(sent));
                    }
                }
            }
            Err(_) => return None,
        }
    }
}
