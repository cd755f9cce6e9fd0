//! `Sfu`: the whole bridge as a sans-IO state machine. Colibri requests, UDP datagrams and
//! time go in (`handle_*`); datagrams to send, Colibri events for focus and the next
//! deadline come out (`poll_output`).
//!
//! It demultiplexes the one UDP port: first by the datagram's source address (learned from
//! STUN), then by asking each endpoint's `Rtc::accepts` (the STUN username). It never
//! touches a socket, a clock or the bus: the driver does, and tests drive it in virtual time.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proto::colibri::{BridgeStats, ColibriEvent, ColibriRequest, ColibriResponse};
use proto::ConferenceId;
use str0m::net::{DatagramRecv, Protocol, Receive, Transmit};
use str0m::Input;

use crate::conference::{Conference, Sink};
use crate::endpoint::Endpoint;
use crate::metrics::Metrics;
use crate::relay::{Outbox, Relay, ThreadIndex};
use crate::track::EpNum;
use crate::Error;

/// Most endpoints one conference may have; an allocation beyond it is refused.
pub const MAX_ENDPOINTS_PER_CONFERENCE: usize = 100;
/// Largest SDP accepted in a Colibri request. Sized for a full conference: an answer for
/// MAX_ENDPOINTS_PER_CONFERENCE endpoints has ~200 m-lines of ~1.2 KB (~240 KB).
pub const MAX_SDP: usize = 512 * 1024;
/// Endpoints this bridge serves before it reports a stress of 1.0.
const CAPACITY_ENDPOINTS: f64 = 200.0;

/// What the core wants done next.
#[derive(Debug)]
pub enum SfuOutput {
    /// Send this datagram from the media socket.
    Transmit(Transmit),
    /// Tell focus.
    Event(ColibriEvent),
    /// Call `handle_timeout` at this moment (or earlier when input arrives).
    Timeout(Instant),
}

/// Settings of the core.
#[derive(Debug, Clone)]
pub struct SfuConfig {
    /// Host candidates handed to every endpoint (advertised addresses, one UDP port).
    pub candidates: Vec<SocketAddr>,
    pub version: String,
    /// Send-side bandwidth estimation (transport-cc) and pacing per receiver. Off, the
    /// allocator only follows constraints and video leaves as soon as it arrives.
    pub bwe: bool,
    /// How many senders' audio is forwarded at once, the loudest (0: everyone's)…
    pub loudest_audio: usize,
    /// …in conferences of more than this many endpoints (0: in all).
    pub loudest_above: usize,
}

/// Packet counts at the last rate sample, for packet rates in `BridgeStats`.
#[derive(Debug, Clone, Copy)]
struct RateSample {
    at: Instant,
    packets_in: u64,
    packets_out: u64,
    bytes_in: u64,
    bytes_out: u64,
}

pub struct Sfu {
    config: SfuConfig,
    conferences: HashMap<ConferenceId, Conference>,
    by_addr: HashMap<SocketAddr, (ConferenceId, EpNum)>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<ColibriEvent>,
    next_num: u64,
    draining: bool,
    metrics: Arc<Metrics>,
    rate_sample: Option<RateSample>,
    rates: (u64, u64, u64, u64),
    /// The latest time handed in, for the deferred flush in `poll_output`.
    now: Option<Instant>,
    /// One DTLS certificate for every endpoint (as Jitsi's bridge does): generating a key
    /// pair per allocation costs time in a burst of joins and memory per endpoint.
    dtls_cert: Option<str0m::config::DtlsCert>,
    /// This core's media thread and how many there are (conferences may span them).
    thread: ThreadIndex,
    threads: usize,
    /// Messages for the other threads' shards, taken with `take_relays`.
    outbox: Outbox,
}

impl Sfu {
    pub fn new(config: SfuConfig, metrics: Arc<Metrics>) -> Self {
        Sfu {
            config,
            conferences: HashMap::new(),
            by_addr: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            next_num: 1,
            draining: false,
            metrics,
            rate_sample: None,
            rates: (0, 0, 0, 0),
            now: None,
            dtls_cert: str0m::crypto::from_feature_flags().dtls_provider.generate_certificate(),
            thread: 0,
            threads: 1,
            outbox: Outbox::default(),
        }
    }

    /// Makes this core media thread `index` of `count`: its endpoint numbers are its own
    /// (the high 16 bits), and a conference it creates is announced to the other threads.
    pub fn set_thread(&mut self, index: ThreadIndex, count: usize) {
        self.thread = index;
        self.threads = count.max(1);
        self.next_num = ((index as u64) << 48) + 1;
    }

    /// Messages for other threads since the last call, per destination thread, in order.
    // Kept out of line: the callers' instruction counts (callgrind --toggle-collect) see it.
    #[inline(never)]
    pub fn take_relays(&mut self) -> Vec<(ThreadIndex, Vec<(ConferenceId, Relay)>)> {
        if self.threads < 2 {
            return Vec::new();
        }
        for (id, conf) in &mut self.conferences {
            for (t, msg) in conf.out.drain(..) {
                self.outbox.push(t, id, msg);
            }
        }
        if self.outbox.is_empty() {
            return Vec::new();
        }
        std::mem::take(&mut self.outbox.to).into_iter().enumerate().filter(|(_, v)| !v.is_empty()).collect()
    }

    /// Messages from another thread's shards (see [`crate::relay`]). A message about a
    /// conference this thread does not hold is dropped: its shard announces itself when
    /// it is created, and the others answer then.
    // Kept out of line: the callers' instruction counts (callgrind --toggle-collect) see it.
    #[inline(never)]
    pub fn handle_relay(&mut self, now: Instant, from: ThreadIndex, msgs: Vec<(ConferenceId, Relay)>) {
        self.now = Some(now);
        for (id, msg) in msgs {
            let Some(conf) = self.conferences.get_mut(&id) else { continue };
            let mut sink = Sink { transmits: &mut self.transmits, events: &mut self.events, metrics: &self.metrics };
            conf.handle_relay(from, msg, now, &mut sink);
        }
    }

    /// Removes a conference's shard; every other thread is told (not only the known
    /// peers: one that answered the shard's announcement may not have been heard yet).
    fn remove_conference(&mut self, id: &ConferenceId) -> Option<Conference> {
        let mut conf = self.conferences.remove(id)?;
        if self.threads > 1 {
            for (t, msg) in conf.out.drain(..) {
                self.outbox.push(t, id, msg);
            }
            for t in (0..self.threads).filter(|t| *t != self.thread) {
                self.outbox.push(t, id, Relay::Left);
            }
        }
        Some(conf)
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn conference(&self, id: &ConferenceId) -> Option<&Conference> {
        self.conferences.get(id)
    }

    pub fn is_draining(&self) -> bool {
        self.draining
    }

    pub fn endpoint_count(&self) -> usize {
        self.conferences.values().map(|c| c.endpoints.len()).sum()
    }

    /// Conferences with a shard on this thread.
    pub fn conference_count(&self) -> usize {
        self.conferences.len()
    }

    /// Conferences this thread counts in the bridge's figures: those whose shard here is
    /// on the lowest thread holding them, so the threads' sum counts each conference once.
    pub fn counted_conferences(&self) -> usize {
        self.conferences.values().filter(|c| c.peers.iter().all(|p| *p > self.thread)).count()
    }

    /// Graceful shutdown: refuse new conferences and tell focus to move the others.
    pub fn start_draining(&mut self) {
        if !self.draining {
            self.draining = true;
            self.events.push_back(ColibriEvent::Draining);
        }
    }

    /// Handles one request from focus. Errors are answered to focus as IQ errors and change
    /// nothing.
    // Kept out of line: the callers' instruction counts (callgrind --toggle-collect) see it.
    #[inline(never)]
    pub fn handle_colibri(&mut self, now: Instant, req: ColibriRequest) -> Result<ColibriResponse, Error> {
        self.metrics.colibri_requests_total.inc();
        self.now = Some(now);
        self.drive_pending();
        let r = self.colibri(now, req);
        if r.is_err() {
            self.metrics.colibri_errors_total.inc();
        }
        self.update_gauges();
        r
    }

    fn colibri(&mut self, now: Instant, req: ColibriRequest) -> Result<ColibriResponse, Error> {
        match req {
            ColibriRequest::Allocate { conference, endpoint, display_name, offer } => {
                if offer.len() > MAX_SDP {
                    return Err(Error::BadRequest(format!("offer larger than {MAX_SDP} bytes")));
                }
                let exists = self.conferences.contains_key(&conference);
                if self.draining && !exists {
                    return Err(Error::Draining);
                }
                if self
                    .conferences
                    .get(&conference)
                    .is_some_and(|c| c.size() >= MAX_ENDPOINTS_PER_CONFERENCE && c.index_of(&endpoint).is_none())
                {
                    return Err(Error::BadRequest("conference is full".into()));
                }
                // The same page offering again (ICE restart): keep the session.
                if let Some(conf) = self.conferences.get_mut(&conference) {
                    if let Some(i) = conf.index_of(&endpoint) {
                        if let Some(result) = conf.endpoints[i].restart(&offer) {
                            let answer = result?;
                            tracing::info!(%conference, %endpoint, "endpoint restarted ICE");
                            self.drive_conference(&conference, now);
                            return Ok(ColibriResponse::Allocated { answer });
                        }
                    }
                }
                let num = EpNum(self.next_num);
                let display_name: String = display_name.chars().take(128).collect();
                let (ep, answer) = Endpoint::allocate(
                    num,
                    endpoint.clone(),
                    display_name,
                    &offer,
                    &crate::endpoint::Settings {
                        candidates: &self.config.candidates,
                        bwe: self.config.bwe,
                        dtls_cert: self.dtls_cert.as_ref(),
                    },
                    now,
                )?;
                self.next_num += 1;
                let version = self.config.version.clone();
                let loudest = (self.config.loudest_audio, self.config.loudest_above);
                let created = !self.conferences.contains_key(&conference);
                let conf = self
                    .conferences
                    .entry(conference.clone())
                    .or_insert_with(|| Conference::new(conference.clone(), now, version, loudest));
                if conf.remove_endpoint(&endpoint).is_some() {
                    tracing::info!(%conference, %endpoint, "endpoint re-allocated");
                }
                conf.add_endpoint(ep);
                if created && self.threads > 1 {
                    conf.announce_shard(self.thread, self.threads);
                }
                tracing::info!(%conference, %endpoint, "endpoint allocated");
                self.drive_conference(&conference, now);
                Ok(ColibriResponse::Allocated { answer })
            }
            ColibriRequest::Answer { conference, endpoint, answer } => {
                if answer.len() > MAX_SDP {
                    return Err(Error::BadRequest(format!("answer larger than {MAX_SDP} bytes")));
                }
                let conf = self.conferences.get_mut(&conference).ok_or_else(|| not_found_conf(&conference))?;
                let i = conf.index_of(&endpoint).ok_or_else(|| Error::NotFound(format!("endpoint {endpoint}")))?;
                conf.endpoints[i].accept_answer(&answer)?;
                self.drive_conference(&conference, now);
                Ok(ColibriResponse::Done)
            }
            ColibriRequest::Expire { conference, endpoint } => {
                let conf = self.conferences.get_mut(&conference).ok_or_else(|| not_found_conf(&conference))?;
                conf.remove_endpoint(&endpoint).ok_or_else(|| Error::NotFound(format!("endpoint {endpoint}")))?;
                tracing::info!(%conference, %endpoint, "endpoint expired");
                if conf.endpoints.is_empty() {
                    self.remove_conference(&conference);
                } else {
                    self.drive_conference(&conference, now);
                }
                Ok(ColibriResponse::Done)
            }
            ColibriRequest::ExpireConference { conference } => {
                self.remove_conference(&conference).ok_or_else(|| not_found_conf(&conference))?;
                tracing::info!(%conference, "conference expired");
                Ok(ColibriResponse::Done)
            }
            ColibriRequest::ForceMute { conference, endpoint, audio, video } => {
                let conf = self.conferences.get_mut(&conference).ok_or_else(|| not_found_conf(&conference))?;
                if !conf.force_mute(&endpoint, audio, video) {
                    return Err(Error::NotFound(format!("endpoint {endpoint}")));
                }
                self.drive_conference(&conference, now);
                Ok(ColibriResponse::Done)
            }
            ColibriRequest::Health => Ok(ColibriResponse::Health { stats: self.stats(now) }),
        }
    }

    fn drive_conference(&mut self, id: &ConferenceId, now: Instant) {
        let Some(conf) = self.conferences.get_mut(id) else { return };
        let mut sink = Sink { transmits: &mut self.transmits, events: &mut self.events, metrics: &self.metrics };
        conf.drive(now, &mut sink);
        if conf.endpoints.is_empty() {
            self.remove_conference(id);
        }
    }

    /// One datagram that arrived on the media socket. `destination` must be the bridge's
    /// candidate address the peer sent to.
    // Kept out of line: the callers' instruction counts (callgrind --toggle-collect) see it.
    #[inline(never)]
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, destination: SocketAddr, data: &[u8]) {
        self.metrics.datagrams_in_total.inc();
        self.metrics.bytes_in_total.add(data.len() as u64);
        let Ok(contents) = DatagramRecv::try_from(data) else {
            self.metrics.bad_datagrams_total.inc();
            return;
        };
        let input = Input::Receive(now, Receive { proto: Protocol::Udp, source, destination, contents });

        // Fast path: the source address is known (no allocation per datagram).
        if let Some((cid, num)) = self.by_addr.get(&source) {
            if let Some(conf) = self.conferences.get_mut(cid) {
                if let Some(i) = conf.index_of_num(*num) {
                    if conf.endpoints[i].accepts(&input) {
                        self.now = Some(now);
                        let mut sink =
                            Sink { transmits: &mut self.transmits, events: &mut self.events, metrics: &self.metrics };
                        conf.handle_input(i, input, now, &mut sink);
                        return;
                    }
                }
            }
        }
        let mut target: Option<(ConferenceId, EpNum)> = None;
        // Slow path: STUN username (or a candidate pair str0m already knows).
        {
            'search: for (cid, conf) in &self.conferences {
                for ep in &conf.endpoints {
                    if ep.accepts(&input) {
                        target = Some((cid.clone(), ep.num));
                        break 'search;
                    }
                }
            }
            match &target {
                Some(t) => {
                    if self.by_addr.len() > 100_000 {
                        self.forget_stale_addresses();
                    }
                    self.by_addr.insert(source, t.clone());
                }
                None => {
                    let is_stun = data.first().is_some_and(|b| *b < 2);
                    if is_stun {
                        self.metrics.unknown_ufrag_total.inc();
                    } else {
                        self.metrics.unknown_source_total.inc();
                    }
                    return;
                }
            }
        }
        let Some((cid, num)) = target else { return };
        let Some(conf) = self.conferences.get_mut(&cid) else { return };
        let Some(i) = conf.index_of_num(num) else { return };
        self.now = Some(now);
        let mut sink = Sink { transmits: &mut self.transmits, events: &mut self.events, metrics: &self.metrics };
        conf.handle_input(i, input, now, &mut sink);
    }

    /// Flushes conferences that got input since their last drive.
    fn drive_pending(&mut self) {
        let Some(now) = self.now else { return };
        let pending: Vec<ConferenceId> =
            self.conferences.iter().filter(|(_, c)| c.needs_drive).map(|(id, _)| id.clone()).collect();
        for id in pending {
            self.drive_conference(&id, now);
        }
    }

    fn forget_stale_addresses(&mut self) {
        let confs = &self.conferences;
        self.by_addr.retain(|_, (cid, num)| confs.get(cid).is_some_and(|c| c.index_of_num(*num).is_some()));
    }

    /// Time passed: run whatever is due.
    // Kept out of line: the callers' instruction counts (callgrind --toggle-collect) see it.
    #[inline(never)]
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = Some(now);
        self.drive_pending();
        let due: Vec<ConferenceId> = self
            .conferences
            .iter()
            .filter(|(_, c)| c.next_timeout().is_some_and(|t| t <= now))
            .map(|(id, _)| id.clone())
            .collect();
        let before = self.endpoint_count();
        for id in due {
            self.drive_conference(&id, now);
        }
        if self.endpoint_count() != before {
            self.forget_stale_addresses();
        }
        self.update_gauges();
    }

    /// The next thing to do: a datagram to send, an event for focus, or a deadline.
    // Kept out of line: the callers' instruction counts (callgrind --toggle-collect) see it.
    #[inline(never)]
    pub fn poll_output(&mut self) -> SfuOutput {
        if self.transmits.is_empty() && self.events.is_empty() {
            self.drive_pending();
        }
        if let Some(t) = self.transmits.pop_front() {
            self.metrics.datagrams_out_total.inc();
            self.metrics.bytes_out_total.add(t.contents.len() as u64);
            return SfuOutput::Transmit(t);
        }
        if let Some(e) = self.events.pop_front() {
            return SfuOutput::Event(e);
        }
        let next = self.conferences.values().filter_map(|c| c.next_timeout()).min();
        SfuOutput::Timeout(next.unwrap_or_else(|| Instant::now() + Duration::from_secs(1)))
    }

    /// The earliest deadline without consuming output (for drivers that poll transmits
    /// separately); `None` when nothing is scheduled.
    // Kept out of line: the callers' instruction counts (callgrind --toggle-collect) see it.
    #[inline(never)]
    pub fn next_timeout(&self) -> Option<Instant> {
        if self.conferences.values().any(|c| c.needs_drive) {
            return self.now;
        }
        self.conferences.values().filter_map(|c| c.next_timeout()).min()
    }

    fn update_gauges(&self) {
        self.metrics.conferences.set(self.counted_conferences() as u64);
        self.metrics.endpoints.set(self.endpoint_count() as u64);
    }

    /// Load figures for presence and health answers; rates are per second since the
    /// previous call that was at least one second earlier.
    pub fn stats(&mut self, now: Instant) -> BridgeStats {
        let m = &self.metrics;
        let cur = RateSample {
            at: now,
            packets_in: m.datagrams_in_total.get(),
            packets_out: m.datagrams_out_total.get(),
            bytes_in: m.bytes_in_total.get(),
            bytes_out: m.bytes_out_total.get(),
        };
        match self.rate_sample {
            Some(prev) if now.saturating_duration_since(prev.at) >= Duration::from_secs(1) => {
                let secs = now.saturating_duration_since(prev.at).as_secs_f64();
                let per = |a: u64, b: u64| ((a.saturating_sub(b)) as f64 / secs) as u64;
                self.rates = (
                    per(cur.packets_in, prev.packets_in),
                    per(cur.packets_out, prev.packets_out),
                    per(cur.bytes_in, prev.bytes_in) * 8 / 1000,
                    per(cur.bytes_out, prev.bytes_out) * 8 / 1000,
                );
                self.rate_sample = Some(cur);
            }
            None => self.rate_sample = Some(cur),
            _ => {}
        }
        let endpoints = self.endpoint_count();
        BridgeStats {
            stress: endpoints as f64 / CAPACITY_ENDPOINTS,
            conferences: self.counted_conferences() as u32,
            endpoints: endpoints as u32,
            packet_rate_in: self.rates.0,
            packet_rate_out: self.rates.1,
            bitrate_in_kbps: self.rates.2,
            bitrate_out_kbps: self.rates.3,
            draining: self.draining,
            version: self.config.version.clone(),
        }
    }
}

fn not_found_conf(id: &ConferenceId) -> Error {
    Error::NotFound(format!("conference {id}"))
}
