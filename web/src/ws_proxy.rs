//! WebSocket proxying: `/xmpp-websocket` → signal (subprotocol `xmpp`, RFC 7395) and
//! `/chat` → filestore. The upstream is connected first, so a browser is only upgraded when
//! there is something to talk to: unreachable → 502; an upstream that answers the upgrade
//! with an HTTP error (filestore's 401 for an expired room token, 403, 503…) → that status
//! and a short plain-text body, so the page knows what to fix. Then frames are relayed both
//! ways as they come, with a size limit on each side.
//!
//! It never parses or rewrites what it relays and never holds more than one message per
//! direction: a frame above the limit closes that one connection with 1009, nobody else's.

use crate::routes::{text, AppState};
use axum::extract::ws::{self, CloseFrame, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::{SinkExt, StreamExt};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame as TCloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message as TMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

type Upstream = WebSocketStream<MaybeTlsStream<TcpStream>>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_GOING_AWAY: u16 = 1001;

/// `/xmpp-websocket`: the browser must ask for subprotocol `xmpp` (RFC 7395). Signal is told
/// the browser's address in `X-Forwarded-For` (set here, never passed on from the browser):
/// it limits password guesses and lobby knocks per source.
pub async fn xmpp(
    State(s): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let upgrade = upgrade.protocols(["xmpp"]);
    if upgrade.selected_protocol().is_none() {
        return text(StatusCode::BAD_REQUEST, "subprotocol xmpp required\n");
    }
    let url = format!("ws://{}/xmpp-websocket", s.inner.signal_authority);
    let source = peer.map(|Extension(ConnectInfo(a))| a.ip());
    proxy(s, upgrade, url, Some("xmpp"), source).await
}

/// `/chat`: the query string (the room token) is passed on unchanged.
pub async fn chat(State(s): State<AppState>, RawQuery(query): RawQuery, upgrade: WebSocketUpgrade) -> Response {
    let mut url = format!("ws://{}/chat", s.inner.filestore_authority);
    if let Some(q) = query {
        url.push('?');
        url.push_str(&q);
    }
    proxy(s, upgrade, url, None, None).await
}

async fn proxy(
    s: AppState,
    upgrade: WebSocketUpgrade,
    url: String,
    protocol: Option<&'static str>,
    source: Option<IpAddr>,
) -> Response {
    let max = s.inner.max_ws_frame;
    let upstream = match connect(&url, protocol, max, source).await {
        Ok(u) => u,
        Err(ConnectError::Refused { status, body }) => {
            tracing::info!(path = %url_path(&url), %status, "upstream refused the WebSocket upgrade; status passed on");
            return refused(status, &body);
        }
        Err(ConnectError::Unavailable(e)) => {
            tracing::warn!(path = %url_path(&url), error = %e, "upstream WebSocket unavailable");
            return text(StatusCode::BAD_GATEWAY, "upstream unavailable\n");
        }
    };
    let shutdown = s.inner.shutdown.clone();
    upgrade.max_frame_size(max).max_message_size(max).on_upgrade(move |client| relay(client, upstream, shutdown))
}

/// Why the upstream WebSocket could not be opened.
enum ConnectError {
    /// Nobody answered, or not as a WebSocket server (502 to the browser).
    Unavailable(String),
    /// The upstream answered the upgrade with this HTTP error status (passed on).
    Refused { status: StatusCode, body: Vec<u8> },
}

async fn connect(
    url: &str,
    protocol: Option<&str>,
    max: usize,
    source: Option<IpAddr>,
) -> Result<Upstream, ConnectError> {
    let mut req = url.into_client_request().map_err(|e| ConnectError::Unavailable(e.to_string()))?;
    if let Some(p) = protocol {
        let v = HeaderValue::from_str(p).map_err(|e| ConnectError::Unavailable(e.to_string()))?;
        req.headers_mut().insert("Sec-WebSocket-Protocol", v);
    }
    if let Some(ip) = source {
        let v = HeaderValue::from_str(&ip.to_string()).map_err(|e| ConnectError::Unavailable(e.to_string()))?;
        req.headers_mut().insert("X-Forwarded-For", v);
    }
    let cfg = WebSocketConfig::default().max_frame_size(Some(max)).max_message_size(Some(max));
    match tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async_with_config(req, Some(cfg), true))
        .await
    {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(resp))) => {
            match StatusCode::from_u16(resp.status().as_u16()) {
                Ok(status) if status.is_client_error() || status.is_server_error() => {
                    Err(ConnectError::Refused { status, body: resp.body().clone().unwrap_or_default() })
                }
                _ => Err(ConnectError::Unavailable(format!("upgrade answered {}", resp.status()))),
            }
        }
        Ok(Err(e)) => Err(ConnectError::Unavailable(e.to_string())),
        Err(_) => Err(ConnectError::Unavailable("connect timed out".into())),
    }
}

/// Longest part of an upstream's error body passed on to the browser.
const MAX_REFUSAL_BODY: usize = 512;

/// The upstream's refusal as our answer: its status, and the start of its body as plain
/// text (printable ASCII only: nothing from upstream can become markup or a header).
fn refused(status: StatusCode, body: &[u8]) -> Response {
    let mut text: String = String::from_utf8_lossy(&body[..body.len().min(MAX_REFUSAL_BODY)])
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .collect();
    if text.trim().is_empty() {
        text = status.canonical_reason().unwrap_or("refused").to_string();
    }
    text.push('\n');
    (status, [(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

/// The path of an upstream URL, for logs (the query holds the room token: never logged).
fn url_path(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// Relays until either side closes, errs, or shutdown; then closes the other side.
async fn relay(client: WebSocket, upstream: Upstream, shutdown: CancellationToken) {
    let (mut c_tx, mut c_rx) = client.split();
    let (mut u_tx, mut u_rx) = upstream.split();
    loop {
        tokio::select! {
            m = c_rx.next() => match m {
                Some(Ok(ws::Message::Close(f))) => {
                    let _ = u_tx.send(TMessage::Close(f.map(|f| TCloseFrame { code: CloseCode::from(f.code), reason: f.reason.as_str().into() }))).await;
                    break;
                }
                Some(Ok(m)) => {
                    if let Some(m) = to_upstream(m) {
                        if u_tx.send(m).await.is_err() {
                            let _ = c_tx.send(close(CLOSE_GOING_AWAY, "upstream closed")).await;
                            break;
                        }
                    }
                }
                Some(Err(e)) => {
                    let too_big = is_too_big(&e.to_string());
                    tracing::info!(error = %e, "client WebSocket error; closing this connection");
                    if too_big {
                        let _ = c_tx.send(close(CLOSE_TOO_BIG, "frame too large")).await;
                    }
                    let _ = u_tx.send(TMessage::Close(None)).await;
                    break;
                }
                None => {
                    let _ = u_tx.send(TMessage::Close(None)).await;
                    break;
                }
            },
            m = u_rx.next() => match m {
                Some(Ok(TMessage::Close(f))) => {
                    let f = f.map(|f| CloseFrame { code: u16::from(f.code), reason: f.reason.as_str().into() });
                    let _ = c_tx.send(ws::Message::Close(f)).await;
                    break;
                }
                Some(Ok(m)) => {
                    if let Some(m) = to_client(m) {
                        if c_tx.send(m).await.is_err() {
                            let _ = u_tx.send(TMessage::Close(None)).await;
                            break;
                        }
                    }
                }
                Some(Err(e)) => {
                    let code = if is_too_big(&e.to_string()) { CLOSE_TOO_BIG } else { CLOSE_GOING_AWAY };
                    let _ = c_tx.send(close(code, "upstream error")).await;
                    break;
                }
                None => {
                    let _ = c_tx.send(close(CLOSE_GOING_AWAY, "upstream closed")).await;
                    break;
                }
            },
            _ = shutdown.cancelled() => {
                let _ = c_tx.send(close(CLOSE_GOING_AWAY, "server shutting down")).await;
                let _ = u_tx.send(TMessage::Close(None)).await;
                break;
            }
        }
    }
}

fn is_too_big(err: &str) -> bool {
    let e = err.to_ascii_lowercase();
    e.contains("too long") || e.contains("too big") || e.contains("space limit") || e.contains("capacity")
}

fn close(code: u16, reason: &'static str) -> ws::Message {
    ws::Message::Close(Some(CloseFrame { code, reason: reason.into() }))
}

fn to_upstream(m: ws::Message) -> Option<TMessage> {
    Some(match m {
        ws::Message::Text(t) => TMessage::Text(t.as_str().into()),
        ws::Message::Binary(b) => TMessage::Binary(b),
        ws::Message::Ping(b) => TMessage::Ping(b),
        ws::Message::Pong(b) => TMessage::Pong(b),
        ws::Message::Close(_) => return None,
    })
}

fn to_client(m: TMessage) -> Option<ws::Message> {
    Some(match m {
        TMessage::Text(t) => ws::Message::Text(t.as_str().into()),
        TMessage::Binary(b) => ws::Message::Binary(b),
        TMessage::Ping(b) => ws::Message::Ping(b),
        TMessage::Pong(b) => ws::Message::Pong(b),
        TMessage::Close(_) | TMessage::Frame(_) => return None,
    })
}
