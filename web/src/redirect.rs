//! Plain HTTP: every request is answered with a permanent redirect to the same path on
//! HTTPS (camera and microphone need a secure context). Nothing else is served here.
//!
//! The `Host` header is only reused when it is a plain host name or address; anything else
//! falls back to the address the client connected to, so the header cannot inject a URL.

use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub async fn serve_redirect(listener: TcpListener, https_port: u16, shutdown: CancellationToken, tracker: TaskTracker) {
    loop {
        let tcp = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok((tcp, _)) => tcp,
                Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue; }
            },
        };
        let local = tcp.local_addr().ok();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| async move {
                Ok::<_, Infallible>(redirect(&req, local, https_port))
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .max_buf_size(crate::server::MAX_HEAD_BYTES)
                .serve_connection(TokioIo::new(tcp), svc);
            tokio::select! {
                _ = conn => {}
                _ = shutdown.cancelled() => {}
            }
        });
    }
}

fn redirect<B>(req: &Request<B>, local: Option<std::net::SocketAddr>, https_port: u16) -> Response<String> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(strip_port)
        .filter(|h| is_plain_host(h))
        .map(str::to_string)
        .or_else(|| {
            local.map(|a| match a.ip() {
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                ip => ip.to_string(),
            })
        })
        .unwrap_or_else(|| "localhost".into());
    let path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let path = if path.starts_with('/') && !path.starts_with("//") { path } else { "/" };
    let location = format!("https://{host}:{https_port}{path}");
    let mut res = Response::new(String::new());
    *res.status_mut() = StatusCode::PERMANENT_REDIRECT;
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

fn strip_port(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        // [v6]:port
        return match rest.find(']') {
            // the one-byte `]` is at h[i + 1]: the slice ends on a character boundary
            Some(i) => &h[..i + 2],
            None => h,
        };
    }
    match h.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => h,
    }
}

fn is_plain_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(host: &str, path: &str) -> String {
        let req = Request::builder().uri(path).header(header::HOST, host).body(()).unwrap();
        let res = redirect(&req, Some(([10, 0, 0, 1], 8000).into()), 8443);
        res.headers()[header::LOCATION].to_str().unwrap().to_string()
    }

    #[test]
    fn redirects_to_https_on_the_same_host() {
        assert_eq!(loc("meet.lan:8000", "/standup?x=1"), "https://meet.lan:8443/standup?x=1");
        assert_eq!(loc("[::1]:8000", "/"), "https://[::1]:8443/");
    }

    #[test]
    fn a_hostile_host_header_is_not_reused() {
        assert_eq!(loc("evil.com/x?", "/a"), "https://10.0.0.1:8443/a");
        assert_eq!(loc("a\"b", "/a"), "https://10.0.0.1:8443/a");
    }
}
