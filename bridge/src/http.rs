//! `/health`, `/stats` (JSON of `BridgeStats`) and `/metrics` (Prometheus) on
//! `BRIDGE_HTTP_ADDR` (loopback by default). Read-only: it reads the counters and the
//! latest stats the media task published and can change nothing.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use proto::colibri::BridgeStats;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

#[derive(Clone)]
struct AppState {
    /// One set per media thread; `/metrics` shows their sum.
    metrics: Vec<Arc<Metrics>>,
    stats: watch::Receiver<BridgeStats>,
    /// Set when a media thread (or the UDP reader) died.
    failure: watch::Receiver<Option<String>>,
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Vec<Arc<Metrics>>,
    stats: watch::Receiver<BridgeStats>,
    failure: watch::Receiver<Option<String>>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/health", get(health))
        .route("/stats", get(stats_json))
        .route("/metrics", get(metrics_text))
        .with_state(AppState { metrics, stats, failure });
    axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.cancelled().await }).await
}

async fn health(State(s): State<AppState>) -> impl IntoResponse {
    if let Some(why) = s.failure.borrow().clone() {
        (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n"))
    } else if s.stats.has_changed().is_err() {
        (StatusCode::SERVICE_UNAVAILABLE, "media task stopped\n".to_string())
    } else if s.stats.borrow().draining {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n".to_string())
    } else {
        (StatusCode::OK, "ok\n".to_string())
    }
}

async fn stats_json(State(s): State<AppState>) -> Json<BridgeStats> {
    Json(s.stats.borrow().clone())
}

async fn metrics_text(State(s): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], Metrics::render_sum(&s.metrics))
}
