//! One chat connection: the upgrade (token and room checked before it is accepted), then a
//! loop that reads client messages and writes what the hub queues for it. A bad message
//! gets an `error` reply to this client only; an oversized frame closes this connection
//! only (code 1009). Never trusts sender fields from the client.

use super::history::{self, NewMessage};
use super::hub::{Audience, ConnId, OUTBOX};
use super::protocol::{valid_transfer_id, ClientMsg, Kind, Limits, Person, ServerMsg};
use super::rate::RateLimiter;
use crate::metrics::inc;
use crate::state::AppState;
use crate::Error;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use proto::token::Claims;
use proto::RoomName;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);
/// Consecutive rate-limited messages after which the connection is closed (1008).
const FLOOD_CLOSE_AFTER: u32 = 200;

/// GET /chat?token=<jwt>[&room=<room>]: the token goes in the query (browsers cannot set
/// headers on a WebSocket); `room`, when given, must be the token's room (403 otherwise).
pub async fn upgrade(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, Error> {
    let room = match crate::auth::query_param(q.as_deref(), "room") {
        Some(r) => Some(RoomName::normalize(r).map_err(|e| Error::BadRequest(format!("room: {e}")))?),
        None => None,
    };
    let claims =
        crate::auth::verify(&st.config.token_secret, crate::auth::token_of(&headers, q.as_deref())?, room.as_ref())
            .and_then(|c| st.not_revoked(c))
            .inspect_err(|_| inc(&st.metrics.auth_failures))?;
    if st.metrics.chat_connections.load(Ordering::Relaxed) >= st.config.chat.max_connections {
        return Err(Error::Busy("too many chat connections; try again later".into()));
    }
    let max = st.config.chat.max_frame;
    Ok(ws
        .max_frame_size(max)
        .max_message_size(max)
        .on_upgrade(move |socket| async move { serve(st, claims, socket).await })
        .into_response())
}

struct Conn {
    st: AppState,
    claims: Claims,
    me: Person,
    room: String,
}

fn err(code: u16, error: &'static str, message: impl Into<String>, client_id: Option<String>) -> ServerMsg {
    ServerMsg::Error { code, error, message: message.into(), client_id }
}

fn from_error(e: &Error, client_id: Option<String>) -> ServerMsg {
    if e.status() == axum::http::StatusCode::INSUFFICIENT_STORAGE {
        tracing::error!(error = %e, "storage is full: a chat message was refused");
        let message = "the server's storage is full: this message was not stored or sent; try again later";
        return err(507, "storage-full", message, client_id);
    }
    let (code, name) = match e {
        Error::Forbidden(_) => (403, "forbidden"),
        Error::NotFound(_) => (404, "not-found"),
        Error::TooLarge(_) => (413, "too-large"),
        Error::BadRequest(_) => (400, "bad-request"),
        Error::TokenExpired => (401, "token-expired"),
        Error::Unauthorized(_) => (401, "unauthorized"),
        _ => (500, "internal"),
    };
    let message = if code == 500 { "internal error".to_string() } else { e.to_string() };
    err(code, name, message, client_id)
}

async fn serve(st: AppState, claims: Claims, mut socket: WebSocket) {
    let (outbox, mut inbox) = mpsc::channel::<Arc<str>>(OUTBOX);
    let Ok((mut member, participants)) = Member::join(st.clone(), claims, outbox).await else { return };
    st.metrics.chat_connections.fetch_add(1, Ordering::Relaxed);
    member.conn.run(&mut socket, participants, &mut inbox).await;
    member.leave();
    st.metrics.chat_connections.fetch_sub(1, Ordering::Relaxed);
}

/// One room member's message handling without its socket: joined to the hub like a
/// connection, handing each text frame to the same code as the connection loop (which adds
/// the rate limit and the history on top). The fuzz target `filestore_chat_frames` drives
/// it; the WebSocket connection is its only user in the server.
pub struct Member {
    conn: Conn,
    conn_id: ConnId,
}

impl Member {
    /// Joins the token's room; the hub queues what this member receives in `outbox`.
    /// Returns who is in the room (including this member).
    pub async fn join(
        st: AppState,
        claims: Claims,
        outbox: mpsc::Sender<Arc<str>>,
    ) -> Result<(Member, Vec<Person>), Error> {
        let conn_id: ConnId = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
        let me = Person { nick: claims.nick.clone(), name: crate::auth::display_name(&claims.name) };
        let room = claims.room.to_string();
        let participants = st.hub.join(room.clone(), conn_id, me.clone(), outbox).await?;
        Ok((Member { conn: Conn { st, claims, me, room }, conn_id }, participants))
    }

    /// Handles one text frame; the JSON reply for this member alone, if any.
    pub async fn handle_text(&mut self, text: &str) -> Option<String> {
        self.conn.handle_text(text).await.map(|m| m.to_json())
    }

    pub fn leave(self) {
        self.conn.st.hub.leave(self.conn.room.clone(), self.conn_id);
    }
}

impl Conn {
    async fn run(
        &mut self,
        socket: &mut WebSocket,
        participants: Vec<crate::chat::protocol::Person>,
        inbox: &mut mpsc::Receiver<Arc<str>>,
    ) {
        let limits = &self.st.config.chat;
        let history = match history::load(&self.st.db, self.room.clone(), self.me.nick.clone(), limits.history).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "loading chat history failed");
                Vec::new()
            }
        };
        let welcome = ServerMsg::Welcome {
            you: self.me.clone(),
            room: self.room.clone(),
            participants,
            limits: Limits {
                max_text_bytes: limits.max_text,
                max_frame_bytes: limits.max_frame,
                rate_per_sec: limits.rate_per_sec,
                burst: limits.burst,
            },
            token_exp: self.claims.exp,
        };
        if socket.send(Message::Text(welcome.to_json().into())).await.is_err() {
            return;
        }
        for frame in history_frames(history) {
            if socket.send(Message::Text(frame.into())).await.is_err() {
                return;
            }
        }
        let mut limiter = RateLimiter::new(limits.rate_per_sec, limits.burst, Instant::now());
        let mut refused_in_a_row = 0u32;
        let shutdown = self.st.shutdown.clone();
        loop {
            tokio::select! {
                out = inbox.recv() => match out {
                    Some(text) => {
                        // Write what is queued in one go, then flush once (fewer syscalls
                        // when the room is busy).
                        if socket.feed(Message::Text(text.as_ref().into())).await.is_err() {
                            return;
                        }
                        let mut batch = 1;
                        while batch < 64 {
                            let Ok(more) = inbox.try_recv() else { break };
                            if socket.feed(Message::Text(more.as_ref().into())).await.is_err() {
                                return;
                            }
                            batch += 1;
                        }
                        if socket.flush().await.is_err() {
                            return;
                        }
                    }
                    None => {
                        // The hub let go of this connection: its person was removed from the
                        // room (signal's revoke), or it did not keep up.
                        let why = if self.st.revocations.check(&self.claims).is_err() {
                            "removed from the room"
                        } else {
                            "too slow: messages were piling up"
                        };
                        close(socket, 1008, why).await;
                        return;
                    }
                },
                incoming = socket.recv() => match incoming {
                    None | Some(Ok(Message::Close(_))) => return,
                    Some(Err(e)) => {
                        tracing::info!(error = %e, nick = %self.me.nick, "chat connection error");
                        inc(&self.st.metrics.chat_rejected);
                        close(socket, 1009, "frame or message too large, or protocol error").await;
                        return;
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Binary(_))) => {
                        inc(&self.st.metrics.chat_rejected);
                        let reply = err(400, "bad-request", "binary frames are not accepted; send JSON text", None);
                        if socket.send(Message::Text(reply.to_json().into())).await.is_err() { return; }
                    }
                    Some(Ok(Message::Text(text))) => {
                        if !limiter.handle_message(Instant::now()) {
                            inc(&self.st.metrics.chat_rate_limited);
                            refused_in_a_row += 1;
                            if refused_in_a_row >= FLOOD_CLOSE_AFTER {
                                close(socket, 1008, "flooding").await;
                                return;
                            }
                            let reply = err(429, "rate-limited", "too many messages; slow down", None);
                            if socket.send(Message::Text(reply.to_json().into())).await.is_err() { return; }
                            continue;
                        }
                        refused_in_a_row = 0;
                        if let Some(reply) = self.handle_text(text.as_str()).await {
                            if socket.send(Message::Text(reply.to_json().into())).await.is_err() { return; }
                        }
                    }
                },
                _ = shutdown.cancelled() => {
                    close(socket, 1001, "server shutting down").await;
                    return;
                }
            }
        }
    }

    /// Handles one client message; returns a reply for this client only, if any.
    async fn handle_text(&mut self, text: &str) -> Option<ServerMsg> {
        let msg: ClientMsg = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(e) => {
                inc(&self.st.metrics.chat_rejected);
                return Some(err(400, "bad-request", format!("not a valid message: {e}"), None));
            }
        };
        if !matches!(msg, ClientMsg::Auth { .. }) && proto::token::now_secs() >= self.claims.exp {
            inc(&self.st.metrics.chat_rejected);
            return Some(err(
                401,
                "token-expired",
                "room token expired: send {\"type\":\"auth\",\"token\":...} with a fresh one",
                None,
            ));
        }
        let client_id = match &msg {
            ClientMsg::Message { client_id, .. } | ClientMsg::File { client_id, .. } => client_id.clone(),
            _ => None,
        };
        match self.apply(msg).await {
            Ok(reply) => reply,
            Err(e) => {
                inc(&self.st.metrics.chat_rejected);
                Some(from_error(&e, client_id))
            }
        }
    }

    fn check_text(&self, text: &str) -> Result<(), Error> {
        if text.trim().is_empty() {
            return Err(Error::BadRequest("empty message".into()));
        }
        if text.len() > self.st.config.chat.max_text {
            return Err(Error::TooLarge(format!("message longer than {} bytes", self.st.config.chat.max_text)));
        }
        Ok(())
    }

    async fn audience(&self, to: &Option<proto::EndpointId>) -> Result<Audience, Error> {
        match to {
            None => Ok(Audience::Room),
            Some(t) => {
                if !self.st.hub.is_present(self.room.clone(), t.clone()).await? {
                    return Err(Error::NotFound(format!("{t} is not in this room")));
                }
                Ok(Audience::Pair(self.me.nick.clone(), t.clone()))
            }
        }
    }

    async fn apply(&mut self, msg: ClientMsg) -> Result<Option<ServerMsg>, Error> {
        let st = self.st.clone();
        match msg {
            ClientMsg::Message { text, to, client_id } => {
                self.check_text(&text)?;
                let audience = self.audience(&to).await?;
                let m = history::insert(
                    &st.db,
                    NewMessage {
                        room: self.room.clone(),
                        from: self.me.clone(),
                        to,
                        kind: Kind::Text,
                        text,
                        file: None,
                        client_id,
                    },
                )
                .await?;
                inc(&st.metrics.chat_messages);
                st.hub.send(self.room.clone(), audience, &ServerMsg::Message(m));
                Ok(None)
            }
            ClientMsg::File { file_id, to, client_id } => {
                let file = history::room_file(&st.db, self.room.clone(), file_id).await?;
                let audience = self.audience(&to).await?;
                let m = history::insert(
                    &st.db,
                    NewMessage {
                        room: self.room.clone(),
                        from: self.me.clone(),
                        to,
                        kind: Kind::File,
                        text: file.name.clone(),
                        file: Some(file),
                        client_id,
                    },
                )
                .await?;
                inc(&st.metrics.chat_messages);
                st.hub.send(self.room.clone(), audience, &ServerMsg::Message(m));
                Ok(None)
            }
            ClientMsg::Edit { id, text } => {
                self.check_text(&text)?;
                let (to, edited_at) =
                    history::edit(&st.db, self.room.clone(), self.me.nick.clone(), id, text.clone()).await?;
                let audience = to.map(|t| Audience::Pair(self.me.nick.clone(), t)).unwrap_or(Audience::Room);
                st.hub.send(self.room.clone(), audience, &ServerMsg::Edited { id, text, edited_at });
                Ok(None)
            }
            ClientMsg::Delete { id } => {
                let to = history::delete(&st.db, self.room.clone(), self.me.nick.clone(), id).await?;
                let audience = to.map(|t| Audience::Pair(self.me.nick.clone(), t)).unwrap_or(Audience::Room);
                st.hub.send(self.room.clone(), audience, &ServerMsg::Deleted { id });
                Ok(None)
            }
            ClientMsg::P2p { to, transfer, signal } => {
                if !valid_transfer_id(&transfer) {
                    return Err(Error::BadRequest("transfer must be 1-64 of [A-Za-z0-9_-]".into()));
                }
                if to == self.me.nick {
                    return Err(Error::BadRequest("cannot signal yourself".into()));
                }
                let out = ServerMsg::P2p { from: self.me.clone(), transfer, signal };
                if !st.hub.send_to(self.room.clone(), to.clone(), &out).await? {
                    return Err(Error::NotFound(format!("{to} is not in this room")));
                }
                Ok(None)
            }
            ClientMsg::RelayOpen { to, transfer, name, size, sha256 } => {
                if !valid_transfer_id(&transfer) {
                    return Err(Error::BadRequest("transfer must be 1-64 of [A-Za-z0-9_-]".into()));
                }
                let name = crate::files::name::check(&name)?;
                if size > st.config.max_file_size {
                    return Err(Error::TooLarge(format!("larger than the limit of {} bytes", st.config.max_file_size)));
                }
                if let Some(h) = &sha256 {
                    if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(Error::BadRequest("sha256 must be 64 hex digits".into()));
                    }
                }
                let relay = st
                    .hub
                    .relay_open(self.room.clone(), self.me.clone(), to.clone(), transfer.clone(), name, size, sha256)
                    .await?;
                Ok(Some(ServerMsg::RelayReady {
                    to,
                    transfer,
                    url: format!("/files/relay/{relay}"),
                    relay: relay.to_string(),
                }))
            }
            ClientMsg::Auth { token } => {
                let claims = crate::auth::verify(&st.config.token_secret, &token, Some(&self.claims.room))
                    .and_then(|c| st.not_revoked(c))?;
                if claims.nick != self.claims.nick {
                    return Err(Error::Forbidden("token is for another participant".into()));
                }
                let exp = claims.exp;
                self.claims = claims;
                Ok(Some(ServerMsg::AuthOk { token_exp: exp }))
            }
        }
    }
}

/// Size a history frame is cut at; one message alone is at most ~50 KiB of JSON (8 KiB of
/// text, escaped), so every frame stays under the 64 KiB frame limit.
const HISTORY_FRAME: usize = 32 * 1024;

/// Splits history into `history` frames, oldest first; always at least one (`done: true`).
fn history_frames(history: Vec<crate::chat::protocol::ChatMessage>) -> Vec<String> {
    let mut frames = Vec::new();
    let mut batch = Vec::new();
    let mut size = 0;
    for m in history {
        let n = serde_json::to_string(&m).map(|s| s.len()).unwrap_or(0);
        if !batch.is_empty() && size + n > HISTORY_FRAME {
            frames.push(ServerMsg::History { messages: std::mem::take(&mut batch), done: false }.to_json());
            size = 0;
        }
        size += n;
        batch.push(m);
    }
    frames.push(ServerMsg::History { messages: batch, done: true }.to_json());
    frames
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let _ = socket.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
}
