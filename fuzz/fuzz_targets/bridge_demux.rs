//! `bridge::demux`: which media thread gets a datagram of the shared UDP port. Every datagram
//! from the LAN passes it before any other check, so arbitrary bytes from arbitrary sources
//! go in, mixed with well-formed STUN requests naming registered endpoints and with endpoints
//! registered and forgotten by their threads.
#![no_main]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use arbitrary::Arbitrary;
use bridge::demux::{stun_request_ufrag, Demux};
use libfuzzer_sys::fuzz_target;

const THREADS: usize = 4;
const UFRAGS: u8 = 8;
const SOURCES: u8 = 8;

#[derive(Arbitrary, Debug)]
enum Op {
    /// A thread allocated an endpoint with this ufrag.
    Register { ufrag: u8, thread: u8 },
    /// A thread reports the endpoints it has now (bit i: ufrag i).
    Live { thread: u8, keep: u8 },
    /// A well-formed STUN binding request for `ufrag`, with an attribute before USERNAME.
    Stun { source: u8, ufrag: u8, peer: String, other: (u16, Vec<u8>), txid: [u8; 12] },
    /// Anything at all.
    Raw { source: u8, data: Vec<u8> },
}

fn ufrag(i: u8) -> String {
    format!("uf{}", i % UFRAGS)
}

fn source(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, i % SOURCES], 5000))
}

fn stun(username: &str, other: &(u16, Vec<u8>), txid: &[u8; 12]) -> Vec<u8> {
    let mut attrs = Vec::new();
    let (kind, value) = other;
    let kind = if *kind == 0x0006 { 0x0024 } else { *kind };
    let value = &value[..value.len().min(64)];
    attrs.extend_from_slice(&kind.to_be_bytes());
    attrs.extend_from_slice(&(value.len() as u16).to_be_bytes());
    attrs.extend_from_slice(value);
    attrs.resize(attrs.len().div_ceil(4) * 4, 0);
    attrs.extend_from_slice(&0x0006u16.to_be_bytes());
    attrs.extend_from_slice(&(username.len() as u16).to_be_bytes());
    attrs.extend_from_slice(username.as_bytes());
    attrs.resize(attrs.len().div_ceil(4) * 4, 0);
    let mut msg = vec![0x00, 0x01];
    msg.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    msg.extend_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
    msg.extend_from_slice(txid);
    msg.extend_from_slice(&attrs);
    msg
}

fuzz_target!(|ops: Vec<Op>| {
    let mut demux = Demux::default();
    // What the threads told the demux: ufrag → thread.
    let mut owners: HashMap<String, usize> = HashMap::new();
    for op in ops {
        match op {
            Op::Register { ufrag: u, thread } => {
                let t = thread as usize % THREADS;
                demux.register(ufrag(u), t);
                owners.insert(ufrag(u), t);
            }
            Op::Live { thread, keep } => {
                let t = thread as usize % THREADS;
                let kept: HashSet<String> = (0..UFRAGS).filter(|i| keep & (1 << i) != 0).map(ufrag).collect();
                demux.live(t, &kept);
                owners.retain(|u, owner| *owner != t || kept.contains(u));
            }
            Op::Stun { source: s, ufrag: u, peer, other, txid } => {
                let peer: String = peer.chars().take(100).collect();
                let msg = stun(&format!("{}:{peer}", ufrag(u)), &other, &txid);
                assert_eq!(stun_request_ufrag(&msg), Some(ufrag(u).as_str()), "{msg:02x?}");
                let t = demux.route(source(s), &msg);
                match owners.get(&ufrag(u)) {
                    // A request for a known endpoint reaches its thread, and the rest of
                    // what that source sends follows it there.
                    Some(&owner) => {
                        assert_eq!(t, owner);
                        assert_eq!(demux.route(source(s), &[0x80, 0x60, 0, 1]), owner);
                    }
                    None => assert!(t < THREADS),
                }
            }
            Op::Raw { source: s, data } => {
                let t = demux.route(source(s), &data);
                assert!(t < THREADS);
                if let Some(owner) = stun_request_ufrag(&data).and_then(|u| owners.get(u)) {
                    assert_eq!(t, *owner);
                }
            }
        }
        assert_eq!(demux.ufrag_count(), owners.len());
        assert!(demux.address_count() <= SOURCES as usize);
    }
});
