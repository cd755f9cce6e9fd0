//! `Conference`: the endpoints of one room on this bridge and everything that crosses
//! between them: media forwarding (with layer choice and seq/timestamp rewriting),
//! keyframe requests, bridge-channel relays, dominant speaker and last-N.
//!
//! Sans-IO: time comes in as `now`, packets leave as str0m `Transmit`s into a queue, Colibri
//! events into another. It never touches a socket, a clock or another conference.
//!
//! With several media threads a conference may span them: each thread's `Conference` is a
//! shard holding its own endpoints (`endpoints`) and mirrors of the others' (`remotes`),
//! kept up to date by [`Relay`] messages (`out` holds those for other threads). Senders'
//! packets arrive relayed and are forwarded to the local receivers like local ones; every
//! shard runs dominant speaker, loudest audio and the allocator itself over all senders.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use proto::bridge_channel::BridgeChannelMessage;
use proto::colibri::ColibriEvent;
use proto::{ConferenceId, EndpointId};
use str0m::format::Codec;
use str0m::media::MediaKind;
use str0m::net::Transmit;
use str0m::rtp::RtpWrite;

use crate::allocator::{self, Candidate};
use crate::dominant_speaker::DominantSpeaker;
use crate::endpoint::KEYFRAME_REQUEST_INTERVAL;
use crate::endpoint::{Endpoint, EpEvent};
use crate::keyframe;
use crate::loudest::LoudestAudio;
use crate::metrics::Metrics;
use crate::relay::{EndpointInfo, Fwd, Relay, SourceInfo, ThreadIndex};
use crate::track::{EpNum, Layer, TrackIn};

/// The allocator re-runs at least this often (layers start and stop, rates move).
const ALLOCATION_INTERVAL: Duration = Duration::from_millis(500);
/// A receiver that has not sent its ReceiverVideoConstraints gets at most
/// [`SLOTS_BEFORE_CONSTRAINTS`] video slots for this long (then the default: everyone).
const CONSTRAINTS_WAIT: Duration = Duration::from_secs(2);
const SLOTS_BEFORE_CONSTRAINTS: usize = 20;

/// Where a conference puts its output.
pub struct Sink<'a> {
    pub transmits: &'a mut VecDeque<Transmit>,
    pub events: &'a mut VecDeque<ColibriEvent>,
    pub metrics: &'a Metrics,
}

#[derive(Debug)]
pub struct Conference {
    pub id: ConferenceId,
    /// Indexed by positions taken (`index_of`, `index_of_num`, a loop over the length) in the
    /// same call that uses them: only `remove_endpoint` shrinks it, never while one is held.
    pub endpoints: Vec<Endpoint>,
    speakers: DominantSpeaker,
    loudest: LoudestAudio,
    /// Loudest-only routing applies while the conference has more endpoints than this.
    loudest_above: usize,
    next_allocation: Instant,
    allocation_due: bool,
    version: String,
    /// Input arrived since the last `drive`: receivers may have packets to flush.
    pub needs_drive: bool,
    /// Scratch space for endpoint events, kept to spare an allocation per datagram.
    scratch: Vec<EpEvent>,
    /// Endpoints of this conference on other media threads, mirrored.
    pub remotes: Vec<Remote>,
    /// The other threads holding a shard of this conference.
    pub peers: Vec<ThreadIndex>,
    /// Messages for those threads, taken by the `Sfu`.
    pub out: Vec<(ThreadIndex, Relay)>,
    /// What other threads' receivers want of local senders' video (SenderSourceConstraints).
    wishes: HashMap<(ThreadIndex, EpNum), i32>,
    /// What this shard's receivers want of remote senders' video, as last told.
    told_wishes: HashMap<EpNum, i32>,
}

/// An endpoint on another media thread, as this shard knows it: its sources, with layer
/// figures measured from the relayed packets (for the allocator), in its own track order.
#[derive(Debug)]
pub struct Remote {
    pub num: EpNum,
    pub id: EndpointId,
    pub thread: ThreadIndex,
    pub tracks_in: Vec<TrackIn>,
}

/// The sender of a packet being forwarded: a local endpoint or a mirrored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Src {
    Local(usize),
    Remote(usize),
}

/// What another thread needs to know of a local endpoint.
fn info(ep: &Endpoint) -> EndpointInfo {
    EndpointInfo {
        num: ep.num,
        id: ep.id.clone(),
        sources: ep
            .tracks_in
            .iter()
            .map(|t| SourceInfo {
                kind: t.kind,
                source_name: t.source_name.clone(),
                layers: t.layers.len(),
                codecs: t.codecs.clone(),
                muted: t.muted,
            })
            .collect(),
    }
}

impl Conference {
    /// `loudest_audio`: how many senders' audio is routed at once (0: everyone's), and above
    /// how many endpoints (here and on other threads) that applies.
    pub fn new(id: ConferenceId, now: Instant, version: String, loudest_audio: (usize, usize)) -> Self {
        Conference {
            id,
            endpoints: Vec::new(),
            speakers: DominantSpeaker::default(),
            loudest: LoudestAudio::new(loudest_audio.0),
            loudest_above: loudest_audio.1,
            next_allocation: now,
            allocation_due: false,
            version,
            needs_drive: false,
            scratch: Vec::new(),
            remotes: Vec::new(),
            peers: Vec::new(),
            out: Vec::new(),
            wishes: HashMap::new(),
            told_wishes: HashMap::new(),
        }
    }

    /// Endpoints here and on other threads.
    pub fn size(&self) -> usize {
        self.endpoints.len() + self.remotes.len()
    }

    /// A local or mirrored endpoint's id.
    fn id_of(&self, num: EpNum) -> Option<&EndpointId> {
        match self.endpoints.iter().find(|e| e.num == num) {
            Some(e) => Some(&e.id),
            None => self.remotes.iter().find(|r| r.num == num).map(|r| &r.id),
        }
    }

    fn tell_peers(&mut self, msg: impl Fn() -> Relay) {
        for &p in &self.peers {
            self.out.push((p, msg()));
        }
    }

    /// A new shard announces itself to every other thread (`threads` of them, this one
    /// being `me`); those that hold the conference answer with their own endpoints.
    pub fn announce_shard(&mut self, me: ThreadIndex, threads: usize) {
        for t in (0..threads).filter(|t| *t != me) {
            self.out.push((t, Relay::Joined { endpoints: self.endpoints.iter().map(info).collect() }));
        }
    }

    /// Handles one message from the shard of this conference on thread `from`.
    pub fn handle_relay(&mut self, from: ThreadIndex, msg: Relay, now: Instant, sink: &mut Sink<'_>) {
        match msg {
            Relay::Joined { endpoints } => {
                let new = !self.peers.contains(&from);
                if new {
                    self.peers.push(from);
                }
                let gone: Vec<EpNum> = self
                    .remotes
                    .iter()
                    .filter(|r| r.thread == from && !endpoints.iter().any(|e| e.num == r.num))
                    .map(|r| r.num)
                    .collect();
                for num in gone {
                    self.remove_remote(num);
                }
                for e in endpoints {
                    self.upsert_remote(from, e);
                }
                if new {
                    self.out.push((from, Relay::Joined { endpoints: self.endpoints.iter().map(info).collect() }));
                }
            }
            Relay::Left => {
                self.peers.retain(|p| *p != from);
                let gone: Vec<EpNum> = self.remotes.iter().filter(|r| r.thread == from).map(|r| r.num).collect();
                for num in gone {
                    self.remove_remote(num);
                }
                self.wishes.retain(|(t, _), _| *t != from);
            }
            Relay::Endpoint(e) => self.upsert_remote(from, e),
            Relay::EndpointGone(num) => self.remove_remote(num),
            Relay::Media { num, track, layer, pkt } => {
                let Some(r) = self.remotes.iter().position(|r| r.num == num) else { return };
                let Some(t) = self.remotes[r].tracks_in.get_mut(track) else { return };
                let video = t.kind == MediaKind::Video;
                let l = t.layer_mut(layer);
                if video && !l.is_active(now) {
                    // A layer (re)started: receivers may get a slot for it now.
                    self.allocation_due = true;
                }
                l.on_packet(now, pkt.payload.len());
                if video {
                    if let Some(h) = keyframe::vp8_keyframe_height(&pkt.payload) {
                        l.height = Some(h);
                    }
                }
                self.forward(Src::Remote(r), track, layer, &pkt, now, sink);
                self.needs_drive = true;
            }
            Relay::Keyframe { num, track, layer } => {
                let Some(i) = self.index_of_num(num) else { return };
                if self.endpoints[i].request_keyframe(track, layer, now) {
                    sink.metrics.keyframe_requests_total.inc();
                    self.needs_drive = true;
                }
            }
            Relay::Wish { num, max_height } => {
                if self.wishes.insert((from, num), max_height) != Some(max_height) {
                    self.allocation_due = true;
                    self.needs_drive = true;
                }
            }
            Relay::Channel { to, msg } => {
                for ep in &mut self.endpoints {
                    if to.is_empty() || ep.id.as_str() == to {
                        ep.send_channel(&msg);
                    }
                }
                self.needs_drive = true;
            }
        }
    }

    /// Adds or updates the mirror of an endpoint of thread `from`; its new sources are
    /// offered to every local endpoint.
    fn upsert_remote(&mut self, from: ThreadIndex, e: EndpointInfo) {
        let r = match self.remotes.iter().position(|r| r.num == e.num) {
            Some(r) => r,
            None => {
                self.remotes.push(Remote { num: e.num, id: e.id.clone(), thread: from, tracks_in: Vec::new() });
                self.remotes.len() - 1
            }
        };
        let remote = &mut self.remotes[r];
        for (k, s) in e.sources.into_iter().enumerate() {
            match remote.tracks_in.get_mut(k) {
                Some(t) => {
                    t.muted = s.muted;
                    t.codecs = s.codecs;
                    if s.layers > 0 {
                        t.layer_mut(s.layers - 1);
                    }
                }
                None => {
                    remote.tracks_in.push(TrackIn {
                        kind: s.kind,
                        mid: "r".into(),
                        source_name: s.source_name,
                        layers: (0..s.layers).map(|i| Layer::new(None, i)).collect(),
                        codecs: s.codecs,
                        last_keyframe_request: vec![None; s.layers],
                        muted: s.muted,
                        announced_max_height: None,
                        left_out_everywhere: false,
                    });
                }
            }
        }
        self.allocation_due = true;
        self.needs_drive = true;
    }

    fn remove_remote(&mut self, num: EpNum) {
        let Some(r) = self.remotes.iter().position(|r| r.num == num) else { return };
        self.remotes.remove(r);
        self.speakers.remove(num);
        self.loudest.remove(num);
        self.told_wishes.remove(&num);
        for ep in &mut self.endpoints {
            ep.release_source(num, None);
        }
        self.allocation_due = true;
        self.needs_drive = true;
    }

    pub fn index_of(&self, id: &EndpointId) -> Option<usize> {
        self.endpoints.iter().position(|e| &e.id == id)
    }

    pub fn index_of_num(&self, num: EpNum) -> Option<usize> {
        self.endpoints.iter().position(|e| e.num == num)
    }

    /// Adds a freshly allocated endpoint: slots for the sources already here follow from
    /// allocation (video) and routing (audio).
    pub fn add_endpoint(&mut self, ep: Endpoint) {
        let about = info(&ep);
        self.tell_peers(|| Relay::Endpoint(about.clone()));
        self.endpoints.push(ep);
        self.allocation_due = true;
    }

    /// Removes an endpoint; its sources leave every other endpoint's slots.
    pub fn remove_endpoint(&mut self, id: &EndpointId) -> Option<Endpoint> {
        let i = self.index_of(id)?;
        let ep = self.endpoints.remove(i);
        self.speakers.remove(ep.num);
        self.loudest.remove(ep.num);
        self.wishes.retain(|(_, n), _| *n != ep.num);
        let num = ep.num;
        self.tell_peers(|| Relay::EndpointGone(num));
        for other in &mut self.endpoints {
            other.release_source(ep.num, None);
        }
        self.allocation_due = true;
        Some(ep)
    }

    /// A moderator's mute as focus states it: `audio`/`video` is the whole state (false lifts
    /// it), so a repeated or reordered request cannot leave a track muted by mistake.
    pub fn force_mute(&mut self, id: &EndpointId, audio: bool, video: bool) -> bool {
        let Some(i) = self.index_of(id) else { return false };
        let ep = &mut self.endpoints[i];
        ep.forced_audio = audio;
        ep.forced_video = video;
        for t in &mut ep.tracks_in {
            t.muted = match t.kind {
                MediaKind::Audio => audio,
                MediaKind::Video => video,
            };
        }
        let about = info(ep);
        self.tell_peers(|| Relay::Endpoint(about.clone()));
        self.allocation_due = true;
        true
    }

    /// The earliest moment this conference needs `drive` again.
    pub fn next_timeout(&self) -> Option<Instant> {
        let mut t = self.endpoints.iter().map(|e| e.next_timeout).min()?;
        if let Some(d) = self.endpoints.iter().filter_map(|e| e.offer_deadline()).min() {
            t = t.min(d);
        }
        t = t.min(self.next_allocation);
        if let Some(s) = self.speakers.next_evaluation() {
            t = t.min(s);
        }
        Some(t)
    }

    /// One datagram for endpoint `i`: only that endpoint is polled now (its RTP is forwarded
    /// into the receivers' sessions); the receivers are flushed by the next `drive`, so a
    /// burst of datagrams costs each receiver one poll instead of one per packet.
    pub fn handle_input(&mut self, i: usize, input: str0m::Input, now: Instant, sink: &mut Sink<'_>) {
        let ep = &mut self.endpoints[i];
        ep.handle_input(input);
        ep.dirty = false;
        let mut evs = std::mem::take(&mut self.scratch);
        ep.poll(now, sink.transmits, &mut evs);
        for ev in evs.drain(..) {
            self.on_event(i, ev, now, sink);
        }
        self.scratch = evs;
        self.needs_drive = true;
    }

    /// Processes everything that is due or pending at `now`.
    pub fn drive(&mut self, now: Instant, sink: &mut Sink<'_>) {
        self.needs_drive = false;
        for ep in &mut self.endpoints {
            if ep.next_timeout <= now {
                ep.dirty = true;
            }
        }
        let mut evs = Vec::new();
        for _round in 0..8 {
            self.run_timers(now);
            loop {
                let mut progressed = false;
                for i in 0..self.endpoints.len() {
                    if !self.endpoints[i].dirty {
                        continue;
                    }
                    progressed = true;
                    self.endpoints[i].dirty = false;
                    self.endpoints[i].poll(now, sink.transmits, &mut evs);
                    for ev in evs.drain(..) {
                        self.on_event(i, ev, now, sink);
                    }
                }
                if !progressed {
                    break;
                }
            }
            if !self.allocation_due && !self.endpoints.iter().any(|e| e.allocation_due) {
                break;
            }
        }
        self.remove_failed(sink);
        for ep in &mut self.endpoints {
            if ep.expire_unanswered_offer(now) {
                tracing::info!(conference = %self.id, endpoint = %ep.id, "offer not answered in time; offering again");
            }
            if let Some(offer) = ep.make_offer(now) {
                // The new slots have mids now: the page hears who they carry.
                ep.flush_slot_map();
                sink.events.push_back(ColibriEvent::Offer {
                    conference: self.id.clone(),
                    endpoint: ep.id.clone(),
                    offer: offer.sdp,
                    added: offer.added,
                    removed: offer.removed,
                });
            }
        }
    }

    fn remove_failed(&mut self, sink: &mut Sink<'_>) {
        while let Some(i) = self.endpoints.iter().position(|e| e.failed.is_some()) {
            let id = self.endpoints[i].id.clone();
            let reason = self.endpoints[i].failed.clone().unwrap_or_default();
            tracing::info!(conference = %self.id, endpoint = %id, %reason, "endpoint failed");
            self.remove_endpoint(&id);
            sink.metrics.endpoints_failed_total.inc();
            sink.events.push_back(ColibriEvent::EndpointFailed { conference: self.id.clone(), endpoint: id, reason });
        }
    }

    fn run_timers(&mut self, now: Instant) {
        if let Some(speaker) = self.speakers.handle_timeout(now) {
            self.announce_speaker(speaker);
            self.allocation_due = true;
        }
        if self.allocation_due || now >= self.next_allocation {
            self.allocation_due = false;
            self.next_allocation = now + ALLOCATION_INTERVAL;
            for j in 0..self.endpoints.len() {
                self.allocate_for(j, now);
            }
            self.announce_sender_constraints();
        } else {
            // What concerns one receiver only (its bandwidth estimate moved) re-runs its own
            // allocation: in a large meeting estimates move many times a second, and a pass
            // over every receiver for each would cost the square of the meeting.
            for j in 0..self.endpoints.len() {
                if self.endpoints[j].allocation_due {
                    self.allocate_for(j, now);
                }
            }
        }
    }

    /// Tells each sender the largest height any receiver asks for of its video (capped at its
    /// top layer), so its page can stop encoding the layers above it (SenderSourceConstraints;
    /// the page keeps its lowest layer while anyone watches).
    /// Built from the receivers' wishes, not from what is forwarded now: a layer the sender
    /// stopped must come back when someone asks for it. Receivers on other threads count
    /// through the wishes their shards sent; this shard sends its own for remote senders.
    fn announce_sender_constraints(&mut self) {
        for s in 0..self.endpoints.len() {
            let num = self.endpoints[s].num;
            let Some(ti) = self.endpoints[s].tracks_in.iter().position(|t| t.kind == MediaKind::Video) else {
                continue;
            };
            let track = &self.endpoints[s].tracks_in[ti];
            // A layer whose keyframes were never seen (a sender that switched it off before
            // sending any) may be larger than the known ones: assume a full ladder then, or
            // the figure would stay below it and the layer could never be asked for again.
            let known = track.layers.iter().filter_map(|l| l.height).max().map(i32::from);
            let top = match known {
                Some(h) if track.layers.iter().all(|l| l.height.is_some()) => h,
                known => known.unwrap_or(0).max(720),
            };
            let name = track.source_name.clone();
            let remote_wish = self.wishes.iter().filter(|((_, n), _)| *n == num).map(|(_, h)| *h).max();
            let wish = self.local_wish(num, &name).max(remote_wish.unwrap_or(0));
            let max_height = wish.clamp(0, top);
            let sender = &mut self.endpoints[s];
            if sender.tracks_in[ti].announced_max_height != Some(max_height) && sender.channel_open() {
                sender.tracks_in[ti].announced_max_height = Some(max_height);
                sender.send_channel(&BridgeChannelMessage::SenderSourceConstraints { source_name: name, max_height });
            }
        }
        for r in 0..self.remotes.len() {
            let (num, thread) = (self.remotes[r].num, self.remotes[r].thread);
            let Some(t) = self.remotes[r].tracks_in.iter().find(|t| t.kind == MediaKind::Video) else { continue };
            let wish = self.local_wish(num, &t.source_name);
            if self.told_wishes.insert(num, wish) != Some(wish) {
                self.out.push((thread, Relay::Wish { num, max_height: wish }));
            }
        }
    }

    /// The largest height this shard's receivers ask for of `num`'s video (0: none of them
    /// wants it). Every receiver counts, selected for that source now or not: a source no
    /// one gets now may be selected as soon as it speaks, and must be sending then.
    fn local_wish(&self, num: EpNum, source_name: &str) -> i32 {
        self.endpoints
            .iter()
            .filter(|e| e.num != num)
            .map(|e| {
                let c = &e.constraints;
                c.constraints
                    .get(source_name)
                    .or(c.default_constraints.as_ref())
                    .map(|v| v.max_height)
                    .unwrap_or(i32::MAX)
            })
            .max()
            .unwrap_or(0)
    }

    fn speaker_message(&self, speaker: EpNum) -> Option<BridgeChannelMessage> {
        let id = self.id_of(speaker)?.to_string();
        let previous: Vec<String> =
            self.speakers.history().iter().skip(1).filter_map(|n| self.id_of(*n).map(|id| id.to_string())).collect();
        Some(BridgeChannelMessage::DominantSpeakerEndpointChangeEvent {
            dominant_speaker_endpoint: id,
            previous_speakers: previous,
        })
    }

    fn announce_speaker(&mut self, speaker: EpNum) {
        let Some(msg) = self.speaker_message(speaker) else { return };
        for ep in &mut self.endpoints {
            ep.send_channel(&msg);
        }
    }

    /// Every endpoint but local endpoint `j`, here and on other threads, with its sources.
    fn others(&self, j: usize) -> impl Iterator<Item = (EpNum, &[TrackIn])> {
        let local = self.endpoints.iter().enumerate().filter(move |(k, _)| *k != j).map(|(_, e)| e);
        local
            .map(|e| (e.num, e.tracks_in.as_slice()))
            .chain(self.remotes.iter().map(|e| (e.num, e.tracks_in.as_slice())))
    }

    /// Runs the allocator for receiver `j` and applies it to the receiver's video slots:
    /// sources no longer selected leave theirs, newly selected ones take an idle slot or a
    /// new one (the next offer adds it). Idle slots beyond the conference's sources (video:
    /// beyond the receiver's last-N) are stopped.
    fn allocate_for(&mut self, j: usize, now: Instant) {
        let (allocs, desired, names, sources) = {
            let r = &self.endpoints[j];
            let candidates: Vec<Candidate<'_>> = self
                .others(j)
                .flat_map(|(ep, tracks)| {
                    tracks.iter().filter(|t| t.kind == MediaKind::Video).map(move |t| Candidate { ep, track: t })
                })
                .collect();
            let audio = self.others(j).filter(|(_, t)| t.iter().any(|t| t.kind == MediaKind::Audio)).count();
            // Audio streams on the receiver's link: the routed ones when only the loudest are.
            let routed = match self.loudest.k() {
                k if k > 0 && self.size() > self.loudest_above => audio.min(k + 1),
                _ => audio,
            };
            let desired = allocator::desired_bitrate(&candidates, routed, now);
            let allocs = allocator::allocate(&r.constraints, &candidates, self.speakers.history(), r.bwe, routed, now);
            // Ids of the selected sources (a slot names its source to the page).
            let names: Vec<Option<EndpointId>> =
                allocs.iter().filter(|a| a.layer.is_some()).map(|a| self.id_of(a.ep).cloned()).collect();
            (allocs, desired, names, (candidates.len(), audio))
        };
        let r = &mut self.endpoints[j];
        r.allocation_due = false;
        r.allocated_bwe = r.bwe;
        // Never ask the estimator to probe below the starting estimate: a low target early
        // in a session (before video layers are seen) would pull the estimate down with it.
        let desired = desired.max(crate::endpoint::INITIAL_BWE.as_u64());
        let moved = r.desired_bitrate.abs_diff(desired) * 5 > r.desired_bitrate;
        if moved {
            r.desired_bitrate = desired;
            r.set_bandwidth_hint(desired);
        }
        for a in allocs.iter().filter(|a| a.layer.is_none()) {
            r.release_source(a.ep, Some(MediaKind::Video));
        }
        // Until the page says what it wants (or a while passed), a large conference does
        // not open a slot per participant on the default "everyone" wish.
        let cap = if r.constraints_received || now.saturating_duration_since(r.created) >= CONSTRAINTS_WAIT {
            usize::MAX
        } else {
            SLOTS_BEFORE_CONSTRAINTS
        };
        let mut forwarded = Vec::new();
        let mut last_n = Vec::new();
        for (a, id) in allocs.iter().filter(|a| a.layer.is_some()).zip(&names) {
            let Some(id) = id else { continue };
            let slot = match r.slot_of(a.ep, MediaKind::Video) {
                Some(k) => k,
                None => {
                    let live = r.tracks_out.iter().filter(|t| t.kind == MediaKind::Video && t.live());
                    let (count, idle) = live.fold((0, false), |(n, idle), t| (n + 1, idle || t.source.is_none()));
                    if !idle && count >= cap {
                        continue;
                    }
                    r.assign_slot(a.ep, id, MediaKind::Video, |_| false).0
                }
            };
            let t = &mut r.tracks_out[slot];
            t.target = a.layer;
            if t.open_mid().is_some() {
                forwarded.push(proto::session::source_name(id, true));
                last_n.push(id.to_string());
            }
        }
        // Idle video slots beyond the page's last-N go (it asked for fewer videos).
        let video_keep = usize::try_from(r.constraints.last_n).map_or(sources.0, |n| n.min(sources.0));
        r.trim_slots(MediaKind::Video, video_keep);
        r.trim_slots(MediaKind::Audio, sources.1);
        r.flush_slot_map();
        if forwarded != r.forwarded_sources && r.channel_open() {
            r.forwarded_sources = forwarded.clone();
            r.send_channel(&BridgeChannelMessage::ForwardedSources { forwarded_sources: forwarded });
        }
        if last_n != r.last_n_endpoints && r.channel_open() {
            r.last_n_endpoints = last_n.clone();
            r.send_channel(&BridgeChannelMessage::LastNEndpointsChangeEvent { last_n_endpoints: last_n });
        }
    }

    fn on_event(&mut self, i: usize, ev: EpEvent, now: Instant, sink: &mut Sink<'_>) {
        match ev {
            EpEvent::SourceAdded(_) => {
                let about = info(&self.endpoints[i]);
                self.tell_peers(|| Relay::Endpoint(about.clone()));
                self.allocation_due = true;
            }
            EpEvent::Media { track, layer, packet } => {
                sink.metrics.rtp_in_total.inc();
                let pkt = Fwd::of(&packet);
                self.forward(Src::Local(i), track, layer, &pkt, now, sink);
                let ep = &self.endpoints[i];
                let muted_video = ep.tracks_in.get(track).is_some_and(|t| t.muted && t.kind == MediaKind::Video);
                if !self.peers.is_empty() && !muted_video {
                    let num = ep.num;
                    for k in 0..self.peers.len() {
                        let msg = Relay::Media { num, track, layer, pkt: pkt.clone() };
                        self.out.push((self.peers[k], msg));
                    }
                }
            }
            EpEvent::KeyframeWanted { track_out } => {
                let Some(t) = self.endpoints[i].tracks_out.get(track_out) else { return };
                let (Some(source), kind, layer) = (t.source, t.kind, t.current.or(t.target)) else { return };
                let src = match self.index_of_num(source) {
                    Some(s) => Src::Local(s),
                    None => match self.remotes.iter().position(|r| r.num == source) {
                        Some(r) => Src::Remote(r),
                        None => return,
                    },
                };
                let tracks = match src {
                    Src::Local(s) => &self.endpoints[s].tracks_in,
                    Src::Remote(r) => &self.remotes[r].tracks_in,
                };
                let Some(ti) = tracks.iter().position(|t| t.kind == kind) else { return };
                self.request_keyframe(src, ti, layer.unwrap_or(0), now, sink);
            }
            EpEvent::Channel(msg) => self.on_channel_message(i, msg, sink),
            EpEvent::ChannelOpened => {
                let ep = &mut self.endpoints[i];
                ep.send_channel(&BridgeChannelMessage::ServerHello { version: self.version.clone() });
                ep.forwarded_sources = vec!["-".into()];
                ep.last_n_endpoints = vec!["-".into()];
                if let Some(msg) = self.speakers.current().and_then(|cur| self.speaker_message(cur)) {
                    // Only the new page needs it: the others heard it when it changed.
                    self.endpoints[i].send_channel(&msg);
                }
                self.allocation_due = true;
            }
            EpEvent::Connected => {
                tracing::info!(conference = %self.id, endpoint = %self.endpoints[i].id, "endpoint connected");
                sink.events.push_back(ColibriEvent::EndpointConnected {
                    conference: self.id.clone(),
                    endpoint: self.endpoints[i].id.clone(),
                });
            }
            EpEvent::Failed(_) => {}
            EpEvent::Bandwidth => {
                // Only a move of more than a tenth changes what fits.
                let ep = &mut self.endpoints[i];
                let (new, old) = (ep.bwe.unwrap_or(0), ep.allocated_bwe.unwrap_or(0));
                if ep.allocated_bwe.is_none() || new.abs_diff(old) * 10 > old {
                    ep.allocation_due = true;
                }
            }
            EpEvent::LayerStarted => self.allocation_due = true,
            EpEvent::BadChannelMessage => sink.metrics.bad_channel_messages_total.inc(),
            EpEvent::ChannelFlood => sink.metrics.channel_messages_dropped_total.inc(),
        }
    }

    fn on_channel_message(&mut self, i: usize, msg: BridgeChannelMessage, sink: &mut Sink<'_>) {
        let from = self.endpoints[i].id.to_string();
        match msg {
            BridgeChannelMessage::EndpointMessage { to, msg_payload, .. } => {
                let out = BridgeChannelMessage::EndpointMessage { from, to: to.clone(), msg_payload };
                for (j, ep) in self.endpoints.iter_mut().enumerate() {
                    if j != i && (to.is_empty() || ep.id.as_str() == to) {
                        ep.send_channel(&out);
                    }
                }
                let local = !to.is_empty() && self.endpoints.iter().any(|e| e.id.as_str() == to);
                if !local {
                    self.tell_peers(|| Relay::Channel { to: to.clone(), msg: out.clone() });
                }
            }
            BridgeChannelMessage::EndpointStats { stats, .. } => {
                let out = BridgeChannelMessage::EndpointStats { from, stats };
                for (j, ep) in self.endpoints.iter_mut().enumerate() {
                    if j != i {
                        ep.send_channel(&out);
                    }
                }
                self.tell_peers(|| Relay::Channel { to: String::new(), msg: out.clone() });
            }
            BridgeChannelMessage::ReceiverVideoConstraints(c) => {
                self.endpoints[i].constraints = c;
                self.endpoints[i].constraints_received = true;
                self.allocation_due = true;
            }
            _ => sink.metrics.bad_channel_messages_total.inc(),
        }
    }

    /// Asks the sender of a track for a keyframe of one layer: directly when it is local,
    /// through its thread when not (paced here as well, so waiting receivers do not send a
    /// message per packet).
    fn request_keyframe(&mut self, src: Src, track: usize, layer: usize, now: Instant, sink: &mut Sink<'_>) {
        match src {
            Src::Local(s) => {
                if self.endpoints[s].request_keyframe(track, layer, now) {
                    sink.metrics.keyframe_requests_total.inc();
                }
            }
            Src::Remote(r) => {
                let remote = &mut self.remotes[r];
                let Some(t) = remote.tracks_in.get_mut(track) else { return };
                if t.take_keyframe_request(layer, now, KEYFRAME_REQUEST_INTERVAL) {
                    self.out.push((remote.thread, Relay::Keyframe { num: remote.num, track, layer }));
                }
            }
        }
    }

    /// Track `track` of a local endpoint or of one on another thread.
    fn track_in_mut(&mut self, src: Src, track: usize) -> Option<&mut TrackIn> {
        match src {
            Src::Local(i) => self.endpoints.get_mut(i)?.tracks_in.get_mut(track),
            Src::Remote(r) => self.remotes.get_mut(r)?.tracks_in.get_mut(track),
        }
    }

    /// Forwards one packet of `src` to every local receiver that should get it.
    fn forward(&mut self, src: Src, track: usize, layer: usize, packet: &Fwd, now: Instant, sink: &mut Sink<'_>) {
        let (num, tracks) = match src {
            Src::Local(i) => (self.endpoints[i].num, &self.endpoints[i].tracks_in),
            Src::Remote(r) => (self.remotes[r].num, &self.remotes[r].tracks_in),
        };
        let Some(t) = tracks.get(track) else { return };
        let (kind, muted, codec, params) = (t.kind, t.muted, t.codec_kind(packet.pt), t.codec(packet.pt).copied());
        if muted && kind == MediaKind::Video {
            return;
        }
        if kind == MediaKind::Audio {
            let level = packet.ext.audio_level;
            if let Some(level) = level.filter(|_| !muted) {
                self.speakers.handle_level(num, level, now);
            }
            // Muted audio pauses like audio left out by loudest-only routing, so that it
            // resumes without a sequence gap and with the talkspurt marker.
            // The ranking is kept up to date in a small conference too, so routing starts
            // from it when the conference grows past `loudest_above`.
            let loud = self.loudest.route(num, level, self.speakers.current(), now);
            let left_out = muted || (!loud && self.size() > self.loudest_above);
            let already =
                self.track_in_mut(src, track).map(|t| std::mem::replace(&mut t.left_out_everywhere, left_out));
            if left_out {
                // Once per pause, not per packet: in a 100-person meeting 97 speakers'
                // packets are left out, and each look is a scan of every receiver's slots.
                if already != Some(true) {
                    for r in self.endpoints.iter_mut() {
                        let Some(t) = r.tracks_out.iter_mut().find(|t| t.source == Some(num) && t.kind == kind) else {
                            continue;
                        };
                        t.left_out = true;
                        if !t.paused {
                            t.paused = true;
                            t.rewriter.pause();
                        }
                    }
                }
                if !muted && matches!(src, Src::Local(_)) {
                    sink.metrics.audio_not_routed_total.inc();
                }
                return;
            }
        }
        let is_key = kind == MediaKind::Video && codec.is_some_and(|c| keyframe::starts_keyframe(c, &packet.payload));
        let mut want_keyframe = false;
        let mut src_id: Option<EndpointId> = None;
        for j in 0..self.endpoints.len() {
            if src == Src::Local(j) {
                continue;
            }
            let mut slot = self.endpoints[j].slot_of(num, kind);
            if slot.is_none() && kind == MediaKind::Audio {
                // Routed audio takes a slot: an idle one, or one whose source is left out
                // now, else a new one; the page learns the move before the first packet.
                let id = src_id.get_or_insert_with(|| match src {
                    Src::Local(s) => self.endpoints[s].id.clone(),
                    Src::Remote(s) => self.remotes[s].id.clone(),
                });
                let r = &mut self.endpoints[j];
                let (k, moved) = r.assign_slot(num, id, kind, |t| t.left_out);
                if moved {
                    r.flush_slot_map();
                }
                slot = Some(k);
            }
            let r = &mut self.endpoints[j];
            let Some(t) = slot.and_then(|k| r.tracks_out.get_mut(k)) else { continue };
            let Some(mid) = t.open_mid() else { continue };
            // The first audio packet after a pause in routing (or a move of the slot) starts
            // a talkspurt; on video the marker ends a frame and stays as it came.
            let talkspurt = std::mem::take(&mut t.paused) && kind == MediaKind::Audio;
            t.left_out = false;
            if kind == MediaKind::Video {
                let Some(target) = t.target else {
                    t.current = None;
                    continue;
                };
                if layer == target && t.current != Some(target) {
                    if is_key {
                        t.current = Some(target);
                        sink.metrics.layer_switches_total.inc();
                    } else {
                        want_keyframe = true;
                    }
                }
                if t.current != Some(layer) {
                    continue;
                }
            }
            let pt_in = packet.pt;
            let out_pt = match t.pt_map.iter().find(|(a, _)| *a == pt_in) {
                Some((_, b)) => *b,
                None => {
                    let b = params.and_then(|p| r.rtc.codec_config().match_params(p).map(|x| x.pt()));
                    t.pt_map.push((pt_in, b));
                    b
                }
            };
            let Some(out_pt) = out_pt else { continue };
            let Some(rw) = t.rewriter.rewrite(packet.ssrc, packet.seq, packet.rtp_time, packet.arrived) else {
                continue;
            };
            let patch = if codec == Some(Codec::Vp8) { t.vp8.rewrite(packet.ssrc, &packet.payload) } else { None };
            let mut api = r.rtc.direct_api();
            let Some(tx) = api.stream_tx_by_mid(mid, None) else { continue };
            let mut w = RtpWrite::new(out_pt, rw.seq.into(), rw.ts, packet.arrived, packet.payload.clone())
                .marker(packet.marker || talkspurt)
                .ext_vals(packet.ext.clone())
                .nackable(kind == MediaKind::Video);
            if let Some(p) = patch {
                w = w.vp8_patch(p);
            }
            tx.write_rtp(w);
            r.mark_written();
            sink.metrics.rtp_forwarded_total.inc();
        }
        if want_keyframe {
            self.request_keyframe(src, track, layer, now, sink);
        }
    }
}
