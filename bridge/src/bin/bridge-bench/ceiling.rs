//! The ceiling: the cheapest possible forwarding loop on the bridge's core — receive a UDP
//! datagram, then for each of `fanout` receivers seal it with AES-256-GCM (the bridge's DTLS
//! picks AEAD_AES_256_GCM when offered: seen with the str0m participants of the bench) and
//! send it. What the bridge achieves per CPU-second is compared with this.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

use crate::procs::{pin_to_core, thread_cpu_secs};

pub struct CeilingResult {
    pub sent: u64,
    pub cpu_secs: f64,
}

impl CeilingResult {
    pub fn per_cpu_sec(&self) -> f64 {
        self.sent as f64 / self.cpu_secs.max(1e-9)
    }
}

/// Runs the loop on `core` for `duration` while this thread feeds it datagrams of `size`.
pub fn run(core: usize, fanout: usize, size: usize, duration: Duration) -> CeilingResult {
    let rx = UdpSocket::bind("127.0.0.1:0").expect("ceiling socket");
    rx.set_read_timeout(Some(Duration::from_millis(50))).expect("read timeout");
    let target = rx.local_addr().expect("ceiling address");
    let sinks: Vec<std::net::SocketAddr> = (0..fanout)
        .map(|_| UdpSocket::bind("127.0.0.1:0").expect("sink socket"))
        .map(|s| {
            let a = s.local_addr().expect("sink address");
            std::mem::forget(s); // keep the port bound (nobody reads; the kernel drops)
            a
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let worker = std::thread::spawn(move || {
        pin_to_core(core);
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).expect("valid AES-256 key"));
        let tx = UdpSocket::bind("127.0.0.1:0").expect("ceiling send socket");
        let mut buf = vec![0u8; 2048];
        let mut out = Vec::with_capacity(2048);
        let mut counter: u64 = 0;
        let mut sent = 0u64;
        let cpu0 = thread_cpu_secs();
        while !stop2.load(Ordering::Relaxed) {
            let Ok((n, _)) = rx.recv_from(&mut buf) else { continue };
            for dst in &sinks {
                counter += 1;
                let mut nonce = [0u8; 12];
                nonce[4..].copy_from_slice(&counter.to_be_bytes());
                out.clear();
                out.extend_from_slice(&buf[12..n.max(12)]);
                let Ok(tag) = key.seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(&buf[..12]),
                    &mut out,
                ) else {
                    continue;
                };
                out.extend_from_slice(tag.as_ref());
                if tx.send_to(&out, dst).is_ok() {
                    sent += 1;
                }
            }
        }
        CeilingResult { sent, cpu_secs: thread_cpu_secs() - cpu0 }
    });
    let feeder = UdpSocket::bind("127.0.0.1:0").expect("feeder socket");
    let payload = vec![0x80u8; size];
    let end = Instant::now() + duration;
    while Instant::now() < end {
        for _ in 0..64 {
            let _ = feeder.send_to(&payload, target);
        }
    }
    stop.store(true, Ordering::Relaxed);
    worker.join().expect("ceiling worker finishes")
}
