//! The media driver: the one task that owns the UDP socket, the clock and the [`Sfu`]. It
//! feeds datagrams, timeouts and Colibri commands to the core and carries out what the core
//! asks (send datagrams, emit events). It makes no media decision itself and never blocks
//! on anything but the socket, its timer and its command queue.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proto::colibri::{BridgeStats, ColibriEvent, ColibriRequest, ColibriResponse};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::candidates;
use crate::pktinfo;
use crate::sfu::{Sfu, SfuOutput};
use crate::Error;

/// A request to the media task.
#[derive(Debug)]
pub enum Command {
    Colibri(ColibriRequest, oneshot::Sender<Result<ColibriResponse, Error>>),
}

/// How many datagrams are read in one go before timers and commands get a turn.
const READ_BATCH: usize = 64;
/// How often `/stats` and the presence figures are refreshed.
const STATS_EVERY: Duration = Duration::from_secs(1);

pub struct MediaTask {
    pub sfu: Sfu,
    pub socket: UdpSocket,
    pub bound: SocketAddr,
    pub candidates: Vec<SocketAddr>,
    pub commands: mpsc::Receiver<Command>,
    pub events: mpsc::UnboundedSender<ColibriEvent>,
    pub stats: watch::Sender<BridgeStats>,
    pub drain_timeout: Duration,
}

impl MediaTask {
    /// Runs until `shutdown`, then drains: no new conferences, focus is told, and the task
    /// ends once the conferences are gone or `drain_timeout` passed.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), Error> {
        let mut buf = vec![0u8; 2048];
        let mut drain_deadline: Option<tokio::time::Instant> = None;
        let mut stats_tick = tokio::time::interval(STATS_EVERY);
        loop {
            let deadline = self.flush();
            if let Some(d) = drain_deadline {
                if self.sfu.conference_count() == 0 || tokio::time::Instant::now() >= d {
                    let _ = self.stats.send(self.sfu.stats(Instant::now()));
                    tracing::info!(conferences = self.sfu.conference_count(), "drained, media task stops");
                    return Ok(());
                }
            }
            let sleep_until = tokio::time::Instant::from_std(deadline)
                .min(drain_deadline.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600)));
            tokio::select! {
                r = self.socket.readable() => {
                    if let Err(e) = r {
                        tracing::debug!("udp socket error: {e}");
                    }
                    for _ in 0..READ_BATCH {
                        let socket = &self.socket;
                        match socket.try_io(tokio::io::Interest::READABLE, || pktinfo::recv(socket, &mut buf)) {
                            Ok((n, src, dst)) => self.on_datagram(src, dst, &buf[..n]),
                            Err(_) => break,
                        }
                    }
                }
                _ = tokio::time::sleep_until(sleep_until) => self.sfu.handle_timeout(Instant::now()),
                Some(cmd) = self.commands.recv() => match cmd {
                    Command::Colibri(req, reply) => {
                        let r = self.sfu.handle_colibri(Instant::now(), req);
                        if let Err(e) = &r {
                            tracing::info!("colibri request refused: {e}");
                        }
                        let _ = reply.send(r);
                    }
                },
                _ = stats_tick.tick() => {
                    let _ = self.stats.send(self.sfu.stats(Instant::now()));
                }
                _ = shutdown.cancelled(), if drain_deadline.is_none() => {
                    tracing::info!("shutdown requested: draining");
                    self.sfu.start_draining();
                    let _ = self.stats.send(self.sfu.stats(Instant::now()));
                    drain_deadline = Some(tokio::time::Instant::now() + self.drain_timeout);
                }
            }
        }
    }

    fn on_datagram(&mut self, src: SocketAddr, local_ip: Option<std::net::IpAddr>, data: &[u8]) {
        // The candidate with the address the datagram really arrived on, else a guess
        // (advertised addresses behind NAT are not local).
        let dst = local_ip
            .and_then(|ip| self.candidates.iter().find(|c| c.ip() == ip).copied())
            .unwrap_or_else(|| candidates::destination_for(src, self.bound, &self.candidates));
        self.sfu.handle_datagram(Instant::now(), src, dst, data);
    }

    /// Sends what the core produced; returns its next deadline.
    fn flush(&mut self) -> Instant {
        loop {
            match self.sfu.poll_output() {
                SfuOutput::Transmit(t) => {
                    if let Err(e) = self.socket.try_send_to(&t.contents, t.destination) {
                        // A full socket buffer drops the datagram like the network would;
                        // RTX and PLI recover.
                        tracing::trace!("udp send to {} failed: {e}", t.destination);
                    }
                }
                SfuOutput::Event(e) => {
                    let _ = self.events.send(e);
                }
                SfuOutput::Timeout(t) => return t,
            }
        }
    }
}

/// The media socket, with larger kernel buffers than the default so bursts of video
/// (keyframes from many senders at once) are not dropped.
pub fn bind_media_socket(addr: SocketAddr) -> Result<std::net::UdpSocket, Error> {
    let domain = if addr.is_ipv4() { socket2::Domain::IPV4 } else { socket2::Domain::IPV6 };
    let s = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    let _ = s.set_recv_buffer_size(4 << 20);
    let _ = s.set_send_buffer_size(4 << 20);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    if let Err(e) = crate::pktinfo::enable(&s, addr.is_ipv6()) {
        tracing::warn!("cannot learn datagram destinations (IP_PKTINFO): {e}");
    }
    Ok(s.into())
}

/// Runs the media task on its own thread with a single-threaded runtime: the socket's
/// readiness, the timer and the task live on one thread, so a datagram wakes the task
/// without a hand-off between threads. Resolves when the task ends.
pub async fn run_on_own_thread(
    socket: std::net::UdpSocket,
    build: impl FnOnce(UdpSocket) -> MediaTask + Send + 'static,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let (done_tx, done_rx) = oneshot::channel();
    std::thread::Builder::new().name("bridge-media".into()).spawn(move || {
        let result = (|| {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async move {
                let socket = UdpSocket::from_std(socket)?;
                build(socket).run(shutdown).await
            })
        })();
        let _ = done_tx.send(result);
    })?;
    done_rx.await.unwrap_or_else(|_| Err(Error::Io(std::io::Error::other("media thread ended without a result"))))
}
