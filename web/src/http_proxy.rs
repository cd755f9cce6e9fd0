//! `/files/` → filestore: a streaming reverse proxy. Request and response bodies flow
//! through as they arrive (uploads of any size within filestore's own limit), headers are
//! passed on except hop-by-hop ones, and absolute `Location`s pointing at filestore's
//! internal address are made relative so the browser stays on this origin.
//!
//! It never buffers a body and never decides about files: filestore checks the room token.

use crate::routes::{text, AppState};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

pub type Client = hyper_util::client::legacy::Client<HttpConnector, Body>;

pub fn client() -> Client {
    let mut c = HttpConnector::new();
    c.set_connect_timeout(Some(Duration::from_secs(5)));
    c.set_nodelay(true);
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(c)
}

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

pub async fn files(State(s): State<AppState>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let pq = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/files/").to_string();
    if pq.split(['?', '#']).next().unwrap_or("").split('/').any(|seg| {
        seg == ".."
            || seg == "."
            || seg.to_ascii_lowercase().contains("%2e%2e")
            || seg.to_ascii_lowercase().contains("%2f")
    }) {
        return text(StatusCode::BAD_REQUEST, "bad path\n");
    }
    let upstream = &s.inner.filestore_authority;
    let Ok(uri) = format!("http://{upstream}{pq}").parse::<Uri>() else {
        return text(StatusCode::BAD_REQUEST, "bad path\n");
    };
    parts.uri = uri;
    parts.version = axum::http::Version::HTTP_11;
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.insert(HeaderName::from_static("x-forwarded-proto"), HeaderValue::from_static("https"));
    let res = match s.inner.http_client.request(axum::http::Request::from_parts(parts, body)).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "filestore unavailable");
            return text(StatusCode::BAD_GATEWAY, "filestore unavailable\n");
        }
    };
    let (mut parts, body) = res.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    if let Some(loc) = parts.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()) {
        let prefix = format!("http://{upstream}");
        if let Some(rest) = loc.strip_prefix(&prefix) {
            if let Ok(v) = HeaderValue::from_str(rest) {
                parts.headers.insert(header::LOCATION, v);
            }
        }
    }
    Response::from_parts(parts, Body::new(body)).into_response()
}

fn strip_hop_by_hop(h: &mut axum::http::HeaderMap) {
    let listed: Vec<String> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()).collect::<Vec<_>>())
        .collect();
    for name in HOP_BY_HOP.iter().map(|s| s.to_string()).chain(listed) {
        h.remove(name.as_str());
    }
}
