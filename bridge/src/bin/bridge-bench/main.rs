//! `bridge-bench`: the bridge's load benchmark (issue 3). It starts `signal` and the real
//! `bridge` binary (pinned with `taskset` to its own core), allocates N-way meetings over
//! the bus like focus does, and drives them with participants on another core, adding
//! meetings step by step until the loss passes the limit (or the load generator saturates
//! its core). Per step it reports forwarded packets per CPU-second of the bridge process
//! (from /proc), the bridge's and the load generator's CPU, loss, latency through the
//! bridge (send time in the payload) and memory per endpoint; then it runs a raw
//! receive→encrypt→send loop on the bridge's core as the ceiling and prints the ratio.
//!
//! Two load generators (issue 13, item 3): `--generator cheap` (the default) runs str0m
//! only for ICE, DTLS, SCTP and RTCP and sends prepared SRTP packets itself, counting what
//! it receives from the clear headers and decrypting every 16th (`cheap.rs`, `srtp.rs`,
//! `twcc.rs`); it costs about half the bridge's CPU per forwarded packet, so the bridge can
//! be driven to its limit on two cores. `--generator str0m` runs every RTP packet through
//! a str0m participant as before, which costs about as much as the bridge. The cheap one
//! neither sends nor answers NACKs (it counts the NACK messages in the bridge's RTCP:
//! column `nack/s`) and samples latency from the decrypted packets only; `srtp_bad` is
//! failed of opened packets (every 16th RTP packet and every RTCP packet from the bridge).
//!
//! Run with a release build: `cargo build --release -p bridge -p signal &&
//! target/release/bridge-bench --meeting-size 5`. Options: `--generator cheap|str0m`
//! (cheap), `--meeting-size N` (5),
//! `--step-meetings K` (2), `--max-meetings M` (200), `--step-secs S` (6),
//! `--loss-limit F` (0.01), `--bridge-core C` (1), `--bridge-cpus LIST` (the bridge under
//! `taskset -c LIST` instead, e.g. `0,1` for media threads on both cores; the ceiling stays
//! on `--bridge-core`), `--load-core C` (0), `--max-height H`
//! (none: every participant takes what the bandwidth allows of everyone; with H, each asks
//! the bridge for at most H lines of every video, as a page in tile view does with small
//! tiles), `--last-n N` (none: each asks for at most N videos, as a page asks for the tiles
//! it shows), `--sender-constraints follow|ignore` (follow: a participant pauses the video
//! layers taller than the bridge's SenderSourceConstraints height, keeping its lowest, as the
//! page does; ignore: it sends all three always, as toward Janus, which tells it nothing).
//! With either generator, `vsrc_min` / `vsrc_avg` are the video sources a
//! receiver got media from in a second: the fewest any receiver got in the step, and the
//! mean (so "everyone receives the video it asked for" is checked, not assumed).
//!
//! `--target bridge|janus|both` (bridge; issue 13, item 4): `janus` drives Janus 1.1.2's
//! VideoRoom (`janus.rs`) with the same cheap participants and meetings, `both` runs our
//! bridge and then Janus in one invocation and ends with a side-by-side table. There,
//! "forwarded" is what the participants received (media RTP, counted from the clear
//! headers), for both targets alike: Janus has no counter of its own. Janus runs on the
//! bridge's cores (`--bridge-cpus` / `--bridge-core`); `--janus-event-loops N` sets its
//! `event_loops` (0, the default: Janus's own default, a thread per handle). Needs root
//! (a network namespace) and `apt-get install -y janus`.

mod ceiling;
mod cheap;
mod janus;
mod load;
mod procs;
mod srtp;
mod twcc;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use proto::colibri::{ColibriEvent, ColibriRequest, ColibriResponse};
use proto::{ConferenceId, EndpointId};
use tokio::sync::{mpsc, oneshot};

struct Args {
    meeting_size: usize,
    step_meetings: usize,
    max_meetings: usize,
    step_secs: u64,
    loss_limit: f64,
    bridge_core: usize,
    bridge_cpus: Option<String>,
    load_core: usize,
    max_height: Option<i32>,
    last_n: Option<i32>,
    generator: load::Generator,
    /// `--sender-constraints follow|ignore`.
    follow_sender_constraints: bool,
    /// `--target`: the forwarders ramped, in this order.
    targets: Vec<Kind>,
    janus_event_loops: usize,
}

/// What one ramp runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bridge,
    Janus,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Bridge => "bridge",
            Kind::Janus => "janus",
        }
    }
}

/// `--target bridge|janus|both`.
fn parse_targets(s: &str) -> Result<Vec<Kind>, String> {
    match s {
        "bridge" => Ok(vec![Kind::Bridge]),
        "janus" => Ok(vec![Kind::Janus]),
        "both" => Ok(vec![Kind::Bridge, Kind::Janus]),
        _ => Err(format!("unknown target {s} (bridge, janus or both)")),
    }
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        meeting_size: 5,
        step_meetings: 2,
        max_meetings: 200,
        step_secs: 6,
        loss_limit: 0.01,
        bridge_core: 1,
        bridge_cpus: None,
        load_core: 0,
        max_height: None,
        last_n: None,
        generator: load::Generator::Cheap,
        follow_sender_constraints: true,
        targets: vec![Kind::Bridge],
        janus_event_loops: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let n = |v: &str| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--meeting-size" => a.meeting_size = n(&v)?.max(2),
            "--step-meetings" => a.step_meetings = n(&v)?.max(1),
            "--max-meetings" => a.max_meetings = n(&v)?,
            "--step-secs" => a.step_secs = n(&v)?.max(3) as u64,
            "--loss-limit" => a.loss_limit = v.parse().map_err(|e| format!("{flag}: {e}"))?,
            "--bridge-core" => a.bridge_core = n(&v)?,
            "--bridge-cpus" => a.bridge_cpus = Some(v),
            "--load-core" => a.load_core = n(&v)?,
            "--max-height" => a.max_height = Some(v.parse().map_err(|e| format!("{flag}: {e}"))?),
            "--last-n" => a.last_n = Some(v.parse().map_err(|e| format!("{flag}: {e}"))?),
            "--generator" => a.generator = v.parse()?,
            "--sender-constraints" => {
                a.follow_sender_constraints = match v.as_str() {
                    "follow" => true,
                    "ignore" => false,
                    _ => return Err(format!("{flag}: follow or ignore, not {v}")),
                }
            }
            "--target" => a.targets = parse_targets(&v)?,
            "--janus-event-loops" => a.janus_event_loops = n(&v)?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if a.targets.contains(&Kind::Janus) && a.generator != load::Generator::Cheap {
        return Err("--target janus/both runs the cheap generator only".into());
    }
    Ok(a)
}

struct Step {
    meetings: usize,
    endpoints: usize,
    forwarded_per_sec: f64,
    /// Media RTP the participants received per second, and per CPU-second of the
    /// forwarder: the measure both targets share.
    delivered_per_sec: f64,
    delivered_per_cpu_sec: f64,
    bridge_cpu: f64,
    per_cpu_sec: f64,
    loss: f64,
    p50_us: u64,
    p99_us: u64,
    rss_per_endpoint_kib: f64,
    load_cpu: f64,
    /// Cheap generator only: NACK messages the publishers received per second (not
    /// answered), and opened packets that did not authenticate out of those opened.
    nacks_per_sec: f64,
    sampled: u64,
    decrypt_failed: u64,
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bridge-bench: {e}");
            std::process::exit(2);
        }
    };
    procs::pin_to_core(args.load_core);
    let kinds = &args.targets;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let runs: Vec<(Kind, Vec<Step>)> = kinds.iter().map(|k| (*k, rt.block_on(ramp(&args, *k)))).collect();
    drop(rt);

    let ceil = kinds.contains(&Kind::Bridge).then(|| {
        println!(
            "\n== ceiling: raw UDP receive → AES-256-GCM seal ×{} → send, on core {}",
            args.meeting_size - 1,
            args.bridge_core
        );
        let ceil = ceiling::run(args.bridge_core, args.meeting_size - 1, 1000, Duration::from_secs(5));
        println!(
            "ceiling: {} packets in {:.2} CPU-s = {:.0} packets per CPU-second",
            ceil.sent,
            ceil.cpu_secs,
            ceil.per_cpu_sec()
        );
        ceil
    });
    let summaries: Vec<(Kind, Summary)> =
        runs.iter().filter_map(|(k, steps)| summary(&args, *k, steps, ceil.as_ref()).map(|s| (*k, s))).collect();
    if summaries.len() == 2 {
        side_by_side(&args, &summaries);
    }
}

/// One target's figures for the side-by-side table.
struct Summary {
    median_delivered_per_cpu: f64,
    best_endpoints: usize,
    best_delivered_per_sec: f64,
    half_endpoints: usize,
    half_p99_us: u64,
    rss_per_endpoint_kib: f64,
}

/// Prints one target's summary (for the bridge, as before this target had a name); `None`
/// when no step stayed under the loss limit.
fn summary(args: &Args, kind: Kind, steps: &[Step], ceil: Option<&ceiling::CeilingResult>) -> Option<Summary> {
    let name = kind.name();
    let best = steps
        .iter()
        .filter(|s| s.loss <= args.loss_limit)
        .max_by(|a, b| a.forwarded_per_sec.total_cmp(&b.forwarded_per_sec));
    let Some(best) = best else {
        println!("{name}: no step stayed under the loss limit");
        return None;
    };
    // Among the steps under the loss limit: a failing step can forward about half as much
    // as the best one, and its latency is the overload's, not half load's.
    let half = steps
        .iter()
        .filter(|s| s.loss <= args.loss_limit)
        .min_by(|a, b| {
            (a.forwarded_per_sec - best.forwarded_per_sec / 2.0)
                .abs()
                .total_cmp(&(b.forwarded_per_sec - best.forwarded_per_sec / 2.0).abs())
        })
        .unwrap_or(best);
    let median = |f: fn(&Step) -> f64| {
        let mut v: Vec<f64> = steps.iter().filter(|s| s.bridge_cpu > 0.05).map(f).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let median_eff = median(|s| s.per_cpu_sec);
    println!("\n== summary: {name} (meeting size {})", args.meeting_size);
    println!(
        "max load under {:.1}% loss: {} endpoints, {:.0} forwarded packets/s, {name} CPU {:.0}%",
        args.loss_limit * 100.0,
        best.endpoints,
        best.forwarded_per_sec,
        best.bridge_cpu * 100.0
    );
    println!(
        "forwarded packets per {name} CPU-second: {:.0} at max load, median over steps {:.0}",
        best.per_cpu_sec, median_eff
    );
    if let (Kind::Bridge, Some(ceil)) = (kind, ceil) {
        println!(
            "ceiling packets per CPU-second: {:.0}; ratio bridge/ceiling: {:.2}",
            ceil.per_cpu_sec(),
            best.per_cpu_sec / ceil.per_cpu_sec()
        );
    }
    println!(
        "latency through the {name} at ~half load ({} endpoints): p50 {} µs, p99 {} µs",
        half.endpoints, half.p50_us, half.p99_us
    );
    println!("{name} memory per endpoint at max load: {:.0} KiB", best.rss_per_endpoint_kib);
    let per_packet_us = |cpu: f64| cpu / best.forwarded_per_sec.max(1e-9) * 1e6;
    println!(
        "CPU per forwarded packet at max load: {name} {:.1} µs, load generator ({:?}) {:.1} µs",
        per_packet_us(best.bridge_cpu),
        args.generator,
        per_packet_us(best.load_cpu)
    );
    if best.load_cpu > 0.9 {
        println!("note: the load generator used {:.0}% of its core at max load: the limit found is the generator's, not the {name}'s", best.load_cpu * 100.0);
    }
    let hit_max = steps.last().is_some_and(|s| s.loss <= args.loss_limit && s.load_cpu <= 0.97);
    if hit_max {
        println!("note: {name} stayed under the loss limit up to --max-meetings: its highest load is at least this");
    }
    Some(Summary {
        median_delivered_per_cpu: median(|s| s.delivered_per_cpu_sec),
        best_endpoints: best.endpoints,
        best_delivered_per_sec: best.delivered_per_sec,
        half_endpoints: half.endpoints,
        half_p99_us: half.p99_us,
        rss_per_endpoint_kib: best.rss_per_endpoint_kib,
    })
}

/// The side-by-side table of `--target both`, with the ratios bridge/janus.
fn side_by_side(args: &Args, s: &[(Kind, Summary)]) {
    let (Some((_, b)), Some((_, j))) =
        (s.iter().find(|(k, _)| *k == Kind::Bridge), s.iter().find(|(k, _)| *k == Kind::Janus))
    else {
        return;
    };
    println!(
        "\n== side by side (meeting size {}, cores {}; forwarded = media RTP the participants received)",
        args.meeting_size,
        args.bridge_cpus.clone().unwrap_or_else(|| args.bridge_core.to_string())
    );
    if args.meeting_size > 20 {
        println!("note: meetings over 20: our bridge forwards the 3 loudest audio streams (BRIDGE_LOUDEST_AUDIO), Janus all; set BRIDGE_LOUDEST_AUDIO=0 for the same work");
    } else {
        println!("note: meetings of at most 20: both forward every audio stream");
    }
    println!("target  fwd_pkt/cpu_s  max_ep  max_pkt/s  half_ep  p99_us  kib/ep");
    for (kind, x) in [(Kind::Bridge, b), (Kind::Janus, j)] {
        println!(
            "{:<7} {:>13.0} {:>7} {:>10.0} {:>8} {:>7} {:>7.0}",
            kind.name(),
            x.median_delivered_per_cpu,
            x.best_endpoints,
            x.best_delivered_per_sec,
            x.half_endpoints,
            x.half_p99_us,
            x.rss_per_endpoint_kib
        );
    }
    let r = |a: f64, b: f64| if b > 0.0 { format!("{:.2}x", a / b) } else { "-".into() };
    println!(
        "{:<7} {:>13} {:>7} {:>10} {:>8} {:>7} {:>7}",
        "ratio",
        r(b.median_delivered_per_cpu, j.median_delivered_per_cpu),
        r(b.best_endpoints as f64, j.best_endpoints as f64),
        r(b.best_delivered_per_sec, j.best_delivered_per_sec),
        "",
        r(b.half_p99_us as f64, j.half_p99_us as f64),
        r(b.rss_per_endpoint_kib, j.rss_per_endpoint_kib)
    );
    println!("(fwd_pkt/cpu_s: median over steps; max_*: highest step under the loss limit; p99_us: added latency at the step nearest half of max_pkt/s; kib/ep: RSS growth per endpoint at max load)");
}

/// The forwarder under test, as the ramp drives it: our bridge (signal, the bridge and a
/// bus client in focus's part) or Janus.
enum Target {
    Bridge { sys: procs::System, focus: procs::FocusClient, participants: HashMap<EndpointId, mpsc::Sender<load::Cmd>> },
    Janus(janus::JanusTarget),
}

impl Target {
    async fn start(args: &Args, kind: Kind) -> Target {
        match kind {
            Kind::Bridge => {
                let sys = procs::start_system(args.bridge_core, args.bridge_cpus.clone());
                let focus = procs::FocusClient::connect_ready(sys.bus, &sys.secret).await;
                Target::Bridge { sys, focus, participants: HashMap::new() }
            }
            Kind::Janus => {
                let cpus = args.bridge_cpus.clone().unwrap_or_else(|| args.bridge_core.to_string());
                Target::Janus(janus::JanusTarget::start(&cpus, args.janus_event_loops).await)
            }
        }
    }

    fn pid(&self) -> u32 {
        match self {
            Target::Bridge { sys, .. } => sys.bridge_pid(),
            Target::Janus(j) => j.server.pid(),
        }
    }

    fn endpoints(&self) -> usize {
        match self {
            Target::Bridge { participants, .. } => participants.len(),
            Target::Janus(j) => j.endpoints(),
        }
    }

    /// Adds meeting number `m`.
    async fn add_meeting(&mut self, args: &Args, m: usize) {
        match self {
            Target::Bridge { focus, participants, .. } => {
                let conf = ConferenceId::new(format!("m{m}")).expect("valid id");
                for k in 0..args.meeting_size {
                    let id = EndpointId::new(format!("e{m}x{k}")).expect("valid id");
                    let mut setup = load::Setup::new(id.as_str(), args.generator).await;
                    if !args.follow_sender_constraints {
                        setup = setup.ignoring_sender_constraints();
                    }
                    let req = ColibriRequest::Allocate {
                        conference: conf.clone(),
                        endpoint: id.clone(),
                        display_name: String::new(),
                        offer: setup.offer.clone(),
                    };
                    match focus.colibri(&req).await {
                        Ok(ColibriResponse::Allocated { answer }) => {
                            participants.insert(id, setup.start(&answer, args.max_height, args.last_n));
                        }
                        other => panic!("allocation refused: {other:?}"),
                    }
                }
            }
            Target::Janus(j) => {
                if let Err(e) = j.add_meeting(m, args.meeting_size, args.max_height).await {
                    panic!("janus meeting {m}: {e}");
                }
            }
        }
    }

    /// Handles the forwarder's signalling until `until`.
    async fn pump_until(&mut self, until: Instant) {
        match self {
            Target::Bridge { focus, participants, .. } => {
                while Instant::now() < until {
                    pump(focus, participants).await;
                }
            }
            Target::Janus(j) => j.pump_until(until).await,
        }
    }

    /// Lets new participants settle before a measurement: at least 2 s, and on the bridge
    /// at least 3 s (a receiver that has not sent ReceiverVideoConstraints, as the str0m
    /// participants, gets at most 20 video slots for its first 2 s) and until no
    /// renegotiation came for 1 s (slots are added as media starts), at most 30 s.
    async fn settle(&mut self) {
        let start = Instant::now();
        let Target::Bridge { focus, participants, .. } = self else {
            return self.pump_until(start + Duration::from_secs(2)).await;
        };
        let mut quiet_since = start;
        while start.elapsed() < Duration::from_secs(3)
            || (quiet_since.elapsed() < Duration::from_secs(1) && start.elapsed() < Duration::from_secs(30))
        {
            if pump(focus, participants).await {
                quiet_since = Instant::now();
            }
        }
    }

    /// Packets forwarded so far: the bridge's own counter; for Janus, what the
    /// participants received.
    async fn forwarded(&self) -> u64 {
        match self {
            Target::Bridge { sys, .. } => procs::bridge_metric(sys.bridge_http, "rtp_forwarded_total").await,
            Target::Janus(_) => load::counters().received.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    fn stop(&mut self) {
        match self {
            Target::Bridge { participants, .. } => {
                for tx in participants.values() {
                    let _ = tx.try_send(load::Cmd::Stop);
                }
            }
            Target::Janus(j) => j.stop(),
        }
    }
}

async fn ramp(args: &Args, kind: Kind) -> Vec<Step> {
    let mut target = Target::start(args, kind).await;
    let pid = target.pid();
    let rss0 = procs::rss_kib(pid);
    let mut steps = Vec::new();
    let mut meetings = 0;
    println!("target: {kind:?}");
    println!("generator: {:?}", args.generator);
    let follow = if args.follow_sender_constraints { "follow" } else { "ignore" };
    println!("sender constraints: {follow} (participants toward our bridge)");
    println!(
        "meetings endpoints fwd_pkt/s bridge_cpu pkt/cpu_s loss p50_us p99_us rss_kib/ep load_cpu nack/s srtp_bad vsrc_min vsrc_avg"
    );
    while meetings < args.max_meetings {
        for _ in 0..args.step_meetings {
            target.add_meeting(args, meetings).await;
            meetings += 1;
        }
        // Settle (answer renegotiations), then measure one window.
        target.settle().await;
        load::counters().video_sources_min.store(u64::MAX, std::sync::atomic::Ordering::Relaxed);
        let (s0, fwd0, cpu0, load0, w0) = (
            load::snapshot(),
            target.forwarded().await,
            procs::process_cpu_secs(pid),
            procs::process_cpu_secs(std::process::id()),
            Instant::now(),
        );
        target.pump_until(w0 + Duration::from_secs(args.step_secs - 2)).await;
        let (s1, fwd1, cpu1, load1) = (
            load::snapshot(),
            target.forwarded().await,
            procs::process_cpu_secs(pid),
            procs::process_cpu_secs(std::process::id()),
        );
        let secs = w0.elapsed().as_secs_f64();
        let expected = s1.expected - s0.expected;
        let received = s1.received - s0.received;
        let endpoints = target.endpoints();
        let step = Step {
            meetings,
            endpoints,
            forwarded_per_sec: (fwd1 - fwd0) as f64 / secs,
            delivered_per_sec: received as f64 / secs,
            delivered_per_cpu_sec: received as f64 / (cpu1 - cpu0).max(1e-9),
            bridge_cpu: (cpu1 - cpu0) / secs,
            per_cpu_sec: (fwd1 - fwd0) as f64 / (cpu1 - cpu0).max(1e-9),
            loss: if expected == 0 { 0.0 } else { 1.0 - (received.min(expected) as f64 / expected as f64) },
            p50_us: load::percentile(&s0, &s1, 0.50),
            p99_us: load::percentile(&s0, &s1, 0.99),
            rss_per_endpoint_kib: procs::rss_kib(pid).saturating_sub(rss0) as f64 / endpoints.max(1) as f64,
            load_cpu: (load1 - load0) / secs,
            nacks_per_sec: (s1.nacks - s0.nacks) as f64 / secs,
            sampled: s1.sampled - s0.sampled,
            decrypt_failed: s1.decrypt_failed - s0.decrypt_failed,
        };
        if std::env::var("BENCH_DEBUG").is_ok() {
            eprintln!(
                "  p90 {} p95 {} p98 {}",
                load::percentile(&s0, &s1, 0.90),
                load::percentile(&s0, &s1, 0.95),
                load::percentile(&s0, &s1, 0.98)
            );
        }
        // Video sources per receiver and second (both generators): the fewest any receiver
        // got, the mean.
        let windows = s1.video_windows - s0.video_windows;
        let min = load::counters().video_sources_min.load(std::sync::atomic::Ordering::Relaxed);
        let mean = (s1.video_sources - s0.video_sources) as f64 / windows.max(1) as f64;
        let min = if windows == 0 { "-".to_string() } else { min.to_string() };
        let vsrc = format!(" {min:>8} {mean:>8.1}");
        let cheap_only = if args.generator == load::Generator::Cheap {
            format!(" {:>6.1} {:>4}/{}{vsrc}", step.nacks_per_sec, step.decrypt_failed, step.sampled)
        } else {
            format!("      -    -{vsrc}")
        };
        println!(
            "{:>8} {:>9} {:>9.0} {:>9.0}% {:>9.0} {:>5.2}% {:>6} {:>6} {:>10.0} {:>7.0}%{}",
            step.meetings,
            step.endpoints,
            step.forwarded_per_sec,
            step.bridge_cpu * 100.0,
            step.per_cpu_sec,
            step.loss * 100.0,
            step.p50_us,
            step.p99_us,
            step.rss_per_endpoint_kib,
            step.load_cpu * 100.0,
            cheap_only
        );
        let stop = step.loss > args.loss_limit || step.load_cpu > 0.97;
        steps.push(step);
        if stop {
            break;
        }
    }
    target.stop();
    steps
}

/// Handles the bridge's events for a moment: offers go to their participant, answers back.
/// Handles one event from the bridge (waiting up to 100 ms): an offer is answered by its
/// participant. Returns whether it was an offer.
async fn pump(focus: &mut procs::FocusClient, participants: &HashMap<EndpointId, mpsc::Sender<load::Cmd>>) -> bool {
    let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(100), focus.events.recv()).await else {
        return false;
    };
    let ColibriEvent::Offer { conference, endpoint, offer, .. } = ev else { return false };
    let Some(p) = participants.get(&endpoint) else { return true };
    let (tx, rx) = oneshot::channel();
    if p.send(load::Cmd::Offer(offer, tx)).await.is_err() {
        return true;
    }
    if let Ok(answer) = rx.await {
        let _ = focus.colibri(&ColibriRequest::Answer { conference, endpoint, answer }).await;
    }
    true
}
