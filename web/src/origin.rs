//! Same-origin checks for what a browser on another site could otherwise make a visitor's
//! browser do here: open the XMPP or chat WebSocket (cross-site WebSocket hijacking: the
//! upgrade carries no CORS check) or send a state-changing request to `/files/`.
//!
//! A browser always sends `Origin` on a WebSocket upgrade and on a cross-origin POST, PATCH
//! or DELETE; it must then be this server itself (`https://` + the `Host` it was asked
//! under). A request without `Origin` comes from a program, not a page of another site, and
//! passes (it still needs its room token or XMPP login like any other).

use axum::http::{header, HeaderMap, Method};

/// True when a request with these headers may go on.
pub fn allowed(method: &Method, headers: &HeaderMap) -> bool {
    let is_upgrade = headers.contains_key(header::UPGRADE);
    let changes_state = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !is_upgrade && !changes_state {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let (Ok(origin), Some(Ok(host))) = (origin.to_str(), headers.get(header::HOST).map(|h| h.to_str())) else {
        return false;
    };
    same_origin(origin, host)
}

/// `origin` (`scheme://host[:port]`) is `https://` + `host` (`host[:port]`), with 443 as
/// the default port on either side and host names compared without case.
fn same_origin(origin: &str, host: &str) -> bool {
    let Some(authority) = origin.strip_prefix("https://") else { return false };
    let norm = |a: &str| {
        let a = a.to_ascii_lowercase();
        match a.strip_suffix(":443") {
            Some(h) => h.to_string(),
            None => a,
        }
    };
    !authority.is_empty() && !authority.contains(['/', '@']) && norm(authority) == norm(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn upgrades_and_writes_need_this_origin() {
        let up = [("upgrade", "websocket"), ("host", "meet.lan:8443")];
        assert!(allowed(&Method::GET, &headers(&up)), "no Origin: not a browser page");
        let with = |o: &'static str| headers(&[up[0], up[1], ("origin", o)]);
        assert!(allowed(&Method::GET, &with("https://meet.lan:8443")));
        assert!(allowed(&Method::GET, &with("https://MEET.lan:8443")));
        for foreign in [
            "https://evil.example",
            "http://meet.lan:8443",
            "https://meet.lan",
            "https://meet.lan:8443.evil.example",
            "https://evil.example@meet.lan:8443",
            "null",
        ] {
            assert!(!allowed(&Method::GET, &with(foreign)), "{foreign}");
        }
        let post = |o: &'static str| headers(&[("host", "meet.lan"), ("origin", o)]);
        assert!(allowed(&Method::POST, &post("https://meet.lan:443")));
        assert!(!allowed(&Method::PATCH, &post("https://evil.example")));
        assert!(allowed(&Method::GET, &post("https://evil.example")), "plain reads are for CORS to decide");
    }
}
