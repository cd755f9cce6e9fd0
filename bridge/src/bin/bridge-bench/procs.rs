//! The processes under test (signal for the bus, the bridge pinned to its own core), the
//! bus client that plays focus's part, and readings from `/proc`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use proto::bus::{iq_result, BusSender};
use proto::colibri::{ColibriEvent, ColibriRequest, ColibriResponse};
use proto::xml::{Element, NS_CLIENT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

pub const DOMAIN: &str = "meet.lan";
pub const BRIDGE_ID: &str = "jvb-bench";

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

fn free_tcp() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("loopback bind for a free port");
    l.local_addr().expect("bound socket has an address")
}

fn free_udp() -> SocketAddr {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("loopback bind for a free port");
    s.local_addr().expect("bound socket has an address")
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("bridge-bench-{tag}-{}", proto::secrets::random_hex(6).expect("os randomness")));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A sibling binary of this one (`target/<profile>/<name>`), or from `$MEET_BIN_DIR`.
pub fn binary(name: &str) -> PathBuf {
    if let Ok(dir) = std::env::var("MEET_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    let me = std::env::current_exe().expect("own path");
    me.parent().expect("binary has a folder").join(name)
}

fn wait_tcp(addr: SocketAddr, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {addr} in time");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub struct System {
    /// Kept for the bus: the process ends when this drops.
    pub _signal: Proc,
    pub bridge: Proc,
    pub bus: SocketAddr,
    pub bridge_http: SocketAddr,
    pub secret: String,
}

impl System {
    /// Starts signal and the bridge; the bridge runs under `taskset -c <core>`.
    pub fn start(bridge_core: usize) -> System {
        let secret = proto::secrets::random_hex(16).expect("os randomness");
        let bus = free_tcp();
        let sdir = temp_dir("signal");
        let child = Command::new(binary("signal"))
            .env("SIGNAL_C2S_ADDR", free_tcp().to_string())
            .env("SIGNAL_HTTP_ADDR", free_tcp().to_string())
            .env("SIGNAL_BUS_ADDR", bus.to_string())
            .env("DATA_DIR", &sdir)
            .env("XMPP_DOMAIN", DOMAIN)
            .env("BUS_SECRET", &secret)
            .env("TOKEN_SECRET", "bench-token-secret")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .spawn()
            .expect("the signal binary starts (build it: cargo build --release -p signal)");
        let signal = Proc { child, dir: sdir };
        wait_tcp(bus, "signal's bus");
        let bridge_http = free_tcp();
        let bdir = temp_dir("bridge");
        let child = Command::new("taskset")
            .arg("-c")
            .arg(bridge_core.to_string())
            .arg(binary("bridge"))
            .env("BRIDGE_MEDIA_ADDR", free_udp().to_string())
            .env("BRIDGE_HTTP_ADDR", bridge_http.to_string())
            .env("BUS_ADDR", bus.to_string())
            .env("BRIDGE_ID", BRIDGE_ID)
            .env("DATA_DIR", &bdir)
            .env("XMPP_DOMAIN", DOMAIN)
            .env("BUS_SECRET", &secret)
            .env("BRIDGE_DRAIN_SECS", "0")
            .env("BRIDGE_BWE", std::env::var("BRIDGE_BWE").unwrap_or_else(|_| "true".into()))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .spawn()
            .expect("taskset and the bridge binary start");
        let bridge = Proc { child, dir: bdir };
        wait_tcp(bridge_http, "bridge http");
        System { _signal: signal, bridge, bus, bridge_http, secret }
    }

    pub fn bridge_pid(&self) -> u32 {
        self.bridge.child.id()
    }
}

/// CPU seconds (user + system) a process used so far.
pub fn process_cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return 0.0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0) + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    ticks as f64 / hz
}

/// Resident memory of a process in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0))))
        .unwrap_or(0)
}

/// CPU seconds the calling thread used so far.
pub fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// Pins the calling thread to one core.
pub fn pin_to_core(core: usize) {
    // SAFETY: cpu_set_t is plain data; sched_setaffinity(0) targets the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// A counter from the bridge's `/metrics`.
pub async fn bridge_metric(addr: SocketAddr, name: &str) -> u64 {
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else { return 0 };
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return 0;
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf);
    let prefix = format!("bridge_{name} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix).and_then(|v| v.trim().parse().ok())).unwrap_or(0)
}

/// Plays focus's part on the bus.
pub struct Focus {
    pub tx: BusSender,
}

impl Focus {
    /// Connects as `focus.<domain>`; the receiver yields the bridge's Colibri events.
    pub async fn connect(bus: SocketAddr, secret: &str) -> (Focus, mpsc::UnboundedReceiver<ColibriEvent>) {
        let (tx, mut rx) = proto::bus::connect(&bus.to_string(), &format!("focus.{DOMAIN}"), secret).await.expect("bus connect");
        let (ev_tx, events) = mpsc::unbounded_channel();
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
                }
            }
        });
        (Focus { tx }, events)
    }

    pub async fn colibri(&self, req: &ColibriRequest) -> Result<ColibriResponse, String> {
        let json = serde_json::to_string(req).expect("request serializes");
        let iq = Element::new("iq", NS_CLIENT)
            .attr("type", "set")
            .attr("to", format!("{BRIDGE_ID}.{DOMAIN}"))
            .child(Element::new("colibri", proto::ns::COLIBRI).text(json));
        let el = self.tx.iq(iq).await.map_err(|e| e.to_string())?;
        let c = el.get_child("colibri", proto::ns::COLIBRI).ok_or("result without colibri")?;
        serde_json::from_str(&c.text_content()).map_err(|e| e.to_string())
    }
}
