//! `Demux`: which media thread owns a datagram that arrived on the shared UDP port. The
//! reader thread asks it for every datagram; it never touches a socket and decides nothing
//! about media.
//!
//! A STUN request names the endpoint in its USERNAME (`<bridge ufrag>:<peer ufrag>`): the
//! bridge's ufrag was registered by the thread that allocated the endpoint, so the request
//! goes there and its source address is remembered for that thread. Everything else goes by
//! source address. What matches nothing goes to thread 0, whose `Sfu` drops and counts it
//! as a single-threaded bridge does (bad datagram, unknown ufrag, unknown source).
//!
//! Like the `Sfu`'s own address map, a source is learned from a STUN request's username
//! before the thread checks its integrity: a participant can only point addresses at the
//! thread of its own endpoint, where a datagram that is not its own is dropped.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

/// Index of a media thread.
pub use crate::relay::ThreadIndex;

/// STUN attribute USERNAME (RFC 8489).
const ATTR_USERNAME: u16 = 0x0006;
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
/// Source addresses remembered per endpoint: a peer has a few candidate addresses, not more.
/// Beyond it the others are forgotten and the newest kept (the peer's next consent check
/// teaches its address again), so STUN requests from ever new sources with a live ufrag
/// cannot grow the map until that endpoint leaves.
pub const MAX_ADDRESSES_PER_ENDPOINT: usize = 8;

#[derive(Debug, Default)]
pub struct Demux {
    /// The bridge's ICE ufrag of every endpoint → the thread that owns it.
    by_ufrag: HashMap<String, ThreadIndex>,
    /// Source addresses learned from STUN requests → (thread, the ufrag they were learned
    /// with, so they are forgotten with it).
    by_addr: HashMap<SocketAddr, (ThreadIndex, String)>,
}

impl Demux {
    /// An endpoint was allocated (or restarted ICE) on `thread` with the bridge's `ufrag`.
    pub fn register(&mut self, ufrag: String, thread: ThreadIndex) {
        self.by_ufrag.insert(ufrag, thread);
    }

    /// `thread` reports the ufrags of all its endpoints now: the others it had are gone,
    /// and so are the addresses learned with them.
    pub fn live(&mut self, thread: ThreadIndex, ufrags: &HashSet<String>) {
        let before = self.by_ufrag.len();
        self.by_ufrag.retain(|u, t| *t != thread || ufrags.contains(u));
        if self.by_ufrag.len() != before {
            let known = &self.by_ufrag;
            self.by_addr.retain(|_, (t, u)| known.get(u) == Some(t));
        }
    }

    /// The thread that gets this datagram.
    pub fn route(&mut self, source: SocketAddr, data: &[u8]) -> ThreadIndex {
        if let Some(ufrag) = stun_request_ufrag(data) {
            if let Some(&t) = self.by_ufrag.get(ufrag) {
                match self.by_addr.get_mut(&source) {
                    Some(known) if known.0 == t && known.1 == ufrag => {}
                    Some(known) => *known = (t, ufrag.to_string()),
                    None => {
                        let known = self.by_addr.values().filter(|(_, u)| u == ufrag).count();
                        if known >= MAX_ADDRESSES_PER_ENDPOINT {
                            self.by_addr.retain(|_, (_, u)| u != ufrag);
                        }
                        self.by_addr.insert(source, (t, ufrag.to_string()));
                    }
                }
                return t;
            }
        }
        self.by_addr.get(&source).map(|(t, _)| *t).unwrap_or(0)
    }

    /// Whether an endpoint with this bridge ufrag is known.
    pub fn knows(&self, ufrag: &str) -> bool {
        self.by_ufrag.contains_key(ufrag)
    }

    pub fn ufrag_count(&self) -> usize {
        self.by_ufrag.len()
    }

    pub fn address_count(&self) -> usize {
        self.by_addr.len()
    }
}

/// The bridge's ufrag from a STUN message's USERNAME (`<bridge ufrag>:<peer ufrag>`); `None`
/// for anything else or anything malformed.
pub fn stun_request_ufrag(data: &[u8]) -> Option<&str> {
    // Header: type (first two bits 0), length, magic cookie, transaction id.
    if data.len() < 20 || data[0] >= 2 || data[4..8] != MAGIC_COOKIE {
        return None;
    }
    let len = u16::from_be_bytes([data[2], data[3]]) as usize;
    let body = data.get(20..20 + len)?;
    let mut at = 0;
    while at + 4 <= body.len() {
        let kind = u16::from_be_bytes([body[at], body[at + 1]]);
        let alen = u16::from_be_bytes([body[at + 2], body[at + 3]]) as usize;
        let value = body.get(at + 4..at + 4 + alen)?;
        if kind == ATTR_USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            let (ours, _) = username.split_once(':')?;
            return Some(ours);
        }
        at += 4 + alen.div_ceil(4) * 4;
    }
    None
}

/// The ICE ufrag in an SDP (the bridge's answer): the first `a=ice-ufrag:` line.
pub fn sdp_ufrag(sdp: &str) -> Option<&str> {
    sdp.lines().find_map(|l| l.trim().strip_prefix("a=ice-ufrag:")).map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stun(username: &str) -> Vec<u8> {
        let mut attrs = Vec::new();
        // A PRIORITY attribute first, so the parser has to step over one.
        attrs.extend_from_slice(&[0x00, 0x24, 0x00, 0x04, 1, 2, 3, 4]);
        attrs.extend_from_slice(&ATTR_USERNAME.to_be_bytes());
        attrs.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attrs.extend_from_slice(username.as_bytes());
        while attrs.len() % 4 != 0 {
            attrs.push(0);
        }
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE);
        m.extend_from_slice(&[7; 12]);
        m.extend_from_slice(&attrs);
        m
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn username_is_read_from_stun_and_nothing_else() {
        assert_eq!(stun_request_ufrag(&stun("brdg:peer")), Some("brdg"));
        assert_eq!(stun_request_ufrag(&stun("nocolon")), None);
        let m = stun("brdg:peer");
        for cut in 0..m.len() {
            // Truncated messages never panic and never yield a name beyond their length.
            let _ = stun_request_ufrag(&m[..cut]);
        }
        assert_eq!(stun_request_ufrag(&[0x80, 0, 0, 0]), None);
        let mut rtp = m.clone();
        rtp[0] = 0x80;
        assert_eq!(stun_request_ufrag(&rtp), None);
        assert_eq!(sdp_ufrag("v=0\r\na=ice-ufrag:abcd\r\na=ice-pwd:x\r\n"), Some("abcd"));
    }

    #[test]
    fn stun_routes_by_ufrag_and_teaches_the_source() {
        let mut d = Demux::default();
        d.register("one".into(), 1);
        d.register("two".into(), 2);
        // Unknown source, not STUN: thread 0 counts it.
        assert_eq!(d.route(addr(1000), &[0x80, 0, 0, 0]), 0);
        assert_eq!(d.route(addr(1000), &stun("one:p")), 1);
        assert_eq!(d.route(addr(1000), &[0x80, 0, 0, 0]), 1);
        assert_eq!(d.route(addr(2000), &stun("two:p")), 2);
        assert_eq!(d.route(addr(2000), &[0x17, 0xfe, 0xfd]), 2);
        // Unknown ufrag from a known source: by address.
        assert_eq!(d.route(addr(2000), &stun("zzz:p")), 2);
        // The same address with another endpoint's ufrag (a reused port): it moves.
        assert_eq!(d.route(addr(2000), &stun("one:q")), 1);
        assert_eq!(d.route(addr(2000), &[0x80]), 1);
        assert_eq!(d.address_count(), 2);
    }

    #[test]
    fn an_endpoint_keeps_a_few_addresses_not_every_source_that_names_it() {
        let mut d = Demux::default();
        d.register("one".into(), 1);
        d.register("two".into(), 1);
        d.route(addr(999), &stun("two:p"));
        for port in 1000..1100 {
            assert_eq!(d.route(addr(port), &stun("one:p")), 1);
            assert_eq!(d.route(addr(port), &[0x80]), 1, "the newest source follows its endpoint");
        }
        assert!(d.address_count() <= MAX_ADDRESSES_PER_ENDPOINT + 1, "{}", d.address_count());
        // Another endpoint's address is not forgotten for it.
        assert_eq!(d.route(addr(999), &[0x80]), 1);
        assert_eq!(d.route(addr(1000), &[0x80]), 0);
    }

    #[test]
    fn gone_endpoints_take_their_addresses_along() {
        let mut d = Demux::default();
        d.register("one".into(), 1);
        d.register("keep".into(), 1);
        d.register("two".into(), 2);
        d.route(addr(1000), &stun("one:p"));
        d.route(addr(1001), &stun("keep:p"));
        d.route(addr(2000), &stun("two:p"));
        d.live(1, &HashSet::from(["keep".to_string()]));
        assert_eq!(d.ufrag_count(), 2);
        assert_eq!(d.route(addr(1000), &[0x80]), 0);
        assert_eq!(d.route(addr(1001), &[0x80]), 1);
        assert_eq!(d.route(addr(2000), &[0x80]), 2);
        assert_eq!(d.route(addr(1000), &stun("one:p")), 0);
    }
}
