//! Running the real binaries: `signal` (from `$MEET_BIN_DIR`) for the bus and this crate's
//! `bridge`, on free loopback ports; a client that plays focus's part on the bus (Colibri
//! IQs, event acknowledgements, bridge presences); and str0m participants that talk to the
//! bridge over real UDP sockets on loopback.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use proto::bridge_channel::BridgeChannelMessage;
use proto::bus::{iq_result, BusSender};
use proto::colibri::{BridgeStats, ColibriEvent, ColibriRequest, ColibriResponse};
use proto::xml::{Element, NS_CLIENT};
use proto::EndpointId;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

pub const DOMAIN: &str = "meet.lan";
pub const BRIDGE_ID: &str = "jvb-live";

pub fn free_tcp() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("loopback bind for a free port");
    l.local_addr().expect("bound socket has an address")
}

pub fn free_udp() -> SocketAddr {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("loopback bind for a free port");
    s.local_addr().expect("bound socket has an address")
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("bridge-test-{tag}-{}", proto::secrets::random_hex(6).expect("os randomness")));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// `$MEET_BIN_DIR/<name>` (default: the workspace's `target/debug`).
pub fn other_binary(name: &str) -> PathBuf {
    let dir = std::env::var("MEET_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug"));
    let p = dir.join(name);
    assert!(p.exists(), "{} is missing: build it first (cargo build -p {name}) or set MEET_BIN_DIR", p.display());
    p
}

pub struct Proc {
    pub child: Child,
    pub dir: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait_tcp(addr: SocketAddr, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {addr} in time");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Signal (for its bus) and the bridge, connected with a fresh secret.
pub struct System {
    pub signal: Proc,
    pub bridge: Proc,
    pub bus: SocketAddr,
    pub bridge_http: SocketAddr,
    pub media: SocketAddr,
    pub secret: String,
}

impl System {
    pub fn start() -> System {
        Self::start_with_media_ip("127.0.0.1")
    }

    /// Like `start`, with the media socket bound to `ip` (e.g. `0.0.0.0`, as in production).
    pub fn start_with_media_ip(ip: &str) -> System {
        let secret = proto::secrets::random_hex(16).expect("os randomness");
        let bus = free_tcp();
        let sdir = temp_dir("signal");
        let log = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
        let child = Command::new(other_binary("signal"))
            .env("SIGNAL_C2S_ADDR", free_tcp().to_string())
            .env("SIGNAL_HTTP_ADDR", free_tcp().to_string())
            .env("SIGNAL_BUS_ADDR", bus.to_string())
            .env("DATA_DIR", &sdir)
            .env("XMPP_DOMAIN", DOMAIN)
            .env("BUS_SECRET", &secret)
            .env("TOKEN_SECRET", "live-test-token-secret")
            .env("RUST_LOG", &log)
            .stdin(Stdio::null())
            .spawn()
            .expect("the signal binary starts");
        let signal = Proc { child, dir: sdir };
        wait_tcp(bus, "signal's bus");
        let bridge_http = free_tcp();
        let media = SocketAddr::new(ip.parse().expect("valid IP"), free_udp().port());
        let bdir = temp_dir("bridge");
        let child = Command::new(env!("CARGO_BIN_EXE_bridge"))
            .env("BRIDGE_MEDIA_ADDR", media.to_string())
            .env("BRIDGE_HTTP_ADDR", bridge_http.to_string())
            .env("BUS_ADDR", bus.to_string())
            .env("BRIDGE_ID", BRIDGE_ID)
            .env("DATA_DIR", &bdir)
            .env("XMPP_DOMAIN", DOMAIN)
            .env("BUS_SECRET", &secret)
            .env("BRIDGE_DRAIN_SECS", "2")
            .env("RUST_LOG", &log)
            .stdin(Stdio::null())
            .spawn()
            .expect("the bridge binary starts");
        let bridge = Proc { child, dir: bdir };
        wait_tcp(bridge_http, "bridge http");
        System { signal, bridge, bus, bridge_http, media, secret }
    }

    /// SIGTERM to the bridge (graceful drain).
    pub fn terminate_bridge(&self) {
        // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
        unsafe {
            libc::kill(self.bridge.child.id() as i32, libc::SIGTERM);
        }
    }
}

/// GET `path` on `addr`; returns (status, body).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("http connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("http write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("http read");
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// Plays focus's part on the bus.
pub struct FocusClient {
    pub tx: BusSender,
    pub events: mpsc::UnboundedReceiver<ColibriEvent>,
    pub presences: mpsc::UnboundedReceiver<BridgeStats>,
}

impl FocusClient {
    pub async fn connect(bus: SocketAddr, secret: &str) -> FocusClient {
        let (tx, mut rx) = proto::bus::connect(&bus.to_string(), &format!("focus.{DOMAIN}"), secret)
            .await
            .expect("focus-role client connects to the bus");
        tx.send(
            Element::new("presence", NS_CLIENT)
                .attr("to", format!("bridges@internal.{DOMAIN}/focus"))
                .child(Element::new("x", "http://jabber.org/protocol/muc")),
        )
        .expect("join the bridges room");
        let (ev_tx, events) = mpsc::unbounded_channel();
        let (pr_tx, presences) = mpsc::unbounded_channel();
        let acker = tx.clone();
        tokio::spawn(async move {
            while let Some(el) = rx.recv().await {
                if el.name() == "iq" && el.get_attr("type") == Some("set") {
                    if let Some(c) = el.get_child("colibri", proto::ns::COLIBRI) {
                        if let Ok(ev) = serde_json::from_str::<ColibriEvent>(&c.text_content()) {
                            let _ = ev_tx.send(ev);
                        }
                    }
                    let _ = acker.send(iq_result(&el, None));
                } else if el.name() == "presence" {
                    if let Some(s) = el.get_child("stats", proto::ns::BRIDGE_STATS) {
                        if let Ok(stats) = serde_json::from_str::<BridgeStats>(&s.text_content()) {
                            let _ = pr_tx.send(stats);
                        }
                    }
                }
            }
        });
        FocusClient { tx, events, presences }
    }

    /// One Colibri request to the bridge: Ok(response) or Err((condition, text)).
    pub async fn colibri(&self, req: &ColibriRequest) -> Result<ColibriResponse, String> {
        let json = serde_json::to_string(req).expect("request serializes");
        let iq = Element::new("iq", NS_CLIENT)
            .attr("type", "set")
            .attr("to", format!("{BRIDGE_ID}.{DOMAIN}"))
            .child(Element::new("colibri", proto::ns::COLIBRI).text(json));
        match self.tx.iq(iq).await {
            Ok(el) => {
                let c = el.get_child("colibri", proto::ns::COLIBRI).ok_or("result without colibri")?;
                serde_json::from_str(&c.text_content()).map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        }
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
        let addr = socket.local_addr().expect("peer address");
        let mut rtc = Rtc::builder().build(Instant::now());
        rtc.add_local_candidate(Candidate::host(addr, "udp").expect("host candidate"));
        let mut api = rtc.sdp_api();
        let audio_mid = api.add_media(MediaKind::Audio, Direction::SendOnly, Some(name.into()), Some(format!("{name}-a0")), None);
        let mut sim = Simulcast::new();
        for rid in RIDS {
            sim.add_send_layer(SimulcastLayer::new(rid));
        }
        let video_mid = api.add_media(MediaKind::Video, Direction::SendOnly, Some(name.into()), Some(format!("{name}-v0")), Some(sim));
        api.add_channel(proto::bridge_channel::LABEL.into());
        let (offer, pending) = api.apply().expect("offer has changes");
        PeerSetup {
            id: EndpointId::new(name).expect("valid id"),
            index,
            offer: offer.to_sdp_string(),
            rtc,
            socket,
            pending,
            audio_mid,
            video_mid,
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
}

async fn peer_task(mut rtc: Rtc, socket: UdpSocket, index: u8, audio_mid: Mid, video_mid: Mid, mut cmds: mpsc::Receiver<PeerCmd>) {
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
