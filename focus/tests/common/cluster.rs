//! Starts the real binaries of a meet-lan deployment on free loopback ports, for tests:
//! `signal`, `focus` and any number of `bridge`s, each with its own data folder, sharing a
//! generated bus secret. Std only, so other crates' tests can include this file with
//! `#[path = "../../focus/tests/common/cluster.rs"] mod cluster;`.
//!
//! Binaries come from `$MEET_BIN_DIR` (default `<workspace>/target/debug`). Logs of every
//! process go to files in the cluster's temp folder and are printed when a test panics.
//! Dropping the cluster kills every process it started (and only those).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What to start.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub bridges: usize,
    pub start_focus: bool,
    pub p2p_enabled: bool,
    pub p2p_delay_ms: u64,
    /// Extra environment for focus (e.g. `WEBHOOK_URL`).
    pub focus_env: Vec<(String, String)>,
    /// Extra environment for signal (e.g. `SIGNAL_MAX_STANZA`).
    pub signal_env: Vec<(String, String)>,
    /// The focus binary (default: `$MEET_BIN_DIR/focus`).
    pub focus_bin: Option<PathBuf>,
    /// Extra environment for every bridge (e.g. `BRIDGE_LOUDEST_AUDIO`).
    pub bridge_env: Vec<(String, String)>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            bridges: 1,
            start_focus: true,
            p2p_enabled: false,
            p2p_delay_ms: 1000,
            focus_env: Vec::new(),
            signal_env: Vec::new(),
            focus_bin: None,
            bridge_env: Vec::new(),
        }
    }
}

pub struct Proc {
    pub name: String,
    pub child: Option<Child>,
    pub log: PathBuf,
}

pub struct BridgeProc {
    pub id: String,
    pub media: SocketAddr,
    pub http: SocketAddr,
    pub proc: Proc,
}

pub struct Cluster {
    pub domain: String,
    pub dir: PathBuf,
    pub bus_secret: String,
    pub c2s: SocketAddr,
    pub signal_http: SocketAddr,
    pub bus: SocketAddr,
    pub focus_http: SocketAddr,
    pub signal: Proc,
    pub focus: Option<Proc>,
    pub bridges: Vec<BridgeProc>,
    bridge_env: Vec<(String, String)>,
}

/// Where the workspace's binaries are.
pub fn bin_dir() -> PathBuf {
    if let Ok(d) = std::env::var("MEET_BIN_DIR") {
        return PathBuf::from(d);
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(|p| p.join("target/debug")).unwrap_or(here)
}

/// The binaries a test needs; `None` (test skipped) when one is missing outside CI, a panic
/// in CI (where `./run-tests.sh` built them all).
pub fn require_bins(names: &[&str]) -> Option<()> {
    let missing: Vec<String> = names
        .iter()
        .filter(|n| !bin_dir().join(n).is_file())
        .map(|n| bin_dir().join(n).display().to_string())
        .collect();
    if missing.is_empty() {
        return Some(());
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("binaries missing in CI: {missing:?}");
    }
    eprintln!("SKIPPED: binaries missing: {missing:?} (run ./run-tests.sh or cargo build --workspace --bins)");
    None
}

pub fn free_tcp() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], proto::testkit::free_tcp_port()))
}

pub fn free_udp() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], proto::testkit::free_udp_port()))
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    let mut f = std::fs::File::open("/dev/urandom").expect("/dev/urandom is readable");
    f.read_exact(&mut b).expect("/dev/urandom gives bytes");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn spawn(name: &str, bin: &Path, dir: &Path, env: &[(&str, String)]) -> Proc {
    let log = dir.join(format!("{name}.log"));
    let out = std::fs::File::create(&log).expect("log file in the cluster dir");
    let err = out.try_clone().expect("log file handle clones");
    let data = dir.join(name);
    std::fs::create_dir_all(&data).expect("data dir in the cluster dir");
    let mut cmd = Command::new(bin);
    cmd.env("DATA_DIR", &data)
        .env("RUST_LOG", std::env::var("CLUSTER_LOG").unwrap_or_else(|_| "info".into()))
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    Proc { name: name.into(), child: Some(child), log }
}

impl Cluster {
    pub fn start(opts: ClusterOptions) -> Cluster {
        let dir = std::env::temp_dir().join(format!("meet-cluster-{}", random_hex(6)));
        std::fs::create_dir_all(&dir).expect("temp dir is writable");
        let domain = "meet.lan".to_string();
        let bus_secret = random_hex(32);
        let token_secret = random_hex(32);
        let (c2s, signal_http, bus, focus_http) = (free_tcp(), free_tcp(), free_tcp(), free_tcp());
        let mut signal_env = vec![
            ("XMPP_DOMAIN", domain.clone()),
            ("BUS_SECRET", bus_secret.clone()),
            ("TOKEN_SECRET", token_secret),
            ("SIGNAL_C2S_ADDR", c2s.to_string()),
            ("SIGNAL_HTTP_ADDR", signal_http.to_string()),
            ("SIGNAL_BUS_ADDR", bus.to_string()),
        ];
        for (k, v) in &opts.signal_env {
            signal_env.push((k.as_str(), v.clone()));
        }
        let signal = spawn("signal", &bin_dir().join("signal"), &dir, &signal_env);
        let mut c = Cluster {
            domain,
            dir,
            bus_secret,
            c2s,
            signal_http,
            bus,
            focus_http,
            signal,
            focus: None,
            bridges: Vec::new(),
            bridge_env: opts.bridge_env.clone(),
        };
        c.wait_tcp(c.c2s, "signal c2s");
        c.wait_tcp(c.bus, "signal bus");
        if opts.start_focus {
            let bin = opts.focus_bin.clone().unwrap_or_else(|| bin_dir().join("focus"));
            let mut env = vec![
                ("XMPP_DOMAIN", c.domain.clone()),
                ("BUS_SECRET", c.bus_secret.clone()),
                ("BUS_ADDR", c.bus.to_string()),
                ("FOCUS_HTTP_ADDR", c.focus_http.to_string()),
                ("P2P_ENABLED", opts.p2p_enabled.to_string()),
                ("P2P_DELAY_MS", opts.p2p_delay_ms.to_string()),
            ];
            let extra: Vec<(String, String)> = opts.focus_env.clone();
            for (k, v) in &extra {
                env.push((k.as_str(), v.clone()));
            }
            c.focus = Some(spawn("focus", &bin, &c.dir.clone(), &env));
            c.wait_http_ok(c.focus_http, "/health", "focus connected to the bus");
        }
        for _ in 0..opts.bridges {
            c.add_bridge();
        }
        if opts.start_focus {
            let n = c.bridges.len();
            c.wait_focus_stats("focus sees every bridge", |s| s["bridges"].as_array().is_some_and(|b| b.len() == n));
        }
        c
    }

    /// Starts one more bridge (id `jvb<n>`).
    pub fn add_bridge(&mut self) -> usize {
        let n = self.bridges.len();
        let id = format!("jvb{n}-{}", random_hex(2));
        let (media, http) = (free_udp(), free_tcp());
        let mut env = vec![
            ("XMPP_DOMAIN", self.domain.clone()),
            ("BUS_SECRET", self.bus_secret.clone()),
            ("BUS_ADDR", self.bus.to_string()),
            ("BRIDGE_ID", id.clone()),
            ("BRIDGE_MEDIA_ADDR", media.to_string()),
            ("BRIDGE_HTTP_ADDR", http.to_string()),
            ("ADVERTISE_IPS", "127.0.0.1".into()),
        ];
        for (k, v) in &self.bridge_env {
            env.push((k.as_str(), v.clone()));
        }
        let proc = spawn(&id, &bin_dir().join("bridge"), &self.dir.clone(), &env);
        self.bridges.push(BridgeProc { id, media, http, proc });
        self.wait_tcp(http, "bridge HTTP");
        n
    }

    /// `kill -9` of bridge `i`.
    pub fn kill_bridge(&mut self, i: usize) {
        if let Some(c) = self.bridges[i].proc.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.bridges[i].proc.child = None;
    }

    /// Sends `sig` (`TERM`, `STOP`, `CONT`, …) to bridge `i` with kill(1).
    pub fn signal_bridge(&mut self, i: usize, sig: &str) {
        let Some(pid) = self.bridges[i].proc.child.as_ref().map(|c| c.id()) else { return };
        let ok = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().is_ok_and(|s| s.success());
        assert!(ok, "kill -{sig} {pid} failed");
    }

    /// Waits (up to `timeout`) for bridge `i` to exit by itself; true if it did.
    pub fn wait_bridge_exit(&mut self, i: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match self.bridges[i].proc.child.as_mut().map(|c| c.try_wait()) {
                None => return true,
                Some(Ok(Some(_))) => {
                    self.bridges[i].proc.child = None;
                    return true;
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        false
    }

    pub fn wait_tcp(&self, addr: SocketAddr, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            self.check_alive();
            std::thread::sleep(Duration::from_millis(50));
        }
        self.dump_logs();
        panic!("{what} did not listen on {addr} within 20 s");
    }

    pub fn wait_http_ok(&self, addr: SocketAddr, path: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if http_get(addr, path).is_ok_and(|(code, _)| code == 200) {
                return;
            }
            self.check_alive();
            std::thread::sleep(Duration::from_millis(50));
        }
        self.dump_logs();
        panic!("{what}: GET {path} on {addr} not 200 within 20 s");
    }

    /// Focus's `/stats` JSON.
    pub fn focus_stats(&self) -> serde_json::Value {
        let (_, body) = http_get(self.focus_http, "/stats").expect("focus /stats answers");
        serde_json::from_str(&body).expect("focus /stats is JSON")
    }

    /// Waits (30 s at most) until focus's `/stats` satisfies `pred`.
    pub fn wait_focus_stats(&self, what: &str, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = serde_json::Value::Null;
        while Instant::now() < deadline {
            if let Ok((200, body)) = http_get(self.focus_http, "/stats") {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) {
                    if pred(&v) {
                        return v;
                    }
                    last = v;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.dump_logs();
        panic!("{what}: not reached within 30 s; last /stats: {last:#}");
    }

    fn check_alive(&self) {
        let _ = self;
    }

    pub fn dump_logs(&self) {
        let mut procs: Vec<&Proc> = vec![&self.signal];
        procs.extend(self.focus.iter());
        procs.extend(self.bridges.iter().map(|b| &b.proc));
        for p in procs {
            let text = std::fs::read_to_string(&p.log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(60).collect();
            eprintln!("----- {} log (last {} lines, {}) -----", p.name, tail.len(), p.log.display());
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump_logs();
        }
        let mut procs: Vec<&mut Proc> = vec![&mut self.signal];
        procs.extend(self.focus.iter_mut());
        procs.extend(self.bridges.iter_mut().map(|b| &mut b.proc));
        for p in procs {
            if let Some(mut c) = p.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A plain HTTP/1.1 GET on loopback: (status, body).
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_string() };
    Ok((code, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}
