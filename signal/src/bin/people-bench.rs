//! people-bench: N people online at once, as on the home page (`signal/PEOPLE.md`), and how
//! fast a presence change reaches all of them. A benchmark, not a test.
//!
//! N recognised guests log in over TCP (SASL PLAIN on `guest.<domain>`, 32 at a time), bind,
//! and send their first presence with a display name; everyone then holds everyone's
//! presence. Then:
//! - one change at a time (`--changes`, default 300): person i (round robin) changes `<show/>`
//!   and `<status/>`; the time from sending it until the last of the N-1 others has read it
//!   (fan-out completion), and every single delivery's latency;
//! - storms (`--storms`, default 5): all N change at once (a meeting starts at 9:00); for each
//!   change, the time until the last of the others has read it.
//!
//! Each latency ends when a client has parsed the stanza, so it includes the bench clients'
//! own work on the same cores: an upper bound for the server. The server's CPU time in each
//! phase is printed beside it, and the load average at start and end.
//!
//! usage: `cargo build --release -p signal --bins && target/release/people-bench [--n 500]
//!         [--changes 300] [--storms 5]`
//! It starts `signal` from its own folder on free loopback ports with a temp data folder and
//! stops it at the end. It must never touch anything beyond loopback and its temp folders.

#[path = "benchkit/mod.rs"]
mod benchkit;

use base64::Engine;
use benchkit::{cpu_ms, quantile, read_stanza, rss_kib, start_signal, BoxErr, DOMAIN};
use proto::xml::NS_CLIENT;
use sha2::Digest;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

const STEP_TIMEOUT: Duration = Duration::from_secs(180);

/// What the clients' reader tasks report.
enum Ev {
    /// Client `who` holds the first presence of all N-1 others.
    Ready,
    /// Change `seq` (from its `<status/>`) was read at this instant.
    Got(u64, Instant),
}

/// Logs in a new recognised guest and starts its reader.
async fn login(addr: SocketAddr, n: usize, events: mpsc::UnboundedSender<Ev>) -> Result<OwnedWriteHalf, BoxErr> {
    let secret = proto::secrets::random_hex(32)?;
    let id = hex::encode(&sha2::Sha256::digest(secret.as_bytes())[..16]);
    let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0{id}\0{secret}"));
    let auth = format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>");
    let benchkit::Session { mut rd, w, parser: mut p, mut buf, .. } =
        benchkit::open_session(addr, &format!("guest.{DOMAIN}"), &auth).await?;
    tokio::spawn(async move {
        let mut seen = HashSet::new();
        let mut ready = false;
        while let Ok(s) = read_stanza(&mut rd, &mut p, &mut buf).await {
            if s.name() != "presence" {
                continue;
            }
            let status = s.get_child("status", NS_CLIENT).map(|t| t.text_content());
            let ev = match status.as_deref().and_then(|t| t.strip_prefix('c')).and_then(|n| n.parse().ok()) {
                Some(seq) => Ev::Got(seq, Instant::now()),
                None if !ready => {
                    seen.insert(s.get_attr("from").unwrap_or("").to_string());
                    if seen.len() + 1 < n {
                        continue;
                    }
                    ready = true;
                    Ev::Ready
                }
                None => continue,
            };
            if events.send(ev).is_err() {
                return;
            }
        }
    });
    Ok(w)
}

fn presence(i: usize, seq: Option<u64>) -> String {
    let show = match seq {
        Some(s) if s % 2 == 0 => "<show>dnd</show><in-meeting xmlns='urn:meet-lan:people:0'/>",
        Some(_) => "<show>away</show>",
        None => "",
    };
    let status = seq.map(|s| format!("<status>c{s}</status>")).unwrap_or_default();
    format!("<presence>{show}{status}<nick xmlns='http://jabber.org/protocol/nick'>Person {i:04}</nick></presence>")
}

/// Waits for `want` reports of changes `seqs` (a range), keyed by change.
async fn collect(
    rx: &mut mpsc::UnboundedReceiver<Ev>,
    seqs: std::ops::Range<u64>,
    per_change: usize,
) -> Result<Vec<Vec<Instant>>, BoxErr> {
    let mut got: Vec<Vec<Instant>> = vec![Vec::with_capacity(per_change); (seqs.end - seqs.start) as usize];
    let mut left = got.len() * per_change;
    while left > 0 {
        match tokio::time::timeout(STEP_TIMEOUT, rx.recv()).await.map_err(|_| "a change did not arrive in time")? {
            Some(Ev::Got(seq, t)) if seqs.contains(&seq) => {
                got[(seq - seqs.start) as usize].push(t);
                left -= 1;
            }
            Some(_) => {}
            None => return Err("every client is gone".into()),
        }
    }
    Ok(got)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn row(what: &str, v: &mut [f64]) {
    println!(
        "| {what} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
        v.len(),
        quantile(v, 0.5),
        quantile(v, 0.9),
        quantile(v, 0.99),
        quantile(v, 1.0)
    );
}

#[tokio::main]
async fn main() -> Result<(), BoxErr> {
    let args: Vec<String> = std::env::args().collect();
    let (mut n, mut changes, mut storms) = (500usize, 300usize, 5usize);
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).ok_or("every option takes a number")?;
        match args[i].as_str() {
            "--n" => n = value.parse()?,
            "--changes" => changes = value.parse()?,
            "--storms" => storms = value.parse()?,
            other => return Err(format!("unknown argument {other}; see the doc comment of people-bench").into()),
        }
        i += 2;
    }
    if n < 2 {
        return Err("--n is at least 2".into());
    }
    let load_start = load_average();
    let server = start_signal()?;
    let pid = server.child.id();
    let rss0 = rss_kib(pid);
    let (tx, mut rx) = mpsc::unbounded_channel();

    let t = Instant::now();
    let mut writers = Vec::with_capacity(n);
    let mut pending = Vec::new();
    for _ in 0..n {
        pending.push(tokio::spawn(login(server.addr, n, tx.clone())));
        if pending.len() == 32 {
            for h in pending.drain(..) {
                writers.push(h.await??);
            }
        }
    }
    for h in pending.drain(..) {
        writers.push(h.await??);
    }
    let login_ms = t.elapsed().as_secs_f64() * 1e3;

    // everyone comes online; all hold all first presences
    let cpu = cpu_ms(pid);
    let t = Instant::now();
    for (i, w) in writers.iter_mut().enumerate() {
        w.write_all(presence(i, None).as_bytes()).await?;
    }
    let mut ready = 0;
    while ready < n {
        match tokio::time::timeout(STEP_TIMEOUT, rx.recv()).await.map_err(|_| "not everyone came online in time")? {
            Some(Ev::Ready) => ready += 1,
            Some(_) => {}
            None => return Err("every client is gone".into()),
        }
    }
    let online_ms = t.elapsed().as_secs_f64() * 1e3;
    let online_cpu = cpu_ms(pid) - cpu;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_per_person = rss_kib(pid).saturating_sub(rss0) as f64 / n as f64;

    // one change at a time
    let (mut completion, mut delivery) = (Vec::new(), Vec::new());
    let cpu = cpu_ms(pid);
    for seq in 0..changes as u64 {
        let who = seq as usize % n;
        let t0 = Instant::now();
        writers[who].write_all(presence(who, Some(seq)).as_bytes()).await?;
        let got = collect(&mut rx, seq..seq + 1, n - 1).await?;
        let lat: Vec<f64> = got[0].iter().map(|t| t.duration_since(t0).as_secs_f64() * 1e3).collect();
        completion.push(lat.iter().cloned().fold(0.0, f64::max));
        delivery.extend(lat);
    }
    let changes_cpu_per_change = (cpu_ms(pid) - cpu) / changes.max(1) as f64;

    // storms: everyone changes at once
    let (mut storm_change, mut storm_total) = (Vec::new(), Vec::new());
    let cpu = cpu_ms(pid);
    for k in 0..storms as u64 {
        let base = changes as u64 + k * n as u64;
        let t0 = Instant::now();
        let mut sent = Vec::with_capacity(n);
        for (i, w) in writers.iter_mut().enumerate() {
            sent.push(Instant::now());
            w.write_all(presence(i, Some(base + i as u64)).as_bytes()).await?;
        }
        let got = collect(&mut rx, base..base + n as u64, n - 1).await?;
        let mut last = t0;
        for (i, times) in got.iter().enumerate() {
            let end = times.iter().max().copied().unwrap_or(sent[i]);
            last = last.max(end);
            storm_change.push(end.duration_since(sent[i]).as_secs_f64() * 1e3);
        }
        storm_total.push(last.duration_since(t0).as_secs_f64() * 1e3);
    }
    let storm_cpu = (cpu_ms(pid) - cpu) / storms.max(1) as f64;

    for mut w in writers {
        let _ = w.write_all(b"</stream:stream>").await;
    }
    println!(
        "people-bench: N={n} people online over TCP (recognised guests), {changes} single changes, {storms} storms"
    );
    println!("load average at start {load_start}, at end {}", load_average());
    println!(
        "login of all: {login_ms:.0} ms; all online and holding all presences: {online_ms:.0} ms (server CPU {online_cpu:.0} ms); RSS per person {rss_per_person:.1} KiB"
    );
    println!(
        "server CPU: {changes_cpu_per_change:.2} ms per single change, {storm_cpu:.0} ms per storm of {n} changes ({} deliveries)",
        n * (n - 1)
    );
    println!();
    println!("| ms | samples | p50 | p90 | p99 | max |");
    println!("|---|---|---|---|---|---|");
    row("single change: until all others have it", &mut completion);
    row("single change: each delivery", &mut delivery);
    row("storm: each change until all others have it", &mut storm_change);
    row("storm: until every change reached everyone", &mut storm_total);
    drop(server);
    Ok(())
}
