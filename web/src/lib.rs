//! web: the one public HTTPS entry point of meet-lan. It serves the browser client from files
//! embedded in the binary, a small `/config.json`, `/health`, and proxies `/xmpp-websocket` to
//! signal and `/chat`, `/files/` to filestore; plain HTTP only redirects to HTTPS.
//!
//! It never serves a byte from the file system (only the embedded static set), never
//! reflects a request's path or query into markup, and never buffers a proxied body whole.
//! It keeps no conference state: everything behind the proxies belongs to other components.

pub mod assets;
pub mod config;
pub mod error;
pub mod http_proxy;
pub mod ice;
pub mod launcher;
pub mod origin;
pub mod redirect;
pub mod routes;
pub mod server;
pub mod tls;
pub mod ws_proxy;

pub use config::Config;
pub use error::Error;

use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Binds both listeners, then serves until `shutdown` is cancelled. Returns once every
/// connection task has ended (upgraded WebSockets are told to close with "going away").
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let tls = tls::server_config(&config)?;
    let https = TcpListener::bind(config.https_addr)
        .await
        .map_err(|e| Error::io(format!("binding WEB_HTTPS_ADDR {}", config.https_addr), e))?;
    let http = TcpListener::bind(config.http_addr)
        .await
        .map_err(|e| Error::io(format!("binding WEB_HTTP_ADDR {}", config.http_addr), e))?;
    let https_port = https.local_addr().map_err(|e| Error::io("reading the HTTPS address", e))?.port();
    tracing::info!(https = %config.https_addr, http = %config.http_addr, "web listening");

    let app = routes::router(routes::AppState::new(&config, shutdown.clone())?);
    let tracker = TaskTracker::new();
    let https_task = tracker.spawn(server::serve_https(
        https,
        tokio_rustls::TlsAcceptor::from(Arc::clone(&tls)),
        app,
        shutdown.clone(),
        tracker.clone(),
    ));
    let http_task = tracker.spawn(redirect::serve_redirect(http, https_port, shutdown.clone(), tracker.clone()));
    shutdown.cancelled().await;
    let _ = https_task.await;
    let _ = http_task.await;
    tracker.close();
    tracker.wait().await;
    tracing::info!("web stopped");
    Ok(())
}
