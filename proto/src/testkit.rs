//! For tests and benches that start the binaries on loopback: free ports that stay free
//! until the binary binds them, and the resident memory and open files of a process over a
//! soak ([`Usage`]).
//!
//! A port from `bind(port 0)` comes out of the kernel's ephemeral range (32768-60999 on
//! Linux), the same range every outgoing connection takes its source port from: between
//! the test releasing it and the binary binding it, a browser's or another test's
//! connection can take it ("Address already in use", seen in a clean CI run). These ports
//! come from below that range instead, from a slice picked by the process id, each checked
//! free before it is handed out, never the same one twice in a row within a process.

use std::net::{TcpListener, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};

const FIRST: u32 = 20_000;
const SLICE: u32 = 190;
/// 64 slices of 190: 20000-32159, below the ephemeral range.
const SLICES: u32 = 64;

fn pick(is_free: impl Fn(u16) -> bool) -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = FIRST + (std::process::id() % SLICES) * SLICE;
    for _ in 0..SLICE {
        let port = (base + NEXT.fetch_add(1, Ordering::Relaxed) % SLICE) as u16;
        if is_free(port) {
            return port;
        }
    }
    panic!("no free loopback port in {base}-{}", base + SLICE - 1);
}

/// A loopback TCP port nobody listens on.
pub fn free_tcp_port() -> u16 {
    pick(|p| TcpListener::bind(("127.0.0.1", p)).is_ok())
}

/// A loopback UDP port nobody has bound.
pub fn free_udp_port() -> u16 {
    pick(|p| UdpSocket::bind(("127.0.0.1", p)).is_ok())
}

/// A process's resident memory (KiB) and open file descriptors, from `/proc`.
pub fn usage_of(pid: u32) -> Option<(u64, usize)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches(" kB").trim().parse().ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some((rss, fds))
}

/// Samples of one process over a soak: is its memory flat after warm-up, do its file
/// descriptors grow?
#[derive(Debug, Clone)]
pub struct Usage {
    pub name: String,
    pub pid: u32,
    /// (seconds since the start, RSS KiB, open fds).
    pub samples: Vec<(f64, u64, usize)>,
}

impl Usage {
    pub fn new(name: &str, pid: u32) -> Usage {
        Usage { name: name.to_string(), pid, samples: Vec::new() }
    }

    pub fn sample(&mut self, secs: f64) {
        if let Some((rss, fds)) = usage_of(self.pid) {
            self.samples.push((secs, rss, fds));
        }
    }

    /// RSS at the first sample at or after `warmup` seconds and at the end, the growth in
    /// percent, and open fds at those two moments.
    pub fn summary(&self, warmup: f64) -> Option<(u64, u64, f64, usize, usize)> {
        let start = self.samples.iter().find(|s| s.0 >= warmup).or(self.samples.first())?;
        let end = self.samples.last()?;
        let growth = (end.1 as f64 - start.1 as f64) * 100.0 / start.1.max(1) as f64;
        Some((start.1, end.1, growth, start.2, end.2))
    }

    /// One line for a bench's output: `name: RSS a -> b KiB (+g %), fds c -> d`.
    pub fn report(&self, warmup: f64) -> String {
        match self.summary(warmup) {
            Some((a, b, g, fa, fb)) => {
                format!(
                    "{}: RSS {a} -> {b} KiB ({g:+.1} % after {warmup:.0} s warm-up), open fds {fa} -> {fb}",
                    self.name
                )
            }
            None => format!("{}: no samples", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_of_this_process() {
        let (rss, fds) = usage_of(std::process::id()).expect("/proc is readable");
        assert!(rss > 0 && fds >= 3, "{rss} KiB, {fds} fds");
        let mut u = Usage::new("me", std::process::id());
        u.sample(0.0);
        u.sample(1.0);
        assert_eq!(u.summary(0.5).map(|s| s.4), Some(u.samples[1].2));
    }

    #[test]
    fn ports_are_below_the_ephemeral_range_bindable_and_not_repeated() {
        let a = free_tcp_port();
        let b = free_tcp_port();
        assert_ne!(a, b);
        for p in [a, b, free_udp_port()] {
            assert!((20_000..32_768).contains(&p), "{p}");
        }
        let held = TcpListener::bind(("127.0.0.1", a)).expect("the port handed out is free");
        for _ in 0..(SLICE * 2) {
            assert_ne!(free_tcp_port(), a, "a port in use is never handed out");
        }
        drop(held);
    }
}
