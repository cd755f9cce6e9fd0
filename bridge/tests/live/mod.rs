//! Running the real binaries (`system.rs`, shared with `bridge-bench`): `signal` (from
//! `$MEET_BIN_DIR`) for the bus and this crate's `bridge` on free loopback ports, and a
//! client that plays focus's part on the bus; here, str0m participants that talk to the
//! bridge over real UDP sockets on loopback.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bridge::participant::{publisher_offer, PublisherOffer};
use proto::bridge_channel::BridgeChannelMessage;
use proto::colibri::{ColibriRequest, ColibriResponse};
use proto::{ConferenceId, EndpointId};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

mod system;
pub use system::*;

/// `$MEET_BIN_DIR/<name>` (default: the workspace's `target/debug`).
pub fn other_binary(name: &str) -> PathBuf {
    let dir = std::env::var("MEET_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug"));
    let p = dir.join(name);
    assert!(p.exists(), "{} is missing: build it first (cargo build -p {name}) or set MEET_BIN_DIR", p.display());
    p
}

impl System {
    pub fn start() -> System {
        Self::start_with_media_ip("127.0.0.1")
    }

    /// Like `start`, with the media socket bound to `ip` (e.g. `0.0.0.0`, as in production).
    pub fn start_with_media_ip(ip: &str) -> System {
        let mut l = Launch::new(other_binary("signal"), PathBuf::from(env!("CARGO_BIN_EXE_bridge")));
        l.media_ip = ip.parse().expect("valid IP");
        System::launch(&l)
    }
}

/// What a participant received from one sender.
#[derive(Debug, Default, Clone)]
pub struct Received {
    pub audio_frames: usize,
    pub video_frames: usize,
}

#[derive(Debug, Default, Clone)]
pub struct Report {
    pub connected: bool,
    pub received: HashMap<u8, Received>,
    pub msid_of_mid: HashMap<Mid, String>,
    pub messages: Vec<BridgeChannelMessage>,
    /// (msid stream id, is video) → frames, for senders whose payload is real media.
    pub frames_by_stream: HashMap<(String, bool), usize>,
}

enum PeerCmd {
    Offer(String, oneshot::Sender<String>),
    Report(oneshot::Sender<Report>),
    Addr(oneshot::Sender<std::net::SocketAddr>),
    /// Forget what was received so far (media counts only).
    Reset(oneshot::Sender<()>),
}

/// A str0m participant on a real UDP socket, in its own task.
pub struct LivePeer {
    pub id: EndpointId,
    cmd: mpsc::Sender<PeerCmd>,
}

pub struct PeerSetup {
    pub id: EndpointId,
    pub index: u8,
    pub offer: String,
    rtc: Rtc,
    socket: UdpSocket,
    pending: SdpPendingOffer,
    audio_mid: Mid,
    video_mid: Mid,
}

const RIDS: [&str; 3] = ["q", "h", "f"];

impl PeerSetup {
    pub async fn new(name: &str, index: u8) -> PeerSetup {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("peer udp bind");
        Self::on_socket(name, index, socket)
    }

    /// A participant on a socket the caller bound (e.g. the address an earlier one used).
    pub fn on_socket(name: &str, index: u8, socket: UdpSocket) -> PeerSetup {
        let addr = socket.local_addr().expect("peer address");
        let mut rtc = Rtc::builder().build(Instant::now());
        rtc.add_local_candidate(Candidate::host(addr, "udp").expect("host candidate"));
        let PublisherOffer { offer, pending, audio_mid, video_mid } = publisher_offer(&mut rtc, name, &RIDS);
        PeerSetup {
            id: EndpointId::new(name).expect("valid id"),
            index,
            offer,
            rtc,
            socket,
            pending,
            audio_mid,
            video_mid,
        }
    }

    /// Allocates this participant in `conference` (as focus does) and returns the bridge's
    /// answer; a refusal fails the test.
    pub async fn allocate(&self, focus: &FocusClient, conference: &ConferenceId, display_name: &str) -> String {
        let req = ColibriRequest::Allocate {
            conference: conference.clone(),
            endpoint: self.id.clone(),
            display_name: display_name.into(),
            offer: self.offer.clone(),
        };
        match focus.colibri(&req).await {
            Ok(ColibriResponse::Allocated { answer }) => answer,
            other => panic!("allocation of {}: {other:?}", self.id),
        }
    }

    /// Applies the bridge's answer and starts the participant's task.
    pub fn start(mut self, answer: &str) -> LivePeer {
        let answer = SdpAnswer::from_sdp_string(answer).expect("bridge answer parses");
        self.rtc.sdp_api().accept_answer(self.pending, answer).expect("answer accepted");
        let (tx, rx) = mpsc::channel(16);
        let id = self.id.clone();
        tokio::spawn(peer_task(self.rtc, self.socket, self.index, self.audio_mid, self.video_mid, rx));
        LivePeer { id, cmd: tx }
    }
}

impl LivePeer {
    pub async fn accept_offer(&self, offer: String) -> String {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(PeerCmd::Offer(offer, tx)).await.expect("peer task alive");
        rx.await.expect("peer answers")
    }

    pub async fn report(&self) -> Report {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(PeerCmd::Report(tx)).await.expect("peer task alive");
        rx.await.expect("peer reports")
    }

    /// Clears the media received so far, so a later `report` shows only what came after.
    pub async fn reset(&self) {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(PeerCmd::Reset(tx)).await.expect("peer task alive");
        rx.await.expect("peer resets")
    }

    /// The participant's UDP address.
    pub async fn local_addr(&self) -> std::net::SocketAddr {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(PeerCmd::Addr(tx)).await.expect("peer task alive");
        rx.await.expect("peer tells its address")
    }
}

async fn peer_task(
    mut rtc: Rtc,
    socket: UdpSocket,
    index: u8,
    audio_mid: Mid,
    video_mid: Mid,
    mut cmds: mpsc::Receiver<PeerCmd>,
) {
    let local = socket.local_addr().expect("peer address");
    let mut buf = vec![0u8; 2000];
    let mut report = Report::default();
    let start = Instant::now();
    let (mut next_audio, mut next_video) = (start, start);
    let mut frame: u64 = 0;
    let mut keyframe_wanted = true;
    loop {
        let timeout = loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination).await;
                }
                Ok(Output::Event(e)) => match e {
                    Event::Connected => report.connected = true,
                    Event::KeyframeRequest(_) => keyframe_wanted = true,
                    Event::ChannelData(d) => {
                        if let Ok(m) = serde_json::from_slice::<BridgeChannelMessage>(&d.data) {
                            report.messages.push(m);
                        }
                    }
                    Event::MediaData(d) => {
                        let video = d.params.spec().codec.kind() == MediaKind::Video;
                        if let Some(stream) = report.msid_of_mid.get(&d.mid) {
                            *report.frames_by_stream.entry((stream.clone(), video)).or_default() += 1;
                        }
                        let sender = if video { d.data.get(10).copied() } else { d.data.first().copied() };
                        if let Some(s) = sender {
                            let r = report.received.entry(s).or_default();
                            if video {
                                r.video_frames += 1;
                            } else {
                                r.audio_frames += 1;
                            }
                        }
                    }
                    _ => {}
                },
                Err(e) => panic!("participant {index} failed: {e}"),
            }
        };
        let wake = timeout.min(next_audio).min(next_video);
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                if let Ok((n, src)) = r {
                    if let Ok(contents) = buf[..n].try_into() {
                        let input = Input::Receive(Instant::now(), Receive { proto: Protocol::Udp, source: src, destination: local, contents });
                        let _ = rtc.handle_input(input);
                    }
                }
            }
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
            cmd = cmds.recv() => match cmd {
                Some(PeerCmd::Offer(sdp, reply)) => {
                    record_msids(&mut report, &sdp);
                    let offer = SdpOffer::from_sdp_string(&sdp).expect("bridge offer parses");
                    let answer = rtc.sdp_api().accept_offer(offer).expect("participant accepts the bridge offer");
                    let _ = reply.send(answer.to_sdp_string());
                }
                Some(PeerCmd::Report(reply)) => {
                    let _ = reply.send(report.clone());
                }
                Some(PeerCmd::Addr(reply)) => {
                    let _ = reply.send(local);
                }
                Some(PeerCmd::Reset(reply)) => {
                    report.received.clear();
                    let _ = reply.send(());
                }
                None => return,
            },
        }
        let now = Instant::now();
        if report.connected && now >= next_audio {
            next_audio = now + Duration::from_millis(20);
            if let Some(pt) = rtc.codec_config().find(|p| p.spec().codec == Codec::Opus).map(|p| p.pt()) {
                let t = MediaTime::new(now.duration_since(start).as_millis() as u64 * 48, Frequency::FORTY_EIGHT_KHZ);
                if let Some(w) = rtc.writer(audio_mid) {
                    let _ = w.audio_level(-30, true).write(pt, now, t, vec![index; 80]);
                }
            }
        }
        if report.connected && now >= next_video {
            next_video = now + Duration::from_millis(33);
            frame += 1;
            let key = keyframe_wanted || frame.is_multiple_of(60);
            keyframe_wanted = false;
            if let Some(pt) = rtc.codec_config().find(|p| p.spec().codec == Codec::Vp8).map(|p| p.pt()) {
                let t = MediaTime::new(now.duration_since(start).as_millis() as u64 * 90, Frequency::NINETY_KHZ);
                for (li, (rid, size)) in RIDS.iter().zip([300usize, 1000, 2500]).enumerate() {
                    let mut data = vec![0u8; size];
                    data[0] = if key { 0x10 } else { 0x11 };
                    data[10] = index;
                    data[11] = li as u8;
                    if let Some(w) = rtc.writer(video_mid) {
                        let _ = w.rid((*rid).into()).write(pt, now, t, data);
                    }
                }
            }
        }
        if rtc.handle_input(Input::Timeout(now)).is_err() {
            return;
        }
    }
}

fn record_msids(report: &mut Report, sdp: &str) {
    let mut mid: Option<Mid> = None;
    for line in sdp.lines() {
        if let Some(m) = line.strip_prefix("a=mid:") {
            mid = Some(m.trim().into());
        } else if let Some(ms) = line.strip_prefix("a=msid:") {
            if let (Some(mid), Some(stream)) = (mid, ms.split_whitespace().next()) {
                report.msid_of_mid.insert(mid, stream.to_string());
            }
        }
    }
}
