//! Bad input at the public entry point: path tricks, markup in room names, requests for
//! files outside the static set, an oversized request head, a huge WebSocket frame. Each is
//! refused or answered with the page, never with another file, never reflected as markup,
//! and never disturbs other connections. A WebSocket the upstream refuses (filestore's 401
//! for an expired room token, 403 for another room's) reaches the browser with that status,
//! not as 502.

mod common;

use common::{get, https_request, System};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn path_tricks_never_reach_files_outside_the_static_set() {
    let mut sys = System::start("web", vec![]);
    sys.wait_ready().await;
    let index = https_request(&sys, &get("/")).await.expect("home page").body;
    let secret_like = ["[package]", "[workspace]", "root:x:", "BEGIN PRIVATE KEY", "//! web"];
    for path in [
        "/../Cargo.toml",
        "/static/../../Cargo.toml",
        "/static/%2e%2e/%2e%2e/Cargo.toml",
        "/static/js/../../../web/src/lib.rs",
        "/static/..%2f..%2fCargo.toml",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/etc/passwd",
        "/static/js/app.js%00.txt",
        "/src/lib.rs",
        "/Cargo.toml",
        "/tls/key.pem",
        "/static/",
        "/static",
        "//etc/passwd",
    ] {
        let r = https_request(&sys, &get(path)).await.unwrap_or_else(|e| panic!("{path}: {e}"));
        let body = r.text();
        assert!(
            matches!(r.status, 400 | 404) || (r.status == 200 && r.body == index),
            "{path}: status {} with a body that is not the page",
            r.status
        );
        for s in secret_like {
            assert!(!body.contains(s), "{path} leaked {s:?}");
        }
    }
    assert!(sys.stop().success());
}

#[tokio::test]
async fn markup_in_room_names_is_refused_and_never_reflected() {
    let mut sys = System::start("web", vec![]);
    sys.wait_ready().await;
    for path in [
        "/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
        "/a%22%20onmouseover%3D%22alert(1)",
        "/.hidden",
        "/room%0d%0aSet-Cookie:%20x=1",
        &format!("/{}", "x".repeat(65)),
    ] {
        let r = https_request(&sys, &get(path)).await.unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(r.status, 400, "{path} is not a room");
        let body = r.text().to_ascii_lowercase();
        for bad in ["<script", "<img", "onmouseover", "onerror", "set-cookie"] {
            assert!(!body.contains(bad), "{path}: reflected {bad:?}");
        }
        assert!(r.header("set-cookie").is_none(), "{path}: header injection");
        assert!(
            r.header("content-type").unwrap_or_default().starts_with("text/plain"),
            "{path}: errors are plain text"
        );
    }
    // A valid name with capitals is the same room, served as the page.
    assert_eq!(https_request(&sys, &get("/StandUp")).await.expect("page").status, 200);
    assert!(sys.stop().success());
}

#[tokio::test]
async fn an_oversized_request_head_is_refused_and_others_are_served() {
    let mut sys = System::start("web", vec![]);
    sys.wait_ready().await;
    let big =
        format!("GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\nConnection: close\r\n\r\n", "a".repeat(200 * 1024));
    // Closed without an answer (Err) is also a refusal.
    if let Ok(r) = https_request(&sys, &big).await {
        assert!(r.status == 431 || r.status == 400, "oversized head answered {}", r.status);
    }
    assert_eq!(https_request(&sys, &get("/health")).await.expect("still serving").status, 200);
    assert!(sys.stop().success());
}

#[tokio::test]
async fn xmpp_websocket_needs_its_subprotocol_and_a_reachable_signal() {
    // Signal's address points at a closed port: upgrade must not happen (502, not a dead socket).
    let closed = common::free_tcp();
    let mut sys = System::start("web", vec![("SIGNAL_HTTP_URL".into(), format!("http://127.0.0.1:{closed}"))]);
    sys.wait_ready().await;
    let upgrade = |proto: &str| {
        format!(
            "GET /xmpp-websocket HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{proto}\r\n"
        )
    };
    let no_proto = https_request(&sys, &upgrade("")).await.expect("answer");
    assert_eq!(no_proto.status, 400, "RFC 7395 needs subprotocol xmpp");
    let down = https_request(&sys, &upgrade("Sec-WebSocket-Protocol: xmpp\r\n")).await.expect("answer");
    assert_eq!(down.status, 502, "no upstream: bad gateway");
    assert!(sys.stop().success());
}

/// A chat WebSocket through web to the real filestore, with a room token signed by the
/// system's own token secret (what signal would issue).
async fn chat_socket(
    sys: &System,
    nick: &str,
    max: usize,
) -> tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let secret =
        std::fs::read_to_string(sys.data_dir.join("secrets/token_secret")).expect("meet generated the token secret");
    let claims = proto::token::Claims::new(
        format!("{nick}@meet.lan/x"),
        proto::RoomName::new("bigframes").expect("valid room"),
        proto::EndpointId::new(nick).expect("valid nick"),
        nick.to_string(),
        600,
    );
    let token = proto::token::issue(secret.trim().as_bytes(), &claims).expect("token signs");
    let url = format!("wss://127.0.0.1:{}/chat?token={token}", sys.https.port());
    let tls = common::tls_stream(sys, "127.0.0.1").await.expect("TLS");
    let cfg = WebSocketConfig::default().max_frame_size(Some(max)).max_message_size(Some(max));
    let (ws, _) = tokio_tungstenite::client_async_with_config(url.into_client_request().expect("url"), tls, Some(cfg))
        .await
        .expect("chat WebSocket through web");
    ws
}

async fn next_text<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> Option<String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), ws.next()).await.ok()?? {
            Ok(Message::Text(t)) => return Some(t.to_string()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_websocket_frame_closes_only_its_own_connection() {
    let mut sys = System::meet(&[]);
    sys.wait_ready().await;
    let mut calm = chat_socket(&sys, "calm0001", 1 << 20).await;
    assert!(next_text(&mut calm).await.expect("welcome").contains("welcome"));
    let mut loud = chat_socket(&sys, "loud0001", 8 << 20).await;
    assert!(next_text(&mut loud).await.expect("welcome").contains("welcome"));

    let huge = "x".repeat(2 * 1024 * 1024);
    let _ = loud.send(Message::Text(huge.into())).await;
    let mut close_code = None;
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), loud.next()).await {
            Ok(Some(Ok(Message::Close(f)))) => {
                close_code = f.map(|f| u16::from(f.code));
                break;
            }
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_))) | Ok(None) => break,
            Err(_) => panic!("the huge frame was neither refused nor closed"),
        }
    }
    assert_eq!(close_code, Some(1009), "web closes the sender of a huge frame with 1009 (message too big)");

    // The other participant's connection is untouched: it still sends and receives.
    calm.send(Message::Text(r#"{"type":"message","text":"still here","client_id":"c1"}"#.into())).await.expect("send");
    let mut echoed = false;
    for _ in 0..5 {
        match next_text(&mut calm).await {
            Some(t) if t.contains("still here") => {
                echoed = true;
                break;
            }
            Some(_) => continue,
            None => break,
        }
    }
    assert!(echoed, "the calm connection kept working");
    assert!(sys.stop().success());
}

/// A raw upgrade request for `/chat` with `query`, through web's HTTPS.
fn chat_upgrade(query: &str) -> String {
    format!(
        "GET /chat?{query} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_upgrade_refused_by_filestore_passes_its_status_through() {
    let mut sys = System::meet(&[]);
    sys.wait_ready().await;
    let secret =
        std::fs::read_to_string(sys.data_dir.join("secrets/token_secret")).expect("meet generated the token secret");
    let claims = |ttl| {
        proto::token::Claims::new(
            "x@meet.lan/x".into(),
            proto::RoomName::new("standup").expect("valid room"),
            proto::EndpointId::new("abcd0001").expect("valid nick"),
            "Ann".into(),
            ttl,
        )
    };
    let mut old = claims(600);
    old.iat -= 7200;
    old.exp = old.iat + 600;
    let expired = proto::token::issue(secret.trim().as_bytes(), &old).expect("token signs");
    let r = https_request(&sys, &chat_upgrade(&format!("token={expired}"))).await.expect("answer");
    assert_eq!(r.status, 401, "an expired token is filestore's 401, not a bad gateway");
    assert!(r.text().contains("expired"), "the reason comes along: {:?}", r.text());
    assert!(r.header("content-type").unwrap_or_default().starts_with("text/plain"));

    let forged = proto::token::issue(b"not-the-secret-of-this-system-0123456789", &claims(600)).expect("token signs");
    let r = https_request(&sys, &chat_upgrade(&format!("token={forged}"))).await.expect("answer");
    assert_eq!(r.status, 401, "a token that does not verify");

    let valid = proto::token::issue(secret.trim().as_bytes(), &claims(600)).expect("token signs");
    let r = https_request(&sys, &chat_upgrade(&format!("token={valid}&room=another"))).await.expect("answer");
    assert_eq!(r.status, 403, "a token for another room");

    let mut ok = chat_socket(&sys, "okay0001", 1 << 20).await;
    assert!(next_text(&mut ok).await.expect("welcome").contains("welcome"), "a good token is upgraded and relayed");
    assert!(sys.stop().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signal_learns_the_browsers_address_never_one_the_browser_claims() {
    // A stand-in for signal that records the upgrade request it gets, then refuses it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("web connects upstream");
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tokio::io::AsyncReadExt::read(&mut s, &mut buf).await.expect("read");
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
        let _ =
            tokio::io::AsyncWriteExt::write_all(&mut s, b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno").await;
    });
    let mut sys = System::start("web", vec![("SIGNAL_HTTP_URL".into(), format!("http://127.0.0.1:{port}"))]);
    sys.wait_ready().await;
    let upgrade =
        "GET /xmpp-websocket HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n\
                   Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                   Sec-WebSocket-Protocol: xmpp\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n";
    let r = https_request(&sys, upgrade).await.expect("answer");
    assert_eq!(r.status, 403, "the stand-in's refusal is passed on");
    let head =
        tokio::time::timeout(std::time::Duration::from_secs(10), rx).await.expect("upstream saw it").expect("head");
    let forwarded: Vec<&str> =
        head.lines().filter(|l| l.to_ascii_lowercase().starts_with("x-forwarded-for:")).collect();
    assert_eq!(forwarded, ["x-forwarded-for: 127.0.0.1"], "only web's statement of the address: {head}");
    assert!(sys.stop().success());
}
