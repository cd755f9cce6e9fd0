//! Starting the real `signal` binary on free loopback ports with a temp DATA_DIR, and small
//! raw-XMPP helpers for the tests.
#![allow(dead_code)]

use proto::xml::{Element, ParserLimits, StreamEvent, StreamParser};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const DOMAIN: &str = "meet.lan";
pub const BUS_SECRET: &str = "focussecret";
pub const TOKEN_SECRET: &str = "tokensecret";

pub struct Signal {
    pub child: Child,
    pub c2s: SocketAddr,
    pub http: SocketAddr,
    pub bus: SocketAddr,
    pub data_dir: PathBuf,
}

impl Drop for Signal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

pub fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], proto::testkit::free_tcp_port()))
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir()
        .join(format!("signal-test-{tag}-{}", proto::secrets::random_hex(6).expect("os randomness")));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

impl Signal {
    pub fn start() -> Signal {
        Self::start_with(&[])
    }

    pub fn start_with(env: &[(&str, &str)]) -> Signal {
        Self::start_in(temp_dir("data"), env)
    }

    pub fn start_in(data_dir: PathBuf, env: &[(&str, &str)]) -> Signal {
        // A free port can be taken by another test between our probe and signal's bind: then
        // signal exits at once, and we try again with new ports.
        for _ in 0..5 {
            let (c2s, http, bus) = (free_addr(), free_addr(), free_addr());
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_signal"));
            cmd.env("SIGNAL_C2S_ADDR", c2s.to_string())
                .env("SIGNAL_HTTP_ADDR", http.to_string())
                .env("SIGNAL_BUS_ADDR", bus.to_string())
                .env("DATA_DIR", &data_dir)
                .env("XMPP_DOMAIN", DOMAIN)
                .env("BUS_SECRET", BUS_SECRET)
                .env("TOKEN_SECRET", TOKEN_SECRET)
                .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
                .stdin(Stdio::null());
            for (k, v) in env {
                cmd.env(k, v);
            }
            let child = cmd.spawn().expect("the signal binary starts");
            let mut s = Signal { child, c2s, http, bus, data_dir: data_dir.clone() };
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut exited = false;
            'wait: for addr in [s.bus, s.c2s, s.http] {
                while std::net::TcpStream::connect(addr).is_err() {
                    if let Ok(Some(_)) = s.child.try_wait() {
                        exited = true;
                        break 'wait;
                    }
                    assert!(Instant::now() < deadline, "signal did not listen on {addr} in time");
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            if !exited {
                // the probes may have reached another process on a stolen port: ours must live
                std::thread::sleep(Duration::from_millis(50));
                exited = matches!(s.child.try_wait(), Ok(Some(_)));
            }
            if !exited {
                return s;
            }
            // keep the data dir for the next attempt
            s.data_dir = temp_dir("discard");
        }
        panic!("signal could not bind free ports five times in a row");
    }
}

/// A raw XML stream over TCP, for tests that need to see exactly what signal sends.
pub struct RawStream {
    pub sock: TcpStream,
    pub parser: StreamParser,
}

pub const TIMEOUT: Duration = Duration::from_secs(10);

impl RawStream {
    pub async fn connect(addr: SocketAddr, component: bool) -> RawStream {
        let sock = TcpStream::connect(addr).await.expect("connect to signal");
        let parser = StreamParser::new(ParserLimits {
            component_as_client: component,
            max_stanza_bytes: 1 << 22,
            ..Default::default()
        });
        RawStream { sock, parser }
    }

    pub async fn send(&mut self, s: &str) {
        self.sock.write_all(s.as_bytes()).await.expect("write to signal");
    }

    /// The next stream event; `None` when the connection ended.
    pub async fn next(&mut self) -> Option<StreamEvent> {
        let mut buf = [0u8; 8192];
        let fut = async {
            loop {
                match self.parser.poll_event() {
                    Ok(Some(ev)) => return Some(ev),
                    Ok(None) => {}
                    Err(e) => panic!("signal sent bad XML: {e}"),
                }
                let n = self.sock.read(&mut buf).await.ok()?;
                if n == 0 {
                    return None;
                }
                self.parser.handle_bytes(&buf[..n]);
            }
        };
        tokio::time::timeout(TIMEOUT, fut).await.expect("signal answered in time")
    }

    pub async fn stanza(&mut self) -> Element {
        loop {
            match self.next().await {
                Some(StreamEvent::Stanza(s)) => return s,
                Some(StreamEvent::Open(_)) => continue,
                other => panic!("expected a stanza, got {other:?}"),
            }
        }
    }

    /// Reads until the stream ends; returns the stream error condition, if one came.
    pub async fn stream_error(&mut self) -> Option<String> {
        loop {
            match self.next().await {
                Some(StreamEvent::Stanza(s)) if s.is("error", proto::xml::NS_STREAM) => {
                    return s.children().next().map(|c| c.name().to_string());
                }
                Some(StreamEvent::Close) | None => return None,
                _ => continue,
            }
        }
    }
}

pub fn el(xml: &str) -> Element {
    proto::xml::parse_element(xml).expect("test XML is well-formed")
}

pub const HEADER_TO_DOMAIN: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='meet.lan' version='1.0'>";

pub fn header_to(host: &str) -> String {
    format!("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='{host}' version='1.0'>")
}

pub const NS_MUC: &str = "http://jabber.org/protocol/muc";
pub const NS_MUC_USER: &str = "http://jabber.org/protocol/muc#user";
pub const NS_ROOM: &str = "urn:meet-lan:room:0";

/// A client stream after anonymous login and binding.
pub struct Client {
    pub s: RawStream,
    pub jid: String,
}

impl Client {
    /// Connects, authenticates with SASL ANONYMOUS and binds a resource.
    pub async fn anonymous(signal: &Signal) -> Client {
        let mut s = RawStream::connect(signal.c2s, false).await;
        s.send(HEADER_TO_DOMAIN).await;
        let Some(StreamEvent::Open(_)) = s.next().await else { panic!("no stream header") };
        let f = s.stanza().await;
        assert_eq!(f.name(), "features");
        s.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/>").await;
        let ok = s.stanza().await;
        assert_eq!(ok.name(), "success", "{ok}");
        Self::restart_and_bind(s, "meet.lan").await
    }

    pub async fn restart_and_bind(mut s: RawStream, host: &str) -> Client {
        s.parser.reset();
        s.send(&header_to(host)).await;
        let Some(StreamEvent::Open(_)) = s.next().await else { panic!("no restarted stream header") };
        let f = s.stanza().await;
        assert!(f.get_child("bind", "urn:ietf:params:xml:ns:xmpp-bind").is_some(), "{f}");
        s.send("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>test</resource></bind></iq>").await;
        let r = s.stanza().await;
        assert_eq!(r.get_attr("type"), Some("result"), "{r}");
        let jid = r
            .get_child("bind", "urn:ietf:params:xml:ns:xmpp-bind")
            .unwrap()
            .get_child("jid", "urn:ietf:params:xml:ns:xmpp-bind")
            .unwrap()
            .text_content();
        Client { s, jid }
    }

    pub async fn send(&mut self, x: &str) {
        self.s.send(x).await;
    }

    pub async fn send_el(&mut self, e: &Element) {
        self.s.send(&e.to_stanza_string()).await;
    }

    /// The next stanza for which `f` holds (others are skipped).
    pub async fn until(&mut self, f: impl Fn(&Element) -> bool) -> Element {
        loop {
            let s = self.s.stanza().await;
            if f(&s) {
                return s;
            }
        }
    }

    /// Joins `room` as `nick` and returns (self-presence, subject message), checking order:
    /// others' presences, then self-presence (110), then the subject.
    pub async fn join(&mut self, room: &str, nick: &str) -> (Element, Vec<Element>) {
        self.send(&format!("<presence to='{room}@conference.meet.lan/{nick}'><x xmlns='{NS_MUC}'/><nick xmlns='http://jabber.org/protocol/nick'>Name {nick}</nick></presence>")).await;
        let mut others = Vec::new();
        let me = format!("{room}@conference.meet.lan/{nick}");
        loop {
            let p = self.s.stanza().await;
            assert_eq!(p.name(), "presence", "expected presences before the subject: {p}");
            assert_ne!(p.get_attr("type"), Some("error"), "join refused: {p}");
            if p.get_attr("from") == Some(me.as_str()) {
                let state = self.s.stanza().await;
                assert!(state.get_child("room-state", NS_ROOM).is_some(), "room state after self-presence: {state}");
                assert!(status_codes(&state).contains(&"104".to_string()), "{state}");
                let subject = self.s.stanza().await;
                assert!(
                    subject.get_child("subject", proto::xml::NS_CLIENT).is_some(),
                    "subject after the room state: {subject}"
                );
                return (p, others);
            }
            others.push(p);
        }
    }
}

pub fn status_codes(p: &Element) -> Vec<String> {
    p.get_child("x", NS_MUC_USER)
        .map(|x| {
            x.children()
                .filter(|c| c.name() == "status")
                .filter_map(|c| c.get_attr("code"))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

pub fn error_condition(s: &Element) -> Option<String> {
    proto::bus::stanza_error(s).map(|(c, _)| c)
}

/// Proves the server still serves `c` (a ping round trip).
pub async fn still_served(c: &mut Client, id: &str) {
    c.send(&format!("<iq type='get' id='{id}' to='meet.lan'><ping xmlns='urn:xmpp:ping'/></iq>")).await;
    let r = c.until(|s| s.get_attr("id") == Some(id)).await;
    assert_eq!(r.get_attr("type"), Some("result"));
}

impl RawStream {
    pub async fn sock_write(&mut self, b: &[u8]) {
        self.sock.write_all(b).await.expect("write to signal");
    }
}
