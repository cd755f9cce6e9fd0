//! The HTTP listener on `SIGNAL_HTTP_ADDR`: `/xmpp-websocket` (RFC 7395, subprotocol `xmpp`,
//! handed to the same client driver as TCP), `/health` and Prometheus `/metrics`.
//! It must never accept a WebSocket without the `xmpp` subprotocol, nor frames larger than
//! the stanza limit.
//!
//! The client's address for per-source limits is the last `X-Forwarded-For` entry (the one
//! `web`, the only proxy in front of this port, appends), else the TCP peer.

use crate::c2s::{self, Source};
use crate::metrics::Metrics;
use crate::stream::StreamWriter;
use crate::Shared;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::StreamExt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
struct AppState {
    shared: Arc<Shared>,
    shutdown: CancellationToken,
}

pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) -> Result<(), crate::Error> {
    let app = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/xmpp-websocket", get(websocket))
        .with_state(AppState { shared, shutdown: shutdown.clone() });
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}

async fn health() -> &'static str {
    "ok\n"
}

async fn metrics(State(st): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], st.shared.metrics.render()).into_response()
}

/// The client's address: the last `X-Forwarded-For` entry when there is a readable one.
pub fn client_address(headers: &HeaderMap, peer: IpAddr) -> IpAddr {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or(peer)
}

async fn websocket(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let source = client_address(&headers, peer.ip());
    let offers_xmpp = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == "xmpp");
    if !offers_xmpp {
        return (StatusCode::BAD_REQUEST, "the WebSocket subprotocol 'xmpp' is required (RFC 7395)\n").into_response();
    }
    let Some(permit) = st.shared.admit() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections\n").into_response();
    };
    let max = st.shared.config.max_stanza_bytes + 1024;
    ws.protocols(["xmpp"]).max_message_size(max).max_frame_size(max).on_upgrade(move |socket| async move {
        let shared = st.shared.clone();
        Metrics::gauge(&shared.metrics.websocket_connections, 1);
        let (sink, stream) = socket.split();
        if let Err(e) =
            c2s::drive(Source::Ws(stream), StreamWriter::ws(sink), source, shared.clone(), st.shutdown).await
        {
            tracing::debug!("websocket client ended: {e}");
        }
        drop(permit);
        Metrics::gauge(&shared.metrics.websocket_connections, -1);
    })
}
