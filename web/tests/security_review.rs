//! The web security review (issue 16, point 5), through the real binary: security headers
//! on every kind of answer, framing only as `WEB_FRAME_ANCESTORS` allows, WebSocket
//! upgrades and writes to the proxied paths refused from another site's pages (cross-site
//! WebSocket hijacking), and TLS below 1.2 refused at the handshake.

mod common;

use common::{https_request, System};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn request(method: &str, path: &str, extra: &str) -> String {
    format!("{method} {path} HTTP/1.1\r\nHost: localhost:8443\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n")
}

fn upgrade(path: &str, origin: Option<&str>) -> String {
    let origin = origin.map(|o| format!("Origin: {o}\r\n")).unwrap_or_default();
    request(
        "GET",
        path,
        &format!(
            "{origin}Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: xmpp\r\n"
        ),
    )
    .replace("Connection: close", "Connection: Upgrade, close")
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_framing_is_denied_by_default() {
    let mut sys = System::start("web", vec![]);
    sys.wait_ready().await;
    for path in ["/", "/standup", "/static/js/app.js", "/config.json", "/health", "/nope/x", "/%3Cx%3E", "/files/abc"] {
        let r = https_request(&sys, &request("GET", path, "")).await.unwrap_or_else(|e| panic!("{path}: {e}"));
        let csp = r.header("content-security-policy").unwrap_or_else(|| panic!("{path} ({}): no CSP", r.status));
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-eval"), "{path}: {csp}");
        assert!(csp.contains("connect-src 'self'"), "{path}: WebSockets only to this origin: {csp}");
        assert!(csp.contains("img-src 'self' data: blob: https:"), "{path}: avatars from https: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(r.header("x-frame-options").as_deref(), Some("DENY"), "{path}");
        assert_eq!(r.header("x-content-type-options").as_deref(), Some("nosniff"), "{path}");
        assert_eq!(r.header("referrer-policy").as_deref(), Some("no-referrer"), "{path}");
    }
    assert!(sys.stop().success());
}

#[tokio::test]
async fn frame_ancestors_is_a_setting_and_a_bad_value_stops_the_start() {
    let mut sys = System::start("web", vec![("WEB_FRAME_ANCESTORS".into(), "'self' https://intranet.example".into())]);
    sys.wait_ready().await;
    let r = https_request(&sys, &request("GET", "/standup", "")).await.expect("page");
    let csp = r.header("content-security-policy").expect("CSP");
    assert!(csp.ends_with("frame-ancestors 'self' https://intranet.example"), "{csp}");
    assert_eq!(r.header("x-frame-options"), None, "X-Frame-Options cannot allow another origin: left out");
    assert!(sys.stop().success());

    // A value that would smuggle in another directive is refused at start.
    let mut bad = System::start("web", vec![("WEB_FRAME_ANCESTORS".into(), "https://a; script-src *".into())]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(s) = bad.child.try_wait().expect("wait") {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "web must refuse WEB_FRAME_ANCESTORS with a ';' and exit");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(!status.success());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await; // the log reader thread
    assert!(bad.logs_contain("WEB_FRAME_ANCESTORS"), "the error names the setting");
}

#[tokio::test]
async fn websocket_upgrades_and_writes_from_another_site_are_refused() {
    // No upstream runs: an allowed request gets as far as the proxy (502), a refused one
    // never leaves web (403).
    let mut sys = System::start("web", vec![]);
    sys.wait_ready().await;
    for path in ["/xmpp-websocket", "/chat?token=x"] {
        for foreign in ["https://evil.example", "http://localhost:8443", "https://localhost:8443.evil.example", "null"]
        {
            let r = https_request(&sys, &upgrade(path, Some(foreign))).await.expect("answer");
            assert_eq!(r.status, 403, "{path} with Origin {foreign}");
        }
        for own in [Some("https://localhost:8443"), None] {
            let r = https_request(&sys, &upgrade(path, own)).await.expect("answer");
            assert_eq!(r.status, 502, "{path} with Origin {own:?} reaches the proxy");
        }
    }
    for method in ["POST", "PATCH", "DELETE"] {
        let r = https_request(&sys, &request(method, "/files/abc", "Origin: https://evil.example\r\n"))
            .await
            .expect("answer");
        assert_eq!(r.status, 403, "{method} from another site");
        let r = https_request(&sys, &request(method, "/files/abc", "Origin: https://localhost:8443\r\n"))
            .await
            .expect("answer");
        assert_eq!(r.status, 502, "{method} from this origin reaches the proxy");
    }
    assert!(sys.logs_contain("refused a request from another site"));
    assert!(sys.stop().success());
}

/// A TLS 1.2-style ClientHello written by hand (no TLS library here still speaks 1.0 or
/// 1.1), with `version` as its only version: ECDHE suites, groups, signature algorithms.
fn client_hello(version: [u8; 2]) -> Vec<u8> {
    let ext = |id: u16, data: &[u8]| {
        let mut e = id.to_be_bytes().to_vec();
        e.extend_from_slice(&(data.len() as u16).to_be_bytes());
        e.extend_from_slice(data);
        e
    };
    let mut exts = Vec::new();
    exts.extend(ext(0x000a, &[0, 4, 0x00, 0x1d, 0x00, 0x17])); // x25519, secp256r1
    exts.extend(ext(0x000b, &[1, 0])); // uncompressed points
    exts.extend(ext(0x000d, &[0, 6, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01])); // ecdsa/rsa-pss/rsa sha256
    exts.extend(ext(0x0017, &[])); // extended master secret
    exts.extend(ext(0xff01, &[0])); // renegotiation info
    let mut body = version.to_vec();
    body.extend_from_slice(&[7u8; 32]); // random
    body.push(0); // no session id
    body.extend_from_slice(&[0, 8, 0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x09, 0xc0, 0x13]); // ECDHE suites
    body.extend_from_slice(&[1, 0]); // null compression
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend(exts);
    let mut hs = vec![1, 0, (body.len() >> 8) as u8, body.len() as u8];
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 3, 1, (hs.len() >> 8) as u8, hs.len() as u8];
    rec.extend_from_slice(&hs);
    rec
}

/// The first record type the server answers `hello` with (0x16 handshake, 0x15 alert).
async fn first_record(sys: &System, hello: &[u8]) -> u8 {
    let mut s = tokio::net::TcpStream::connect(sys.https).await.expect("connect");
    s.write_all(hello).await.expect("send hello");
    let mut answer = [0u8; 5];
    s.read_exact(&mut answer).await.expect("an answer, not silence");
    answer[0]
}

#[tokio::test]
async fn only_tls_1_2_and_1_3_are_spoken() {
    let mut sys = System::start("web", vec![]);
    sys.wait_ready().await;
    // The same hello is answered with a ServerHello as TLS 1.2 and with an alert as 1.0/1.1.
    assert_eq!(
        first_record(&sys, &client_hello([3, 3])).await,
        0x16,
        "the hand-written hello is a usable TLS 1.2 hello"
    );
    for minor in [1u8, 2] {
        assert_eq!(first_record(&sys, &client_hello([3, minor])).await, 0x15, "TLS 1.{} must be refused", minor - 1);
    }
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_protocol_versions(&[version])
            .expect("supported version")
            .with_root_certificates({
                let mut roots = rustls::RootCertStore::empty();
                use rustls::pki_types::pem::PemObject;
                for c in
                    rustls::pki_types::CertificateDer::pem_file_iter(sys.data_dir.join("tls/cert.pem")).expect("cert")
                {
                    roots.add(c.expect("cert parses")).expect("anchor");
                }
                roots
            })
            .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(sys.https).await.expect("connect");
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
        let mut tls = tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(name, tcp).await.expect("handshake");
        assert_eq!(tls.get_ref().1.protocol_version(), Some(version.version));
        tls.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.expect("request");
        let mut out = Vec::new();
        let _ = tls.read_to_end(&mut out).await;
        assert!(out.starts_with(b"HTTP/1.1 200"), "{version:?}");
    }
    assert!(sys.stop().success());
}
