//! The bridge's ICE host candidates: `ADVERTISE_IPS` when set, else this machine's LAN
//! addresses (plus loopback when the media socket is bound to loopback or to all
//! addresses, so loopback tests and single-host setups work). No STUN, ever: a LAN product
//! must not reach the internet.
//!
//! Also decides which candidate a datagram was addressed to (str0m matches it against its
//! local candidates), since one socket bound to `0.0.0.0` does not tell.

use std::net::{IpAddr, SocketAddr};

/// The candidates for a media socket bound to `bound`.
pub fn candidates(bound: SocketAddr, advertise: &[IpAddr]) -> Vec<SocketAddr> {
    let port = bound.port();
    if !advertise.is_empty() {
        return advertise.iter().map(|ip| SocketAddr::new(*ip, port)).collect();
    }
    if !bound.ip().is_unspecified() {
        return vec![bound];
    }
    let mut out: Vec<SocketAddr> = lan_addresses()
        .into_iter()
        .filter(|ip| bound.is_ipv4() == ip.is_ipv4())
        .map(|ip| SocketAddr::new(ip, port))
        .collect();
    let lo: IpAddr = if bound.is_ipv4() { [127, 0, 0, 1].into() } else { std::net::Ipv6Addr::LOCALHOST.into() };
    out.push(SocketAddr::new(lo, port));
    out
}

/// The candidate a datagram from `source` was most likely sent to.
pub fn destination_for(source: SocketAddr, bound: SocketAddr, candidates: &[SocketAddr]) -> SocketAddr {
    if source.ip().is_loopback() {
        if let Some(c) = candidates.iter().find(|c| c.ip().is_loopback()) {
            return *c;
        }
    }
    if let Some(c) = candidates.iter().find(|c| c.ip() == bound.ip()) {
        return *c;
    }
    candidates
        .iter()
        .find(|c| !c.ip().is_loopback() && c.is_ipv4() == source.is_ipv4())
        .or(candidates.first())
        .copied()
        .unwrap_or(bound)
}

/// Non-loopback, non-link-local unicast addresses of this host's interfaces that are up.
pub fn lan_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    // SAFETY: getifaddrs fills a linked list we only read and then free with freeifaddrs;
    // every pointer is checked for null before use and the sockaddr is read by its family.
    unsafe {
        let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
        if libc::getifaddrs(&mut ifap) != 0 {
            return out;
        }
        let mut p = ifap;
        while !p.is_null() {
            let ifa = &*p;
            p = ifa.ifa_next;
            let up = ifa.ifa_flags & (libc::IFF_UP as u32) != 0;
            if ifa.ifa_addr.is_null() || !up {
                continue;
            }
            let ip: IpAddr = match i32::from((*ifa.ifa_addr).sa_family) {
                libc::AF_INET => {
                    let sa = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    IpAddr::V4(u32::from_be(sa.sin_addr.s_addr).into())
                }
                libc::AF_INET6 => {
                    let sa = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    IpAddr::V6(sa.sin6_addr.s6_addr.into())
                }
                _ => continue,
            };
            let link_local = match ip {
                IpAddr::V4(v4) => v4.is_link_local(),
                IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
            };
            if !ip.is_loopback() && !ip.is_unspecified() && !link_local && !out.contains(&ip) {
                out.push(ip);
            }
        }
        libc::freeifaddrs(ifap);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertised_ips_win_and_loopback_sources_map_to_loopback() {
        let bound: SocketAddr = "0.0.0.0:10000".parse().unwrap();
        let adv: Vec<IpAddr> = vec!["192.168.1.5".parse().unwrap()];
        assert_eq!(candidates(bound, &adv), vec!["192.168.1.5:10000".parse().unwrap()]);
        let c = candidates(bound, &[]);
        assert!(c.contains(&"127.0.0.1:10000".parse().unwrap()));
        let lo_bound: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert_eq!(candidates(lo_bound, &[]), vec![lo_bound]);
        let cands: Vec<SocketAddr> = vec!["192.168.1.5:10000".parse().unwrap(), "127.0.0.1:10000".parse().unwrap()];
        assert_eq!(destination_for("127.0.0.1:5555".parse().unwrap(), bound, &cands), cands[1]);
        assert_eq!(destination_for("192.168.1.9:5555".parse().unwrap(), bound, &cands), cands[0]);
    }
}
