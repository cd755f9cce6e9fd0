//! The loopback HTTP endpoint: `/health`, `/stats` (JSON), `/metrics` (Prometheus text).
//! It reads the snapshot the focus task publishes after every step and never touches the
//! core itself.

use super::webhook::WebhookCounters;
use super::Snapshot;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
struct AppState {
    snapshot: watch::Receiver<Arc<Snapshot>>,
    webhooks: Arc<WebhookCounters>,
    webhook_enabled: bool,
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    snapshot: watch::Receiver<Arc<Snapshot>>,
    webhooks: Arc<WebhookCounters>,
    webhook_enabled: bool,
    shutdown: CancellationToken,
) {
    let app = Router::new()
        .route("/health", get(health))
        .route("/stats", get(stats))
        .route("/metrics", get(metrics))
        .with_state(AppState { snapshot, webhooks, webhook_enabled });
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await {
        tracing::error!(error = %e, "HTTP server stopped");
    }
}

async fn health(State(s): State<AppState>) -> impl IntoResponse {
    let snap = s.snapshot.borrow().clone();
    let body = serde_json::json!({ "status": if snap.bus_connected { "ok" } else { "bus-disconnected" }, "bus_connected": snap.bus_connected });
    let code = if snap.bus_connected { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body))
}

async fn stats(State(s): State<AppState>) -> impl IntoResponse {
    let snap = s.snapshot.borrow().clone();
    let mut v = serde_json::to_value(&snap.stats).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("bus_connected".into(), snap.bus_connected.into());
        o.insert(
            "webhooks".into(),
            serde_json::json!({
                "enabled": s.webhook_enabled,
                "delivered": s.webhooks.delivered.load(Ordering::Relaxed),
                "failed": s.webhooks.failed.load(Ordering::Relaxed),
                "dropped": s.webhooks.dropped.load(Ordering::Relaxed),
            }),
        );
    }
    Json(v)
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let snap = s.snapshot.borrow().clone();
    let st = &snap.stats;
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, v: f64| {
        let _ = writeln!(out, "# HELP focus_{name} {help}\n# TYPE focus_{name} gauge\nfocus_{name} {v}");
    };
    gauge("bus_connected", "1 when the bus connection is up", if snap.bus_connected { 1.0 } else { 0.0 });
    gauge("rooms", "rooms focus is in", st.rooms as f64);
    gauge("participants", "participants in all rooms", st.participants as f64);
    gauge("bridge_sessions_active", "participants with an active bridge session", st.bridge_sessions_active as f64);
    gauge("p2p_rooms", "rooms in P2P mode", st.p2p_rooms as f64);
    gauge("bridges", "bridges in the pool", st.bridges.len() as f64);
    gauge(
        "bridges_usable",
        "bridges that may take new conferences",
        st.bridges.iter().filter(|b| !b.failed && !b.draining).count() as f64,
    );
    if let Ok(serde_json::Value::Object(counters)) = serde_json::to_value(&st.counters) {
        for (k, v) in counters {
            let _ = writeln!(out, "# TYPE focus_{k}_total counter\nfocus_{k}_total {}", v.as_u64().unwrap_or(0));
        }
    }
    for (k, c) in
        [("delivered", &s.webhooks.delivered), ("failed", &s.webhooks.failed), ("dropped", &s.webhooks.dropped)]
    {
        let _ = writeln!(
            out,
            "# TYPE focus_webhooks_{k}_total counter\nfocus_webhooks_{k}_total {}",
            c.load(Ordering::Relaxed)
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
