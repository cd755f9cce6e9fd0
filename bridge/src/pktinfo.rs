//! Receiving a datagram together with the local address it was sent to (IP_PKTINFO /
//! IPV6_PKTINFO). A socket bound to `0.0.0.0` on a host with several addresses otherwise
//! cannot tell which candidate a peer used, and str0m only answers STUN that arrived on one
//! of its local candidates. Only reads what the kernel wrote; never interprets payloads.
//!
//! The same call also reports the kernel's arrival time when asked for (SO_TIMESTAMPNS):
//! `bridge-bench` measures latency at the moment a datagram reached the subscriber's
//! socket, not when its busy load-generator thread got round to reading it.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

/// Asks the kernel to report each datagram's destination address.
pub fn enable(socket: &impl AsRawFd, ipv6: bool) -> io::Result<()> {
    let one: libc::c_int = 1;
    let (level, name) =
        if ipv6 { (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO) } else { (libc::IPPROTO_IP, libc::IP_PKTINFO) };
    // SAFETY: setsockopt reads `one` (a c_int we own) for the given length.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            &one as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Asks the kernel to stamp each datagram with its arrival time (CLOCK_REALTIME).
pub fn enable_timestamps(socket: &impl AsRawFd) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: setsockopt reads `one` (a c_int we own) for the given length.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            &one as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// One received datagram and what the kernel told about it.
#[derive(Debug, Clone, Copy)]
pub struct Datagram {
    /// Never more than the buffer given to `recvmsg` (no `MSG_TRUNC`): `&buf[..len]` holds.
    pub len: usize,
    pub source: SocketAddr,
    /// The local address it was sent to (with [`enable`]).
    pub destination: Option<IpAddr>,
    /// When it arrived (with [`enable_timestamps`]).
    pub arrived: Option<std::time::SystemTime>,
}

/// One non-blocking `recvmsg`: (length, source, destination IP if the kernel told it).
pub fn recv(socket: &impl AsRawFd, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, Option<IpAddr>)> {
    recv_datagram(socket, buf).map(|d| (d.len, d.source, d.destination))
}

/// One non-blocking `recvmsg`, with everything the kernel reported.
pub fn recv_datagram(socket: &impl AsRawFd, buf: &mut [u8]) -> io::Result<Datagram> {
    // SAFETY: every pointer handed to recvmsg points into buffers owned by this frame and
    // sized as declared; control messages are walked with the CMSG_* helpers, which stay
    // within msg_controllen, and each payload is read unaligned by its declared type.
    unsafe {
        let mut addr: libc::sockaddr_storage = std::mem::zeroed();
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr() as *mut libc::c_void, iov_len: buf.len() };
        let mut control = [0u8; 128];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_name = &mut addr as *mut libc::sockaddr_storage as *mut libc::c_void;
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = control.len() as _;
        let n = libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let src = match i32::from(addr.ss_family) {
            libc::AF_INET => {
                let a = std::ptr::read_unaligned(&addr as *const _ as *const libc::sockaddr_in);
                SocketAddr::new(IpAddr::V4(Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr))), u16::from_be(a.sin_port))
            }
            libc::AF_INET6 => {
                let a = std::ptr::read_unaligned(&addr as *const _ as *const libc::sockaddr_in6);
                SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a.sin6_addr.s6_addr)), u16::from_be(a.sin6_port))
            }
            _ => return Err(io::Error::other("datagram from an unknown address family")),
        };
        let mut dst = None;
        let mut arrived = None;
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let h = std::ptr::read_unaligned(c);
            if h.cmsg_level == libc::IPPROTO_IP && h.cmsg_type == libc::IP_PKTINFO {
                let info = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::in_pktinfo);
                dst = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr))));
            } else if h.cmsg_level == libc::IPPROTO_IPV6 && h.cmsg_type == libc::IPV6_PKTINFO {
                let info = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::in6_pktinfo);
                dst = Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
            } else if h.cmsg_level == libc::SOL_SOCKET && h.cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::timespec);
                let d = std::time::Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32);
                arrived = std::time::UNIX_EPOCH.checked_add(d);
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
        Ok(Datagram { len: n as usize, source: src, destination: dst, arrived })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn destination_address_is_reported() {
        let rx = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        super::enable(&rx, false).unwrap();
        let port = rx.local_addr().unwrap().port();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.send_to(b"hello", ("127.0.0.1", port)).unwrap();
        let mut buf = [0u8; 64];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match super::recv(&rx, &mut buf) {
                Ok((n, src, dst)) => {
                    assert_eq!(&buf[..n], b"hello");
                    assert_eq!(src, tx.local_addr().unwrap());
                    assert_eq!(dst, Some("127.0.0.1".parse().unwrap()));
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn arrival_time_is_reported() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        super::enable_timestamps(&rx).unwrap();
        let before = std::time::SystemTime::now();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.send_to(b"hi", rx.local_addr().unwrap()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut buf = [0u8; 16];
        let d = super::recv_datagram(&rx, &mut buf).unwrap();
        let arrived = d.arrived.expect("the kernel stamps the datagram");
        assert!(arrived >= before - std::time::Duration::from_millis(5), "{arrived:?} vs {before:?}");
        assert!(arrived <= std::time::SystemTime::now(), "stamped before it was read");
        assert_eq!(d.len, 2);
    }
}
