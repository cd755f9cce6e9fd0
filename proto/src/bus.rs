//! The async XEP-0114 component client that focus and bridges use to speak on the bus
//! (signal's port 5347).
//!
//! [`connect`] opens the stream as component `<name>.<domain>`, proves the shared secret
//! (handshake = lowercase hex SHA-1 of the stream id followed by the secret) and returns a
//! cloneable [`BusSender`] and a [`BusReceiver`]. One task owns the socket; it never blocks on
//! the application.
//!
//! - [`BusSender::send`] sends any stanza; a missing `from` is filled with the component JID.
//! - [`BusSender::iq`] sends an IQ `get`/`set`, assigns its `id`, and waits (with a timeout)
//!   for the matching `result` (returned as `Ok`) or `error` ([`BusError::IqError`]).
//! - [`BusReceiver::recv`] yields every other incoming stanza: IQ requests (`get`/`set`),
//!   presences, messages, and IQ results nobody waits for (late ones are dropped).
//!
//! Answering an incoming IQ: every IQ `get`/`set` the receiver yields must get exactly one
//! answer, built with [`iq_result`] (optionally with a payload child) or [`iq_error`], and
//! sent with [`BusSender::send`]; both swap `to`/`from` and keep the `id`, which is how the
//! asker matches it:
//!
//! ```no_run
//! # async fn f(tx: proto::bus::BusSender, mut rx: proto::bus::BusReceiver) {
//! use proto::bus::{iq_error, iq_result, ErrorCondition};
//! while let Some(stanza) = rx.recv().await {
//!     if stanza.name() == "iq" && matches!(stanza.get_attr("type"), Some("get" | "set")) {
//!         let answer = match stanza.first_child() {
//!             Some(q) if q.ns() == proto::ns::COLIBRI => iq_result(&stanza, None),
//!             _ => iq_error(&stanza, ErrorCondition::ServiceUnavailable, None),
//!         };
//!         let _ = tx.send(answer);
//!     }
//! }
//! # }
//! ```
//!
//! Reconnecting is left to the caller: when the connection is lost, [`BusReceiver::recv`]
//! returns `None`, pending [`BusSender::iq`] calls fail with [`BusError::Closed`], and the
//! caller calls [`connect`] again (with a backoff) and re-announces itself (presence, room
//! joins), since signal forgets a component's room occupancy when its stream ends.
//!
//! This module must never hold application state; it only moves stanzas.

use crate::xml::{Element, ParserLimits, StreamEvent, StreamParser, NS_CLIENT, NS_STREAM};
use sha1::{Digest, Sha1};
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// How long [`BusSender::iq`] waits for an answer by default.
pub const DEFAULT_IQ_TIMEOUT: Duration = Duration::from_secs(15);
/// How long [`connect`] waits for the stream header and handshake answer.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// `urn:ietf:params:xml:ns:xmpp-stanzas`, the namespace of stanza error conditions.
pub const NS_STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bus connection failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("bus stream error: {0}")]
    Xml(#[from] crate::xml::XmlError),
    #[error("bus refused the component handshake: {0}")]
    HandshakeRefused(String),
    #[error("bus handshake timed out")]
    HandshakeTimeout,
    #[error("bus connection is closed")]
    Closed,
    #[error("no answer to IQ {id} within {timeout:?}")]
    Timeout { id: String, timeout: Duration },
    /// The peer answered with an IQ error; `condition` is e.g. `item-not-found`.
    #[error("IQ error {condition}{}", text.as_deref().map(|t| format!(": {t}")).unwrap_or_default())]
    IqError { condition: String, text: Option<String>, stanza: Box<Element> },
    #[error("not an IQ request: {0}")]
    NotAnIq(String),
}

/// The stanza error conditions components use (RFC 6120 §8.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCondition {
    BadRequest,
    Conflict,
    FeatureNotImplemented,
    Forbidden,
    InternalServerError,
    ItemNotFound,
    NotAcceptable,
    NotAllowed,
    NotAuthorized,
    RecipientUnavailable,
    ResourceConstraint,
    ServiceUnavailable,
    UndefinedCondition,
}

impl ErrorCondition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad-request",
            Self::Conflict => "conflict",
            Self::FeatureNotImplemented => "feature-not-implemented",
            Self::Forbidden => "forbidden",
            Self::InternalServerError => "internal-server-error",
            Self::ItemNotFound => "item-not-found",
            Self::NotAcceptable => "not-acceptable",
            Self::NotAllowed => "not-allowed",
            Self::NotAuthorized => "not-authorized",
            Self::RecipientUnavailable => "recipient-unavailable",
            Self::ResourceConstraint => "resource-constraint",
            Self::ServiceUnavailable => "service-unavailable",
            Self::UndefinedCondition => "undefined-condition",
        }
    }

    /// The error `type` RFC 6120 pairs with the condition.
    pub fn error_type(self) -> &'static str {
        match self {
            Self::BadRequest | Self::NotAcceptable | Self::NotAllowed => "modify",
            Self::Forbidden | Self::NotAuthorized => "auth",
            Self::InternalServerError | Self::ResourceConstraint | Self::RecipientUnavailable => "wait",
            _ => "cancel",
        }
    }
}

/// The `<error type=…><condition/><text/></error>` child of an error stanza.
pub fn error_element(condition: ErrorCondition, text: Option<&str>) -> Element {
    let mut e = Element::new("error", NS_CLIENT)
        .attr("type", condition.error_type())
        .child(Element::new(condition.as_str(), NS_STANZAS));
    if let Some(t) = text {
        e.append_child(Element::new("text", NS_STANZAS).text(t));
    }
    e
}

/// The `result` answering IQ `request` (to/from swapped, same id), with `payload` if any.
pub fn iq_result(request: &Element, payload: Option<Element>) -> Element {
    let mut e = answer_head(request).attr("type", "result");
    if let Some(p) = payload {
        e.append_child(p);
    }
    e
}

/// The `error` answering IQ `request` (to/from swapped, same id).
pub fn iq_error(request: &Element, condition: ErrorCondition, text: Option<&str>) -> Element {
    answer_head(request).attr("type", "error").child(error_element(condition, text))
}

fn answer_head(request: &Element) -> Element {
    let mut e = Element::new("iq", NS_CLIENT);
    if let Some(id) = request.get_attr("id") {
        e.set_attr("id", id);
    }
    if let Some(from) = request.get_attr("from") {
        e.set_attr("to", from);
    }
    if let Some(to) = request.get_attr("to") {
        e.set_attr("from", to);
    }
    e
}

/// The condition and text of an error stanza, if it is one.
pub fn stanza_error(stanza: &Element) -> Option<(String, Option<String>)> {
    let err = stanza.get_child("error", NS_CLIENT)?;
    let condition = err.children().find(|c| c.ns() == NS_STANZAS && c.name() != "text")?.name().to_string();
    let text = err.get_child("text", NS_STANZAS).map(|t| t.text_content());
    Some((condition, text))
}

/// The XEP-0114 handshake value: lowercase hex SHA-1 of `stream_id` followed by `secret`.
pub fn handshake_digest(stream_id: &str, secret: &str) -> String {
    let mut h = Sha1::new();
    h.update(stream_id.as_bytes());
    h.update(secret.as_bytes());
    hex::encode(h.finalize())
}

enum Command {
    Send(Element),
    Iq(Element, oneshot::Sender<Result<Element, BusError>>),
}

/// Sends stanzas on the bus; cheap to clone, usable from any task.
#[derive(Clone)]
pub struct BusSender {
    tx: mpsc::UnboundedSender<Command>,
    jid: String,
    timeout: Duration,
}

impl BusSender {
    /// This component's JID (`focus.meet.lan`, `jvb-1a2b.meet.lan`).
    pub fn jid(&self) -> &str {
        &self.jid
    }

    /// Sends `stanza` (a missing `from` becomes this component's JID).
    pub fn send(&self, stanza: Element) -> Result<(), BusError> {
        self.tx.send(Command::Send(stanza)).map_err(|_| BusError::Closed)
    }

    /// Sends IQ `get`/`set` `request` with a fresh id and waits for its answer: the `result`
    /// stanza, or [`BusError::IqError`] for an `error`, or [`BusError::Timeout`].
    pub async fn iq(&self, request: Element) -> Result<Element, BusError> {
        self.iq_with_timeout(request, self.timeout).await
    }

    pub async fn iq_with_timeout(&self, mut request: Element, timeout: Duration) -> Result<Element, BusError> {
        if request.name() != "iq" || !matches!(request.get_attr("type"), Some("get" | "set")) {
            return Err(BusError::NotAnIq(request.to_string()));
        }
        let id = next_id();
        request.set_attr("id", id.clone());
        let (tx, rx) = oneshot::channel();
        self.tx.send(Command::Iq(request, tx)).map_err(|_| BusError::Closed)?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(BusError::Closed),
            Err(_) => Err(BusError::Timeout { id, timeout }),
        }
    }
}

/// Incoming stanzas other than answers to [`BusSender::iq`]. `None` = connection lost.
pub struct BusReceiver {
    rx: mpsc::UnboundedReceiver<Element>,
}

impl BusReceiver {
    pub async fn recv(&mut self) -> Option<Element> {
        self.rx.recv().await
    }
}

fn next_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let prefix = PREFIX.get_or_init(|| crate::secrets::random_hex(4).unwrap_or_else(|_| "bus".into()));
    format!("{prefix}-{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Connects to the bus at `addr` as component `jid` with the shared `secret`.
pub async fn connect(addr: &str, jid: &str, secret: &str) -> Result<(BusSender, BusReceiver), BusError> {
    let mut sock = TcpStream::connect(addr).await?;
    sock.set_nodelay(true)?;
    let mut parser = StreamParser::new(ParserLimits {
        component_as_client: true,
        max_stanza_bytes: 1024 * 1024,
        ..Default::default()
    });
    let header = format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='{NS_STREAM}' to='{}'>",
        crate::xml::escape(jid)
    );
    sock.write_all(header.as_bytes()).await?;
    let handshake = async {
        let mut buf = vec![0u8; 8192];
        let mut stream_id = None;
        loop {
            while let Some(ev) = parser.poll_event()? {
                match ev {
                    StreamEvent::Open(h) => {
                        let id = h
                            .get_attr("id")
                            .ok_or_else(|| BusError::HandshakeRefused("stream header without id".into()))?
                            .to_string();
                        let digest = handshake_digest(&id, secret);
                        sock.write_all(format!("<handshake>{digest}</handshake>").as_bytes()).await?;
                        stream_id = Some(id);
                    }
                    StreamEvent::Stanza(s) if s.name() == "handshake" && stream_id.is_some() => return Ok(()),
                    StreamEvent::Stanza(s) if s.name() == "error" => {
                        let cond = s.children().next().map(|c| c.name().to_string()).unwrap_or_default();
                        return Err(BusError::HandshakeRefused(cond));
                    }
                    StreamEvent::Stanza(s) => {
                        return Err(BusError::HandshakeRefused(format!("unexpected <{}>", s.name())))
                    }
                    StreamEvent::Close => return Err(BusError::HandshakeRefused("stream closed".into())),
                }
            }
            let n = sock.read(&mut buf).await?;
            if n == 0 {
                return Err(BusError::Closed);
            }
            parser.handle_bytes(&buf[..n]);
        }
    };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(r) => r?,
        Err(_) => return Err(BusError::HandshakeTimeout),
    }
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (in_tx, in_rx) = mpsc::unbounded_channel();
    tokio::spawn(drive(sock, parser, cmd_rx, in_tx, jid.to_string()));
    Ok((BusSender { tx: cmd_tx, jid: jid.to_string(), timeout: DEFAULT_IQ_TIMEOUT }, BusReceiver { rx: in_rx }))
}

/// The one task that owns the socket: writes commands, reads stanzas, matches IQ answers.
async fn drive(
    mut sock: TcpStream,
    mut parser: StreamParser,
    mut cmds: mpsc::UnboundedReceiver<Command>,
    incoming: mpsc::UnboundedSender<Element>,
    jid: String,
) {
    let mut pending: HashMap<String, oneshot::Sender<Result<Element, BusError>>> = HashMap::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = String::new();
    let (mut rd, mut wr) = sock.split();
    // what came in the same read as the handshake is already in the parser
    let mut open = dispatch(&mut parser, &mut pending, &incoming);
    while open {
        tokio::select! {
            cmd = cmds.recv() => {
                let Some(cmd) = cmd else { break };
                out.clear();
                let mut next = Some(cmd);
                // Gather what is queued into one write.
                while let Some(cmd) = next.take() {
                    let mut stanza = match cmd {
                        Command::Send(s) => s,
                        Command::Iq(s, answer) => {
                            if pending.len() > 1024 {
                                pending.retain(|_, tx| !tx.is_closed());
                            }
                            if let Some(id) = s.get_attr("id") {
                                pending.insert(id.to_string(), answer);
                            }
                            s
                        }
                    };
                    if stanza.get_attr("from").is_none() {
                        stanza.set_attr("from", jid.clone());
                    }
                    stanza.write_to(&mut out, NS_CLIENT);
                    if out.len() > 64 * 1024 { break; }
                    next = cmds.try_recv().ok();
                }
                if wr.write_all(out.as_bytes()).await.is_err() {
                    break;
                }
            }
            n = rd.read(&mut buf) => {
                let n = match n { Ok(0) | Err(_) => break, Ok(n) => n };
                parser.handle_bytes(&buf[..n]);
                open = dispatch(&mut parser, &mut pending, &incoming);
            }
        }
    }
    let _ = wr.write_all(b"</stream:stream>").await;
    for (_, tx) in pending.drain() {
        let _ = tx.send(Err(BusError::Closed));
    }
}

/// Hands every stanza the parser holds to its waiting IQ or to `incoming`; false when the
/// stream ended (a stream error, the close, or bad XML).
fn dispatch(
    parser: &mut StreamParser,
    pending: &mut HashMap<String, oneshot::Sender<Result<Element, BusError>>>,
    incoming: &mpsc::UnboundedSender<Element>,
) -> bool {
    loop {
        match parser.poll_event() {
            Ok(Some(StreamEvent::Stanza(s))) => {
                if s.name() == "iq" && matches!(s.get_attr("type"), Some("result" | "error")) {
                    if let Some(tx) = s.get_attr("id").and_then(|id| pending.remove(id)) {
                        let answer = if s.get_attr("type") == Some("error") {
                            let (condition, text) = stanza_error(&s).unwrap_or(("undefined-condition".into(), None));
                            Err(BusError::IqError { condition, text, stanza: Box::new(s) })
                        } else {
                            Ok(s)
                        };
                        let _ = tx.send(answer);
                        continue;
                    }
                }
                if s.is("error", NS_STREAM) {
                    // The caller sees the connection end (recv() == None).
                    return false;
                }
                let _ = incoming.send(s);
            }
            Ok(Some(StreamEvent::Close)) | Err(_) => return false,
            Ok(Some(StreamEvent::Open(_))) => {}
            Ok(None) => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_test_vector() {
        assert_eq!(
            handshake_digest("720841fc-90c5-4773-8e01-b9e0f68aa07e", "focussecret"),
            "3c6218a3ed50cc8673707d3881675b0bf77158bd"
        );
    }

    #[test]
    fn answers_swap_addresses_and_keep_id() {
        let req = Element::new("iq", NS_CLIENT)
            .attr("id", "7")
            .attr("from", "a@b/c")
            .attr("to", "focus.x")
            .attr("type", "get");
        let r = iq_error(&req, ErrorCondition::ItemNotFound, Some("no"));
        assert_eq!(r.get_attr("to"), Some("a@b/c"));
        assert_eq!(r.get_attr("from"), Some("focus.x"));
        assert_eq!(r.get_attr("id"), Some("7"));
        assert_eq!(stanza_error(&r), Some(("item-not-found".into(), Some("no".into()))));
    }
}
