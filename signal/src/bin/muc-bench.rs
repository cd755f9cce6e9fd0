//! muc-bench: N XMPP clients join one room over TCP, against signal and (in the same run)
//! against Prosody from Debian, and the ratios are printed. A benchmark, not a test.
//!
//! For each N (default 50, 200, 400) and each server:
//! - login: N clients connect, authenticate (SASL ANONYMOUS) and bind;
//! - burst: all N send their join presence at once; time until the last client holds the
//!   presences of all N occupants and the subject; stanzas delivered per second;
//! - last joiner: with N-1 in the room, one client leaves and joins again; time until it holds
//!   all N presences and the subject (median of `--repeats`);
//! - memory: the server's RSS growth per connected, joined client.
//!
//! usage: `cargo build --release -p signal && target/release/muc-bench [--n 50,200,400]
//!         [--repeats 7] [--no-prosody]`
//! It starts `signal` from its own folder and `prosody` from PATH, each on free loopback
//! ports with a temp data folder, and stops them at the end. It must never touch anything
//! beyond loopback and its temp folders.

#[path = "benchkit/mod.rs"]
mod benchkit;

use benchkit::{
    cpu_ms, free_port, read_stanza, rss_kib, start_signal, temp_dir, wait_listening, BoxErr, Server, DOMAIN,
};
use proto::xml::NS_CLIENT;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{mpsc, Barrier};

const STEP_TIMEOUT: Duration = Duration::from_secs(120);

fn start_prosody() -> Result<Server, BoxErr> {
    let dir = temp_dir("prosody");
    let port = free_port();
    let cfg = format!(
        r#"pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
certificates = "{d}"
interfaces = {{ "127.0.0.1" }}
c2s_interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {port} }}
s2s_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
component_ports = {{ }}
c2s_require_encryption = false
modules_enabled = {{ "saslauth", "disco", "ping" }}
modules_disabled = {{ "s2s", "tls", "offline" }}
log = {{ error = "*console" }}
run_as_root = true
VirtualHost "{DOMAIN}"
  authentication = "anonymous"
Component "conference.{DOMAIN}" "muc"
  muc_room_locking = false
  max_history_messages = 0
"#,
        d = dir.display()
    );
    std::fs::create_dir_all(dir.join("data"))?;
    let path = dir.join("prosody.cfg.lua");
    std::fs::write(&path, cfg)?;
    let child = Command::new("prosody")
        .arg("--config")
        .arg(&path)
        .arg("-F")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start prosody (apt-get install prosody): {e}"))?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let s = Server { name: "prosody", child, addr, dir };
    wait_listening(addr)?;
    Ok(s)
}

/// One benchmark client: its own reader task counts the room's occupants as it sees them.
struct BenchClient {
    w: OwnedWriteHalf,
    events: mpsc::UnboundedReceiver<Ev>,
}

#[derive(Debug)]
enum Ev {
    /// Presence from the room: nick, available?
    Presence(String, bool),
    Subject,
    Error(String),
}

async fn login(addr: SocketAddr, room: Arc<str>) -> Result<BenchClient, BoxErr> {
    let auth = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/>";
    let benchkit::Session { mut rd, w, parser: mut p, mut buf, .. } =
        benchkit::open_session(addr, DOMAIN, auth).await?;
    let (tx, events) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let prefix = format!("{room}/");
        loop {
            let s = match read_stanza(&mut rd, &mut p, &mut buf).await {
                Ok(s) => s,
                Err(_) => return,
            };
            let from = s.get_attr("from").unwrap_or("");
            let ev = match s.name() {
                "presence" if s.get_attr("type") == Some("error") => Ev::Error(s.to_string()),
                "presence" => match from.strip_prefix(prefix.as_str()) {
                    Some(nick) => Ev::Presence(nick.to_string(), s.get_attr("type") != Some("unavailable")),
                    None => continue,
                },
                "message" if s.get_child("subject", NS_CLIENT).is_some() => Ev::Subject,
                _ => continue,
            };
            if tx.send(ev).is_err() {
                return;
            }
        }
    });
    Ok(BenchClient { w, events })
}

impl BenchClient {
    async fn send(&mut self, x: &str) -> Result<(), BoxErr> {
        self.w.write_all(x.as_bytes()).await?;
        Ok(())
    }

    /// Waits until `want` occupants are seen available and the subject came; returns the
    /// number of room stanzas seen meanwhile.
    async fn wait_joined(&mut self, want: usize) -> Result<u64, BoxErr> {
        let mut seen = HashSet::new();
        let mut subject = false;
        let mut stanzas = 0u64;
        while seen.len() < want || !subject {
            match self.events.recv().await {
                Some(Ev::Presence(n, true)) => {
                    stanzas += 1;
                    seen.insert(n);
                }
                Some(Ev::Presence(n, false)) => {
                    stanzas += 1;
                    seen.remove(&n);
                }
                Some(Ev::Subject) => {
                    stanzas += 1;
                    subject = true;
                }
                Some(Ev::Error(e)) => return Err(format!("join refused: {e}").into()),
                None => return Err("connection lost".into()),
            }
        }
        Ok(stanzas)
    }

    /// Waits for its own unavailable presence.
    async fn wait_left(&mut self, nick: &str) -> Result<(), BoxErr> {
        loop {
            match self.events.recv().await {
                Some(Ev::Presence(n, false)) if n == nick => return Ok(()),
                Some(_) => {}
                None => return Err("connection lost".into()),
            }
        }
    }

    fn drain(&mut self) {
        while self.events.try_recv().is_ok() {}
    }
}

#[derive(Debug, Clone, Default)]
struct Result1 {
    login_ms: f64,
    burst_ms: f64,
    stanzas_per_s: f64,
    last_joiner_ms: f64,
    kib_per_conn: f64,
    /// Server CPU time spent during the burst.
    burst_cpu_ms: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    if v.is_empty() {
        0.0
    } else {
        v[v.len() / 2]
    }
}

fn join_xml(room: &str, nick: &str) -> String {
    format!("<presence to='{room}/{nick}'><x xmlns='http://jabber.org/protocol/muc'/><nick xmlns='http://jabber.org/protocol/nick'>Participant {nick}</nick><audiomuted xmlns='urn:meet-lan:media:0'>false</audiomuted><videomuted xmlns='urn:meet-lan:media:0'>false</videomuted></presence>")
}

async fn run_one(server: &Server, n: usize, repeats: usize) -> Result<Result1, BoxErr> {
    let room: Arc<str> =
        format!("bench{n}x{}@conference.{DOMAIN}", proto::secrets::random_hex(3).unwrap_or_default()).into();
    let pid = server.child.id();
    let rss0 = rss_kib(pid);

    // login, 32 at a time
    let t = Instant::now();
    let mut clients = Vec::with_capacity(n);
    let mut pending = Vec::new();
    for _ in 0..n {
        pending.push(tokio::spawn(login(server.addr, room.clone())));
        if pending.len() == 32 {
            for h in pending.drain(..) {
                clients.push(h.await??);
            }
        }
    }
    for h in pending.drain(..) {
        clients.push(h.await??);
    }
    let login_ms = t.elapsed().as_secs_f64() * 1e3;

    // burst: everyone joins at once
    let barrier = Arc::new(Barrier::new(n + 1));
    let mut handles = Vec::with_capacity(n);
    for (i, mut c) in clients.into_iter().enumerate() {
        let b = barrier.clone();
        let room = room.clone();
        handles.push(tokio::spawn(async move {
            let nick = format!("p{i:04}");
            b.wait().await;
            c.send(&join_xml(&room, &nick)).await?;
            let stanzas = c.wait_joined(n).await?;
            Ok::<_, BoxErr>((c, stanzas))
        }));
    }
    barrier.wait().await;
    let cpu0 = cpu_ms(pid);
    let t = Instant::now();
    let mut clients = Vec::with_capacity(n);
    let mut total = 0u64;
    for h in handles {
        let (c, s) = tokio::time::timeout(STEP_TIMEOUT, h).await.map_err(|_| "burst join timed out")???;
        total += s;
        clients.push(c);
    }
    let burst = t.elapsed().as_secs_f64();
    let burst_cpu_ms = cpu_ms(pid) - cpu0;
    // let the last broadcasts settle before measuring memory
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss1 = rss_kib(pid);
    for c in clients.iter_mut() {
        c.drain();
    }

    // the last joiner, again and again
    let mut last = clients.pop().ok_or("no clients")?;
    let nick = format!("p{:04}", n - 1);
    let mut lat = Vec::new();
    for _ in 0..repeats {
        last.send(&format!("<presence to='{room}/{nick}' type='unavailable'/>")).await?;
        tokio::time::timeout(STEP_TIMEOUT, last.wait_left(&nick)).await.map_err(|_| "leave timed out")??;
        last.drain();
        // others drain in their reader tasks; give the server a moment to finish the leave
        tokio::time::sleep(Duration::from_millis(50)).await;
        let t = Instant::now();
        last.send(&join_xml(&room, &nick)).await?;
        tokio::time::timeout(STEP_TIMEOUT, last.wait_joined(n)).await.map_err(|_| "rejoin timed out")??;
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        for c in clients.iter_mut() {
            c.drain();
        }
    }
    clients.push(last);
    for mut c in clients {
        let _ = c.send("</stream:stream>").await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(Result1 {
        login_ms,
        burst_ms: burst * 1e3,
        stanzas_per_s: total as f64 / burst,
        last_joiner_ms: median(lat),
        kib_per_conn: rss1.saturating_sub(rss0) as f64 / n as f64,
        burst_cpu_ms,
    })
}

#[tokio::main]
async fn main() -> Result<(), BoxErr> {
    let args: Vec<String> = std::env::args().collect();
    let mut ns = vec![50usize, 200, 400];
    let mut repeats = 7;
    let mut prosody = true;
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--n" => {
                i += 1;
                ns = args.get(i).ok_or("--n needs a list")?.split(',').map(|s| s.parse()).collect::<Result<_, _>>()?;
            }
            "--repeats" => {
                i += 1;
                repeats = args.get(i).ok_or("--repeats needs a number")?.parse()?;
            }
            "--no-prosody" => prosody = false,
            other => return Err(format!("unknown argument {other}; see the doc comment of muc-bench").into()),
        }
        i += 1;
    }
    println!("muc-bench: N clients join one room over TCP (SASL ANONYMOUS), repeats={repeats}");
    let mut rows: Vec<(usize, Result1, Option<Result1>)> = Vec::new();
    for &n in &ns {
        let s = start_signal()?;
        let rs = run_one(&s, n, repeats).await.map_err(|e| format!("{} N={n}: {e}", s.name))?;
        drop(s);
        let rp = if prosody {
            let p = start_prosody()?;
            let r = run_one(&p, n, repeats).await.map_err(|e| format!("{} N={n}: {e}", p.name))?;
            Some(r)
        } else {
            None
        };
        rows.push((n, rs, rp));
    }
    println!();
    println!("| N | server | login all (ms) | burst: all hold all presences (ms) | server CPU in burst (ms) | stanzas/s | last joiner ready (ms, median) | RSS/conn (KiB) |");
    println!("|---|---|---|---|---|---|---|---|");
    for (n, s, p) in &rows {
        for (name, r) in [("signal", Some(s)), ("prosody", p.as_ref())] {
            if let Some(r) = r {
                println!(
                    "| {n} | {name} | {:.0} | {:.0} | {:.0} | {:.0} | {:.1} | {:.1} |",
                    r.login_ms, r.burst_ms, r.burst_cpu_ms, r.stanzas_per_s, r.last_joiner_ms, r.kib_per_conn
                );
            }
        }
        if let Some(p) = p {
            println!(
                "| {n} | **ratio prosody/signal** | {:.1}× | {:.1}× | {} | {:.1}× (signal/prosody) | {:.1}× | {:.1}× |",
                p.login_ms / s.login_ms.max(1e-9),
                p.burst_ms / s.burst_ms.max(1e-9),
                if s.burst_cpu_ms >= 10.0 {
                    format!("{:.1}×", p.burst_cpu_ms / s.burst_cpu_ms)
                } else {
                    "(signal < 1 tick)".to_string()
                },
                s.stanzas_per_s / p.stanzas_per_s.max(1e-9),
                p.last_joiner_ms / s.last_joiner_ms.max(1e-9),
                p.kib_per_conn / s.kib_per_conn.max(1e-9),
            );
        }
    }
    Ok(())
}
