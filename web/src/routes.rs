//! The HTTPS routes: pages, the embedded static set, `/config.json`, `/health`, and the
//! proxied paths. Every answer gets a strict Content-Security-Policy, so even a mistake in
//! the client could not load a script from anywhere but this origin; the proxied paths
//! refuse WebSocket upgrades and writes from another site's pages ([`origin`]).
//!
//! Handlers never put request input into a response body: a bad room name gets a fixed text.

use crate::{assets, http_proxy, origin, ws_proxy, Config, Error};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use bytes::Bytes;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Shared, read-only state of the handlers (no locks: nothing in it changes).
#[derive(Clone)]
pub struct AppState {
    pub inner: Arc<Shared>,
}

pub struct Shared {
    pub config_json: Bytes,
    /// The Content-Security-Policy of every answer (its `frame-ancestors` from the settings).
    pub csp: HeaderValue,
    /// `X-Frame-Options` for browsers without `frame-ancestors`: only where it says the same.
    pub frame_options: Option<HeaderValue>,
    pub signal_authority: String,
    pub filestore_authority: String,
    pub max_ws_frame: usize,
    pub http_client: http_proxy::Client,
    pub shutdown: CancellationToken,
}

impl AppState {
    pub fn new(config: &Config, shutdown: CancellationToken) -> Result<AppState, Error> {
        let d = &config.domain;
        let config_json = serde_json::json!({
            "domain": d,
            "muc": format!("conference.{d}"),
            "focus": format!("focus.{d}"),
            "websocket": "/xmpp-websocket",
            "chat": "/chat",
            "files": "/files/",
            "iceServers": config.ice_servers,
            "authMode": config.auth_mode.as_str(),
            "authDomain": format!("auth.{d}"),
            "guestDomain": format!("guest.{d}"),
            "archive": format!("archive.{d}"),
        });
        // Scripts, styles and fonts only from this origin, never inline; media from the
        // page's own streams; images also from https: (avatar URLs that tokens from another
        // app carry); connections (WebSockets included) only to this origin.
        let csp = format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; \
             media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; \
             base-uri 'none'; form-action 'self'; frame-ancestors {}",
            config.frame_ancestors
        );
        let frame_options = match config.frame_ancestors.as_str() {
            "'none'" => Some(HeaderValue::from_static("DENY")),
            "'self'" => Some(HeaderValue::from_static("SAMEORIGIN")),
            _ => None,
        };
        Ok(AppState {
            inner: Arc::new(Shared {
                csp: HeaderValue::from_str(&csp).map_err(|_| proto::config::ConfigError {
                    name: "WEB_FRAME_ANCESTORS".into(),
                    value: config.frame_ancestors.clone(),
                    reason: "not a header value".into(),
                })?,
                frame_options,
                config_json: Bytes::from(config_json.to_string()),
                signal_authority: config.signal_authority.clone(),
                filestore_authority: config.filestore_authority.clone(),
                max_ws_frame: config.max_ws_frame,
                http_client: http_proxy::client(),
                shutdown,
            }),
        })
    }
}

pub fn router(state: AppState) -> Router {
    // The proxied paths: a page of another site may not open their WebSockets or write.
    let proxied = Router::new()
        .route("/xmpp-websocket", get(ws_proxy::xmpp))
        .route("/chat", get(ws_proxy::chat))
        .route("/files", any(http_proxy::files))
        .route("/files/", any(http_proxy::files))
        .route("/files/{*rest}", any(http_proxy::files))
        .layer(axum::middleware::from_fn(same_origin_only));
    Router::new()
        .route("/", get(home))
        .route("/health", get(health))
        .route("/config.json", get(config_json))
        .route("/favicon.ico", get(favicon))
        .route("/static/{*path}", get(static_file))
        .merge(proxied)
        .route("/{room}", get(room_page))
        .fallback(not_found)
        .layer(axum::middleware::map_response_with_state(state.clone(), security_headers))
        .with_state(state)
}

async fn same_origin_only(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if !origin::allowed(req.method(), req.headers()) {
        tracing::info!(path = req.uri().path(), "refused a request from another site's page (Origin)");
        return text(StatusCode::FORBIDDEN, "cross-origin request refused\n");
    }
    next.run(req).await
}

async fn security_headers(State(s): State<AppState>, mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, s.inner.csp.clone());
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Some(v) = &s.inner.frame_options {
        h.insert(header::X_FRAME_OPTIONS, v.clone());
    }
    res
}

fn asset_response(a: assets::Asset) -> Response {
    (
        [(header::CONTENT_TYPE, a.content_type), (header::CACHE_CONTROL, "no-cache")],
        Body::from(Bytes::from_static(a.bytes)),
    )
        .into_response()
}

async fn home() -> Response {
    asset_response(assets::index())
}

async fn room_page(Path(room): Path<String>) -> Response {
    match proto::RoomName::normalize(&room) {
        Ok(_) => asset_response(assets::index()),
        Err(_) => text(StatusCode::BAD_REQUEST, "invalid room name: use lowercase letters, digits, '-', '_' or '.'\n"),
    }
}

async fn static_file(Path(path): Path<String>) -> Response {
    match assets::get(&format!("/static/{path}")) {
        Some(a) => asset_response(a),
        None => not_found().await,
    }
}

async fn config_json(State(s): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-cache")], s.inner.config_json.clone())
        .into_response()
}

async fn health() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], r#"{"status":"ok"}"#).into_response()
}

async fn favicon() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

async fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "not found\n")
}

pub fn text(status: StatusCode, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}
