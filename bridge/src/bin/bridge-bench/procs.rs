//! The processes under test (signal for the bus, the bridge pinned to its own core; started
//! by `tests/live/system.rs`, which the bridge's live tests use too), the bus client that
//! plays focus's part, and readings from `/proc`.

use std::path::PathBuf;

#[path = "../../../tests/live/system.rs"]
mod system;
pub use system::{http_get, FocusClient, System};

/// A sibling binary of this one (`target/<profile>/<name>`), or from `$MEET_BIN_DIR`.
pub fn binary(name: &str) -> PathBuf {
    if let Ok(dir) = std::env::var("MEET_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    let me = std::env::current_exe().expect("own path");
    me.parent().expect("binary has a folder").join(name)
}

/// Starts signal and the bridge; the bridge runs under `taskset -c <core>` (or the list
/// `bridge_cpus`), with `BRIDGE_BWE` passed on (and the rest of the environment, such as
/// `BRIDGE_MEDIA_THREADS`, inherited).
pub fn start_system(bridge_core: usize, bridge_cpus: Option<String>) -> System {
    let mut l = system::Launch::new(binary("signal"), binary("bridge"));
    l.bridge_core = Some(bridge_core);
    l.bridge_cpus = bridge_cpus;
    l.drain_secs = 0;
    l.log = "warn".into();
    l.bridge_env.push(("BRIDGE_BWE", std::env::var("BRIDGE_BWE").unwrap_or_else(|_| "true".into())));
    System::launch(&l)
}

/// CPU seconds (user + system) a process used so far.
pub fn process_cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return 0.0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 =
        f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0) + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    ticks as f64 / hz
}

/// Resident memory of a process in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:").map(|v| v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0))
            })
        })
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

/// A counter from the bridge's `/metrics` (0 when it cannot be read).
pub async fn bridge_metric(addr: std::net::SocketAddr, name: &str) -> u64 {
    let (_, text) = http_get(addr, "/metrics").await;
    let prefix = format!("bridge_{name} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix).and_then(|v| v.trim().parse().ok())).unwrap_or(0)
}
