//! bridge: the SFU of meet-lan. Every participant's audio, video and bridge channel arrive
//! on one UDP port (DTLS-SRTP, ICE-lite, str0m in RTP mode) and are forwarded to the other
//! participants of the conference, with simulcast layer choice per receiver, loss recovery
//! (NACK/RTX from the packet cache, PLI), transport-cc bandwidth estimation and dominant
//! speaker detection. Focus allocates endpoints over the bus (Colibri's role, see
//! `proto::colibri`).
//!
//! The media logic is a sans-IO core ([`Sfu`] → `Conference` → `Endpoint`, `TrackIn` /
//! `TrackOut`); [`run`] is the thin driver owning the socket, the timers, the HTTP endpoint
//! and the bus connection. The bridge never decodes media and never panics on input from
//! the network.

pub mod allocator;
pub mod conference;
pub mod demux;
pub mod dominant_speaker;
pub mod endpoint;
mod error;
pub mod keyframe;
pub mod loudest;
pub mod metrics;
pub mod participant;
pub mod pktinfo;
pub mod relay;
pub mod rewriter;
pub mod sfu;
pub mod track;

pub use error::Error;
pub use sfu::{Sfu, SfuConfig, SfuOutput};

pub mod bus;
pub mod candidates;
mod config;
pub mod driver;
pub mod http;
pub mod threads;

pub use config::Config;

use tokio_util::sync::CancellationToken;

/// This build's version, published in stats and the bridge channel's ServerHello.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs the bridge until `shutdown` is cancelled, then drains (see [`driver`]).
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let socket = driver::bind_media_socket(config.media_addr)?;
    let bound = socket.local_addr()?;
    let candidates = candidates::candidates(bound, &config.advertise_ips);
    if candidates.is_empty() {
        return Err(Error::BadSetting("no address to advertise: set ADVERTISE_IPS".into()));
    }
    tracing::info!(%bound, ?candidates, jid = %config.jid(), threads = config.media_threads, "bridge media socket bound");

    let setup = driver::MediaSetup {
        socket,
        bound,
        sfu: SfuConfig {
            candidates,
            version: VERSION.into(),
            bwe: config.bwe,
            loudest_audio: config.loudest_audio,
            loudest_above: config.loudest_above,
        },
        threads: config.media_threads,
        spread_slack: config.thread_slack,
        drain_timeout: config.drain_timeout,
    };
    let http_listener = tokio::net::TcpListener::bind(config.http_addr).await?;
    tracing::info!(addr = %http_listener.local_addr()?, "bridge http listening");
    let media = driver::start(setup, shutdown)?;
    let stats_rx = media.board.subscribe();
    // The side tasks stop after the media threads have drained, not at the first signal.
    let after_drain = CancellationToken::new();
    let http = tokio::spawn(http::serve(
        http_listener,
        media.metrics.clone(),
        stats_rx.clone(),
        media.board.subscribe_failure(),
        after_drain.clone(),
    ));
    let bus = if config.bus_enabled {
        let cfg = bus::BusConfig {
            addr: config.bus_addr.clone(),
            bridge_id: config.bridge_id.clone(),
            domain: config.domain.clone(),
            secret: config.bus_secret.clone(),
        };
        Some(tokio::spawn(bus::run(cfg, media.commands.clone(), media.events, stats_rx, after_drain.clone())))
    } else {
        None
    };
    let result = media.done.await.unwrap_or_else(|e| Err(Error::MediaThread(format!("media threads: {e}"))));
    drop(media.commands);
    // Let the bus deliver the last events (Draining) before it closes.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    after_drain.cancel();
    if let Some(b) = bus {
        let _ = b.await;
    }
    let _ = http.await;
    result
}
