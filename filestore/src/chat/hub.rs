//! The hub: one task that owns every room's set of chat connections and the pending relay
//! transfers. Connections and HTTP handlers send it commands; it fans messages out with
//! `try_send`, so one slow client is dropped instead of slowing the room. It never awaits
//! a client or the database.

use super::history;
use super::protocol::{Person, ServerMsg};
use crate::db::Db;
use crate::files::relay::RelayChunk;
use crate::ids::RelayId;
use crate::Error;
use proto::token::Claims;
use proto::EndpointId;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Text frames queued per connection before it counts as too slow and is dropped.
pub const OUTBOX: usize = 1024;
/// Chunks in flight per relay transfer.
const RELAY_CHUNKS: usize = 8;
/// A relay not picked up by both sides within this time is dropped.
const RELAY_TTL: Duration = Duration::from_secs(120);

pub type ConnId = u64;
/// The receiver's half of a relay: its chunks, the announced size and file name.
pub type RelayReceiverSide = (mpsc::Receiver<RelayChunk>, u64, String);
pub type Outbox = mpsc::Sender<Arc<str>>;

/// Who gets a message.
pub enum Audience {
    Room,
    /// A private message: its sender's and its target's connections.
    Pair(EndpointId, EndpointId),
    /// One participant's connections.
    Nick(EndpointId),
}

enum Cmd {
    Join {
        room: String,
        conn: ConnId,
        person: Person,
        outbox: Outbox,
        reply: oneshot::Sender<Vec<Person>>,
    },
    Leave {
        room: String,
        conn: ConnId,
    },
    Send {
        room: String,
        audience: Audience,
        text: Arc<str>,
        reply: Option<oneshot::Sender<bool>>,
    },
    RelayOpen {
        room: String,
        from: Person,
        to: EndpointId,
        transfer: String,
        name: String,
        size: u64,
        sha256: Option<String>,
        reply: oneshot::Sender<Result<RelayId, Error>>,
    },
    RelaySender {
        id: RelayId,
        claims: Claims,
        reply: oneshot::Sender<Result<(mpsc::Sender<RelayChunk>, u64), Error>>,
    },
    RelayReceiver {
        id: RelayId,
        claims: Claims,
        reply: oneshot::Sender<Result<RelayReceiverSide, Error>>,
    },
    /// Drop every connection of `nick` in `room` (they were removed from the room).
    Revoke {
        room: String,
        nick: EndpointId,
    },
}

#[derive(Clone)]
pub struct HubHandle {
    tx: mpsc::UnboundedSender<Cmd>,
}

struct Member {
    person: Person,
    outbox: Outbox,
}

struct Relay {
    room: String,
    from: EndpointId,
    to: EndpointId,
    name: String,
    size: u64,
    tx: Option<mpsc::Sender<RelayChunk>>,
    rx: Option<mpsc::Receiver<RelayChunk>>,
    created: Instant,
}

struct Hub {
    db: Db,
    rooms: HashMap<String, HashMap<ConnId, Member>>,
    relays: HashMap<RelayId, Relay>,
}

fn gone() -> Error {
    Error::Io(std::io::Error::other("chat hub has stopped"))
}

impl HubHandle {
    pub fn start(db: Db, shutdown: CancellationToken) -> HubHandle {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut hub = Hub { db, rooms: HashMap::new(), relays: HashMap::new() };
        tokio::spawn(async move {
            let mut sweep = tokio::time::interval(Duration::from_secs(10));
            loop {
                tokio::select! {
                    cmd = rx.recv() => match cmd {
                        Some(cmd) => hub.handle(cmd),
                        None => break,
                    },
                    _ = sweep.tick() => hub.relays.retain(|_, r| r.created.elapsed() < RELAY_TTL || (r.tx.is_none() && r.rx.is_none())),
                    _ = shutdown.cancelled() => break,
                }
                hub.relays.retain(|_, r| r.tx.is_some() || r.rx.is_some());
            }
        });
        HubHandle { tx }
    }

    /// Adds a connection; returns who is in the room (including itself).
    pub async fn join(&self, room: String, conn: ConnId, person: Person, outbox: Outbox) -> Result<Vec<Person>, Error> {
        let (reply, r) = oneshot::channel();
        self.tx.send(Cmd::Join { room, conn, person, outbox, reply }).map_err(|_| gone())?;
        r.await.map_err(|_| gone())
    }

    pub fn leave(&self, room: String, conn: ConnId) {
        let _ = self.tx.send(Cmd::Leave { room, conn });
    }

    pub fn send(&self, room: String, audience: Audience, msg: &ServerMsg) {
        let _ = self.tx.send(Cmd::Send { room, audience, text: msg.to_json().into(), reply: None });
    }

    /// Sends to one participant; false when nobody of that nick is in the room.
    pub async fn send_to(&self, room: String, nick: EndpointId, msg: &ServerMsg) -> Result<bool, Error> {
        let (reply, r) = oneshot::channel();
        self.tx
            .send(Cmd::Send { room, audience: Audience::Nick(nick), text: msg.to_json().into(), reply: Some(reply) })
            .map_err(|_| gone())?;
        r.await.map_err(|_| gone())
    }

    pub async fn is_present(&self, room: String, nick: EndpointId) -> Result<bool, Error> {
        let (reply, r) = oneshot::channel();
        self.tx
            .send(Cmd::Send { room, audience: Audience::Nick(nick), text: Arc::from(""), reply: Some(reply) })
            .map_err(|_| gone())?;
        r.await.map_err(|_| gone())
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn relay_open(
        &self,
        room: String,
        from: Person,
        to: EndpointId,
        transfer: String,
        name: String,
        size: u64,
        sha256: Option<String>,
    ) -> Result<RelayId, Error> {
        let (reply, r) = oneshot::channel();
        self.tx.send(Cmd::RelayOpen { room, from, to, transfer, name, size, sha256, reply }).map_err(|_| gone())?;
        r.await.map_err(|_| gone())?
    }

    pub async fn relay_sender(&self, id: RelayId, claims: Claims) -> Result<(mpsc::Sender<RelayChunk>, u64), Error> {
        let (reply, r) = oneshot::channel();
        self.tx.send(Cmd::RelaySender { id, claims, reply }).map_err(|_| gone())?;
        r.await.map_err(|_| gone())?
    }

    /// Closes `nick`'s chat connections in `room`: each sees its queue end and closes with
    /// 1008; the room sees `left`. Record the revocation first, so a reconnect is refused.
    pub fn revoke(&self, room: String, nick: EndpointId) {
        let _ = self.tx.send(Cmd::Revoke { room, nick });
    }

    pub async fn relay_receiver(&self, id: RelayId, claims: Claims) -> Result<RelayReceiverSide, Error> {
        let (reply, r) = oneshot::channel();
        self.tx.send(Cmd::RelayReceiver { id, claims, reply }).map_err(|_| gone())?;
        r.await.map_err(|_| gone())?
    }
}

impl Hub {
    fn handle(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Join { room, conn, person, outbox, reply } => {
                let members = self.rooms.entry(room.clone()).or_default();
                if members.is_empty() {
                    history::room_active(&self.db, room.clone());
                }
                let first_of_nick = !members.values().any(|m| m.person.nick == person.nick);
                members.insert(conn, Member { person: person.clone(), outbox });
                if first_of_nick {
                    let text: Arc<str> = ServerMsg::Joined { participant: person }.to_json().into();
                    self.deliver(&room, |_| true, &text, Some(conn));
                }
                let _ = reply.send(self.participants(&room));
            }
            Cmd::Leave { room, conn } => self.remove(&room, conn),
            Cmd::Send { room, audience, text, reply } => {
                let delivered = if text.is_empty() {
                    // presence query only
                    matches!(&audience, Audience::Nick(n) if self.rooms.get(&room).is_some_and(|ms| ms.values().any(|m| &m.person.nick == n)))
                } else {
                    match &audience {
                        Audience::Room => self.deliver(&room, |_| true, &text, None),
                        Audience::Pair(a, b) => {
                            self.deliver(&room, |m| &m.person.nick == a || &m.person.nick == b, &text, None)
                        }
                        Audience::Nick(n) => self.deliver(&room, |m| &m.person.nick == n, &text, None),
                    }
                };
                if let Some(r) = reply {
                    let _ = r.send(delivered);
                }
            }
            Cmd::RelayOpen { room, from, to, transfer, name, size, sha256, reply } => {
                let present = self.rooms.get(&room).is_some_and(|ms| ms.values().any(|m| m.person.nick == to));
                if !present {
                    let _ = reply.send(Err(Error::NotFound(format!("{to} is not in this room"))));
                    return;
                }
                let id = match RelayId::generate() {
                    Ok(id) => id,
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        return;
                    }
                };
                let (tx, rx) = mpsc::channel(RELAY_CHUNKS);
                let url = format!("/files/relay/{id}");
                let text: Arc<str> = ServerMsg::RelayOpen {
                    from: from.clone(),
                    transfer,
                    relay: id.to_string(),
                    url,
                    name: name.clone(),
                    size,
                    sha256,
                }
                .to_json()
                .into();
                self.deliver(&room, |m| m.person.nick == to, &text, None);
                self.relays.insert(
                    id.clone(),
                    Relay {
                        room,
                        from: from.nick,
                        to,
                        name,
                        size,
                        tx: Some(tx),
                        rx: Some(rx),
                        created: Instant::now(),
                    },
                );
                let _ = reply.send(Ok(id));
            }
            Cmd::RelaySender { id, claims, reply } => {
                let r = self.relay_side(&id, &claims, true).and_then(|r| {
                    let size = r.size;
                    r.tx.take()
                        .map(|tx| (tx, size))
                        .ok_or_else(|| Error::Conflict("the sender side is already attached".into()))
                });
                let _ = reply.send(r);
            }
            Cmd::Revoke { room, nick } => {
                let conns: Vec<ConnId> = self
                    .rooms
                    .get(&room)
                    .map(|ms| ms.iter().filter(|(_, m)| m.person.nick == nick).map(|(id, _)| *id).collect())
                    .unwrap_or_default();
                for id in conns {
                    self.remove(&room, id);
                }
            }
            Cmd::RelayReceiver { id, claims, reply } => {
                let r = self.relay_side(&id, &claims, false).and_then(|r| {
                    let (size, name) = (r.size, r.name.clone());
                    r.rx.take()
                        .map(|rx| (rx, size, name))
                        .ok_or_else(|| Error::Conflict("the receiver side is already attached".into()))
                });
                let _ = reply.send(r);
            }
        }
    }

    fn relay_side(&mut self, id: &RelayId, claims: &Claims, sender: bool) -> Result<&mut Relay, Error> {
        let r = self.relays.get_mut(id).ok_or_else(|| Error::NotFound("no such relay transfer".into()))?;
        if r.room != claims.room.as_str() {
            return Err(Error::Forbidden("token is for another room".into()));
        }
        let who = if sender { &r.from } else { &r.to };
        if who != &claims.nick {
            return Err(Error::Forbidden(format!(
                "this relay's {} is another participant",
                if sender { "sender" } else { "receiver" }
            )));
        }
        Ok(r)
    }

    fn participants(&self, room: &str) -> Vec<Person> {
        let mut out: Vec<Person> = Vec::new();
        for m in self.rooms.get(room).into_iter().flat_map(|ms| ms.values()) {
            if !out.iter().any(|p| p.nick == m.person.nick) {
                out.push(m.person.clone());
            }
        }
        out.sort_by(|a, b| a.nick.cmp(&b.nick));
        out
    }

    /// Queues `text` for every member matching `to` (except `skip`); drops members whose
    /// queue is full. Returns whether anyone matched.
    fn deliver(&mut self, room: &str, to: impl Fn(&Member) -> bool, text: &Arc<str>, skip: Option<ConnId>) -> bool {
        let Some(members) = self.rooms.get(room) else { return false };
        let mut matched = false;
        let mut slow = Vec::new();
        for (id, m) in members {
            if Some(*id) == skip || !to(m) {
                continue;
            }
            matched = true;
            if m.outbox.try_send(text.clone()).is_err() {
                slow.push(*id);
            }
        }
        for id in slow {
            tracing::info!(room, conn = id, "dropping a chat connection that does not keep up");
            self.remove(room, id);
        }
        matched
    }

    fn remove(&mut self, room: &str, conn: ConnId) {
        let Some(members) = self.rooms.get_mut(room) else { return };
        let Some(gone) = members.remove(&conn) else { return };
        let last_of_nick = !members.values().any(|m| m.person.nick == gone.person.nick);
        if members.is_empty() {
            self.rooms.remove(room);
            history::room_ended(&self.db, room.to_string());
            return;
        }
        if last_of_nick {
            let text: Arc<str> = ServerMsg::Left { participant: gone.person }.to_json().into();
            self.deliver(room, |_| true, &text, None);
        }
    }
}
