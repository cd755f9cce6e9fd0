//! A virtual-time world for the bridge core: str0m participants (frame mode, full ICE,
//! offering like the browser client: sendonly audio, sendonly simulcast video with three
//! rids, the `bridge-channel` data channel) wired to one `Sfu` through in-memory queues.
//! No sockets, no sleeps: time only advances to the next deadline of someone.
//!
//! With `BRIDGE_TEST_THREADS=N` (N > 1) the bridge is N cores, as N media threads run it:
//! participants are placed on them in turn (so every conference spans them), datagrams and
//! Colibri requests go to the participant's core, and the cores' relay messages are
//! handed over in each step. The tests must give the same media results either way.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bridge::metrics::Metrics;
use bridge::participant::{publisher_offer, PublisherOffer};
use bridge::{Sfu, SfuConfig, SfuOutput};
use proto::bridge_channel::BridgeChannelMessage;
use proto::colibri::{ColibriEvent, ColibriRequest, ColibriResponse};
use proto::{ConferenceId, EndpointId};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::channel::ChannelId;
use str0m::format::Codec;
use str0m::media::{Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

pub const BRIDGE: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 10000);
/// Simulcast rids, lowest first, with the frame height and size each one sends.
pub const LAYERS: [(&str, u16, usize); 3] = [("q", 180, 300), ("h", 360, 1_000), ("f", 720, 2_500)];

/// What a participant received from one sender.
#[derive(Debug, Default, Clone)]
pub struct Received {
    pub audio_frames: usize,
    pub video_frames: usize,
    /// Video frames per layer index (as written in the payload by the sender).
    pub video_by_layer: [usize; 3],
    pub last_video_layer: Option<u8>,
    pub keyframes: usize,
    /// Layer changes that did not start with a keyframe (must stay 0).
    pub switches_without_keyframe: usize,
    pub switches: usize,
    /// Video frames str0m delivered with a gap before them (loss not repaired).
    pub non_contiguous: usize,
    /// Audio frames str0m delivered with a gap in sequence numbers before them.
    pub audio_gaps: usize,
}

pub struct Participant {
    pub id: EndpointId,
    pub index: u8,
    pub addr: SocketAddr,
    pub rtc: Rtc,
    pub audio_mid: Mid,
    pub video_mid: Mid,
    pub channel: Option<ChannelId>,
    pub inbox: VecDeque<Vec<u8>>,
    pub next_timeout: Instant,
    /// mid → msid stream id, from the bridge's offers.
    pub msid_of_mid: HashMap<Mid, String>,
    /// msid track id (source name) → mid.
    pub mid_of_source: HashMap<String, Mid>,
    /// mid → the endpoint its slot carries now (None: idle), from the bridge's SourcesMap.
    pub owner_of_mid: HashMap<Mid, Option<String>>,
    /// Packets that arrived on a slot the map says is idle.
    pub on_idle_slot: usize,
    /// sender index → what arrived.
    pub received: HashMap<u8, Received>,
    /// (mid, sender index named by msid) mismatches seen.
    pub msid_mismatches: usize,
    pub messages: Vec<BridgeChannelMessage>,
    pub sending: bool,
    pub audio_level: i8,
    pub frame: u64,
    pub keyframe_wanted: bool,
    pub keyframe_requests: usize,
    pub offers_seen: usize,
    pub connected: bool,
    /// The next this many offers from the bridge are lost on the way (never answered).
    pub lose_offers: usize,
    /// Fraction of this participant's media datagrams to the bridge that are dropped.
    pub uplink_loss: f64,
    /// Fraction of the bridge's media datagrams to this participant that are dropped.
    pub downlink_loss: f64,
    /// Video frames written so far (each written in one or more layers).
    pub frames_sent: usize,
    /// Video frames written so far in each layer.
    pub layer_frames_sent: [usize; 3],
    /// The frame each layer was last written in: a layer that resumes starts with a
    /// keyframe, as an encoder does.
    pub layer_last_frame: [u64; 3],
    /// Follow the bridge's SenderSourceConstraints as the page does: `sends_up_to` takes
    /// each announced height.
    pub follows_sender_constraints: bool,
    /// Layers taller than this are not written (the lowest is, unless this is 0).
    pub sends_up_to: i32,
    /// Frames between periodic keyframes (keyframe requests come on top).
    pub keyframe_interval: u64,
    /// Whether this participant's transport is alive (a crash stops all its datagrams).
    pub alive: bool,
    /// The bridge → participant link: rate, with a 200 ms queue (default 100 Mbit/s).
    pub downlink_kbps: Option<u64>,
    link_free_at: Instant,
    delayed: VecDeque<(Instant, Vec<u8>)>,
}

pub struct World {
    pub now: Instant,
    pub start: Instant,
    /// The core of media thread 0 (the only one unless `BRIDGE_TEST_THREADS` says more).
    pub sfu: Sfu,
    /// The cores of media threads 1, 2, …
    pub more: Vec<Sfu>,
    /// Which core each endpoint was placed on.
    placement: HashMap<EndpointId, usize>,
    pub conference: ConferenceId,
    pub people: Vec<Participant>,
    pub to_bridge: VecDeque<(SocketAddr, Vec<u8>)>,
    pub colibri_events: Vec<ColibriEvent>,
    next_audio: Instant,
    next_video: Instant,
    rng: u64,
    pub dropped: usize,
    /// The video codec participants offer (VP8 unless a test picks H.264).
    pub video_codec: Codec,
    /// RTP the bridge sent in a step in which it also received media, and in a step in
    /// which it received none (held back by a timer: pacing, retransmissions, padding).
    pub rtp_out_with_input: usize,
    pub rtp_out_without_input: usize,
}

/// RTP, not RTCP (RFC 5761: RTCP packet types 192-223 in the second byte).
fn is_rtp(data: &[u8]) -> bool {
    data.first().is_some_and(|b| b & 0xc0 == 0x80) && data.get(1).is_some_and(|b| !(192..=223).contains(b))
}

fn find_pt(rtc: &Rtc, codec: Codec) -> str0m::media::Pt {
    rtc.codec_config().find(|p| p.spec().codec == codec).expect("test peer negotiated the codec").pt()
}

impl World {
    pub fn new() -> World {
        World::with_bwe(true)
    }

    /// A world whose bridge runs with send-side bandwidth estimation on or off.
    pub fn with_bwe(bwe: bool) -> World {
        World::with_config(SfuConfig {
            candidates: vec![BRIDGE],
            version: "test".into(),
            bwe,
            loudest_audio: 0,
            loudest_above: 0,
        })
    }

    /// A world whose bridge forwards only the audio of the `k` loudest senders in
    /// conferences of more than `above` endpoints.
    pub fn with_loudest_audio_above(k: usize, above: usize) -> World {
        World::with_config(SfuConfig {
            candidates: vec![BRIDGE],
            version: "test".into(),
            bwe: true,
            loudest_audio: k,
            loudest_above: above,
        })
    }

    /// A world whose bridge forwards only the audio of the `k` loudest senders.
    pub fn with_loudest_audio(k: usize) -> World {
        World::with_config(SfuConfig {
            candidates: vec![BRIDGE],
            version: "test".into(),
            bwe: true,
            loudest_audio: k,
            loudest_above: 0,
        })
    }

    fn with_config(config: SfuConfig) -> World {
        let threads: usize = std::env::var("BRIDGE_TEST_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(1).max(1);
        World::with_threads(config, threads)
    }

    /// A world whose bridge runs on `threads` cores (one `Sfu` per media thread), sharing
    /// one set of counters so tests read the bridge's totals.
    pub fn with_threads(config: SfuConfig, threads: usize) -> World {
        let now = Instant::now();
        let metrics = Arc::new(Metrics::default());
        let mut cores: Vec<Sfu> = (0..threads.max(1))
            .map(|t| {
                let mut sfu = Sfu::new(config.clone(), metrics.clone());
                sfu.set_thread(t, threads.max(1));
                sfu
            })
            .collect();
        let sfu = cores.remove(0);
        World {
            now,
            start: now,
            sfu,
            more: cores,
            placement: HashMap::new(),
            conference: ConferenceId::new("room1").expect("valid id"),
            people: Vec::new(),
            to_bridge: VecDeque::new(),
            colibri_events: Vec::new(),
            next_audio: now,
            next_video: now,
            rng: 0x2545F4914F6CDD1D,
            dropped: 0,
            video_codec: Codec::Vp8,
            rtp_out_with_input: 0,
            rtp_out_without_input: 0,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    pub fn threads(&self) -> usize {
        1 + self.more.len()
    }

    /// The core of media thread `t`.
    pub fn core(&mut self, t: usize) -> &mut Sfu {
        if t == 0 {
            &mut self.sfu
        } else {
            &mut self.more[t - 1]
        }
    }

    /// The core an endpoint is on; a new endpoint is placed on the next one in turn.
    pub fn thread_of(&mut self, id: &EndpointId) -> usize {
        let next = self.placement.len() % self.threads();
        *self.placement.entry(id.clone()).or_insert(next)
    }

    /// A world whose bridge is one core whatever `BRIDGE_TEST_THREADS` says, for tests
    /// that talk to `sfu` directly.
    pub fn single() -> World {
        World::with_threads(
            SfuConfig {
                candidates: vec![BRIDGE],
                version: "test".into(),
                bwe: true,
                loudest_audio: 0,
                loudest_above: 0,
            },
            1,
        )
    }

    /// The bridge's endpoints, core by core.
    pub fn endpoints(&self) -> Vec<&bridge::endpoint::Endpoint> {
        std::iter::once(&self.sfu)
            .chain(self.more.iter())
            .filter_map(|s| s.conference(&self.conference))
            .flat_map(|c| c.endpoints.iter())
            .collect()
    }

    /// The bridge's endpoint of that name, whichever core it is on.
    pub fn endpoint(&self, name: &str) -> &bridge::endpoint::Endpoint {
        self.endpoints().into_iter().find(|e| e.id.as_str() == name).expect("endpoint exists")
    }

    /// Everyone named joins and connects; media then flows for `warm_up`, and what was
    /// received so far is forgotten.
    pub fn meeting(&mut self, names: &[&str], warm_up: Duration) {
        for name in names {
            self.join(name);
        }
        self.connect_all();
        self.run_for(warm_up);
        self.reset_counts();
    }

    /// Focus's mute of endpoint `name`, as the whole state (false lifts it).
    pub fn force_mute(&mut self, name: &str, audio: bool, video: bool) -> Result<ColibriResponse, bridge::Error> {
        let endpoint = EndpointId::new(name).expect("valid endpoint id");
        self.colibri(ColibriRequest::ForceMute { conference: self.conference.clone(), endpoint, audio, video })
    }

    /// Endpoints on all cores.
    pub fn endpoint_count(&self) -> usize {
        self.sfu.endpoint_count() + self.more.iter().map(|s| s.endpoint_count()).sum::<usize>()
    }

    /// A Colibri request, to the core of the endpoint it names (every core for the rest).
    pub fn colibri(&mut self, req: ColibriRequest) -> Result<ColibriResponse, bridge::Error> {
        let now = self.now;
        let endpoint = match &req {
            ColibriRequest::Allocate { endpoint, .. }
            | ColibriRequest::Answer { endpoint, .. }
            | ColibriRequest::Expire { endpoint, .. }
            | ColibriRequest::ForceMute { endpoint, .. } => Some(endpoint.clone()),
            _ => None,
        };
        match endpoint {
            Some(e) => {
                let t = self.thread_of(&e);
                self.core(t).handle_colibri(now, req)
            }
            None => {
                let mut last = self.sfu.handle_colibri(now, req.clone());
                for t in 1..self.threads() {
                    let r = self.core(t).handle_colibri(now, req.clone());
                    if last.is_err() {
                        last = r;
                    }
                }
                last
            }
        }
    }

    fn random(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A participant offers and gets allocated; returns its index.
    pub fn join(&mut self, name: &str) -> usize {
        self.join_with(name, |sdp| sdp)
    }

    /// Like `join`, with the offer's SDP text edited on the way to the bridge.
    pub fn join_with(&mut self, name: &str, edit: impl FnOnce(String) -> String) -> usize {
        let index = self.people.len() as u8;
        let id = EndpointId::new(name).expect("valid endpoint id");
        let addr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(10, 0, 1, index + 1)), 5000);
        let builder = Rtc::builder().clear_codecs().enable_opus(true, false);
        let builder =
            if self.video_codec == Codec::H264 { builder.enable_h264(true) } else { builder.enable_vp8(true) };
        let mut rtc = builder.build(self.now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").expect("host candidate"));
        let rids = LAYERS.map(|(rid, _, _)| rid);
        let PublisherOffer { offer, pending, audio_mid, video_mid } = publisher_offer(&mut rtc, name, &rids);
        let resp = self
            .colibri(ColibriRequest::Allocate {
                conference: self.conference.clone(),
                endpoint: id.clone(),
                display_name: name.into(),
                offer: edit(offer),
            })
            .expect("allocation succeeds");
        let ColibriResponse::Allocated { answer } = resp else { panic!("unexpected response {resp:?}") };
        let answer = SdpAnswer::from_sdp_string(&answer).expect("bridge answer parses");
        rtc.sdp_api().accept_answer(pending, answer).expect("answer accepted");
        self.people.push(Participant {
            id,
            index,
            addr,
            rtc,
            audio_mid,
            video_mid,
            channel: None,
            inbox: VecDeque::new(),
            next_timeout: self.now,
            msid_of_mid: HashMap::new(),
            mid_of_source: HashMap::new(),
            owner_of_mid: HashMap::new(),
            on_idle_slot: 0,
            received: HashMap::new(),
            msid_mismatches: 0,
            messages: Vec::new(),
            sending: true,
            audio_level: -30,
            frame: 0,
            keyframe_wanted: true,
            keyframe_requests: 0,
            offers_seen: 0,
            connected: false,
            lose_offers: 0,
            uplink_loss: 0.0,
            downlink_loss: 0.0,
            frames_sent: 0,
            layer_frames_sent: [0; 3],
            layer_last_frame: [0; 3],
            follows_sender_constraints: false,
            sends_up_to: i32::MAX,
            keyframe_interval: 60,
            alive: true,
            // A fast LAN link: bursts leave one packet after another, as on a real wire.
            downlink_kbps: Some(100_000),
            link_free_at: self.now,
            delayed: VecDeque::new(),
        });
        self.people.len() - 1
    }

    /// Participant `i` allocates again with a fresh session (page reload, ICE restart or a
    /// move from another bridge): the bridge replaces the endpoint.
    pub fn rejoin(&mut self, i: usize) {
        let name = self.people[i].id.to_string();
        self.people[i].addr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9)), 1);
        self.join(&name);
        self.people.swap_remove(i);
        self.people[i].index = i as u8;
    }

    /// Participant `i` restarts ICE on its existing session and offers again (the same
    /// certificate), as a browser does after a network change.
    pub fn ice_restart(&mut self, i: usize) {
        let p = &mut self.people[i];
        let mut api = p.rtc.sdp_api();
        api.ice_restart(true);
        let (offer, pending) = api.apply().expect("an ICE restart is a change");
        let req = ColibriRequest::Allocate {
            conference: self.conference.clone(),
            endpoint: p.id.clone(),
            display_name: String::new(),
            offer: offer.to_sdp_string(),
        };
        let resp = self.colibri(req).expect("restart accepted");
        let ColibriResponse::Allocated { answer } = resp else { panic!("unexpected response {resp:?}") };
        let answer = SdpAnswer::from_sdp_string(&answer).expect("bridge answer parses");
        self.people[i].rtc.sdp_api().accept_answer(pending, answer).expect("answer accepted");
    }

    pub fn leave(&mut self, i: usize) {
        let id = self.people[i].id.clone();
        self.colibri(ColibriRequest::Expire { conference: self.conference.clone(), endpoint: id })
            .expect("expire succeeds");
        self.people[i].sending = false;
        self.people[i].addr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9)), 1);
    }

    /// Sends a bridge-channel message from participant `i`.
    pub fn send_channel(&mut self, i: usize, msg: &BridgeChannelMessage) {
        let p = &mut self.people[i];
        let id = p.channel.expect("channel open");
        let json = serde_json::to_string(msg).expect("serializable");
        p.rtc.channel(id).expect("channel exists").write(false, json.as_bytes()).expect("channel write");
    }

    /// Runs the world for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.step();
            let mut next = self.next_audio.min(self.next_video);
            for t in 0..self.threads() {
                if let Some(t) = self.core(t).next_timeout() {
                    next = next.min(t);
                }
            }
            for p in &self.people {
                next = next.min(p.next_timeout);
                if let Some((at, _)) = p.delayed.front() {
                    next = next.min(*at);
                }
            }
            self.now = next.max(self.now + Duration::from_micros(500)).min(end.max(self.now));
            if self.now >= end {
                self.step();
                break;
            }
        }
    }

    /// Runs until every participant is connected (bounded).
    pub fn connect_all(&mut self) {
        let deadline = self.now + Duration::from_secs(10);
        while self.now < deadline && !self.people.iter().all(|p| p.connected && p.channel.is_some()) {
            self.run_for(Duration::from_millis(10));
        }
        assert!(self.people.iter().all(|p| p.connected), "everyone connects to the bridge");
    }

    /// Processes everything due at `self.now` until nothing moves.
    pub fn step(&mut self) {
        let now = self.now;
        self.write_media(now);
        let mut media_in = false;
        for _ in 0..1000 {
            let mut moved = false;
            // Bridge input
            while let Some((src, data)) = self.to_bridge.pop_front() {
                moved = true;
                media_in |= is_rtp(&data);
                // As the reader thread does: to the core of the endpoint at that address.
                let id = self.people.iter().find(|p| p.addr == src).map(|p| p.id.clone());
                let t = match id {
                    Some(id) => self.thread_of(&id),
                    None => 0,
                };
                self.core(t).handle_datagram(now, src, BRIDGE, &data);
            }
            for t in 0..self.threads() {
                self.core(t).handle_timeout(now);
            }
            // Bridge output
            for core in 0..self.threads() {
                loop {
                    match self.core(core).poll_output() {
                        SfuOutput::Transmit(t) => {
                            moved = true;
                            let data: Vec<u8> = t.contents.into();
                            if is_rtp(&data) {
                                if media_in {
                                    self.rtp_out_with_input += 1;
                                } else {
                                    self.rtp_out_without_input += 1;
                                }
                            }
                            let Some(k) = self.people.iter().position(|p| p.addr == t.destination && p.alive) else {
                                continue;
                            };
                            let loss = self.people[k].downlink_loss;
                            if loss > 0.0
                                && data.first().is_some_and(|b| (128..192).contains(b))
                                && self.random() < loss
                            {
                                self.dropped += 1;
                                continue;
                            }
                            let p = &mut self.people[k];
                            match p.downlink_kbps {
                                None => p.inbox.push_back(data),
                                Some(kbps) => {
                                    let start = p.link_free_at.max(now);
                                    let at = start + Duration::from_micros(data.len() as u64 * 8 * 1000 / kbps.max(1));
                                    if at - now > Duration::from_millis(200) {
                                        self.dropped += 1;
                                    } else {
                                        p.link_free_at = at;
                                        p.delayed.push_back((at, data));
                                    }
                                }
                            }
                        }
                        SfuOutput::Event(e) => {
                            moved = true;
                            self.on_colibri_event(e);
                        }
                        SfuOutput::Timeout(_) => break,
                    }
                }
            }
            // Relay messages between the cores, in the order each made them.
            for t in 0..self.threads() {
                for (to, msgs) in self.core(t).take_relays() {
                    moved = true;
                    self.core(to).handle_relay(now, t, msgs);
                }
            }
            // Participants
            for k in 0..self.people.len() {
                let p = &mut self.people[k];
                while p.delayed.front().is_some_and(|(at, _)| *at <= now) {
                    let (_, data) = p.delayed.pop_front().expect("invariant: front checked");
                    p.inbox.push_back(data);
                }
                while let Some(data) = p.inbox.pop_front() {
                    moved = true;
                    let Ok(contents) = data.as_slice().try_into() else { continue };
                    let input = Input::Receive(
                        now,
                        Receive { proto: Protocol::Udp, source: BRIDGE, destination: p.addr, contents },
                    );
                    if p.rtc.handle_input(input).is_err() {
                        p.alive = false;
                    }
                }
                if !p.alive {
                    continue;
                }
                if p.rtc.handle_input(Input::Timeout(now)).is_err() {
                    // A participant whose own session failed (a test that breaks DTLS) stops.
                    p.alive = false;
                    continue;
                }
                let mut out = Vec::new();
                loop {
                    let Ok(output) = p.rtc.poll_output() else {
                        p.alive = false;
                        break;
                    };
                    match output {
                        Output::Timeout(t) => {
                            p.next_timeout = t;
                            break;
                        }
                        Output::Transmit(t) => {
                            if p.addr.port() != 1 && p.alive {
                                out.push(Vec::from(t.contents));
                            }
                        }
                        Output::Event(e) => on_participant_event(p, e),
                    }
                }
                let (addr, loss) = (p.addr, p.uplink_loss);
                for data in out {
                    moved = true;
                    // Loss hits media only (RTP/RTCP start with version 2 bits), never the handshake.
                    if loss > 0.0 && data.first().is_some_and(|b| (128..192).contains(b)) && self.random() < loss {
                        self.dropped += 1;
                        continue;
                    }
                    self.to_bridge.push_back((addr, data));
                }
            }
            if !moved {
                break;
            }
        }
    }

    fn on_colibri_event(&mut self, e: ColibriEvent) {
        if let ColibriEvent::Offer { endpoint, offer, .. } = &e {
            let Some(p) = self.people.iter_mut().find(|p| &p.id == endpoint) else { return };
            p.offers_seen += 1;
            if p.lose_offers > 0 {
                p.lose_offers -= 1;
                self.colibri_events.push(e);
                return;
            }
            record_msids(p, offer);
            let offer = SdpOffer::from_sdp_string(offer).expect("bridge offer parses");
            let answer = p.rtc.sdp_api().accept_offer(offer).expect("participant accepts the bridge offer");
            let req = ColibriRequest::Answer {
                conference: self.conference.clone(),
                endpoint: endpoint.clone(),
                answer: answer.to_sdp_string(),
            };
            self.colibri(req).expect("answer accepted by the bridge");
        }
        self.colibri_events.push(e);
    }

    fn write_media(&mut self, now: Instant) {
        if now >= self.next_audio {
            self.next_audio = now + Duration::from_millis(20);
            for p in self.people.iter_mut().filter(|p| p.sending && p.connected) {
                let pt = find_pt(&p.rtc, Codec::Opus);
                let t = MediaTime::new(p.frame * 960, Frequency::FORTY_EIGHT_KHZ);
                let mut data = vec![p.index; 80];
                data[1] = 0xAA;
                let level = p.audio_level;
                if let Some(w) = p.rtc.writer(p.audio_mid) {
                    let _ = w.audio_level(level, level > -127).write(pt, now, t, data);
                }
            }
        }
        if now >= self.next_video {
            self.next_video = now + Duration::from_millis(33);
            let codec = self.video_codec;
            for p in self.people.iter_mut().filter(|p| p.sending && p.connected) {
                p.frame += 1;
                p.frames_sent += 1;
                let key = p.keyframe_wanted || p.frame % p.keyframe_interval == 0;
                p.keyframe_wanted = false;
                let pt = find_pt(&p.rtc, codec);
                let t = MediaTime::new(p.frame * 3000, Frequency::NINETY_KHZ);
                for (li, (rid, height, size)) in LAYERS.iter().enumerate() {
                    if p.sends_up_to <= 0 || (li > 0 && i32::from(*height) > p.sends_up_to) {
                        continue;
                    }
                    p.layer_frames_sent[li] += 1;
                    let key = key || p.layer_last_frame[li] + 1 != p.frame;
                    p.layer_last_frame[li] = p.frame;
                    let data = if codec == Codec::H264 {
                        h264_frame(key, p.index, li as u8, *size)
                    } else {
                        vp8_frame(key, *height, p.index, li as u8, *size)
                    };
                    if let Some(w) = p.rtc.writer(p.video_mid) {
                        let _ = w.rid((*rid).into()).write(pt, now, t, data);
                    }
                }
            }
        }
    }

    pub fn received(&self, receiver: usize, sender: usize) -> Received {
        self.people[receiver].received.get(&(sender as u8)).cloned().unwrap_or_default()
    }

    /// Clears what everyone received so far.
    pub fn reset_counts(&mut self) {
        for p in &mut self.people {
            p.received.clear();
        }
        self.rtp_out_with_input = 0;
        self.rtp_out_without_input = 0;
    }
}

fn record_msids(p: &mut Participant, sdp: &str) {
    let mut mid: Option<Mid> = None;
    for line in sdp.lines() {
        if let Some(m) = line.strip_prefix("a=mid:") {
            mid = Some(m.trim().into());
        } else if let Some(ms) = line.strip_prefix("a=msid:") {
            let mut parts = ms.split_whitespace();
            if let (Some(mid), Some(stream)) = (mid, parts.next()) {
                p.msid_of_mid.insert(mid, stream.to_string());
                // The track id is `<source name>#<slot number>`.
                if let Some(track) = parts.next().and_then(|t| t.split('#').next()) {
                    p.mid_of_source.insert(track.to_string(), mid);
                }
            }
        }
    }
}

fn on_participant_event(p: &mut Participant, e: Event) {
    match e {
        Event::Connected => p.connected = true,
        Event::ChannelOpen(id, label) if label == proto::bridge_channel::LABEL => p.channel = Some(id),
        Event::ChannelData(d) => {
            if let Ok(m) = serde_json::from_slice::<BridgeChannelMessage>(&d.data) {
                match &m {
                    BridgeChannelMessage::SourcesMap { mapped_sources } => {
                        p.owner_of_mid =
                            mapped_sources.iter().map(|s| (Mid::from(s.mid.as_str()), s.owner.clone())).collect();
                    }
                    BridgeChannelMessage::SenderSourceConstraints { max_height, .. }
                        if p.follows_sender_constraints =>
                    {
                        p.sends_up_to = *max_height;
                    }
                    _ => {}
                }
                p.messages.push(m);
            }
        }
        Event::KeyframeRequest(_) => {
            p.keyframe_wanted = true;
            p.keyframe_requests += 1;
        }
        Event::MediaData(d) => {
            let is_video = d.params.spec().codec.kind() == MediaKind::Video;
            let (sender, is_video) = if is_video {
                match find_tag(&d.data) {
                    Some((s, _)) => (s, true),
                    None => return,
                }
            } else {
                match d.data.first() {
                    Some(s) => (*s, false),
                    None => return,
                }
            };
            // The slot map names who a slot carries; without an entry, the msid does.
            let named = match p.owner_of_mid.get(&d.mid) {
                Some(owner) => owner.as_ref(),
                None => p.msid_of_mid.get(&d.mid),
            };
            match named {
                Some(stream) if !stream.starts_with((b'a' + sender) as char) => p.msid_mismatches += 1,
                None if p.owner_of_mid.contains_key(&d.mid) => p.on_idle_slot += 1,
                _ => {}
            }
            let r = p.received.entry(sender).or_default();
            if is_video && !d.contiguous {
                r.non_contiguous += 1;
            }
            if is_video {
                r.video_frames += 1;
                let layer = find_tag(&d.data).map(|t| t.1).unwrap_or(0);
                let key = d.is_keyframe();
                if r.last_video_layer.is_some_and(|l| l != layer) {
                    r.switches += 1;
                    if !key {
                        r.switches_without_keyframe += 1;
                    }
                }
                if let Some(c) = r.video_by_layer.get_mut(layer as usize) {
                    *c += 1;
                }
                r.last_video_layer = Some(layer);
                if key {
                    r.keyframes += 1;
                }
            } else {
                r.audio_frames += 1;
                if !d.contiguous {
                    r.audio_gaps += 1;
                }
            }
        }
        _ => {}
    }
}

/// Marks a test video frame with its sender and layer.
const TAG: [u8; 2] = [0xAB, 0xCD];

fn find_tag(data: &[u8]) -> Option<(u8, u8)> {
    data.windows(4).find(|w| w[..2] == TAG).map(|w| (w[2], w[3]))
}

/// A VP8 frame: frame tag (P bit 0 = keyframe), start code, width and height, then the tag.
fn vp8_frame(key: bool, height: u16, sender: u8, layer: u8, size: usize) -> Vec<u8> {
    let mut data = vec![0u8; size];
    data[0] = if key { 0x10 } else { 0x11 };
    data[3..6].copy_from_slice(&[0x9d, 0x01, 0x2a]);
    data[6..8].copy_from_slice(&(height * 16 / 9).to_le_bytes());
    data[8..10].copy_from_slice(&height.to_le_bytes());
    data[10..14].copy_from_slice(&[TAG[0], TAG[1], sender, layer]);
    data
}

/// An H.264 access unit in Annex B: SPS, PPS and an IDR slice for a keyframe, else one
/// non-IDR slice; the slice carries the tag.
fn h264_frame(key: bool, sender: u8, layer: u8, size: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(size + 32);
    if key {
        data.extend_from_slice(&[0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0x8c, 0x8d]);
        data.extend_from_slice(&[0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80]);
    }
    data.extend_from_slice(&[0, 0, 0, 1, if key { 0x65 } else { 0x41 }, 0x88, TAG[0], TAG[1], sender, layer]);
    // Filler that never forms a start code.
    while data.len() < size {
        data.push(0x5a);
    }
    data
}
