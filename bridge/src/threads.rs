//! The media threads seen from outside: which thread holds which endpoint
//! ([`Placement`]), the Colibri dispatcher that routes focus's requests there
//! ([`dispatch`]), and the [`StatsBoard`] where every thread publishes its figures, summed
//! for `/stats` and the presence, and where a thread that died makes the bridge unhealthy.
//!
//! Each endpoint lives on one thread, chosen at its first allocation ([`Placement`]); a
//! conference may span threads, whose shards relay media to each other (`relay`). No
//! media decision is made here and no lock is taken on the media path: threads publish
//! their stats once a second and after each Colibri request.

use std::collections::HashMap;
use std::sync::Mutex;

use proto::colibri::{BridgeStats, ColibriRequest, ColibriResponse};
use proto::{ConferenceId, EndpointId};
use tokio::sync::{mpsc, oneshot, watch};

use crate::demux::ThreadIndex;
use crate::Error;

/// What the bus (or a test) asks of the media threads.
#[derive(Debug)]
pub enum Command {
    Colibri(ColibriRequest, oneshot::Sender<Result<ColibriResponse, Error>>),
    /// Test hook, never sent by the bus: the thread ends as if it had failed (`panic: true`:
    /// it panics), so tests can see the bridge turn unhealthy.
    #[doc(hidden)]
    StopThreadForTest {
        thread: ThreadIndex,
        panic: bool,
    },
}

/// A request handed to one media thread.
#[derive(Debug)]
pub enum ThreadCommand {
    Colibri(ColibriRequest, oneshot::Sender<Result<ColibriResponse, Error>>),
    StopForTest { panic: bool },
}

/// What a thread tells the dispatcher about one endpoint, in the order it happened there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A Colibri request for this endpoint was handled; whether it exists after.
    Handled { thread: ThreadIndex, conference: ConferenceId, endpoint: EndpointId, exists: bool },
    /// The endpoint ended without a request about it (it failed, or its conference expired).
    Gone { thread: ThreadIndex, conference: ConferenceId, endpoint: EndpointId },
}

/// Which thread holds each endpoint. An endpoint stays mapped while requests for it are on
/// their way to its thread, and is forgotten only when the last word from that thread
/// (which handles its requests and timeouts in one order) says it no longer exists: so an
/// endpoint is never on two threads at once, and its requests keep their order.
///
/// A new endpoint joins a thread its conference already uses, unless that thread has more
/// than `slack` endpoints above the least loaded one: then it goes to the least loaded
/// thread, and the conference spans both (stage 2 of issue 13). Small meetings stay whole
/// on one thread (no relaying), a large one spreads over every thread.
#[derive(Debug)]
pub struct Placement {
    endpoints: HashMap<(ConferenceId, EndpointId), Owned>,
    threads: usize,
    slack: usize,
}

#[derive(Debug, Clone, Copy)]
struct Owned {
    thread: ThreadIndex,
    in_flight: usize,
}

impl Placement {
    pub fn new(threads: usize, slack: usize) -> Self {
        Placement { endpoints: HashMap::new(), threads: threads.max(1), slack }
    }

    /// The thread of an existing endpoint.
    pub fn owner(&self, conference: &ConferenceId, endpoint: &EndpointId) -> Option<ThreadIndex> {
        self.endpoints.get(&(conference.clone(), endpoint.clone())).map(|o| o.thread)
    }

    /// The threads holding endpoints of `conference`, lowest first.
    pub fn threads_of(&self, conference: &ConferenceId) -> Vec<ThreadIndex> {
        let mut v: Vec<ThreadIndex> =
            self.endpoints.iter().filter(|((c, _), _)| c == conference).map(|(_, o)| o.thread).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Endpoints per thread, as placed (requests in flight included).
    pub fn load(&self) -> Vec<usize> {
        let mut load = vec![0usize; self.threads];
        for o in self.endpoints.values() {
            if let Some(l) = load.get_mut(o.thread) {
                *l += 1;
            }
        }
        load
    }

    /// The thread a request for `endpoint` goes to: its own, or for a new endpoint the one
    /// chosen as described above. Counts the request as in flight.
    /// `draining`: the bridge takes no new conferences, and a thread without this one would
    /// refuse to start a shard of it: a new endpoint joins one of its threads, whatever the
    /// load.
    pub fn route(&mut self, conference: &ConferenceId, endpoint: &EndpointId, draining: bool) -> ThreadIndex {
        let key = (conference.clone(), endpoint.clone());
        let thread = match self.endpoints.get(&key) {
            Some(o) => o.thread,
            None => {
                let load = self.load();
                let least = load.iter().copied().min().unwrap_or(0);
                let ours = self.threads_of(conference);
                let slack = if draining { usize::MAX - least } else { self.slack };
                let within = ours.iter().copied().filter(|t| load[*t] <= least + slack).min_by_key(|t| load[*t]);
                within
                    .unwrap_or_else(|| (0..self.threads).min_by_key(|&t| (load[t], !ours.contains(&t), t)).unwrap_or(0))
            }
        };
        self.endpoints.entry(key).or_insert(Owned { thread, in_flight: 0 }).in_flight += 1;
        thread
    }

    /// A request routed with `route` never reached its thread (the thread is gone).
    pub fn undeliverable(&mut self, conference: &ConferenceId, endpoint: &EndpointId) {
        self.settle(&(conference.clone(), endpoint.clone()), None, false);
    }

    pub fn notice(&mut self, n: Notice) {
        match n {
            Notice::Handled { thread, conference, endpoint, exists } => {
                self.settle(&(conference, endpoint), Some(thread), exists)
            }
            Notice::Gone { thread, conference, endpoint } => {
                let key = (conference, endpoint);
                if self.endpoints.get(&key).is_some_and(|o| o.thread == thread && o.in_flight == 0) {
                    self.endpoints.remove(&key);
                }
            }
        }
    }

    fn settle(&mut self, key: &(ConferenceId, EndpointId), thread: Option<ThreadIndex>, exists: bool) {
        let Some(o) = self.endpoints.get_mut(key) else { return };
        if thread.is_some_and(|t| t != o.thread) {
            return;
        }
        o.in_flight = o.in_flight.saturating_sub(1);
        if o.in_flight == 0 && !exists {
            self.endpoints.remove(key);
        }
    }

    pub fn len(&self) -> usize {
        self.endpoints.len()
    }

    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }
}

/// Every thread's latest figures; their sum is what `/stats` and the presence show.
pub struct StatsBoard {
    slots: Mutex<Vec<BridgeStats>>,
    sum: watch::Sender<BridgeStats>,
    failure: watch::Sender<Option<String>>,
}

impl StatsBoard {
    pub fn new(threads: usize, version: &str) -> Self {
        let zero = BridgeStats { version: version.into(), ..Default::default() };
        StatsBoard {
            slots: Mutex::new(vec![zero.clone(); threads.max(1)]),
            sum: watch::channel(zero).0,
            failure: watch::channel(None).0,
        }
    }

    pub fn publish(&self, thread: ThreadIndex, stats: BridgeStats) {
        // A thread that panicked while holding the lock only left a whole `BridgeStats`.
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = slots.get_mut(thread) {
            *s = stats;
        }
        let sum = sum(&slots);
        drop(slots);
        self.sum.send_replace(sum);
    }

    /// Endpoints per thread, for placing a new conference.
    pub fn endpoints(&self) -> Vec<u32> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|s| s.endpoints).collect()
    }

    /// A thread died: the bridge is unhealthy from now on (health checks fail, focus moves
    /// the conferences away).
    pub fn fail(&self, why: String) {
        tracing::error!("{why}: the bridge reports unhealthy");
        self.failure.send_if_modified(|f| {
            if f.is_none() {
                *f = Some(why);
                true
            } else {
                false
            }
        });
    }

    pub fn failure(&self) -> Option<String> {
        self.failure.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<BridgeStats> {
        self.sum.subscribe()
    }

    pub fn subscribe_failure(&self) -> watch::Receiver<Option<String>> {
        self.failure.subscribe()
    }
}

/// The bridge's figures: the threads' added up.
pub fn sum(all: &[BridgeStats]) -> BridgeStats {
    let mut s =
        BridgeStats { version: all.first().map(|s| s.version.clone()).unwrap_or_default(), ..Default::default() };
    for t in all {
        s.stress += t.stress;
        s.conferences += t.conferences;
        s.endpoints += t.endpoints;
        s.packet_rate_in += t.packet_rate_in;
        s.packet_rate_out += t.packet_rate_out;
        s.bitrate_in_kbps += t.bitrate_in_kbps;
        s.bitrate_out_kbps += t.bitrate_out_kbps;
        s.draining |= t.draining;
    }
    s
}

/// The endpoint a request is about (`None`: a conference or the bridge as a whole).
fn endpoint_of(req: &ColibriRequest) -> Option<(&ConferenceId, &EndpointId)> {
    match req {
        ColibriRequest::Allocate { conference, endpoint, .. }
        | ColibriRequest::Answer { conference, endpoint, .. }
        | ColibriRequest::Expire { conference, endpoint }
        | ColibriRequest::ForceMute { conference, endpoint, .. } => Some((conference, endpoint)),
        ColibriRequest::ExpireConference { .. } | ColibriRequest::Health => None,
    }
}

/// Routes Colibri requests to the threads until the command channel closes. A request for
/// an endpoint goes to its thread (a new endpoint's allocation as [`Placement`] decides);
/// a request about an unknown conference or endpoint is answered here as a thread would;
/// `ExpireConference` goes to every thread holding the conference; `Health` asks every
/// thread and sums their answers, and fails when any thread is gone.
pub async fn dispatch(
    mut commands: mpsc::Receiver<Command>,
    threads: Vec<mpsc::UnboundedSender<ThreadCommand>>,
    mut notices: mpsc::UnboundedReceiver<Notice>,
    board: std::sync::Arc<StatsBoard>,
    slack: usize,
) {
    let mut map = Placement::new(threads.len(), slack);
    loop {
        tokio::select! {
            // Notices first: a thread's word on an endpoint precedes the next request for it.
            biased;
            Some(n) = notices.recv() => map.notice(n),
            cmd = commands.recv() => {
                let Some(cmd) = cmd else { return };
                match cmd {
                    Command::Colibri(ColibriRequest::Health, reply) => health(&threads, &board, reply),
                    Command::Colibri(ColibriRequest::ExpireConference { conference }, reply) => {
                        let holders = map.threads_of(&conference);
                        expire_conference(&threads, &holders, conference, reply);
                    }
                    Command::Colibri(req, reply) => {
                        let Some((conference, endpoint)) = endpoint_of(&req).map(|(c, e)| (c.clone(), e.clone())) else {
                            continue;
                        };
                        if !matches!(req, ColibriRequest::Allocate { .. }) && map.owner(&conference, &endpoint).is_none() {
                            let what = if map.threads_of(&conference).is_empty() {
                                format!("conference {conference}")
                            } else {
                                format!("endpoint {endpoint}")
                            };
                            let _ = reply.send(Err(Error::NotFound(what)));
                            continue;
                        }
                        let draining = board.subscribe().borrow().draining;
                        let t = map.route(&conference, &endpoint, draining);
                        if let Err(mpsc::error::SendError(ThreadCommand::Colibri(_, reply))) =
                            threads[t].send(ThreadCommand::Colibri(req, reply))
                        {
                            map.undeliverable(&conference, &endpoint);
                            let _ = reply.send(Err(Error::MediaThread(format!("media thread {t} stopped"))));
                        }
                    }
                    Command::StopThreadForTest { thread, panic } => {
                        if let Some(t) = threads.get(thread) {
                            let _ = t.send(ThreadCommand::StopForTest { panic });
                        }
                    }
                }
            }
        }
    }
}

/// Expires a conference on every thread holding it; done when any of them had it.
fn expire_conference(
    threads: &[mpsc::UnboundedSender<ThreadCommand>],
    holders: &[ThreadIndex],
    conference: ConferenceId,
    reply: oneshot::Sender<Result<ColibriResponse, Error>>,
) {
    let mut answers = Vec::new();
    for t in holders.iter().filter_map(|t| threads.get(*t)) {
        let (tx, rx) = oneshot::channel();
        let _ = t.send(ThreadCommand::Colibri(ColibriRequest::ExpireConference { conference: conference.clone() }, tx));
        answers.push(rx);
    }
    tokio::spawn(async move {
        let mut result = Err(Error::NotFound(format!("conference {conference}")));
        for rx in answers {
            match rx.await {
                Ok(Ok(r)) => result = Ok(r),
                Ok(Err(e)) if result.is_err() => result = Err(e),
                _ => {}
            }
        }
        let _ = reply.send(result);
    });
}

fn health(
    threads: &[mpsc::UnboundedSender<ThreadCommand>],
    board: &StatsBoard,
    reply: oneshot::Sender<Result<ColibriResponse, Error>>,
) {
    if let Some(why) = board.failure() {
        let _ = reply.send(Err(Error::MediaThread(why)));
        return;
    }
    let mut answers = Vec::new();
    for t in threads {
        let (tx, rx) = oneshot::channel();
        let _ = t.send(ThreadCommand::Colibri(ColibriRequest::Health, tx));
        answers.push(rx);
    }
    tokio::spawn(async move {
        let mut all = Vec::new();
        for (i, rx) in answers.into_iter().enumerate() {
            match rx.await {
                Ok(Ok(ColibriResponse::Health { stats })) => all.push(stats),
                Ok(Err(e)) => {
                    let _ = reply.send(Err(e));
                    return;
                }
                _ => {
                    let _ = reply.send(Err(Error::MediaThread(format!("media thread {i} stopped"))));
                    return;
                }
            }
        }
        let _ = reply.send(Ok(ColibriResponse::Health { stats: sum(&all) }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> ConferenceId {
        ConferenceId::new(s).expect("valid id")
    }

    fn e(s: &str) -> EndpointId {
        EndpointId::new(s).expect("valid id")
    }

    #[test]
    fn small_meetings_stay_whole_and_a_large_one_spreads() {
        let mut m = Placement::new(2, 2);
        // Meeting a starts on thread 0 and stays there while within the slack.
        for n in ["a1", "a2", "a3"] {
            assert_eq!(m.route(&c("a"), &e(n), false), 0, "{n}");
        }
        // A new meeting goes to the least loaded thread.
        assert_eq!(m.route(&c("b"), &e("b1"), false), 1);
        assert_eq!(m.route(&c("b"), &e("b2"), false), 1);
        // a has 3 on thread 0, thread 1 has 2: still within the slack of 2.
        assert_eq!(m.route(&c("a"), &e("a4"), false), 0);
        assert_eq!(m.route(&c("a"), &e("a5"), false), 0);
        // Thread 0 now has 5, thread 1 has 2: beyond the slack, a spreads.
        assert_eq!(m.route(&c("a"), &e("a6"), false), 1);
        assert_eq!(m.threads_of(&c("a")), vec![0, 1]);
        // Within the slack again: the less loaded of a's threads.
        assert_eq!(m.route(&c("a"), &e("a7"), false), 1);
        assert_eq!(m.load(), vec![5, 4]);
        // An existing endpoint stays where it is.
        assert_eq!(m.route(&c("a"), &e("a1"), false), 0);
        // Draining: a new endpoint joins the conference's threads whatever the load.
        assert_eq!(m.route(&c("a"), &e("a8"), true), 1);
        assert_eq!(m.load(), vec![5, 5]);
        let mut d = Placement::new(2, 0);
        d.route(&c("d"), &e("d1"), false);
        assert_eq!(d.route(&c("d"), &e("d2"), true), 0, "not spread while draining");
        // Slack 0: every new endpoint to the least loaded thread.
        let mut m = Placement::new(2, 0);
        let placed: Vec<ThreadIndex> = ["x", "y", "z", "w"].iter().map(|n| m.route(&c("a"), &e(n), false)).collect();
        assert_eq!(placed, vec![0, 1, 0, 1]);
    }

    #[test]
    fn an_endpoint_is_forgotten_only_when_its_thread_last_said_it_is_gone() {
        let mut m = Placement::new(2, 8);
        let (a, x) = (c("a"), e("x"));
        // A failed first allocation leaves nothing.
        m.route(&a, &x, false);
        m.notice(Notice::Handled { thread: 0, conference: a.clone(), endpoint: x.clone(), exists: false });
        assert!(m.is_empty());
        // Allocated, then it ended by itself: forgotten.
        m.route(&a, &x, false);
        m.notice(Notice::Handled { thread: 0, conference: a.clone(), endpoint: x.clone(), exists: true });
        assert_eq!(m.owner(&a, &x), Some(0));
        m.notice(Notice::Gone { thread: 0, conference: a.clone(), endpoint: x.clone() });
        assert!(m.is_empty());
        // It ends while a new allocation for it is queued to its thread: kept, and the
        // allocation's outcome decides.
        m.route(&a, &x, false);
        m.notice(Notice::Handled { thread: 0, conference: a.clone(), endpoint: x.clone(), exists: true });
        assert_eq!(m.route(&a, &x, false), 0);
        m.notice(Notice::Gone { thread: 0, conference: a.clone(), endpoint: x.clone() });
        assert_eq!(m.owner(&a, &x), Some(0), "a request is in flight: not forgotten");
        m.notice(Notice::Handled { thread: 0, conference: a.clone(), endpoint: x.clone(), exists: true });
        assert_eq!(m.owner(&a, &x), Some(0));
        // A notice from another thread about it changes nothing.
        m.notice(Notice::Gone { thread: 1, conference: a.clone(), endpoint: x.clone() });
        assert_eq!(m.owner(&a, &x), Some(0));
        // Undeliverable requests do not leave the endpoint pinned forever.
        let y = e("y");
        m.route(&a, &y, false);
        m.undeliverable(&a, &y);
        assert_eq!(m.owner(&a, &y), None);
    }

    #[test]
    fn stats_are_summed() {
        let board = StatsBoard::new(2, "v");
        board.publish(0, BridgeStats { conferences: 1, endpoints: 3, packet_rate_in: 10, ..Default::default() });
        board.publish(1, BridgeStats { conferences: 2, endpoints: 4, draining: true, ..Default::default() });
        let s = board.subscribe().borrow().clone();
        assert_eq!((s.conferences, s.endpoints, s.packet_rate_in, s.draining), (3, 7, 10, true));
        assert_eq!(board.endpoints(), vec![3, 4]);
        assert!(board.failure().is_none());
        board.fail("media thread 1 panicked".into());
        board.fail("second".into());
        assert_eq!(board.failure().as_deref(), Some("media thread 1 panicked"));
    }
}
