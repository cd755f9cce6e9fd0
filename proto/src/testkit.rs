//! For tests and benches that start the binaries on loopback: free ports that stay free
//! until the binary binds them.
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

#[cfg(test)]
mod tests {
    use super::*;

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
