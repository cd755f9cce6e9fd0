//! Client connections: the TCP listener (RFC 6120 on `SIGNAL_C2S_ADDR`) and the one
//! connection driver shared with WebSocket (RFC 7395, see [`crate::http`]).
//!
//! Listener → one task per connection → [`negotiation::ClientStream`] (sans-IO) → the hub.
//! The driver owns the socket, the parser, the rate limit and the outbox; it never lets an
//! input error escape as a panic, and a client over budget gets `policy-violation` alone.

pub mod negotiation;

use crate::auth::Session;
use crate::conn::{Outbound, OUTBOX_CAPACITY};
use crate::hub::{HubMsg, PeerKind};
use crate::ratelimit::{Budget, RateLimit};
use crate::stream::{write_outbound, StreamWriter};
use crate::{Error, Shared};
use axum::extract::ws::{Message, WebSocket};
use futures_util::stream::SplitStream;
use futures_util::StreamExt;
use negotiation::{Action, ClientStream};
use proto::xml::{ParserLimits, StreamEvent, StreamParser, NS_CLIENT};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// A client must finish authentication and binding within this time.
const NEGOTIATION_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn serve(listener: TcpListener, shared: Arc<Shared>, shutdown: CancellationToken) {
    crate::serve_connections(
        listener,
        shared,
        shutdown,
        "c2s",
        |m| &m.c2s_connections,
        |sock, peer, shared, shutdown| async move {
            let _ = sock.set_nodelay(true);
            let (rd, wr) = sock.into_split();
            if let Err(e) = drive(Source::Tcp(rd), StreamWriter::tcp(wr), peer.ip(), shared, shutdown).await {
                tracing::debug!("client connection ended: {e}");
            }
        },
    )
    .await
}

/// Where a client's bytes come from.
pub enum Source {
    Tcp(OwnedReadHalf),
    Ws(SplitStream<WebSocket>),
}

impl Source {
    /// The next chunk of XML text, as its length in `buf` (never more than `buf.len()`);
    /// `None` at the end of the stream.
    async fn read(&mut self, buf: &mut Vec<u8>) -> Result<Option<usize>, Error> {
        match self {
            Source::Tcp(r) => {
                buf.resize(16 * 1024, 0);
                let n = r.read(buf).await?;
                Ok(if n == 0 { None } else { Some(n) })
            }
            Source::Ws(r) => match r.next().await {
                None => Ok(None),
                Some(Err(e)) => Err(Error::Ws(e.to_string())),
                Some(Ok(Message::Text(t))) => {
                    buf.clear();
                    buf.extend_from_slice(t.as_bytes());
                    Ok(Some(buf.len()))
                }
                Some(Ok(Message::Binary(_))) => {
                    Err(Error::Stream("unsupported-encoding", "RFC 7395 frames are text".into()))
                }
                Some(Ok(Message::Close(_))) => Ok(None),
                // A pong (or ping) proves the peer is alive: activity without bytes.
                Some(Ok(_)) => Ok(Some(0)),
            },
        }
    }
}

async fn recv_opt(rx: &mut Option<mpsc::Receiver<Outbound>>) -> Option<Outbound> {
    match rx {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

/// Runs one client connection to its end. `source` is the client's address (the TCP peer,
/// or for WebSocket the address `web` forwards): per-source limits in rooms count by it.
pub async fn drive(
    mut src: Source,
    mut w: StreamWriter,
    source: std::net::IpAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let websocket = w.is_ws();
    let cfg = &shared.config;
    let mut parser = StreamParser::new(ParserLimits {
        max_stanza_bytes: cfg.max_stanza_bytes,
        fragments: websocket,
        default_ns: if websocket { NS_CLIENT.into() } else { String::new() },
        ..Default::default()
    });
    let mut core =
        ClientStream::new(&cfg.domain, websocket, crate::accounts::Accounts::new(&cfg.data_dir), shared.auth.clone());
    let budget = Budget {
        stanzas_per_sec: cfg.c2s_rate,
        stanza_burst: cfg.c2s_burst,
        bytes_per_sec: cfg.c2s_rate * 1024.0,
        byte_burst: (cfg.c2s_burst * 1024.0).max(cfg.max_stanza_bytes as f64 * 4.0),
    };
    let mut limit = RateLimit::new(budget, Instant::now());
    let mut buf = Vec::new();
    let mut outbox: Option<mpsc::Receiver<Outbound>> = None;
    let kill = CancellationToken::new();
    let mut conn = None;
    let negotiation_deadline = tokio::time::sleep(NEGOTIATION_TIMEOUT);
    tokio::pin!(negotiation_deadline);
    let idle_limit = Duration::from_secs(cfg.idle_secs.max(1));
    let mut keepalive = tokio::time::interval(idle_limit / 2);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_rx = Instant::now();
    let mut ping_sent: Option<Instant> = None;
    let mut pings = 0u64;

    let result: Result<(), Error> = async {
        loop {
            tokio::select! {
                n = src.read(&mut buf) => {
                    let Some(n) = n? else { return Ok(()) };
                    last_rx = Instant::now();
                    ping_sent = None;
                    if !limit.handle_bytes(Instant::now(), n) {
                        return Err(Error::Stream("policy-violation", "sending too fast".into()));
                    }
                    parser.handle_bytes(&buf[..n]);
                    loop {
                        let ev = match parser.poll_event() {
                            Ok(Some(ev)) => ev,
                            Ok(None) => break,
                            Err(e) => {
                                if !core_header_sent(&core) {
                                    w.write_raw(&fallback_header(websocket, &cfg.domain)).await?;
                                }
                                return Err(Error::stream_from_xml(&e));
                            }
                        };
                        let actions = match ev {
                            StreamEvent::Open(h) => core.handle_open(&h),
                            StreamEvent::Stanza(s) => {
                                if core.is_bound() && !limit.handle_stanza(Instant::now()) {
                                    return Err(Error::Stream("policy-violation", "too many stanzas".into()));
                                }
                                core.handle_element(s)
                            }
                            StreamEvent::Close => vec![Action::Close],
                        };
                        let mut actions = std::collections::VecDeque::from(actions);
                        while let Some(a) = actions.pop_front() {
                            match a {
                                Action::Write(x) => w.write_raw(&x).await?,
                                Action::Restart => parser.reset(),
                                Action::Stanza(s) => {
                                    let c = conn.expect("stanzas pass only after binding, which sets conn");
                                    if shared.hub.send(HubMsg::Stanza { conn: c, stanza: s }).await.is_err() {
                                        return Err(Error::Closed);
                                    }
                                }
                                Action::Bind { jid, iq_id, identity } => {
                                    let c = shared.next_conn();
                                    let (tx, rx) = mpsc::channel(OUTBOX_CAPACITY);
                                    let (reply_tx, reply_rx) = oneshot::channel();
                                    let session = Some(Arc::new(Session { identity, source }));
                                    let reg = HubMsg::Register { conn: c, kind: PeerKind::Client, jid, session, outbox: tx, kill: kill.clone(), reply: reply_tx };
                                    shared.hub.send(reg).await.map_err(|_| Error::Closed)?;
                                    let jid = reply_rx.await.map_err(|_| Error::Closed)?.map_err(|e| Error::Stream("conflict", e.to_string()))?;
                                    conn = Some(c);
                                    outbox = Some(rx);
                                    let x = core.handle_bound(jid, &iq_id);
                                    w.write_raw(&x).await?;
                                }
                                Action::CheckGuest { id, secret_sha256 } => {
                                    let (reply, verdict) = oneshot::channel();
                                    let ask = HubMsg::GuestLogin { id, secret_sha256, source, reply };
                                    shared.hub.send(ask).await.map_err(|_| Error::Closed)?;
                                    let verdict = verdict.await.map_err(|_| Error::Closed)?;
                                    for next in core.handle_guest_checked(verdict).into_iter().rev() {
                                        actions.push_front(next);
                                    }
                                }
                                Action::Fail(cond, text) => {
                                    crate::metrics::Metrics::add(&shared.metrics.auth_failures, u64::from(core.take_auth_failures()));
                                    return Err(Error::Stream(cond, text));
                                }
                                Action::Close => return Ok(()),
                            }
                        }
                        crate::metrics::Metrics::add(&shared.metrics.auth_failures, u64::from(core.take_auth_failures()));
                    }
                }
                item = recv_opt(&mut outbox) => {
                    let Some(item) = item else {
                        // the hub is gone: at shutdown that is the reason to give
                        return Err(if shutdown.is_cancelled() { Error::Stream("system-shutdown", "signal is stopping".into()) } else { Error::Closed });
                    };
                    let rx = outbox.as_mut().expect("an item came from the outbox");
                    write_outbound(&mut w, item, rx).await?;
                }
                _ = keepalive.tick(), if conn.is_some() => {
                    // A bound client silent for the idle limit gets a ping (XEP-0199 on TCP, a
                    // WebSocket ping frame on WebSocket); still silent half a limit later, it
                    // is gone and its occupants leave (no ghosts in rooms).
                    match ping_sent {
                        Some(t) if t.elapsed() >= idle_limit / 2 => {
                            return Err(Error::Stream("connection-timeout", "no answer to ping".into()));
                        }
                        None if last_rx.elapsed() >= idle_limit => {
                            pings += 1;
                            w.keepalive(&cfg.domain, pings).await?;
                            ping_sent = Some(Instant::now());
                        }
                        _ => {}
                    }
                }
                _ = &mut negotiation_deadline, if conn.is_none() => {
                    return Err(Error::Stream("connection-timeout", "authenticate and bind sooner".into()));
                }
                _ = kill.cancelled() => return Err(Error::Stream("policy-violation", "too slow to read what was sent".into())),
                _ = shutdown.cancelled() => return Err(Error::Stream("system-shutdown", "signal is stopping".into())),
            }
        }
    }
    .await;
    if let Some(c) = conn {
        let _ = shared.hub.send(HubMsg::Gone { conn: c }).await;
    }
    match &result {
        Err(e) => w.fail(e, &shared.metrics).await,
        Ok(()) => w.close().await,
    }
    result
}

fn core_header_sent(core: &ClientStream) -> bool {
    core.opened()
}

/// RFC 6120 §4.9.1.2: an error before our header still needs a header first.
fn fallback_header(websocket: bool, domain: &str) -> String {
    if websocket {
        format!("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='{domain}' version='1.0'/>")
    } else {
        format!("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='{domain}' version='1.0'>")
    }
}
