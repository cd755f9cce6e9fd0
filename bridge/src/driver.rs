//! The media driver: the threads that own the UDP port, the clocks and the [`Sfu`]s. It
//! feeds datagrams, timeouts and Colibri commands to the cores and carries out what they
//! ask (send datagrams, emit events). It makes no media decision itself.
//!
//! Shape (`BRIDGE_MEDIA_THREADS` = N, see `README.md` for why this scheme): N media threads
//! each own one `Sfu` with their endpoints (a conference may span threads: its shards'
//! relay messages go from thread to thread in one batch per wake-up), and send their
//! datagrams themselves on a duplicate of the same socket. Media thread 0 reads every
//! datagram of the port: its own it handles at once, the others' it hands, in batches, to
//! the media thread that owns the sender ([`Demux`], [`Reader`]); with N = 1 that is the
//! bridge before threads. A media thread never blocks on anything but its inbox, its relay
//! queue, its timer and its command queue, and no lock is taken per packet.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proto::colibri::{ColibriEvent, ColibriRequest, ColibriResponse};
use proto::{ConferenceId, EndpointId};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::candidates;
use crate::demux::{self, Demux, ThreadIndex};
use crate::metrics::Metrics;
use crate::pktinfo;
use crate::relay::Relay;
use crate::sfu::{Sfu, SfuConfig, SfuOutput};
use crate::threads::{self, Notice, StatsBoard, ThreadCommand};
use crate::Error;

pub use crate::threads::Command;

/// The largest datagram read (longer ones are cut and then refused by the core).
const DATAGRAM_MAX: usize = 2048;
/// Batches waiting for one media thread (a bound for the channel; the datagram bound below
/// is what counts).
const INBOX_BATCHES: usize = 256;
/// Datagrams waiting for one media thread; beyond it the reader drops, as a full socket
/// buffer would (RTX and PLI recover). About what the kernel's buffer of one socket holds
/// (a few hundred datagrams): a thread that falls behind must not collect seconds of queue,
/// or STUN consent checks answered late fail whole sessions.
const INBOX_DATAGRAMS: usize = 512;
/// Relay messages waiting for one media thread; beyond it, relayed media is dropped (never
/// the messages that keep the shards consistent). A few hundred milliseconds of a large
/// meeting's packets: a thread this far behind must not collect more.
const RELAY_QUEUE: usize = 4096;
/// Datagrams a media thread takes from its inbox before it flushes: the batches that queued
/// while it worked are forwarded together, so each receiver's session is polled once for
/// all of them (a poll costs the same per receiver whether it sends one packet or several:
/// in a 100-person meeting this shortened the latency tail; measured in `README.md`).
const MERGE_DATAGRAMS: usize = 256;
/// How often `/stats` and the presence figures are refreshed.
const STATS_EVERY: Duration = Duration::from_secs(1);

/// Datagrams for one media thread, copied into one buffer.
#[derive(Debug, Default)]
pub struct Batch {
    data: Vec<u8>,
    items: Vec<(SocketAddr, Option<IpAddr>, usize, usize)>,
}

impl Batch {
    fn push(&mut self, src: SocketAddr, dst: Option<IpAddr>, bytes: &[u8]) {
        let start = self.data.len();
        self.data.extend_from_slice(bytes);
        self.items.push((src, dst, start, self.data.len()));
    }
}

/// What the reader learns from the media threads.
#[derive(Debug)]
pub enum ReaderNote {
    /// An endpoint was allocated (or restarted ICE) on this thread with this bridge ufrag.
    Ufrag(String, ThreadIndex),
    /// All ufrags of this thread's endpoints now.
    Live(ThreadIndex, HashSet<String>),
}

/// Settings of the media threads.
pub struct MediaSetup {
    pub socket: std::net::UdpSocket,
    pub bound: SocketAddr,
    pub sfu: SfuConfig,
    /// `BRIDGE_MEDIA_THREADS`, at least 1.
    pub threads: usize,
    /// `BRIDGE_THREAD_SLACK`: see [`threads::Placement`].
    pub spread_slack: usize,
    pub drain_timeout: Duration,
}

/// Handles of the running media threads.
pub struct Media {
    /// Colibri requests in (the bus's side).
    pub commands: mpsc::Sender<Command>,
    /// Colibri events of every thread, for focus.
    pub events: mpsc::UnboundedReceiver<ColibriEvent>,
    /// The threads' figures and health.
    pub board: Arc<StatsBoard>,
    /// One set of counters per media thread (summed in `/metrics`).
    pub metrics: Vec<Arc<Metrics>>,
    /// Ends when every media thread has ended: `Ok` after a drain, else the first failure.
    pub done: tokio::task::JoinHandle<Result<(), Error>>,
}

/// Starts the media threads and the dispatcher. Must be called inside a tokio
/// runtime (the dispatcher and the watchers of the threads run there).
pub fn start(setup: MediaSetup, shutdown: CancellationToken) -> Result<Media, Error> {
    let n = setup.threads.max(1);
    let board = Arc::new(StatsBoard::new(n, &setup.sfu.version));
    let (cmd_tx, cmd_rx) = mpsc::channel(256);
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let (notice_tx, notice_rx) = mpsc::unbounded_channel();
    let (note_tx, note_rx) = std::sync::mpsc::channel();
    let draining_told = Arc::new(AtomicBool::new(false));
    let mut thread_cmds = Vec::new();
    let mut watchers = Vec::new();
    let metrics: Vec<Arc<Metrics>> = (0..n).map(|_| Arc::new(Metrics::default())).collect();
    let (relay_txs, mut relay_rxs): (Vec<_>, Vec<_>) = (0..n)
        .map(|_| {
            let (tx, rx) = mpsc::unbounded_channel();
            let queued = Arc::new(AtomicUsize::new(0));
            ((tx, queued.clone()), Some((rx, queued)))
        })
        .unzip();
    let (inboxes, mut inbox_rxs): (Vec<_>, Vec<_>) = (0..n)
        .map(|_| {
            let (tx, rx) = mpsc::channel(INBOX_BATCHES);
            let queued = Arc::new(AtomicUsize::new(0));
            ((tx, queued.clone()), Some((rx, queued)))
        })
        .unzip();
    // Thread 0 reads the port for every thread (with one thread: for itself).
    let mut reader = Some(Reader {
        inboxes,
        metrics: metrics.clone(),
        notes: note_rx,
        demux: Demux::default(),
        batches: (0..n).map(|_| Batch::default()).collect(),
        recv: pktinfo::RecvBatch::new(DATAGRAM_MAX),
        own: 0,
    });
    for (index, counters) in metrics.iter().enumerate() {
        let (tc_tx, tc_rx) = mpsc::unbounded_channel();
        thread_cmds.push(tc_tx);
        let mut sfu = Sfu::new(setup.sfu.clone(), counters.clone());
        sfu.set_thread(index, n);
        let (Some((relay_in, relay_queued)), Some((inbox, queued))) =
            (relay_rxs.get_mut(index).and_then(Option::take), inbox_rxs.get_mut(index).and_then(Option::take))
        else {
            return Err(Error::MediaThread(format!("no queues for thread {index}")));
        };
        let task = MediaThread {
            index,
            sfu,
            relay_in,
            relay_queued,
            relay_out: relay_txs.clone(),
            socket: setup.socket.try_clone()?,
            receive: if index == 0 { Some(setup.socket.try_clone()?) } else { None },
            reader: if index == 0 { reader.take() } else { None },
            bound: setup.bound,
            candidates: setup.sfu.candidates.clone(),
            inbox,
            queued,
            commands: tc_rx,
            notices: notice_tx.clone(),
            notes: note_tx.clone(),
            events: ev_tx.clone(),
            draining_told: draining_told.clone(),
            board: board.clone(),
            drain_timeout: setup.drain_timeout,
            placed: HashSet::new(),
            ufrags: HashMap::new(),
            outgoing: Vec::new(),
        };
        let stop = shutdown.clone();
        watchers.push(spawn_watched(
            format!("bridge-media-{index}"),
            format!("media thread {index}"),
            move || task.run(stop),
            board.clone(),
            shutdown.clone(),
        )?);
    }
    drop((notice_tx, note_tx, ev_tx));

    tokio::spawn(threads::dispatch(cmd_rx, thread_cmds, notice_rx, board.clone(), setup.spread_slack));
    let done = tokio::spawn(async move {
        let mut first_error = None;
        for w in watchers {
            let r = w.await.unwrap_or_else(|e| Err(Error::MediaThread(format!("watcher: {e}"))));
            if let (Err(e), None) = (r, &first_error) {
                first_error = Some(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    });
    Ok(Media { commands: cmd_tx, events: ev_rx, board, metrics, done })
}

/// The reading of the port, done by media thread 0 for every thread: each datagram goes to
/// its owner ([`Demux`]), its own ones at once, the others' in one batch per thread.
struct Reader {
    /// Each media thread's inbox and how many datagrams wait in it.
    inboxes: Vec<(mpsc::Sender<Batch>, Arc<AtomicUsize>)>,
    /// The media threads' counters: a dropped batch is counted on its thread.
    metrics: Vec<Arc<Metrics>>,
    notes: std::sync::mpsc::Receiver<ReaderNote>,
    demux: Demux,
    /// One batch being filled per thread.
    batches: Vec<Batch>,
    /// What one `recvmmsg` read.
    recv: pktinfo::RecvBatch,
    /// Which of `recv`'s datagrams are the reading thread's own (bit i: datagram i).
    own: u64,
}

// `Reader::own` has a bit for each datagram of one read.
const _: () = assert!(pktinfo::BATCH <= u64::BITS as usize);

impl Reader {
    /// Reads what the socket has (up to [`pktinfo::BATCH`] datagrams, one system call) and
    /// hands the other threads theirs at once, in one batch per thread, before thread
    /// `own` spends any time on its own ones: those stay in the buffer for [`Reader::own`].
    /// With one thread every datagram is its own, and nothing is looked up.
    fn read(&mut self, socket: &UdpSocket, own: ThreadIndex) {
        self.own = 0;
        let alone = self.inboxes.len() < 2;
        // Also alone: the notes must not pile up.
        take_notes(&self.notes, &mut self.demux);
        let recv = &mut self.recv;
        if socket.try_io(tokio::io::Interest::READABLE, || recv.recv(socket)).is_err() {
            return;
        }
        for (i, (d, data)) in self.recv.datagrams().enumerate() {
            if alone {
                self.own |= 1 << i;
                continue;
            }
            // A first STUN request may name an endpoint allocated since the notes were
            // last read.
            if demux::stun_request_ufrag(data).is_some_and(|u| !self.demux.knows(u)) {
                take_notes(&self.notes, &mut self.demux);
            }
            let t = self.demux.route(d.source, data);
            if t == own {
                self.own |= 1 << i;
                continue;
            }
            let (Some(b), Some((_, queued)), Some(metrics)) =
                (self.batches.get_mut(t), self.inboxes.get(t), self.metrics.get(t))
            else {
                continue;
            };
            if queued.load(Ordering::Relaxed) + b.items.len() >= INBOX_DATAGRAMS {
                metrics.inbox_dropped_total.inc();
            } else {
                b.push(d.source, d.destination, data);
            }
        }
        for (t, b) in self.batches.iter_mut().enumerate() {
            if b.items.is_empty() {
                continue;
            }
            let batch = std::mem::take(b);
            // One batch, one inbox and one set of counters per thread, built together.
            let (Some((inbox, queued)), Some(metrics)) = (self.inboxes.get(t), self.metrics.get(t)) else {
                continue;
            };
            let n = batch.items.len();
            queued.fetch_add(n, Ordering::Relaxed);
            if let Err(e) = inbox.try_send(batch) {
                let dropped = match &e {
                    mpsc::error::TrySendError::Full(b) | mpsc::error::TrySendError::Closed(b) => b.items.len(),
                };
                queued.fetch_sub(n, Ordering::Relaxed);
                metrics.inbox_dropped_total.add(dropped as u64);
                tracing::trace!("media thread {t} inbox full or closed; {dropped} datagrams dropped");
            }
        }
    }

    /// The reading thread's own datagrams of the last [`Reader::read`]: source, local
    /// address, bytes.
    fn own(&self) -> impl Iterator<Item = (SocketAddr, Option<IpAddr>, &[u8])> {
        let own = self.own;
        self.recv
            .datagrams()
            .enumerate()
            .filter(move |(i, _)| own & (1 << i) != 0)
            .map(|(_, (d, data))| (d.source, d.destination, data))
    }

    /// Whether every thread but `own` has ended (their inboxes are closed).
    fn others_ended(&self, own: ThreadIndex) -> bool {
        self.inboxes.iter().enumerate().all(|(t, (inbox, _))| t == own || inbox.is_closed())
    }
}

/// Applies what the media threads told the reader about their endpoints.
fn take_notes(notes: &std::sync::mpsc::Receiver<ReaderNote>, demux: &mut Demux) {
    while let Ok(note) = notes.try_recv() {
        match note {
            ReaderNote::Ufrag(u, t) => demux.register(u, t),
            ReaderNote::Live(t, set) => demux.live(t, &set),
        }
    }
}

/// Relay messages from one thread to another, in one batch.
type RelayBatch = (ThreadIndex, Vec<(ConferenceId, Relay)>);

/// One media thread: its `Sfu`, its inbox of datagrams and its commands.
struct MediaThread {
    index: ThreadIndex,
    sfu: Sfu,
    /// Relay messages from the other threads, and how many wait (shared with the senders).
    relay_in: mpsc::UnboundedReceiver<RelayBatch>,
    relay_queued: Arc<AtomicUsize>,
    /// Every thread's relay queue (this one's unused), with its waiting count.
    relay_out: Vec<(mpsc::UnboundedSender<RelayBatch>, Arc<AtomicUsize>)>,
    /// A duplicate of the port's socket, for sending.
    socket: std::net::UdpSocket,
    /// Thread 0: the socket it reads for every thread, and how it hands the others theirs
    /// (a separate reader thread would add a hand-off per datagram: measured in `README.md`).
    receive: Option<std::net::UdpSocket>,
    reader: Option<Reader>,
    bound: SocketAddr,
    candidates: Vec<SocketAddr>,
    inbox: mpsc::Receiver<Batch>,
    /// Datagrams in `inbox`, shared with the reader, which drops beyond `INBOX_DATAGRAMS`.
    queued: Arc<AtomicUsize>,
    commands: mpsc::UnboundedReceiver<ThreadCommand>,
    notices: mpsc::UnboundedSender<Notice>,
    /// To thread 0's [`Reader`]: this thread's ufrags.
    notes: std::sync::mpsc::Sender<ReaderNote>,
    events: mpsc::UnboundedSender<ColibriEvent>,
    /// One `Draining` event for the bridge, whichever thread drains first.
    draining_told: Arc<AtomicBool>,
    board: Arc<StatsBoard>,
    drain_timeout: Duration,
    /// The endpoints this thread has, as the dispatcher last heard.
    placed: HashSet<(ConferenceId, EndpointId)>,
    /// The bridge's ufrag of each endpoint allocated here.
    ufrags: HashMap<(ConferenceId, EndpointId), String>,
    /// Datagrams of one flush, sent together (`sendmmsg`).
    outgoing: Vec<(SocketAddr, str0m::net::DatagramSend)>,
}

impl MediaThread {
    /// Runs until `shutdown`, then drains: no new conferences, focus is told, and the thread
    /// ends once its conferences are gone or `drain_timeout` passed.
    async fn run(mut self, shutdown: CancellationToken) -> Result<(), Error> {
        let mut drain_deadline: Option<tokio::time::Instant> = None;
        let mut stats_tick = tokio::time::interval(STATS_EVERY);
        let receive = match self.receive.take() {
            Some(s) => Some(UdpSocket::from_std(s)?),
            None => None,
        };
        loop {
            let deadline = self.flush();
            self.report_gone();
            if let Some(d) = drain_deadline {
                // The thread that reads for all stays until the others have drained.
                let others_done = self.reader.as_ref().is_none_or(|r| r.others_ended(self.index));
                if (self.sfu.conference_count() == 0 && others_done) || tokio::time::Instant::now() >= d {
                    self.publish_stats();
                    tracing::info!(
                        thread = self.index,
                        conferences = self.sfu.conference_count(),
                        "drained, media thread stops"
                    );
                    return Ok(());
                }
            }
            let sleep_until = tokio::time::Instant::from_std(deadline)
                .min(drain_deadline.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600)));
            tokio::select! {
                Some(batch) = self.inbox.recv() => {
                    let mut n = batch.items.len();
                    self.on_batch(batch);
                    // Batches that queued up meanwhile are handled before the next flush.
                    while n < MERGE_DATAGRAMS {
                        let Ok(batch) = self.inbox.try_recv() else { break };
                        n += batch.items.len();
                        self.on_batch(batch);
                    }
                }
                Some((from, msgs)) = self.relay_in.recv() => {
                    self.relay_queued.fetch_sub(msgs.len(), Ordering::Relaxed);
                    self.sfu.handle_relay(Instant::now(), from, msgs);
                }
                r = readable(receive.as_ref()) => {
                    if let Err(e) = r {
                        tracing::debug!("udp socket error: {e}");
                    }
                    if let (Some(socket), Some(mut reader)) = (&receive, self.reader.take()) {
                        reader.read(socket, self.index);
                        self.handle_datagrams(reader.own());
                        self.reader = Some(reader);
                    }
                }
                _ = tokio::time::sleep_until(sleep_until) => self.sfu.handle_timeout(Instant::now()),
                Some(cmd) = self.commands.recv() => match cmd {
                    ThreadCommand::Colibri(req, reply) => self.on_colibri(req, reply),
                    ThreadCommand::StopForTest { panic } => {
                        if panic {
                            panic!("media thread {} told to panic (test hook)", self.index);
                        }
                        return Ok(());
                    }
                },
                _ = stats_tick.tick() => {
                    self.publish_stats();
                    self.tell_reader_live();
                }
                _ = shutdown.cancelled(), if drain_deadline.is_none() => {
                    tracing::info!(thread = self.index, "shutdown requested: draining");
                    self.sfu.start_draining();
                    self.publish_stats();
                    drain_deadline = Some(tokio::time::Instant::now() + self.drain_timeout);
                }
            }
        }
    }

    fn on_batch(&mut self, batch: Batch) {
        self.queued.fetch_sub(batch.items.len(), Ordering::Relaxed);
        let datagrams =
            batch.items.iter().filter_map(|&(src, dst, start, end)| Some((src, dst, batch.data.get(start..end)?)));
        self.handle_datagrams(datagrams);
    }

    /// Hands datagrams to the core; what they cause leaves at the next flush.
    fn handle_datagrams<'a>(&mut self, datagrams: impl Iterator<Item = (SocketAddr, Option<IpAddr>, &'a [u8])>) {
        let now = Instant::now();
        for (src, dst, data) in datagrams {
            let dst = destination(&self.candidates, self.bound, src, dst);
            self.sfu.handle_datagram(now, src, dst, data);
        }
    }

    fn on_colibri(&mut self, req: ColibriRequest, reply: oneshot::Sender<Result<ColibriResponse, Error>>) {
        let about = match &req {
            ColibriRequest::Allocate { conference, endpoint, .. }
            | ColibriRequest::Answer { conference, endpoint, .. }
            | ColibriRequest::Expire { conference, endpoint }
            | ColibriRequest::ForceMute { conference, endpoint, .. } => Some((conference.clone(), endpoint.clone())),
            ColibriRequest::ExpireConference { .. } | ColibriRequest::Health => None,
        };
        let r = self.sfu.handle_colibri(Instant::now(), req);
        if let Err(e) = &r {
            tracing::info!(thread = self.index, "colibri request refused: {e}");
        }
        if let Some((conference, endpoint)) = about {
            if let Ok(ColibriResponse::Allocated { answer }) = &r {
                if let Some(u) = demux::sdp_ufrag(answer) {
                    // Before the answer leaves: the peer's first STUN request names it.
                    let _ = self.notes.send(ReaderNote::Ufrag(u.to_string(), self.index));
                    self.ufrags.insert((conference.clone(), endpoint.clone()), u.to_string());
                }
            }
            let exists = self.sfu.conference(&conference).is_some_and(|c| c.index_of(&endpoint).is_some());
            let key = (conference.clone(), endpoint.clone());
            if exists {
                self.placed.insert(key);
            } else {
                self.placed.remove(&key);
            }
            let _ = self.notices.send(Notice::Handled { thread: self.index, conference, endpoint, exists });
        }
        if !matches!(r, Ok(ColibriResponse::Health { .. })) {
            self.publish_stats();
        }
        let _ = reply.send(r);
    }

    /// Endpoints that ended without a request about them (they failed, or their
    /// conference expired): the dispatcher forgets them. Only Colibri requests create
    /// endpoints, so a drop in the count is all there is to look for.
    fn report_gone(&mut self) {
        if self.sfu.endpoint_count() >= self.placed.len() {
            return;
        }
        let sfu = &self.sfu;
        let gone: Vec<(ConferenceId, EndpointId)> = self
            .placed
            .iter()
            .filter(|(c, e)| sfu.conference(c).is_none_or(|conf| conf.index_of(e).is_none()))
            .cloned()
            .collect();
        for (conference, endpoint) in gone {
            self.placed.remove(&(conference.clone(), endpoint.clone()));
            let _ = self.notices.send(Notice::Gone { thread: self.index, conference, endpoint });
        }
    }

    /// Hands the relay messages the core made to their threads, one batch each. Beyond
    /// `RELAY_QUEUE` waiting at a thread, its relayed media is dropped and counted.
    fn send_relays(&mut self) {
        for (t, mut msgs) in self.sfu.take_relays() {
            let Some((tx, queued)) = self.relay_out.get(t) else { continue };
            if queued.load(Ordering::Relaxed) + msgs.len() > RELAY_QUEUE {
                let before = msgs.len();
                msgs.retain(|(_, m)| !m.droppable());
                self.sfu.metrics().relay_dropped_total.add((before - msgs.len()) as u64);
                if msgs.is_empty() {
                    continue;
                }
            }
            queued.fetch_add(msgs.len(), Ordering::Relaxed);
            // A closed queue: that thread has ended, and the board already says so.
            let _ = tx.send((self.index, msgs));
        }
    }

    /// Tells the reader which ufrags are still this thread's, so it forgets the others.
    fn tell_reader_live(&mut self) {
        let sfu = &self.sfu;
        self.ufrags.retain(|(c, e), _| sfu.conference(c).is_some_and(|conf| conf.index_of(e).is_some()));
        let live: HashSet<String> = self.ufrags.values().cloned().collect();
        let _ = self.notes.send(ReaderNote::Live(self.index, live));
    }

    fn publish_stats(&mut self) {
        self.board.publish(self.index, self.sfu.stats(Instant::now()));
    }

    /// Sends what the core produced (in batches of [`pktinfo::BATCH`] per system call);
    /// returns its next deadline.
    fn flush(&mut self) -> Instant {
        // What the datagrams just handled mean for the other threads goes first: they forward
        // it while this thread polls its own receivers.
        self.send_relays();
        loop {
            match self.sfu.poll_output() {
                SfuOutput::Transmit(t) => {
                    self.outgoing.push((t.destination, t.contents));
                    if self.outgoing.len() >= pktinfo::BATCH {
                        self.send_outgoing();
                    }
                }
                SfuOutput::Event(ColibriEvent::Draining) => {
                    if !self.draining_told.swap(true, Ordering::Relaxed) {
                        let _ = self.events.send(ColibriEvent::Draining);
                    }
                }
                SfuOutput::Event(e) => {
                    let _ = self.events.send(e);
                }
                SfuOutput::Timeout(t) => {
                    self.send_outgoing();
                    self.send_relays();
                    return t;
                }
            }
        }
    }

    fn send_outgoing(&mut self) {
        // A full socket buffer drops a datagram like the network would; RTX and PLI recover.
        let refused = pktinfo::send_many(&self.socket, &self.outgoing);
        if refused > 0 {
            tracing::trace!("udp send: {refused} datagrams refused");
        }
        self.outgoing.clear();
    }
}

/// The candidate with the address a datagram really arrived on (`local_ip`), else a guess
/// (advertised addresses behind NAT are not local).
fn destination(candidates: &[SocketAddr], bound: SocketAddr, src: SocketAddr, local_ip: Option<IpAddr>) -> SocketAddr {
    local_ip
        .and_then(|ip| candidates.iter().find(|c| c.ip() == ip).copied())
        .unwrap_or_else(|| candidates::destination_for(src, bound, candidates))
}

/// Runs `work` on its own thread (`name`) with a single-threaded runtime, so a datagram
/// wakes it without a hand-off between threads. The returned task ends with its result; a
/// failure, a panic, or an end before `shutdown` marks `board` failed, naming it `what`.
fn spawn_watched<F, Fut>(
    name: String,
    what: String,
    work: F,
    board: Arc<StatsBoard>,
    shutdown: CancellationToken,
) -> Result<tokio::task::JoinHandle<Result<(), Error>>, Error>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let (done_tx, done_rx) = oneshot::channel();
    std::thread::Builder::new().name(name).spawn(move || {
        let result = (|| {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(work())
        })();
        let _ = done_tx.send(result);
    })?;
    Ok(tokio::spawn(async move {
        let result = match done_rx.await {
            Ok(Ok(())) if shutdown.is_cancelled() => return Ok(()),
            Ok(Ok(())) => Err(Error::MediaThread(format!("{what} ended"))),
            Ok(Err(e)) => Err(Error::MediaThread(format!("{what} failed: {e}"))),
            Err(_) => Err(Error::MediaThread(format!("{what} panicked"))),
        };
        if let Err(e) = &result {
            board.fail(e.to_string());
        }
        result
    }))
}

/// Readiness of the thread's own socket; never, without one.
async fn readable(socket: Option<&UdpSocket>) -> std::io::Result<()> {
    match socket {
        Some(s) => s.readable().await,
        None => std::future::pending().await,
    }
}

/// The media socket, with larger kernel buffers than the default so bursts of video
/// (keyframes from many senders at once) are not dropped.
pub fn bind_media_socket(addr: SocketAddr) -> Result<std::net::UdpSocket, Error> {
    let domain = if addr.is_ipv4() { socket2::Domain::IPV4 } else { socket2::Domain::IPV6 };
    let s = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    let _ = s.set_recv_buffer_size(4 << 20);
    let _ = s.set_send_buffer_size(4 << 20);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    if let Err(e) = crate::pktinfo::enable(&s, addr.is_ipv6()) {
        tracing::warn!("cannot learn datagram destinations (IP_PKTINFO): {e}");
    }
    Ok(s.into())
}
