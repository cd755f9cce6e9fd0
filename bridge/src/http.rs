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
    metrics: Arc<Metrics>,
    stats: watch::Receiver<BridgeStats>,
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    stats: watch::Receiver<BridgeStats>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/health", get(health))
        .route("/stats", get(stats_json))
        .route("/metrics", get(metrics_text))
        .with_state(AppState { metrics, stats });
    axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.cancelled().await }).await
}

async fn health(State(s): State<AppState>) -> impl IntoResponse {
    if s.stats.has_changed().is_err() {
        (StatusCode::SERVICE_UNAVAILABLE, "media task stopped\n")
    } else if s.stats.borrow().draining {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n")
    } else {
        (StatusCode::OK, "ok\n")
    }
}

async fn stats_json(State(s): State<AppState>) -> Json<BridgeStats> {
    Json(s.stats.borrow().clone())
}

async fn metrics_text(State(s): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], s.metrics.render())
}
