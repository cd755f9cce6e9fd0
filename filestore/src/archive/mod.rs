//! The archive: component `archive.<domain>` on signal's bus (signal/PEOPLE.md). It stores
//! one-to-one conversations, read pointers, calls and the notifications that wait for people,
//! from the copies signal sends it from the server JID `<domain>` — and from nobody else:
//! anything else claiming to be a copy is refused and counted. People query it by IQ (MAM,
//! inbox, notifications, dismiss); the `from` signal stamps on a query says who asks, and
//! every answer covers only that person's own conversations and notifications.
//!
//! It also takes signal's word on removals from rooms (`<revoke room nick/>`): that person's
//! chat connections close and their room tokens are refused on `/chat` and `/files/`.
//!
//! One task (the driver below) owns the bus connection, reconnecting with backoff, and the
//! ring timers of open call proposals; storage goes through the archive's own database
//! thread (`DATA_DIR/archive.sqlite3`). Chat and files never wait for the archive: with the
//! bus down they go on as before.

pub mod answer;
pub mod calls;
pub mod incoming;
pub mod jid;
pub mod messages;
pub mod notifications;
pub mod schema;
pub mod wire;

use crate::chat::hub::HubHandle;
use crate::db::{now_ms, Db};
use crate::metrics::{inc, Metrics};
use crate::revocation::{Revocations, KEEP_SECS};
use crate::{Config, Error};
use calls::{CallKey, CallMatch, Outcome, Proposal};
use incoming::{CallEvent, Incoming, Personal, Query, Request, RoutedCopy};
use jid::BareJid;
use notifications::{Kind, Notification};
use proto::bus::{iq_error, iq_result, BusError, BusReceiver, BusSender, ErrorCondition};
use proto::xml::Element;
use proto::{EndpointId, RoomName};
use rusqlite::params;
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Conversations listed by one inbox query (PEOPLE.md: ≤ 100).
pub const INBOX_MAX: usize = 100;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

type Connecting = Pin<Box<dyn Future<Output = Result<(BusSender, BusReceiver), BusError>> + Send>>;

/// The archive's state: its database, and the deadlines of open call proposals.
pub struct Archive {
    db: Db,
    domain: String,
    jid: String,
    ring_ms: i64,
    metrics: Arc<Metrics>,
    revocations: Arc<Revocations>,
    hub: HubHandle,
    /// Open proposals by ring deadline (ms since the epoch). A call settled meanwhile stays
    /// here until its deadline, when settling it again changes nothing.
    timers: BTreeSet<(i64, CallKey)>,
}

impl Archive {
    /// Opens the archive's database, loads the removals still in force into `revocations`
    /// (before any request is served) and the ring deadlines of open proposals (a proposal
    /// whose time ran out while filestore was down becomes missed at the first tick).
    pub async fn open(
        config: &Config,
        metrics: Arc<Metrics>,
        revocations: Arc<Revocations>,
        hub: HubHandle,
    ) -> Result<Archive, Error> {
        let db = Db::open(&config.archive_db_path(), schema::MIGRATIONS, "archive-db")?;
        let horizon = proto::token::now_secs().saturating_sub(KEEP_SECS) as i64;
        let removed: Vec<(String, String, i64)> = db
            .call(move |c| {
                c.execute("DELETE FROM revocations WHERE at < ?1", [horizon])?;
                let mut st = c.prepare("SELECT room, nick, at FROM revocations")?;
                let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await?;
        for (room, nick, at) in removed {
            revocations.insert(&room, &nick, at.max(0) as u64);
        }
        let ring_ms = config.archive.ring.as_millis() as i64;
        let open = db.call(|c| calls::open(c)).await?;
        let timers = open.into_iter().map(|(key, at)| (at + ring_ms, key)).collect();
        let domain = config.archive.domain.clone();
        Ok(Archive { db, jid: format!("archive.{domain}"), domain, ring_ms, metrics, revocations, hub, timers })
    }

    /// Runs until `shutdown`: connects to the bus at `addr` as `archive.<domain>` (again and
    /// again, with backoff, whenever the connection is lost), handles what arrives, fires the
    /// ring timers. Timers fire while the bus is down too (their headlines are then not
    /// sent; the notifications wait in the database).
    pub async fn run(mut self, addr: String, secret: String, shutdown: CancellationToken) {
        let me = self.jid.clone();
        let connect = |delay: Duration| -> Connecting {
            let (addr, jid, secret) = (addr.clone(), me.clone(), secret.clone());
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                proto::bus::connect(&addr, &jid, &secret).await
            })
        };
        let mut connecting: Option<Connecting> = Some(connect(Duration::ZERO));
        let mut bus: Option<(BusSender, BusReceiver)> = None;
        let mut backoff = FIRST_BACKOFF;
        let mut failures = 0u32;
        loop {
            let next_timer = self.timers.first().map(|(t, _)| Duration::from_millis((t - now_ms()).max(0) as u64));
            let out = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = async { connecting.as_mut().expect("polled only while connecting").await }, if connecting.is_some() => {
                    connecting = None;
                    match r {
                        Ok(c) => {
                            tracing::info!(jid = %self.jid, "archive connected to the bus");
                            self.metrics.archive_bus_connected.store(1, Ordering::Relaxed);
                            (backoff, failures) = (FIRST_BACKOFF, 0);
                            bus = Some(c);
                        }
                        Err(e) => {
                            // Said once a minute at most: filestore runs fine without signal.
                            if failures.is_multiple_of(12) {
                                tracing::warn!(%addr, error = %e, "archive cannot reach the bus; chat and files go on, retrying");
                            }
                            failures += 1;
                            connecting = Some(connect(backoff));
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                        }
                    }
                    Vec::new()
                }
                s = async { bus.as_mut().expect("polled only while connected").1.recv().await }, if bus.is_some() => match s {
                    Some(el) => self.handle(el, now_ms()).await,
                    None => {
                        tracing::warn!("archive lost the bus connection; reconnecting");
                        self.metrics.archive_bus_connected.store(0, Ordering::Relaxed);
                        bus = None;
                        connecting = Some(connect(FIRST_BACKOFF));
                        Vec::new()
                    }
                },
                _ = tokio::time::sleep(next_timer.unwrap_or_default()), if next_timer.is_some() => {
                    self.fire_timers(now_ms()).await
                }
            };
            if let Some((tx, _)) = &bus {
                for stanza in out {
                    if tx.send(stanza).is_err() {
                        break;
                    }
                }
            }
        }
        self.metrics.archive_bus_connected.store(0, Ordering::Relaxed);
    }

    /// Handles one stanza from the bus; returns what to send back (in order).
    pub async fn handle(&mut self, el: Element, now: i64) -> Vec<Element> {
        match incoming::classify(el, &self.domain, now) {
            Incoming::Copy(c) => self.copy(*c, now).await,
            Incoming::Revoke { room, nick } => {
                self.revoke(room, nick).await;
                Vec::new()
            }
            Incoming::Forged { from } => {
                inc(&self.metrics.archive_copies_forged);
                tracing::warn!(%from, "archive refused a copy or removal not sent by the server");
                Vec::new()
            }
            Incoming::Invalid(why) => {
                inc(&self.metrics.archive_copies_invalid);
                tracing::warn!(%why, "archive dropped a copy it cannot use");
                Vec::new()
            }
            Incoming::Request(r) => {
                inc(&self.metrics.archive_queries);
                self.answer(r).await
            }
            Incoming::Ignore => Vec::new(),
        }
    }

    /// Runs a database job; a failure is logged and counts as `None` (the copy is lost, the
    /// query answered with an error), never a crash of the archive.
    async fn db<R, F>(&self, what: &'static str, f: F) -> Option<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> Result<R, Error> + Send + 'static,
    {
        match self.db.call(f).await {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::error!(error = %e, what, "archive database job failed");
                None
            }
        }
    }

    async fn copy(&mut self, c: RoutedCopy, now: i64) -> Vec<Element> {
        let RoutedCopy { from, to, name, delivered, at, chat, displayed, call, invitation, .. } = c;
        let at = at.min(now);
        let mut out = Vec::new();
        if let Some(chat) = chat {
            let (f, t) = (from.clone(), to.clone());
            match self.db("store a message", move |c| messages::insert(c, &chat, &f, &t, at)).await {
                Some(true) => inc(&self.metrics.archive_messages_stored),
                Some(false) => inc(&self.metrics.archive_copies_duplicate),
                None => {}
            }
        }
        if let Some(marker) = displayed {
            let (f, t) = (from.clone(), to.clone());
            self.db("move a read pointer", move |c| messages::displayed(c, &f, &t, &marker)).await;
        }
        if let Some(ev) = call {
            out.extend(self.call(ev, &from, &to, &name, delivered, at, now).await);
        }
        if let Some(inv) = invitation {
            let (f, t) = (from.clone(), to.clone());
            let kind = Kind::Invitation { room: inv.room.to_string(), reason: inv.reason };
            let source = inv.key.map(|k| format!("invite\n{k}"));
            let added = self
                .db("store an invitation", move |c| {
                    notifications::add(c, t.as_str(), f.as_str(), &name, at, kind, source.as_deref())
                })
                .await
                .flatten();
            if let Some(n) = added {
                inc(&self.metrics.archive_invitations);
                out.push(self.push(n));
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    async fn call(
        &mut self,
        ev: CallEvent,
        from: &BareJid,
        to: &BareJid,
        name: &str,
        delivered: Option<bool>,
        at: i64,
        now: i64,
    ) -> Vec<Element> {
        let (callee, caller, id, outcome) = match ev {
            CallEvent::Propose { id, media, room } => {
                let key = CallKey { caller: from.to_string(), callee: to.to_string(), id };
                let (k, name) = (key.clone(), name.to_string());
                let new = self
                    .db("store a call proposal", move |c| {
                        calls::propose(c, &Proposal { key: &k, caller_name: &name, media, room: room.as_ref(), at })
                    })
                    .await
                    .unwrap_or(false);
                if !new {
                    return Vec::new();
                }
                if delivered == Some(false) {
                    // Nobody's page rang: missed at once.
                    return self.settle(to.clone(), Some(from.clone()), key.id, Outcome::Missed, now).await;
                }
                self.timers.insert((at + self.ring_ms, key));
                return Vec::new();
            }
            // The callee's accept to their own other pages, and proceed to the caller.
            CallEvent::Accept { id } => (from.clone(), None, id, Outcome::Accepted),
            CallEvent::Proceed { id } => (from.clone(), Some(to.clone()), id, Outcome::Accepted),
            CallEvent::Reject { id, busy } => {
                let caller = (to != from).then(|| to.clone());
                (from.clone(), caller, id, if busy { Outcome::Busy } else { Outcome::Declined })
            }
            // Only the caller retracts their own proposal.
            CallEvent::Retract { id } => (to.clone(), Some(from.clone()), id, Outcome::Missed),
        };
        self.settle(callee, caller, id, outcome, now).await
    }

    async fn settle(
        &mut self,
        callee: BareJid,
        caller: Option<BareJid>,
        id: String,
        outcome: Outcome,
        now: i64,
    ) -> Vec<Element> {
        let missed = self
            .db("settle a call", move |c| {
                calls::settle(c, &CallMatch { callee: &callee, caller: caller.as_ref(), id: &id }, outcome, now)
            })
            .await
            .unwrap_or_default();
        missed
            .into_iter()
            .map(|n| {
                inc(&self.metrics.archive_missed_calls);
                self.push(n)
            })
            .collect()
    }

    /// Proposals whose ring time ran out become missed calls.
    async fn fire_timers(&mut self, now: i64) -> Vec<Element> {
        let mut out = Vec::new();
        while let Some((deadline, _)) = self.timers.first() {
            if *deadline > now {
                break;
            }
            let Some((_, key)) = self.timers.pop_first() else { break };
            let (Some(callee), Some(caller)) = (BareJid::of(&key.callee), BareJid::of(&key.caller)) else { continue };
            out.extend(self.settle(callee, Some(caller), key.id, Outcome::Missed, now).await);
        }
        out
    }

    /// The headline telling the person of a new notification (signal delivers it to their
    /// online sessions; offline, it waits in the list).
    fn push(&self, n: Notification) -> Element {
        let mut h = n.headline();
        h.set_attr("from", self.jid.as_str());
        h
    }

    async fn revoke(&mut self, room: RoomName, nick: EndpointId) {
        let at = proto::token::now_secs();
        self.revocations.insert(room.as_str(), nick.as_str(), at);
        self.hub.revoke(room.to_string(), nick.clone());
        inc(&self.metrics.tokens_revoked);
        tracing::info!(%room, %nick, "removed from the room: chat closed, room tokens refused");
        let (r, n) = (room.to_string(), nick.to_string());
        self.db("store a removal", move |c| {
            c.execute(
                "INSERT INTO revocations (room, nick, at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(room, nick) DO UPDATE SET at = MAX(at, excluded.at)",
                params![r, n, at as i64],
            )?;
            Ok(())
        })
        .await;
    }

    async fn answer(&mut self, r: Request) -> Vec<Element> {
        let personal = match &r.query {
            Query::Personal(p) => p,
            Query::MamForm => return vec![answer::mam_form(&r)],
            Query::DiscoInfo => return vec![answer::disco_info(&r)],
            Query::Ping => return vec![iq_result(&r.iq, None)],
            Query::Bad(why) => return vec![iq_error(&r.iq, ErrorCondition::BadRequest, Some(why))],
            Query::Unsupported => return vec![iq_error(&r.iq, ErrorCondition::ServiceUnavailable, None)],
        };
        let Some(asker) = r.asker.clone() else {
            return vec![iq_error(&r.iq, ErrorCondition::Forbidden, Some("only people have an archive"))];
        };
        let result: Result<Vec<Element>, Error> = match personal {
            Personal::Mam(q) => {
                let q2 = q.clone();
                self.db.call(move |c| messages::mam(c, &asker, &q2)).await.map(|page| answer::mam(&r, q, &page))
            }
            Personal::Inbox { queryid } => self
                .db
                .call(move |c| messages::inbox(c, &asker, INBOX_MAX))
                .await
                .map(|ib| answer::inbox(&r, queryid.as_deref(), &ib)),
            Personal::Notifications => {
                self.db.call(move |c| notifications::list(c, &asker)).await.map(|l| vec![answer::notifications(&r, &l)])
            }
            Personal::Dismiss { id } => {
                let id = id.clone();
                self.db.call(move |c| notifications::dismiss(c, &asker, &id)).await.map(|found| {
                    vec![if found {
                        iq_result(&r.iq, None)
                    } else {
                        iq_error(&r.iq, ErrorCondition::ItemNotFound, Some("no such notification"))
                    }]
                })
            }
        };
        match result {
            Ok(v) => v,
            Err(Error::NotFound(m)) => vec![iq_error(&r.iq, ErrorCondition::ItemNotFound, Some(&m))],
            Err(e) => {
                tracing::error!(error = %e, "archive query failed");
                vec![iq_error(&r.iq, ErrorCondition::InternalServerError, None)]
            }
        }
    }
}
