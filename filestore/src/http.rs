//! The router: which path and method go to which handler. Also `/health` and `/metrics`.
//! No logic lives here.

use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::Router;

pub fn router(st: AppState) -> Router {
    use crate::files::{download, relay, tus};
    Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/chat", any(crate::chat::connection::upgrade))
        .route("/files", get(download::list).post(tus::create).options(tus::options))
        .route("/files/", get(download::list).post(tus::create).options(tus::options))
        .route(
            "/files/{id}",
            get(download::get).head(tus::head).patch(tus::patch).delete(tus::delete).options(tus::options),
        )
        .route("/files/relay/{id}", get(relay::get).put(relay::put))
        // Bodies are streamed to disk or to the relay and bounded by Upload-Length there.
        .layer(DefaultBodyLimit::disable())
        .with_state(st)
}

async fn metrics(State(st): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], st.metrics.render())
}
