//! A test participant that is a real WebRTC peer (str0m, full ICE, host candidate on
//! 127.0.0.1, DTLS-SRTP) speaking the participant flow of CLIENT_FLOW.md over real XMPP:
//! conference request to focus, MUC join, the session IQs of `proto::session` for the
//! bridge and for P2P. It sends synthetic Opus and VP8 frames (the sender's nick written in
//! every payload) and counts what arrives from whom and over which transport.

#![allow(dead_code)]

use super::xmpp::Xmpp;
use proto::ns;
use proto::xml::{Element, NS_CLIENT};
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

const NS_MUC: &str = "http://jabber.org/protocol/muc";
const NS_MUC_USER: &str = "http://jabber.org/protocol/muc#user";
const LAYERS: [(&str, u16, usize); 3] = [("q", 180, 300), ("h", 360, 900), ("f", 720, 1800)];

/// Which transport media came over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Via {
    Bridge,
    P2p,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Flow {
    pub audio: u64,
    pub video: u64,
    pub first: Option<Instant>,
    pub last: Option<Instant>,
}

/// What the participant has seen so far.
#[derive(Debug, Clone)]
pub struct PeerView {
    pub nick: String,
    pub started: Instant,
    pub conference_ready: Option<Instant>,
    pub joined: Option<Instant>,
    pub bridge_initiates: u32,
    pub p2p_initiates: u32,
    pub bridge_connected: bool,
    pub p2p_connected: bool,
    pub has_bridge: bool,
    pub has_p2p: bool,
    pub terminates: Vec<String>,
    pub source_adds: u32,
    pub source_removes: u32,
    /// msid stream ids the bridge's latest offer carries.
    pub remote_streams: BTreeSet<String>,
    /// (transport, sender nick) → what arrived.
    pub media: HashMap<(Via, String), Flow>,
    pub first_media: Option<Instant>,
    pub msid_mismatches: u32,
    pub errors: Vec<String>,
    pub conference_requests: u32,
    /// When the conference request left.
    pub conference_sent: Option<Instant>,
    /// When the current bridge session started (its media is what arrives after this).
    pub bridge_session_started: Option<Instant>,
    /// When the current bridge session's transport came up.
    pub bridge_connected_at: Option<Instant>,
    /// Largest SDP this participant sent (its offers and answers), uncompressed.
    pub max_sdp_bytes: usize,
    /// Largest renegotiation answer stanza this participant sent (compressed SDP inside).
    pub max_answer_stanza_bytes: usize,
    pub done: bool,
}

/// How a participant sends.
#[derive(Debug, Clone, Copy)]
pub struct PeerOptions {
    pub audio_interval: Duration,
    pub video: bool,
    /// Time between video frames (33 ms: 30 frames a second).
    pub video_interval: Duration,
    /// Act as if the P2P connection failed: this long after focus's P2P initiate, tell
    /// focus `session-terminate transport="p2p" reason="failed"` (and set up nothing).
    pub p2p_fails_after: Option<Duration>,
}

impl Default for PeerOptions {
    fn default() -> Self {
        PeerOptions {
            audio_interval: Duration::from_millis(20),
            video: true,
            video_interval: Duration::from_millis(33),
            p2p_fails_after: None,
        }
    }
}

impl PeerView {
    pub fn flow(&self, via: Via, from: &str) -> Flow {
        self.media.get(&(via, from.to_string())).copied().unwrap_or_default()
    }
    pub fn video_from(&self, via: Via, from: &str) -> u64 {
        self.flow(via, from).video
    }
    pub fn audio_from(&self, via: Via, from: &str) -> u64 {
        self.flow(via, from).audio
    }
}

enum Cmd {
    Leave,
}

pub struct Peer {
    pub nick: String,
    pub view: watch::Receiver<PeerView>,
    cmd: mpsc::UnboundedSender<Cmd>,
    task: tokio::task::JoinHandle<()>,
}

/// 8 random lowercase hex characters, as the page picks its nick.
pub fn random_nick() -> String {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).expect("OS randomness is available");
    hex::encode(b)
}

impl Peer {
    /// Connects, asks focus for the conference, joins the room and runs until `leave`.
    pub async fn join(c2s: SocketAddr, domain: &str, room: &str, display: &str) -> Peer {
        Peer::join_with(c2s, domain, room, display, PeerOptions::default()).await
    }

    pub async fn join_with(c2s: SocketAddr, domain: &str, room: &str, display: &str, opts: PeerOptions) -> Peer {
        let nick = random_nick();
        let (view_tx, view) = watch::channel(PeerView {
            nick: nick.clone(),
            started: Instant::now(),
            conference_ready: None,
            joined: None,
            bridge_initiates: 0,
            p2p_initiates: 0,
            bridge_connected: false,
            p2p_connected: false,
            has_bridge: false,
            has_p2p: false,
            terminates: Vec::new(),
            source_adds: 0,
            source_removes: 0,
            remote_streams: BTreeSet::new(),
            media: HashMap::new(),
            first_media: None,
            msid_mismatches: 0,
            errors: Vec::new(),
            conference_requests: 0,
            conference_sent: None,
            bridge_session_started: None,
            max_sdp_bytes: 0,
            max_answer_stanza_bytes: 0,
            bridge_connected_at: None,
            done: false,
        });
        let (cmd, cmd_rx) = mpsc::unbounded_channel();
        let (domain, room, display, n) = (domain.to_string(), room.to_string(), display.to_string(), nick.clone());
        let task = tokio::spawn(async move {
            let who = Who { c2s, domain: &domain, room: &room, nick: &n, display: &display, opts };
            let result = run(who, view_tx.clone(), cmd_rx).await;
            view_tx.send_modify(|v| {
                if let Err(e) = result {
                    v.errors.push(e);
                }
                v.done = true;
            });
        });
        Peer { nick, view, cmd, task }
    }

    pub fn snapshot(&self) -> PeerView {
        self.view.borrow().clone()
    }

    /// Waits until `pred` holds (panics after `timeout` with the view).
    pub async fn wait(&mut self, what: &str, timeout: Duration, pred: impl Fn(&PeerView) -> bool) -> PeerView {
        let r = tokio::time::timeout(timeout, self.view.wait_for(|v| pred(v) || v.done)).await.is_ok();
        let v = self.view.borrow().clone();
        match r {
            true if pred(&v) => v,
            _ => panic!("{} ({}): {what}: not within {timeout:?}; view: {v:#?}", v.nick, "peer"),
        }
    }

    /// Sends unavailable presence and stops.
    pub async fn leave(self) {
        let _ = self.cmd.send(Cmd::Leave);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

struct Sess {
    rtc: Rtc,
    sock: UdpSocket,
    local: SocketAddr,
    sid: String,
    via: Via,
    audio_mid: Option<Mid>,
    video_mid: Option<Mid>,
    simulcast: bool,
    connected: bool,
    /// mid → msid stream id (bridge offers).
    msid_of_mid: HashMap<Mid, String>,
    /// The peer's nick (P2P).
    peer: Option<String>,
    keyframe: bool,
    media_seen: bool,
    created: Instant,
}

impl Sess {
    async fn new(via: Via, sid: &str) -> Result<Sess, String> {
        let sock = UdpSocket::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
        let local = sock.local_addr().map_err(|e| e.to_string())?;
        let mut rtc = Rtc::builder().build(Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp").map_err(|e| e.to_string())?);
        Ok(Sess {
            rtc,
            sock,
            local,
            sid: sid.to_string(),
            via,
            audio_mid: None,
            video_mid: None,
            simulcast: false,
            connected: false,
            msid_of_mid: HashMap::new(),
            peer: None,
            keyframe: true,
            media_seen: false,
            created: Instant::now(),
        })
    }

    /// Our offer: audio + video (+ simulcast and the bridge channel towards the bridge).
    fn offer(&mut self, nick: &str) -> (SdpOffer, SdpPendingOffer) {
        let bridge = self.via == Via::Bridge;
        let dir = if bridge { Direction::SendOnly } else { Direction::SendRecv };
        let mut api = self.rtc.sdp_api();
        let a = api.add_media(MediaKind::Audio, dir, Some(nick.into()), Some(proto_source(nick, false)), None);
        let sim = bridge.then(|| {
            let mut s = Simulcast::new();
            for (rid, _, _) in LAYERS {
                s.add_send_layer(SimulcastLayer::new(rid));
            }
            s
        });
        let v = api.add_media(MediaKind::Video, dir, Some(nick.into()), Some(proto_source(nick, true)), sim);
        if bridge {
            api.add_channel(proto::bridge_channel::LABEL.into());
        }
        self.audio_mid = Some(a);
        self.video_mid = Some(v);
        self.simulcast = bridge;
        api.apply().expect("a session with new media always has changes")
    }
}

fn proto_source(nick: &str, video: bool) -> String {
    match proto::EndpointId::new(nick) {
        Ok(ep) => proto::session::source_name(&ep, video),
        Err(_) => format!("{nick}-{}0", if video { 'v' } else { 'a' }),
    }
}

enum Pending {
    Conference,
    Accept(String, SdpPendingOffer),
    P2pOffer(String, SdpPendingOffer),
    Ignore,
}

struct State {
    nick: String,
    display: String,
    room_jid: String,
    focus_occupant: String,
    x: Xmpp,
    bridge: Option<Sess>,
    p2p: Option<Sess>,
    /// P2P session focus announced (sid, peer, initiator).
    p2p_expected: Option<(String, String)>,
    pending: HashMap<String, Pending>,
    seq: u64,
    view: watch::Sender<PeerView>,
    frame: u64,
    opts: PeerOptions,
    /// When to report the (simulated) P2P failure, for which sid.
    p2p_fail_at: Option<(Instant, String)>,
}

/// Who joins where, and how it sends.
struct Who<'a> {
    c2s: SocketAddr,
    domain: &'a str,
    room: &'a str,
    nick: &'a str,
    display: &'a str,
    opts: PeerOptions,
}

async fn run(who: Who<'_>, view: watch::Sender<PeerView>, mut cmd: mpsc::UnboundedReceiver<Cmd>) -> Result<(), String> {
    let Who { c2s, domain, room, nick, display, opts } = who;
    let x = Xmpp::connect(c2s, domain).await?;
    let room_jid = format!("{room}@conference.{domain}");
    let mut st = State {
        nick: nick.to_string(),
        display: display.to_string(),
        focus_occupant: format!("{room_jid}/focus"),
        room_jid,
        x,
        bridge: None,
        p2p: None,
        p2p_expected: None,
        pending: HashMap::new(),
        seq: 0,
        view,
        frame: 0,
        opts,
        p2p_fail_at: None,
    };
    // 2. the conference request; 3. the join once focus is ready
    let conf = Element::new("iq", NS_CLIENT)
        .attr("type", "set")
        .attr("id", "conf1")
        .attr("to", format!("focus.{domain}"))
        .child(Element::new("conference", ns::FOCUS).attr("room", &st.room_jid).attr("machine-uid", random_nick()));
    st.pending.insert("conf1".into(), Pending::Conference);
    st.view.send_modify(|v| {
        v.conference_requests += 1;
        v.conference_sent = Some(Instant::now());
    });
    st.x.send(&conf).await?;
    let mut buf_b = vec![0u8; 2048];
    let mut buf_p = vec![0u8; 2048];
    let mut next_audio = Instant::now();
    let mut next_video = Instant::now();
    loop {
        let now = Instant::now();
        let mut deadline = if opts.video { next_audio.min(next_video) } else { next_audio };
        if let Some((t, _)) = &st.p2p_fail_at {
            deadline = deadline.min(*t);
        }
        for s in [st.bridge.as_mut(), st.p2p.as_mut()].into_iter().flatten() {
            deadline = deadline.min(drive(s, now, &st.view));
        }
        let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline.max(now)));
        enum Ev {
            Stanza(Result<Element, String>),
            Bridge(std::io::Result<(usize, SocketAddr)>),
            P2p(std::io::Result<(usize, SocketAddr)>),
            Tick,
            Leave,
        }
        let ev = tokio::select! {
            s = st.x.recv() => Ev::Stanza(s),
            r = recv_opt(st.bridge.as_ref().map(|s| &s.sock), &mut buf_b) => Ev::Bridge(r),
            r = recv_opt(st.p2p.as_ref().map(|s| &s.sock), &mut buf_p) => Ev::P2p(r),
            _ = sleep => Ev::Tick,
            _ = cmd.recv() => Ev::Leave,
        };
        let now = Instant::now();
        match ev {
            Ev::Stanza(s) => {
                let s = s?;
                handle_stanza(&mut st, s).await?;
            }
            Ev::Bridge(Ok((n, from))) => {
                if let Some(s) = st.bridge.as_mut() {
                    receive(s, now, from, &buf_b[..n]);
                }
            }
            Ev::P2p(Ok((n, from))) => {
                if let Some(s) = st.p2p.as_mut() {
                    receive(s, now, from, &buf_p[..n]);
                }
            }
            Ev::Bridge(Err(_)) | Ev::P2p(Err(_)) => {}
            Ev::Tick => {}
            Ev::Leave => {
                let p = Element::new("presence", NS_CLIENT)
                    .attr("to", format!("{}/{}", st.room_jid, st.nick))
                    .attr("type", "unavailable");
                let _ = st.x.send(&p).await;
                st.x.close().await;
                return Ok(());
            }
        }
        if st.p2p_fail_at.as_ref().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, sid)) = st.p2p_fail_at.take() {
                st.seq += 1;
                let e = Element::new("iq", NS_CLIENT)
                    .attr("type", "set")
                    .attr("id", format!("p2pfail{}", st.seq))
                    .attr("to", &st.focus_occupant)
                    .child(jingle("session-terminate", &sid).attr("transport", "p2p").attr("reason", "failed"));
                st.pending.insert(format!("p2pfail{}", st.seq), Pending::Ignore);
                st.x.send(&e).await?;
            }
        }
        if now >= next_audio {
            next_audio = now + opts.audio_interval;
            st.frame += 1;
            let nick = st.nick.clone();
            for s in [st.bridge.as_mut(), st.p2p.as_mut()].into_iter().flatten() {
                write_audio(s, now, st.frame, &nick);
            }
        }
        if opts.video && now >= next_video {
            next_video = now + opts.video_interval;
            let nick = st.nick.clone();
            let frame = st.frame;
            for s in [st.bridge.as_mut(), st.p2p.as_mut()].into_iter().flatten() {
                write_video(s, now, frame, &nick);
            }
        }
        // Keep P2P media until the bridge's flows, then close it (proto::session).
        let bridge_flowing = st.bridge.as_ref().is_some_and(|b| b.media_seen);
        let p2p_superseded =
            st.p2p.as_ref().is_some_and(|p| p.created < st.bridge.as_ref().map(|b| b.created).unwrap_or(p.created));
        if bridge_flowing && p2p_superseded {
            st.p2p = None;
            st.view.send_modify(|v| {
                v.has_p2p = false;
                v.p2p_connected = false;
            });
        }
    }
}

async fn recv_opt(s: Option<&UdpSocket>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match s {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

fn receive(s: &mut Sess, now: Instant, from: SocketAddr, data: &[u8]) {
    let Ok(contents) = data.try_into() else { return };
    let input = Input::Receive(now, Receive { proto: Protocol::Udp, source: from, destination: s.local, contents });
    if s.rtc.accepts(&input) {
        let _ = s.rtc.handle_input(input);
    }
}

/// Runs the Rtc until it wants time to pass; returns when.
fn drive(s: &mut Sess, now: Instant, view: &watch::Sender<PeerView>) -> Instant {
    if s.rtc.handle_input(Input::Timeout(now)).is_err() {
        return now + Duration::from_millis(100);
    }
    loop {
        match s.rtc.poll_output() {
            Ok(Output::Timeout(t)) => return t,
            Ok(Output::Transmit(t)) => {
                let _ = s.sock.try_send_to(&t.contents, t.destination);
            }
            Ok(Output::Event(e)) => on_event(s, e, view),
            Err(_) => return now + Duration::from_millis(100),
        }
    }
}

fn on_event(s: &mut Sess, e: Event, view: &watch::Sender<PeerView>) {
    match e {
        Event::Connected => {
            s.connected = true;
            let via = s.via;
            view.send_modify(|v| match via {
                Via::Bridge => {
                    v.bridge_connected = true;
                    v.bridge_connected_at = Some(Instant::now());
                }
                Via::P2p => v.p2p_connected = true,
            });
        }
        Event::MediaAdded(m)
            if s.via == Via::P2p && matches!(m.direction, Direction::SendRecv | Direction::SendOnly) =>
        {
            match m.kind {
                MediaKind::Audio => s.audio_mid = s.audio_mid.or(Some(m.mid)),
                MediaKind::Video => s.video_mid = s.video_mid.or(Some(m.mid)),
            }
        }
        Event::KeyframeRequest(_) => s.keyframe = true,
        Event::MediaData(d) => {
            let video = d.params.spec().codec == Codec::Vp8;
            let at = if video { 12 } else { 0 };
            let Some(sender) = d.data.get(at..at + 8).and_then(|b| std::str::from_utf8(b).ok()).map(str::to_string)
            else {
                return;
            };
            let via = s.via;
            let mismatch = via == Via::Bridge && s.msid_of_mid.get(&d.mid).is_some_and(|m| *m != sender);
            s.media_seen = true;
            let now = Instant::now();
            view.send_modify(|v| {
                let f = v.media.entry((via, sender)).or_default();
                if video {
                    f.video += 1;
                } else {
                    f.audio += 1;
                }
                f.first.get_or_insert(now);
                f.last = Some(now);
                v.first_media.get_or_insert(now);
                if mismatch {
                    v.msid_mismatches += 1;
                }
            });
        }
        _ => {}
    }
}

fn pt_of(rtc: &Rtc, codec: Codec) -> Option<str0m::media::Pt> {
    rtc.codec_config().find(|p| p.spec().codec == codec).map(|p| p.pt())
}

fn write_audio(s: &mut Sess, now: Instant, frame: u64, nick: &str) {
    let (Some(mid), true) = (s.audio_mid, s.connected) else { return };
    let Some(pt) = pt_of(&s.rtc, Codec::Opus) else { return };
    let mut data = vec![0u8; 80];
    data[..8].copy_from_slice(&nick.as_bytes()[..8]);
    let t = MediaTime::new(frame * 960, Frequency::FORTY_EIGHT_KHZ);
    if let Some(w) = s.rtc.writer(mid) {
        let _ = w.audio_level(-30, true).write(pt, now, t, data);
    }
}

fn write_video(s: &mut Sess, now: Instant, frame: u64, nick: &str) {
    let (Some(mid), true) = (s.video_mid, s.connected) else { return };
    let Some(pt) = pt_of(&s.rtc, Codec::Vp8) else { return };
    let key = s.keyframe || frame.is_multiple_of(90);
    s.keyframe = false;
    let t = MediaTime::new(frame * 1500, Frequency::NINETY_KHZ);
    let layers: Vec<(Option<&str>, u16, usize)> =
        if s.simulcast { LAYERS.iter().map(|(r, h, n)| (Some(*r), *h, *n)).collect() } else { vec![(None, 360, 900)] };
    for (rid, height, size) in layers {
        let mut data = vec![0u8; size];
        // VP8 frame tag (P bit 0 = keyframe), start code, width and height, then our nick.
        data[0] = if key { 0x10 } else { 0x11 };
        data[3..6].copy_from_slice(&[0x9d, 0x01, 0x2a]);
        data[6..8].copy_from_slice(&(height * 16 / 9).to_le_bytes());
        data[8..10].copy_from_slice(&height.to_le_bytes());
        data[12..20].copy_from_slice(&nick.as_bytes()[..8]);
        if let Some(w) = s.rtc.writer(mid) {
            let w = match rid {
                Some(r) => w.rid(r.into()),
                None => w,
            };
            let _ = w.write(pt, now, t, data);
        }
    }
}

fn record_msids(s: &mut Sess, sdp: &str) -> BTreeSet<String> {
    let mut mid: Option<Mid> = None;
    let mut streams = BTreeSet::new();
    s.msid_of_mid.clear();
    for line in sdp.lines() {
        if let Some(m) = line.strip_prefix("a=mid:") {
            mid = Some(m.trim().into());
        } else if let Some(ms) = line.strip_prefix("a=msid:") {
            if let (Some(mid), Some(stream)) = (mid, ms.split_whitespace().next()) {
                s.msid_of_mid.insert(mid, stream.to_string());
                streams.insert(stream.to_string());
            }
        }
    }
    streams
}

fn jingle(action: &str, sid: &str) -> Element {
    Element::new("jingle", ns::JINGLE).attr("action", action).attr("sid", sid)
}

/// Like the page: every description this participant sends is `encoding="deflate"`
/// (`proto::sdp_encoding`).
fn with_sdp(j: Element, kind: &str, sdp: &str) -> Element {
    j.child(
        Element::new("description", ns::SDP)
            .attr("type", kind)
            .attr("encoding", proto::sdp_encoding::DEFLATE)
            .text(proto::sdp_encoding::encode_deflate(sdp)),
    )
}

/// A description's SDP, plain or compressed (`None` also when it does not decode).
fn sdp_of(j: &Element, kind: &str) -> Option<String> {
    let d = j.get_child("description", ns::SDP).filter(|d| d.get_attr("type") == Some(kind))?;
    proto::sdp_encoding::decode(d.get_attr("encoding"), &d.text_content(), proto::sdp_encoding::MAX_SDP_BYTES).ok()
}

fn result_to(iq: &Element, payload: Option<Element>) -> Element {
    let mut e = Element::new("iq", NS_CLIENT).attr("type", "result").attr("id", iq.get_attr("id").unwrap_or_default());
    if let Some(f) = iq.get_attr("from") {
        e.set_attr("to", f);
    }
    if let Some(p) = payload {
        e.append_child(p);
    }
    e
}

fn error_to(iq: &Element, condition: &str) -> Element {
    Element::new("iq", NS_CLIENT)
        .attr("type", "error")
        .attr("id", iq.get_attr("id").unwrap_or_default())
        .attr("to", iq.get_attr("from").unwrap_or_default())
        .child(
            Element::new("error", NS_CLIENT)
                .attr("type", "cancel")
                .child(Element::new(condition, proto::bus::NS_STANZAS)),
        )
}

async fn handle_stanza(st: &mut State, s: Element) -> Result<(), String> {
    let from = s.get_attr("from").unwrap_or_default().to_string();
    match (s.name(), s.get_attr("type")) {
        ("iq", Some("result")) | ("iq", Some("error")) => {
            let id = s.get_attr("id").unwrap_or_default();
            let ok = s.get_attr("type") == Some("result");
            match st.pending.remove(id) {
                Some(Pending::Conference) => {
                    if !ok {
                        return Err(format!("conference request refused: {}", s.to_stanza_string()));
                    }
                    st.view.send_modify(|v| v.conference_ready = Some(Instant::now()));
                    let p = Element::new("presence", NS_CLIENT)
                        .attr("to", format!("{}/{}", st.room_jid, st.nick))
                        .child(Element::new("x", NS_MUC))
                        .child(Element::new("nick", "http://jabber.org/protocol/nick").text(&st.display))
                        .child(Element::new("audiomuted", "urn:meet-lan:media:0").text("false"))
                        .child(Element::new("videomuted", "urn:meet-lan:media:0").text("false"));
                    st.x.send(&p).await?;
                }
                Some(Pending::Accept(sid, pending)) => {
                    let answer = s.get_child("jingle", ns::JINGLE).and_then(|j| sdp_of(j, "answer"));
                    match (ok, answer, st.bridge.as_mut()) {
                        (true, Some(a), Some(b)) if b.sid == sid => {
                            let a = SdpAnswer::from_sdp_string(&a).map_err(|e| format!("bridge answer: {e}"))?;
                            b.rtc
                                .sdp_api()
                                .accept_answer(pending, a)
                                .map_err(|e| format!("accept bridge answer: {e}"))?;
                        }
                        (true, _, _) => {}
                        (false, _, _) => st.view.send_modify(|v| {
                            v.errors.push(format!("session-accept refused: {}", s.to_stanza_string()))
                        }),
                    }
                }
                Some(Pending::P2pOffer(sid, pending)) => {
                    let answer = s.get_child("jingle", ns::JINGLE).and_then(|j| sdp_of(j, "answer"));
                    if let (true, Some(a), Some(p)) = (ok, answer, st.p2p.as_mut()) {
                        if p.sid == sid {
                            let a = SdpAnswer::from_sdp_string(&a).map_err(|e| format!("peer answer: {e}"))?;
                            p.rtc
                                .sdp_api()
                                .accept_answer(pending, a)
                                .map_err(|e| format!("accept peer answer: {e}"))?;
                        }
                    }
                }
                Some(Pending::Ignore) | None => {}
            }
        }
        ("iq", Some("set")) => {
            let Some(j) = s.get_child("jingle", ns::JINGLE).cloned() else {
                st.x.send(&error_to(&s, "service-unavailable")).await?;
                return Ok(());
            };
            if from == st.focus_occupant {
                on_focus_jingle(st, &s, &j).await?;
            } else if from.starts_with(&format!("{}/", st.room_jid)) {
                on_peer_jingle(st, &s, &j, &from).await?;
            } else {
                st.x.send(&error_to(&s, "not-allowed")).await?;
            }
        }
        ("iq", _) => st.x.send(&error_to(&s, "service-unavailable")).await?,
        ("presence", _) => {
            let me = format!("{}/{}", st.room_jid, st.nick);
            let is_self = s
                .get_child("x", NS_MUC_USER)
                .is_some_and(|x| x.children().any(|c| c.name() == "status" && c.get_attr("code") == Some("110")));
            if from == me && is_self && s.get_attr("type").is_none() {
                st.view.send_modify(|v| {
                    v.joined.get_or_insert(Instant::now());
                });
            }
        }
        _ => {}
    }
    Ok(())
}

async fn on_focus_jingle(st: &mut State, iq: &Element, j: &Element) -> Result<(), String> {
    let action = j.get_attr("action").unwrap_or_default();
    let sid = j.get_attr("sid").unwrap_or_default().to_string();
    let transport = j.get_attr("transport");
    match (action, transport) {
        ("session-initiate", Some("p2p")) => {
            st.x.send(&result_to(iq, None)).await?;
            let peer = j.get_attr("peer").unwrap_or_default().to_string();
            st.view.send_modify(|v| v.p2p_initiates += 1);
            if let Some(after) = st.opts.p2p_fails_after {
                st.p2p_fail_at = Some((Instant::now() + after, sid));
                return Ok(());
            }
            if j.get_attr("initiator") == Some("true") {
                let mut sess = Sess::new(Via::P2p, &sid).await?;
                sess.peer = Some(peer.clone());
                let (offer, pending) = sess.offer(&st.nick);
                st.p2p = Some(sess);
                st.view.send_modify(|v| v.has_p2p = true);
                st.seq += 1;
                let id = format!("p2p{}", st.seq);
                let e = Element::new("iq", NS_CLIENT)
                    .attr("type", "set")
                    .attr("id", &id)
                    .attr("to", format!("{}/{peer}", st.room_jid))
                    .child(with_sdp(
                        jingle("session-initiate", &sid).attr("transport", "p2p"),
                        "offer",
                        &offer.to_sdp_string(),
                    ));
                st.pending.insert(id, Pending::P2pOffer(sid, pending));
                st.x.send(&e).await?;
            } else {
                st.p2p_expected = Some((sid, peer));
            }
        }
        ("session-initiate", _) => {
            st.x.send(&result_to(iq, None)).await?;
            st.view.send_modify(|v| {
                v.bridge_initiates += 1;
                v.bridge_session_started = Some(Instant::now());
                v.has_bridge = true;
                v.bridge_connected = false;
            });
            let mut sess = Sess::new(Via::Bridge, &sid).await?;
            let (offer, pending) = sess.offer(&st.nick);
            st.bridge = Some(sess);
            st.seq += 1;
            let id = format!("acc{}", st.seq);
            let e = Element::new("iq", NS_CLIENT)
                .attr("type", "set")
                .attr("id", &id)
                .attr("to", &st.focus_occupant)
                .child(with_sdp(jingle("session-accept", &sid), "offer", &offer.to_sdp_string()));
            st.pending.insert(id, Pending::Accept(sid, pending));
            st.x.send(&e).await?;
        }
        ("source-add" | "source-remove", _) => {
            let offer = sdp_of(j, "offer");
            let Some(b) = st.bridge.as_mut().filter(|b| b.sid == sid) else {
                st.x.send(&error_to(iq, "item-not-found")).await?;
                return Ok(());
            };
            let Some(offer) = offer else {
                st.x.send(&error_to(iq, "bad-request")).await?;
                return Ok(());
            };
            let streams = record_msids(b, &offer);
            let parsed = SdpOffer::from_sdp_string(&offer).map_err(|e| format!("bridge offer: {e}"))?;
            let answer = b.rtc.sdp_api().accept_offer(parsed).map_err(|e| format!("accept bridge offer: {e}"))?;
            let add = action == "source-add";
            let answer_sdp = answer.to_sdp_string();
            let size = answer_sdp.len();
            let reply = result_to(iq, Some(with_sdp(jingle(action, &sid), "answer", &answer_sdp)));
            let stanza_size = reply.to_stanza_string().len();
            st.view.send_modify(|v| {
                v.max_sdp_bytes = v.max_sdp_bytes.max(size);
                v.max_answer_stanza_bytes = v.max_answer_stanza_bytes.max(stanza_size);
                if add {
                    v.source_adds += 1;
                } else {
                    v.source_removes += 1;
                }
                v.remote_streams = streams;
            });
            st.x.send(&reply).await?;
        }
        ("session-terminate", _) => {
            st.x.send(&result_to(iq, None)).await?;
            let reason = j.get_attr("reason").unwrap_or_default().to_string();
            st.view.send_modify(|v| v.terminates.push(reason));
            if st.bridge.as_ref().is_some_and(|b| b.sid == sid) {
                st.bridge = None;
                st.view.send_modify(|v| {
                    v.has_bridge = false;
                    v.bridge_connected = false;
                });
            }
            if st.p2p.as_ref().is_some_and(|p| p.sid == sid) {
                st.p2p = None;
                st.view.send_modify(|v| {
                    v.has_p2p = false;
                    v.p2p_connected = false;
                });
            }
        }
        _ => st.x.send(&error_to(iq, "feature-not-implemented")).await?,
    }
    Ok(())
}

async fn on_peer_jingle(st: &mut State, iq: &Element, j: &Element, from: &str) -> Result<(), String> {
    let sid = j.get_attr("sid").unwrap_or_default().to_string();
    let peer = from.rsplit('/').next().unwrap_or_default().to_string();
    if j.get_attr("action") != Some("session-initiate") || j.get_attr("transport") != Some("p2p") {
        st.x.send(&error_to(iq, "feature-not-implemented")).await?;
        return Ok(());
    }
    if st.opts.p2p_fails_after.is_some() {
        st.x.send(&error_to(iq, "service-unavailable")).await?;
        return Ok(());
    }
    let Some(offer) = sdp_of(j, "offer") else {
        st.x.send(&error_to(iq, "bad-request")).await?;
        return Ok(());
    };
    let mut sess = Sess::new(Via::P2p, &sid).await?;
    sess.peer = Some(peer);
    let parsed = SdpOffer::from_sdp_string(&offer).map_err(|e| format!("peer offer: {e}"))?;
    let answer = sess.rtc.sdp_api().accept_offer(parsed).map_err(|e| format!("accept peer offer: {e}"))?;
    // accept_offer announced the media (MediaAdded) to be polled; pick our sending mids now.
    let now = Instant::now();
    drive(&mut sess, now, &st.view);
    st.p2p = Some(sess);
    st.view.send_modify(|v| v.has_p2p = true);
    st.x.send(&result_to(iq, Some(with_sdp(jingle("session-accept", &sid), "answer", &answer.to_sdp_string()))))
        .await?;
    Ok(())
}
