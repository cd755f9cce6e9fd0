//! signal's side of the bus, played by the test, for the archive's tests: a XEP-0114 server
//! that accepts filestore's component (checking its handshake against the shared secret) and
//! then lets the test send what signal would send — copies from the server JID, people's
//! queries with the `from` signal stamps, revocations — and read what the archive answers.
//! It also sends what signal never would (forged copies), to prove the archive refuses them.
//!
//! The stanzas below follow signal/PEOPLE.md to the letter; they are what the archive is
//! built against.

use super::WAIT;
use proto::xml::{Element, ParserLimits, StreamEvent, StreamParser};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

pub const DOMAIN: &str = "meet.lan";
pub const ARCHIVE: &str = "archive.meet.lan";
pub const P: &str = "urn:meet-lan:people:0";

/// The fake signal: a listener for components.
pub struct FakeSignal {
    pub addr: String,
    pub secret: String,
    conns: mpsc::UnboundedReceiver<BusConn>,
}

/// One component's stream, after a good handshake.
pub struct BusConn {
    /// The JID the component announced (`archive.meet.lan`).
    pub component: String,
    out: mpsc::UnboundedSender<String>,
    inbox: mpsc::UnboundedReceiver<Element>,
    next_id: u64,
}

impl FakeSignal {
    pub async fn start() -> FakeSignal {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the fake bus");
        let addr = listener.local_addr().expect("local addr").to_string();
        let secret = proto::secrets::random_hex(16).expect("os randomness");
        let (tx, conns) = mpsc::unbounded_channel();
        let s = secret.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (tx, s) = (tx.clone(), s.clone());
                tokio::spawn(async move {
                    if let Some(c) = accept(sock, &s).await {
                        let _ = tx.send(c);
                    }
                });
            }
        });
        FakeSignal { addr, secret, conns }
    }

    /// The settings that point filestore's archive at this bus.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![("BUS_ADDR", self.addr.clone()), ("BUS_SECRET", self.secret.clone()), ("XMPP_DOMAIN", DOMAIN.into())]
    }

    /// The next component that completes its handshake.
    pub async fn connected(&mut self) -> BusConn {
        tokio::time::timeout(WAIT, self.conns.recv())
            .await
            .expect("the archive connected to the bus in time")
            .expect("the fake bus is running")
    }
}

/// Starts filestore with the archive on `bus` (and `extra` settings), and waits for its
/// component to connect.
pub async fn start_with_bus(bus: &mut FakeSignal, extra: &[(&str, &str)]) -> (super::Server, BusConn) {
    let env = bus.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    let server = super::Server::start(&all);
    let conn = bus.connected().await;
    assert_eq!(conn.component, ARCHIVE);
    (server, conn)
}

async fn accept(mut sock: TcpStream, secret: &str) -> Option<BusConn> {
    let mut parser = StreamParser::new(ParserLimits {
        component_as_client: true,
        max_stanza_bytes: 1024 * 1024,
        ..Default::default()
    });
    let mut buf = vec![0u8; 16 * 1024];
    let stream_id = proto::secrets::random_hex(8).ok()?;
    let mut component = None;
    loop {
        while let Some(ev) = parser.poll_event().ok()? {
            match ev {
                StreamEvent::Open(h) => {
                    component = Some(h.get_attr("to")?.to_string());
                    let header = format!(
                        "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' from='{}' id='{stream_id}'>",
                        component.as_deref()?
                    );
                    sock.write_all(header.as_bytes()).await.ok()?;
                }
                StreamEvent::Stanza(s) if s.name() == "handshake" => {
                    if s.text_content().trim() != proto::bus::handshake_digest(&stream_id, secret) {
                        let _ = sock.write_all(b"<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>").await;
                        return None;
                    }
                    sock.write_all(b"<handshake/>").await.ok()?;
                    return Some(serve(sock, parser, component?));
                }
                _ => return None,
            }
        }
        let n = sock.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        parser.handle_bytes(&buf[..n]);
    }
}

fn serve(sock: TcpStream, mut parser: StreamParser, component: String) -> BusConn {
    let (out, mut out_rx) = mpsc::unbounded_channel::<String>();
    let (in_tx, inbox) = mpsc::unbounded_channel();
    let (mut rd, mut wr) = sock.into_split();
    tokio::spawn(async move {
        while let Some(s) = out_rx.recv().await {
            if wr.write_all(s.as_bytes()).await.is_err() {
                break;
            }
        }
        let _ = wr.write_all(b"</stream:stream>").await;
    });
    tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            parser.handle_bytes(&buf[..n]);
            loop {
                match parser.poll_event() {
                    Ok(Some(StreamEvent::Stanza(s))) => {
                        if in_tx.send(s).is_err() {
                            return;
                        }
                    }
                    Ok(Some(StreamEvent::Open(_))) => {}
                    Ok(None) => break,
                    Ok(Some(StreamEvent::Close)) | Err(_) => return,
                }
            }
        }
    });
    BusConn { component, out, inbox, next_id: 0 }
}

impl BusConn {
    /// Sends one stanza as signal would (in the component stream's namespace).
    pub fn send(&self, xml: impl Into<String>) {
        self.out.send(xml.into()).expect("the bus connection is open");
    }

    /// The next stanza from the archive; `None` when nothing came within `WAIT` or the
    /// stream ended.
    pub async fn recv(&mut self) -> Option<Element> {
        tokio::time::timeout(WAIT, self.inbox.recv()).await.ok().flatten()
    }

    /// Everything the archive sends within `d`.
    pub async fn drain_for(&mut self, d: Duration) -> Vec<Element> {
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + d;
        while let Ok(Some(s)) = tokio::time::timeout_at(deadline, self.inbox.recv()).await {
            out.push(s);
        }
        out
    }

    /// Sends IQ `typ` with `payload` from `from` (as signal stamps a person's query) and
    /// returns the stanzas that came before the answer, and the answer.
    pub async fn iq(&mut self, from: &str, typ: &str, payload: &str) -> (Vec<Element>, Element) {
        self.next_id += 1;
        let id = format!("q{}", self.next_id);
        self.send(format!("<iq type='{typ}' id='{id}' from='{from}' to='{ARCHIVE}'>{payload}</iq>"));
        let mut before = Vec::new();
        loop {
            let s = self.recv().await.unwrap_or_else(|| panic!("no answer to IQ {id} ({payload})"));
            if s.name() == "iq" && s.get_attr("id") == Some(id.as_str()) {
                assert_eq!(s.get_attr("to"), Some(from), "the answer goes to the asker");
                return (before, s);
            }
            before.push(s);
        }
    }

    /// The stream ended (the archive went away), within `WAIT`.
    pub async fn closed(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.inbox.recv()).await {
                Ok(None) => return true,
                Ok(Some(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}

// ---- what signal sends (PEOPLE.md) -------------------------------------------------------

/// A copy from the server JID: `<archive xmlns=P name delivered><forwarded>inner</forwarded>`.
pub fn copy(inner: &str, name: &str, delivered: Option<bool>) -> String {
    copy_from(DOMAIN, inner, name, delivered)
}

/// The same copy claiming to come from `from` (forgeries).
pub fn copy_from(from: &str, inner: &str, name: &str, delivered: Option<bool>) -> String {
    let d = delivered.map(|d| format!(" delivered='{d}'")).unwrap_or_default();
    format!(
        "<message from='{from}' to='{ARCHIVE}'><archive xmlns='{P}' name='{name}'{d}><forwarded xmlns='urn:xmpp:forward:0'>{inner}</forwarded></archive></message>"
    )
}

/// A one-to-one message as signal routes it (stanza-id, delay, origin-id).
pub fn chat(from_full: &str, to: &str, stanza_id: &str, body: &str) -> String {
    format!(
        "<message xmlns='jabber:client' type='chat' from='{from_full}' to='{to}' id='m-{stanza_id}'><body>{body}</body><origin-id xmlns='urn:xmpp:sid:0' id='o-{stanza_id}'/><stanza-id xmlns='urn:xmpp:sid:0' by='{DOMAIN}' id='{stanza_id}'/><delay xmlns='urn:xmpp:delay' stamp='2025-06-01T10:00:00.000Z'/></message>"
    )
}

/// A chat marker: `from_full` has displayed `stanza_id` of the conversation with `to`.
pub fn displayed(from_full: &str, to: &str, stanza_id: &str) -> String {
    format!(
        "<message xmlns='jabber:client' type='chat' from='{from_full}' to='{to}'><displayed xmlns='urn:xmpp:chat-markers:0' id='{stanza_id}'/></message>"
    )
}

/// An XEP-0353 proposal with the call room.
pub fn propose(from_full: &str, to: &str, call_id: &str, video: bool) -> String {
    let v = if video { "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'/>" } else { "" };
    format!(
        "<message xmlns='jabber:client' type='chat' from='{from_full}' to='{to}'><propose xmlns='urn:xmpp:jingle-message:0' id='{call_id}'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/>{v}<call xmlns='{P}' room='call-0123456789abcdef0123456789abcdef' password='abcdefghijklmnopqrstuvwx'/></propose></message>"
    )
}

/// `<accept/>`, `<proceed/>`, `<reject/>` (with `inner`, e.g. a busy reason) or `<retract/>`.
pub fn jmi(from_full: &str, to: &str, action: &str, call_id: &str, inner: &str) -> String {
    format!(
        "<message xmlns='jabber:client' type='chat' from='{from_full}' to='{to}'><{action} xmlns='urn:xmpp:jingle-message:0' id='{call_id}'>{inner}</{action}></message>"
    )
}

pub const BUSY: &str = "<reason xmlns='urn:xmpp:jingle:1'><busy/></reason>";

/// An XEP-0249 invitation to `room`.
pub fn invite(from_full: &str, to: &str, room: &str, msg_id: &str) -> String {
    format!(
        "<message xmlns='jabber:client' from='{from_full}' to='{to}' id='{msg_id}'><x xmlns='jabber:x:conference' jid='{room}@conference.{DOMAIN}' reason='come and see'/></message>"
    )
}

/// signal telling the archive of a removal.
pub fn revoke(room: &str, nick: &str) -> String {
    format!("<message from='{DOMAIN}' to='{ARCHIVE}'><revoke xmlns='{P}' room='{room}' nick='{nick}'/></message>")
}

// ---- what people ask (PEOPLE.md) ---------------------------------------------------------

/// A MAM query of the conversation with `with` (`None`: all), `max` per page, `before` an id
/// (`Some("")`: the newest page).
pub fn mam(queryid: &str, with: Option<&str>, max: usize, before: Option<&str>) -> String {
    let with = with.map(|w| format!("<field var='with'><value>{w}</value></field>")).unwrap_or_default();
    let before = match before {
        None => String::new(),
        Some("") => "<before/>".into(),
        Some(id) => format!("<before>{id}</before>"),
    };
    format!(
        "<query xmlns='urn:xmpp:mam:2' queryid='{queryid}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>{with}</x><set xmlns='http://jabber.org/protocol/rsm'><max>{max}</max>{before}</set></query>"
    )
}

pub const INBOX: &str = "<inbox xmlns='urn:xmpp:inbox:1' queryid='ib'/>";
pub const NOTIFICATIONS: &str = "<notifications xmlns='urn:meet-lan:people:0'/>";

pub fn dismiss(id: &str) -> String {
    format!("<dismiss xmlns='{P}' id='{id}'/>")
}

// ---- reading answers ----------------------------------------------------------------------

/// The stanza-ids of MAM results, in the order they came.
pub fn result_ids(results: &[Element]) -> Vec<String> {
    results
        .iter()
        .filter_map(|m| m.get_child("result", "urn:xmpp:mam:2"))
        .filter_map(|r| r.get_attr("id").map(str::to_string))
        .collect()
}

/// The bodies of the forwarded messages of MAM or inbox results.
pub fn bodies(results: &[Element]) -> Vec<String> {
    results
        .iter()
        .filter_map(|m| m.children().next())
        .filter_map(|r| r.get_child("forwarded", "urn:xmpp:forward:0"))
        .filter_map(|f| f.get_child("message", "jabber:client"))
        .filter_map(|m| m.get_child("body", "jabber:client"))
        .map(|b| b.text_content())
        .collect()
}

/// `<fin/>`'s complete flag and RSM set: (complete, first, first index, last, count).
pub fn fin(answer: &Element) -> (bool, Option<String>, Option<String>, Option<String>, u64) {
    assert_eq!(answer.get_attr("type"), Some("result"), "{}", answer.to_stanza_string());
    let fin = answer.get_child("fin", "urn:xmpp:mam:2").expect("<fin/>");
    let set = fin.get_child("set", "http://jabber.org/protocol/rsm").expect("<set/>");
    let text = |n: &str| set.get_child(n, "http://jabber.org/protocol/rsm").map(|e| e.text_content());
    let index =
        set.get_child("first", "http://jabber.org/protocol/rsm").and_then(|f| f.get_attr("index").map(str::to_string));
    let count = text("count").and_then(|c| c.parse().ok()).expect("<count/>");
    (fin.get_attr("complete") == Some("true"), text("first"), index, text("last"), count)
}

/// The error condition of an IQ answer (`None` for a result).
pub fn error_condition(answer: &Element) -> Option<String> {
    proto::bus::stanza_error(answer).map(|(c, _)| c)
}

/// The notifications of a list answer or a headline, as (kind, from, id, attributes).
pub fn notifications_of(e: &Element) -> Vec<Element> {
    e.get_child("notifications", P).map(|n| n.children().cloned().collect()).unwrap_or_default()
}

/// A metric's value from `/metrics`.
pub async fn metric(addr: &str, name: &str) -> f64 {
    let m = super::http(addr, "GET", "/metrics", &[], vec![]).await;
    m.text()
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("metric {name} missing"))
}

/// Waits (up to `WAIT`) until a metric has `value`.
pub async fn wait_metric(addr: &str, name: &str, value: f64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let v = metric(addr, name).await;
        if v == value {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{name} stayed {v}, expected {value}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
