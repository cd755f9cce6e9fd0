//! Starting the real `signal` binary on free loopback ports with a temp DATA_DIR, and small
//! raw-XMPP helpers for the tests.
#![allow(dead_code)]

use proto::xml::{Element, ParserLimits, StreamEvent, StreamParser};
use std::net::{SocketAddr, TcpListener};
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
    let l = TcpListener::bind("127.0.0.1:0").expect("loopback bind for a free port");
    l.local_addr().expect("bound socket has an address")
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("signal-test-{tag}-{}", proto::secrets::random_hex(6).expect("os randomness")));
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
        let s = Signal { child, c2s, http, bus, data_dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        for addr in [s.bus] {
            while std::net::TcpStream::connect(addr).is_err() {
                assert!(Instant::now() < deadline, "signal did not listen on {addr} in time");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        s
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
        let parser = StreamParser::new(ParserLimits { component_as_client: component, max_stanza_bytes: 1 << 22, ..Default::default() });
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
