//! The HTTPS listener: accepts TCP, limits concurrent connections, does the TLS handshake
//! with a deadline, and hands each connection to hyper with the axum router as its handler.
//!
//! It never blocks the accept loop on one client: handshakes and requests run in their own
//! tasks, tracked so shutdown waits for them.

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// At most this many connections at once; more are closed right after accept.
pub const MAX_CONNECTIONS: usize = 2048;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head hyper buffers; a longer URL or header block is refused.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

pub async fn serve_https(
    listener: TcpListener,
    tls: TlsAcceptor,
    app: Router,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
            tracing::warn!(%peer, "too many connections; closing a new one");
            continue;
        };
        // Handlers learn the browser's address (signal limits password guesses per source).
        let app = app.clone().layer(axum::Extension(axum::extract::ConnectInfo(peer)));
        let (tls, shutdown) = (tls.clone(), shutdown.clone());
        tracker.spawn(async move {
            handle(tcp, tls, app, shutdown).await;
            drop(permit);
        });
    }
}

async fn handle(tcp: TcpStream, tls: TlsAcceptor, app: Router, shutdown: CancellationToken) {
    let _ = tcp.set_nodelay(true);
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    serve_connection(TokioIo::new(stream), app, shutdown).await;
}

/// Serves HTTP/1.1 on one established connection (TLS or not) until it ends or shutdown.
pub async fn serve_connection<I>(io: TokioIo<I>, app: Router, shutdown: CancellationToken)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(20))
        .max_buf_size(MAX_HEAD_BYTES)
        .serve_connection(io, TowerToHyperService::new(app))
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
        }
    }
}
