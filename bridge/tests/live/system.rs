//! The real processes for tests and `bridge-bench`: `signal` (for its bus) and the `bridge`
//! binary on free loopback ports with a fresh secret, a bus client that plays focus's part
//! (Colibri IQs, event acknowledgements, bridge presences), and a plain HTTP GET. Shared by
//! `tests/live` and `src/bin/bridge-bench` (included by path there), so both start the
//! system the same way.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use proto::bus::{iq_result, BusSender};
use proto::colibri::{BridgeStats, ColibriEvent, ColibriRequest, ColibriResponse};
use proto::xml::{Element, NS_CLIENT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

pub const DOMAIN: &str = "meet.lan";
pub const BRIDGE_ID: &str = "jvb-live";

/// A child process and its data folder; both go when this drops.
pub struct Proc {
    pub child: Child,
    pub dir: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn free_tcp() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], proto::testkit::free_tcp_port()))
}

pub fn free_udp() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], proto::testkit::free_udp_port()))
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir()
        .join(format!("bridge-live-{tag}-{}", proto::secrets::random_hex(6).expect("os randomness")));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn wait_tcp(addr: SocketAddr, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {addr} in time");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How to start the system.
pub struct Launch {
    pub signal: PathBuf,
    pub bridge: PathBuf,
    /// Runs the bridge under `taskset -c <core>`.
    pub bridge_core: Option<usize>,
    /// Runs the bridge under `taskset -c <list>` instead (e.g. `0,1`: media threads on
    /// several cores); wins over `bridge_core`.
    pub bridge_cpus: Option<String>,
    /// The address the media socket binds (`0.0.0.0` as in production, or loopback).
    pub media_ip: IpAddr,
    pub drain_secs: u32,
    /// More settings for the bridge.
    pub bridge_env: Vec<(&'static str, String)>,
    pub log: String,
}

impl Launch {
    pub fn new(signal: PathBuf, bridge: PathBuf) -> Launch {
        Launch {
            signal,
            bridge,
            bridge_core: None,
            bridge_cpus: None,
            media_ip: IpAddr::from([127, 0, 0, 1]),
            drain_secs: 2,
            bridge_env: Vec::new(),
            log: std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        }
    }
}

/// Signal (for its bus) and the bridge, connected with a fresh secret.
pub struct System {
    pub signal: Proc,
    pub bridge: Proc,
    pub bus: SocketAddr,
    pub bridge_http: SocketAddr,
    pub media: SocketAddr,
    pub secret: String,
}

impl System {
    pub fn launch(l: &Launch) -> System {
        let secret = proto::secrets::random_hex(16).expect("os randomness");
        let bus = free_tcp();
        let sdir = temp_dir("signal");
        let child = Command::new(&l.signal)
            .env("SIGNAL_C2S_ADDR", free_tcp().to_string())
            .env("SIGNAL_HTTP_ADDR", free_tcp().to_string())
            .env("SIGNAL_BUS_ADDR", bus.to_string())
            .env("DATA_DIR", &sdir)
            .env("XMPP_DOMAIN", DOMAIN)
            .env("BUS_SECRET", &secret)
            .env("TOKEN_SECRET", "live-token-secret")
            .env("RUST_LOG", &l.log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", l.signal.display()));
        let signal = Proc { child, dir: sdir };
        wait_tcp(bus, "signal's bus");
        let bridge_http = free_tcp();
        let media = SocketAddr::new(l.media_ip, free_udp().port());
        let bdir = temp_dir("bridge");
        let mut cmd = match l.bridge_cpus.clone().or(l.bridge_core.map(|c| c.to_string())) {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpus).arg(&l.bridge);
                c
            }
            None => Command::new(&l.bridge),
        };
        cmd.env("BRIDGE_MEDIA_ADDR", media.to_string())
            .env("BRIDGE_HTTP_ADDR", bridge_http.to_string())
            .env("BUS_ADDR", bus.to_string())
            .env("BRIDGE_ID", BRIDGE_ID)
            .env("DATA_DIR", &bdir)
            .env("XMPP_DOMAIN", DOMAIN)
            .env("BUS_SECRET", &secret)
            .env("BRIDGE_DRAIN_SECS", l.drain_secs.to_string())
            .env("RUST_LOG", &l.log)
            .envs(l.bridge_env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null());
        let child = cmd.spawn().unwrap_or_else(|e| panic!("{} starts: {e}", l.bridge.display()));
        let bridge = Proc { child, dir: bdir };
        wait_tcp(bridge_http, "bridge http");
        System { signal, bridge, bus, bridge_http, media, secret }
    }

    pub fn bridge_pid(&self) -> u32 {
        self.bridge.child.id()
    }

    /// SIGTERM to the bridge (graceful drain).
    pub fn terminate_bridge(&self) {
        // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
        unsafe {
            libc::kill(self.bridge.child.id() as i32, libc::SIGTERM);
        }
    }
}

/// GET `path` on `addr`; returns (status, body); (0, "") when the server cannot be reached.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else { return (0, String::new()) };
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return (0, String::new());
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// Plays focus's part on the bus.
pub struct FocusClient {
    pub tx: BusSender,
    pub events: mpsc::UnboundedReceiver<ColibriEvent>,
    pub presences: mpsc::UnboundedReceiver<BridgeStats>,
}

impl FocusClient {
    /// Connects, then waits until the bridge answers Colibri health on the bus (it starts
    /// listening for HTTP before its bus connection is up).
    pub async fn connect_ready(bus: SocketAddr, secret: &str) -> FocusClient {
        let focus = FocusClient::connect(bus, secret).await;
        let t0 = tokio::time::Instant::now();
        while focus.colibri(&ColibriRequest::Health).await.is_err() {
            assert!(t0.elapsed() < std::time::Duration::from_secs(15), "bridge answers on the bus");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        focus
    }

    pub async fn connect(bus: SocketAddr, secret: &str) -> FocusClient {
        let (tx, mut rx) = proto::bus::connect(&bus.to_string(), &format!("focus.{DOMAIN}"), secret)
            .await
            .expect("focus-role client connects to the bus");
        tx.send(
            Element::new("presence", NS_CLIENT)
                .attr("to", format!("bridges@internal.{DOMAIN}/focus"))
                .child(Element::new("x", "http://jabber.org/protocol/muc")),
        )
        .expect("join the bridges room");
        let (ev_tx, events) = mpsc::unbounded_channel();
        let (pr_tx, presences) = mpsc::unbounded_channel();
        let acker = tx.clone();
        tokio::spawn(async move {
            while let Some(el) = rx.recv().await {
                if el.name() == "iq" && el.get_attr("type") == Some("set") {
                    if let Some(c) = el.get_child("colibri", proto::ns::COLIBRI) {
                        if let Ok(ev) = serde_json::from_str::<ColibriEvent>(&c.text_content()) {
                            let _ = ev_tx.send(ev);
                        }
                    }
                    let _ = acker.send(iq_result(&el, None));
                } else if el.name() == "presence" {
                    if let Some(s) = el.get_child("stats", proto::ns::BRIDGE_STATS) {
                        if let Ok(stats) = serde_json::from_str::<BridgeStats>(&s.text_content()) {
                            let _ = pr_tx.send(stats);
                        }
                    }
                }
            }
        });
        FocusClient { tx, events, presences }
    }

    /// One Colibri request to the bridge: the response, or the error's text.
    pub async fn colibri(&self, req: &ColibriRequest) -> Result<ColibriResponse, String> {
        let json = serde_json::to_string(req).expect("request serializes");
        let iq = Element::new("iq", NS_CLIENT)
            .attr("type", "set")
            .attr("to", format!("{BRIDGE_ID}.{DOMAIN}"))
            .child(Element::new("colibri", proto::ns::COLIBRI).text(json));
        match self.tx.iq(iq).await {
            Ok(el) => {
                let c = el.get_child("colibri", proto::ns::COLIBRI).ok_or("result without colibri")?;
                serde_json::from_str(&c.text_content()).map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        }
    }
}
