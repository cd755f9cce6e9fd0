//! Receiving a datagram together with the local address it was sent to (IP_PKTINFO /
//! IPV6_PKTINFO). A socket bound to `0.0.0.0` on a host with several addresses otherwise
//! cannot tell which candidate a peer used, and str0m only answers STUN that arrived on one
//! of its local candidates. Only reads what the kernel wrote; never interprets payloads.
//!
//! The same call also reports the kernel's arrival time when asked for (SO_TIMESTAMPNS):
//! `bridge-bench` measures latency at the moment a datagram reached the subscriber's
//! socket, not when its busy load-generator thread got round to reading it.
//!
//! [`RecvBatch`] and [`send_many`] move up to [`BATCH`] datagrams per system call
//! (`recvmmsg`, `sendmmsg`): the media threads read and send with them.

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
    // sized as declared; `read_header` only reads what the kernel wrote there.
    unsafe {
        let mut addr: libc::sockaddr_storage = std::mem::zeroed();
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr() as *mut libc::c_void, iov_len: buf.len() };
        let mut control = [0u8; CONTROL];
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
        read_header(n as usize, &addr, &msg)
    }
}

/// Room for the control messages asked for (a packet info and a time stamp).
const CONTROL: usize = 128;

/// What a `recvmsg`/`recvmmsg` header says about a datagram of `len` bytes.
///
/// # Safety
/// `msg` is a header the kernel filled, whose control buffer is still alive, and `addr` is
/// the address buffer it pointed to.
unsafe fn read_header(len: usize, addr: &libc::sockaddr_storage, msg: &libc::msghdr) -> io::Result<Datagram> {
    // SAFETY (of the block): the address is read unaligned as the type its family names;
    // control messages are walked with the CMSG_* helpers, which stay within
    // msg_controllen, and each payload is read unaligned by its declared type.
    unsafe {
        let src = match i32::from(addr.ss_family) {
            libc::AF_INET => {
                let a = std::ptr::read_unaligned(addr as *const _ as *const libc::sockaddr_in);
                SocketAddr::new(IpAddr::V4(Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr))), u16::from_be(a.sin_port))
            }
            libc::AF_INET6 => {
                let a = std::ptr::read_unaligned(addr as *const _ as *const libc::sockaddr_in6);
                SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a.sin6_addr.s6_addr)), u16::from_be(a.sin6_port))
            }
            _ => return Err(io::Error::other("datagram from an unknown address family")),
        };
        let mut dst = None;
        let mut arrived = None;
        let mut c = libc::CMSG_FIRSTHDR(msg);
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
            c = libc::CMSG_NXTHDR(msg, c);
        }
        Ok(Datagram { len, source: src, destination: dst, arrived })
    }
}

/// Most datagrams one [`RecvBatch::recv`] or [`send_many`] call moves (one system call).
pub const BATCH: usize = 64;

/// Buffers for reading up to [`BATCH`] datagrams with one `recvmmsg` (issue 13, item 2:
/// one system call per batch instead of one per datagram; measured in `README.md`).
pub struct RecvBatch {
    /// `BATCH` slots of `size` bytes.
    data: Vec<u8>,
    size: usize,
    addrs: Vec<libc::sockaddr_storage>,
    controls: Vec<[u8; CONTROL]>,
    /// What the last `recv` got, in order; `got[i]`'s bytes are in slot `i`.
    got: Vec<Datagram>,
}

impl std::fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBatch").field("size", &self.size).field("got", &self.got.len()).finish()
    }
}

impl RecvBatch {
    /// Slots of `size` bytes each (a datagram longer than that is cut, as with `recv`).
    pub fn new(size: usize) -> Self {
        // SAFETY: an all-zero sockaddr_storage is a valid (unspecified) address.
        let zero: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        RecvBatch {
            data: vec![0; size * BATCH],
            size,
            addrs: vec![zero; BATCH],
            controls: vec![[0; CONTROL]; BATCH],
            got: Vec::with_capacity(BATCH),
        }
    }

    /// One non-blocking `recvmmsg`: how many datagrams it read (at least one; none is
    /// `WouldBlock`). A datagram whose header cannot be read is skipped.
    pub fn recv(&mut self, socket: &impl AsRawFd) -> io::Result<usize> {
        self.got.clear();
        // SAFETY: the iovecs and headers point into `data`, `addrs` and `controls`, which
        // hold BATCH slots of the declared sizes and are neither moved nor resized while
        // recvmmsg runs; only the first `n` headers, which the kernel filled, are read.
        unsafe {
            let mut iovs: [libc::iovec; BATCH] = std::mem::zeroed();
            let mut hdrs: [libc::mmsghdr; BATCH] = std::mem::zeroed();
            let base = self.data.as_mut_ptr();
            for (i, ((iov, hdr), (addr, control))) in iovs
                .iter_mut()
                .zip(hdrs.iter_mut())
                .zip(self.addrs.iter_mut().zip(self.controls.iter_mut()))
                .enumerate()
            {
                iov.iov_base = base.add(i * self.size) as *mut libc::c_void;
                iov.iov_len = self.size;
                let m = &mut hdr.msg_hdr;
                m.msg_name = addr as *mut libc::sockaddr_storage as *mut libc::c_void;
                m.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                m.msg_iov = iov;
                m.msg_iovlen = 1;
                m.msg_control = control.as_mut_ptr() as *mut libc::c_void;
                m.msg_controllen = CONTROL as _;
            }
            let n = libc::recvmmsg(
                socket.as_raw_fd(),
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            );
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let n = (n as usize).min(BATCH);
            for (i, hdr) in hdrs.iter().take(n).enumerate() {
                let len = (hdr.msg_len as usize).min(self.size);
                // Keeps the slot numbering: an unreadable header (an unknown address
                // family) yields an empty datagram, which every consumer drops as too short.
                let d = read_header(len, &self.addrs[i], &hdr.msg_hdr).unwrap_or(Datagram {
                    len: 0,
                    source: SocketAddr::from(([0, 0, 0, 0], 0)),
                    destination: None,
                    arrived: None,
                });
                self.got.push(d);
            }
            Ok(n)
        }
    }

    /// The datagrams the last [`RecvBatch::recv`] read, with their bytes.
    pub fn datagrams(&self) -> impl Iterator<Item = (&Datagram, &[u8])> {
        self.got.iter().zip(self.data.chunks(self.size)).map(|(d, slot)| (d, slot.get(..d.len).unwrap_or(&[])))
    }
}

/// Sends `items` (destination, bytes) with as few `sendmmsg` calls as it takes (one per
/// [`BATCH`]). A datagram the kernel refuses (a full buffer) is dropped, as the network
/// would; the rest still go. Returns how many were refused.
pub fn send_many<D: std::ops::Deref<Target = [u8]>>(socket: &impl AsRawFd, items: &[(SocketAddr, D)]) -> usize {
    let mut refused = 0;
    let mut rest = items;
    while !rest.is_empty() {
        let chunk = rest.get(..BATCH).unwrap_or(rest);
        let addrs: Vec<socket2::SockAddr> = chunk.iter().map(|(a, _)| socket2::SockAddr::from(*a)).collect();
        // SAFETY: the iovecs and headers point into `chunk`'s buffers and `addrs`, which
        // outlive the call and are only read by sendmmsg, with their true lengths.
        let sent = unsafe {
            let mut iovs: [libc::iovec; BATCH] = std::mem::zeroed();
            let mut hdrs: [libc::mmsghdr; BATCH] = std::mem::zeroed();
            for ((iov, hdr), ((_, bytes), addr)) in iovs.iter_mut().zip(hdrs.iter_mut()).zip(chunk.iter().zip(&addrs)) {
                iov.iov_base = bytes.as_ptr() as *mut libc::c_void;
                iov.iov_len = bytes.len();
                hdr.msg_hdr.msg_name = addr.as_ptr() as *mut libc::c_void;
                hdr.msg_hdr.msg_namelen = addr.len();
                hdr.msg_hdr.msg_iov = iov;
                hdr.msg_hdr.msg_iovlen = 1;
            }
            libc::sendmmsg(socket.as_raw_fd(), hdrs.as_mut_ptr(), chunk.len() as libc::c_uint, libc::MSG_DONTWAIT)
        };
        // An error is about the first datagram of the chunk: drop it and go on.
        let done = if sent <= 0 {
            refused += 1;
            1
        } else {
            sent as usize
        };
        rest = rest.get(done..).unwrap_or(&[]);
    }
    refused
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
    fn batches_carry_every_datagram_with_its_addresses() {
        let rx = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        super::enable(&rx, false).unwrap();
        rx.set_nonblocking(true).unwrap();
        let to = std::net::SocketAddr::from(([127, 0, 0, 1], rx.local_addr().unwrap().port()));
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let other = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        // More than one batch, of different sizes, and one refused (to port 0).
        let mut items: Vec<(std::net::SocketAddr, Vec<u8>)> =
            (0..150u8).map(|i| (to, vec![i; 1 + usize::from(i)])).collect();
        items.insert(70, (std::net::SocketAddr::from(([127, 0, 0, 1], 0)), vec![9; 9]));
        assert_eq!(super::send_many(&tx, &items), 1, "the datagram to port 0 is refused, the rest go");
        other.send_to(b"from elsewhere", to).unwrap();
        let mut batch = super::RecvBatch::new(2048);
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while got.len() < 151 {
            match batch.recv(&rx) {
                Ok(n) => {
                    assert!(n <= super::BATCH);
                    assert_eq!(batch.datagrams().count(), n);
                    for (d, data) in batch.datagrams() {
                        assert_eq!(d.destination, Some("127.0.0.1".parse().unwrap()));
                        got.push((d.source, data.to_vec()));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(e) => panic!("{e} after {} datagrams", got.len()),
            }
        }
        let from_tx: Vec<Vec<u8>> =
            got.iter().filter(|(s, _)| *s == tx.local_addr().unwrap()).map(|(_, d)| d.clone()).collect();
        let sent: Vec<Vec<u8>> = items.iter().filter(|(a, _)| *a == to).map(|(_, d)| d.clone()).collect();
        assert_eq!(from_tx, sent, "every datagram, whole and in order");
        assert!(got.iter().any(|(s, d)| *s == other.local_addr().unwrap() && d == b"from elsewhere"));
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
