//! The media threads seen from outside: which thread owns which conference
//! ([`ConferenceMap`]), the Colibri dispatcher that routes focus's requests there
//! ([`dispatch`]), and the [`StatsBoard`] where every thread publishes its figures, summed
//! for `/stats` and the presence, and where a thread that died makes the bridge unhealthy.
//!
//! Stage 1 of spreading the bridge over cores: a whole conference lives on one thread,
//! chosen when its first endpoint is allocated (the thread with the fewest endpoints). No
//! media decision is made here and no lock is taken on the media path: threads publish
//! their stats once a second and after each Colibri request.

use std::collections::HashMap;
use std::sync::Mutex;

use proto::colibri::{BridgeStats, ColibriRequest, ColibriResponse};
use proto::ConferenceId;
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

/// What a thread tells the dispatcher about one conference, in the order it happened there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A Colibri request for `conference` was handled; whether the conference exists after.
    Handled { thread: ThreadIndex, conference: ConferenceId, exists: bool },
    /// The conference ended without a request (its last endpoint failed or expired).
    Gone { thread: ThreadIndex, conference: ConferenceId },
}

/// Which thread owns each conference. A conference stays mapped while requests for it are
/// on their way to its thread, and is forgotten only when the last word from the thread
/// (which handles its requests and timeouts in one order) says it no longer exists: so a
/// conference that ends while a new allocation for it is queued is re-created on the same
/// thread, never split over two.
#[derive(Debug)]
pub struct ConferenceMap {
    owner: HashMap<ConferenceId, Owned>,
    threads: usize,
}

#[derive(Debug, Clone, Copy)]
struct Owned {
    thread: ThreadIndex,
    in_flight: usize,
}

impl ConferenceMap {
    pub fn new(threads: usize) -> Self {
        ConferenceMap { owner: HashMap::new(), threads: threads.max(1) }
    }

    /// The thread of an existing conference.
    pub fn owner(&self, conference: &ConferenceId) -> Option<ThreadIndex> {
        self.owner.get(conference).map(|o| o.thread)
    }

    /// The thread a request for `conference` goes to: its owner, or for a new conference
    /// the thread with the fewest endpoints (then the fewest conferences, then the lowest
    /// index). Counts the request as in flight.
    pub fn route(&mut self, conference: &ConferenceId, endpoints: &[u32]) -> ThreadIndex {
        let thread = match self.owner.get(conference) {
            Some(o) => o.thread,
            None => {
                let mut confs = vec![0usize; self.threads];
                for o in self.owner.values() {
                    if let Some(c) = confs.get_mut(o.thread) {
                        *c += 1;
                    }
                }
                (0..self.threads).min_by_key(|&t| (endpoints.get(t).copied().unwrap_or(0), confs[t], t)).unwrap_or(0)
            }
        };
        self.owner.entry(conference.clone()).or_insert(Owned { thread, in_flight: 0 }).in_flight += 1;
        thread
    }

    /// A request routed with `route` never reached its thread (the thread is gone).
    pub fn undeliverable(&mut self, conference: &ConferenceId) {
        self.settle(conference, None, false);
    }

    pub fn notice(&mut self, n: Notice) {
        match n {
            Notice::Handled { thread, conference, exists } => self.settle(&conference, Some(thread), exists),
            Notice::Gone { thread, conference } => {
                if let Some(o) = self.owner.get(&conference) {
                    if o.thread == thread && o.in_flight == 0 {
                        self.owner.remove(&conference);
                    }
                }
            }
        }
    }

    fn settle(&mut self, conference: &ConferenceId, thread: Option<ThreadIndex>, exists: bool) {
        let Some(o) = self.owner.get_mut(conference) else { return };
        if thread.is_some_and(|t| t != o.thread) {
            return;
        }
        o.in_flight = o.in_flight.saturating_sub(1);
        if o.in_flight == 0 && !exists {
            self.owner.remove(conference);
        }
    }

    pub fn len(&self) -> usize {
        self.owner.len()
    }

    pub fn is_empty(&self) -> bool {
        self.owner.is_empty()
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

/// The conference a request is about (`None`: the bridge as a whole).
fn conference_of(req: &ColibriRequest) -> Option<&ConferenceId> {
    match req {
        ColibriRequest::Allocate { conference, .. }
        | ColibriRequest::Answer { conference, .. }
        | ColibriRequest::Expire { conference, .. }
        | ColibriRequest::ExpireConference { conference }
        | ColibriRequest::ForceMute { conference, .. } => Some(conference),
        ColibriRequest::Health => None,
    }
}

/// Routes Colibri requests to the threads until the command channel closes. A request for
/// a conference goes to its thread (a new conference's allocation to the least loaded one);
/// a request about an unknown conference is answered here as the thread would; `Health`
/// asks every thread and sums their answers, and fails when any thread is gone.
pub async fn dispatch(
    mut commands: mpsc::Receiver<Command>,
    threads: Vec<mpsc::UnboundedSender<ThreadCommand>>,
    mut notices: mpsc::UnboundedReceiver<Notice>,
    board: std::sync::Arc<StatsBoard>,
) {
    let mut map = ConferenceMap::new(threads.len());
    loop {
        tokio::select! {
            // Notices first: a thread's word on a conference precedes the next request for it.
            biased;
            Some(n) = notices.recv() => map.notice(n),
            cmd = commands.recv() => {
                let Some(cmd) = cmd else { return };
                match cmd {
                    Command::Colibri(ColibriRequest::Health, reply) => health(&threads, &board, reply),
                    Command::Colibri(req, reply) => {
                        let Some(conference) = conference_of(&req).cloned() else { continue };
                        let is_allocate = matches!(req, ColibriRequest::Allocate { .. });
                        if !is_allocate && map.owner(&conference).is_none() {
                            let _ = reply.send(Err(Error::NotFound(format!("conference {conference}"))));
                            continue;
                        }
                        let t = map.route(&conference, &board.endpoints());
                        if let Err(mpsc::error::SendError(ThreadCommand::Colibri(_, reply))) =
                            threads[t].send(ThreadCommand::Colibri(req, reply))
                        {
                            map.undeliverable(&conference);
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

    #[test]
    fn new_conferences_go_to_the_least_loaded_thread() {
        let mut m = ConferenceMap::new(2);
        assert_eq!(m.route(&c("a"), &[0, 0]), 0);
        // Thread 0 already has a conference (its endpoints not yet counted).
        assert_eq!(m.route(&c("b"), &[0, 0]), 1);
        assert_eq!(m.route(&c("a"), &[0, 0]), 0, "an existing conference stays");
        assert_eq!(m.route(&c("x"), &[5, 2]), 1, "fewest endpoints first");
    }

    #[test]
    fn a_conference_is_forgotten_only_when_its_thread_last_said_it_is_gone() {
        let mut m = ConferenceMap::new(2);
        let a = c("a");
        // A failed first allocation leaves nothing.
        m.route(&a, &[0, 0]);
        m.notice(Notice::Handled { thread: 0, conference: a.clone(), exists: false });
        assert!(m.is_empty());
        // Allocated, then it ended by itself: forgotten.
        m.route(&a, &[0, 0]);
        m.notice(Notice::Handled { thread: 0, conference: a.clone(), exists: true });
        assert_eq!(m.owner(&a), Some(0));
        m.notice(Notice::Gone { thread: 0, conference: a.clone() });
        assert!(m.is_empty());
        // It ends while a new allocation for it is queued to its thread: kept, and the
        // allocation's outcome decides.
        m.route(&a, &[0, 0]);
        m.notice(Notice::Handled { thread: 0, conference: a.clone(), exists: true });
        assert_eq!(m.route(&a, &[0, 9]), 0);
        m.notice(Notice::Gone { thread: 0, conference: a.clone() });
        assert_eq!(m.owner(&a), Some(0), "a request is in flight: not forgotten");
        m.notice(Notice::Handled { thread: 0, conference: a.clone(), exists: true });
        assert_eq!(m.owner(&a), Some(0));
        // Undeliverable requests do not leave the conference pinned forever.
        let b = c("b");
        m.route(&b, &[0, 0]);
        m.undeliverable(&b);
        assert_eq!(m.owner(&b), None);
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
