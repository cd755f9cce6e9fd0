//! RFC 7395: XMPP over WebSocket on `/xmpp-websocket` with the `xmpp` subprotocol, `<open/>`
//! and `<close/>` framing, one stanza per frame; a WebSocket client and a TCP client meet in
//! one room. Without the subprotocol the upgrade is refused; oversized frames end the stream.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use proto::xml::{parse_element, Element};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(signal: &Signal) -> Ws {
    let mut req = format!("ws://{}/xmpp-websocket", signal.http).into_client_request().unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", "xmpp".parse().unwrap());
    let (ws, resp) = tokio_tungstenite::connect_async(req).await.expect("websocket upgrade");
    assert_eq!(resp.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()), Some("xmpp"));
    ws
}

async fn recv(ws: &mut Ws) -> Option<Element> {
    let fut = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    return Some(parse_element(&t).unwrap_or_else(|e| panic!("frame {t:?} is not one element: {e}")))
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    };
    tokio::time::timeout(TIMEOUT, fut).await.expect("websocket answer in time")
}

async fn send(ws: &mut Ws, x: &str) {
    ws.send(Message::Text(x.into())).await.unwrap();
}

async fn until(ws: &mut Ws, f: impl Fn(&Element) -> bool) -> Element {
    loop {
        let e = recv(ws).await.expect("websocket still open");
        if f(&e) {
            return e;
        }
    }
}

const OPEN: &str = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='meet.lan' version='1.0'/>";

#[tokio::test]
async fn websocket_client_logs_in_and_chats_with_a_tcp_client() {
    let signal = Signal::start();
    let mut ws = connect(&signal).await;
    send(&mut ws, OPEN).await;
    let open = recv(&mut ws).await.unwrap();
    assert!(open.is("open", "urn:ietf:params:xml:ns:xmpp-framing"), "{open}");
    let f = recv(&mut ws).await.unwrap();
    assert!(f.is("features", "http://etherx.jabber.org/streams"), "{f}");
    send(&mut ws, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/>").await;
    assert_eq!(recv(&mut ws).await.unwrap().name(), "success");
    send(&mut ws, OPEN).await;
    assert_eq!(recv(&mut ws).await.unwrap().name(), "open");
    assert_eq!(recv(&mut ws).await.unwrap().name(), "features");
    send(&mut ws, "<iq xmlns='jabber:client' type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
        .await;
    let r = recv(&mut ws).await.unwrap();
    assert!(r.is("iq", "jabber:client"));
    assert_eq!(r.get_attr("type"), Some("result"));

    let mut tcp = Client::anonymous(&signal).await;
    tcp.join("mixed", "tcp").await;
    send(&mut ws, "<presence xmlns='jabber:client' to='mixed@conference.meet.lan/web'><x xmlns='http://jabber.org/protocol/muc'/></presence>").await;
    let other = until(&mut ws, |e| e.name() == "presence").await;
    assert_eq!(other.get_attr("from"), Some("mixed@conference.meet.lan/tcp"));
    assert!(other.is("presence", "jabber:client"), "each frame names jabber:client");
    let me = until(&mut ws, |e| e.name() == "presence").await;
    assert!(status_codes(&me).contains(&"110".to_string()));
    let state = until(&mut ws, |e| e.name() == "message").await;
    assert!(state.get_child("room-state", NS_ROOM).is_some(), "room state before the subject: {state}");
    let subject = until(&mut ws, |e| e.name() == "message").await;
    assert!(subject.get_child("subject", "jabber:client").is_some());

    tcp.send("<message to='mixed@conference.meet.lan' type='groupchat'><body>from tcp</body></message>").await;
    let m = until(&mut ws, |e| e.name() == "message").await;
    assert_eq!(m.get_child("body", "jabber:client").unwrap().text_content(), "from tcp");
    send(
        &mut ws,
        "<message xmlns='jabber:client' to='mixed@conference.meet.lan' type='groupchat'><body>from ws</body></message>",
    )
    .await;
    let m = tcp.until(|e| e.name() == "message" && e.get_attr("from") == Some("mixed@conference.meet.lan/web")).await;
    assert_eq!(m.get_child("body", "jabber:client").unwrap().text_content(), "from ws");

    send(&mut ws, "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>").await;
    let c = until(&mut ws, |e| e.name() == "close").await;
    assert!(c.is("close", "urn:ietf:params:xml:ns:xmpp-framing"));
    let gone = tcp.until(|e| e.name() == "presence" && e.get_attr("type") == Some("unavailable")).await;
    assert_eq!(gone.get_attr("from"), Some("mixed@conference.meet.lan/web"));
}

#[tokio::test]
async fn upgrade_without_xmpp_subprotocol_is_refused() {
    let signal = Signal::start();
    let req = format!("ws://{}/xmpp-websocket", signal.http).into_client_request().unwrap();
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 400),
        other => panic!("expected HTTP 400, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn oversized_and_malformed_frames_end_only_that_stream() {
    let signal = Signal::start();
    let mut bystander = Client::anonymous(&signal).await;
    let mut ws = connect(&signal).await;
    send(&mut ws, OPEN).await;
    let _ = recv(&mut ws).await;
    let _ = recv(&mut ws).await;
    send(
        &mut ws,
        &format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'>{}</auth>",
            "A".repeat(100 * 1024)
        ),
    )
    .await;
    // either a policy-violation stream error or the WebSocket closes on the frame limit
    loop {
        match recv(&mut ws).await {
            None => break,
            Some(e) if e.name() == "error" => {
                assert!(e.children().any(|c| c.name() == "policy-violation"), "{e}");
            }
            Some(_) => {}
        }
    }
    let mut ws = connect(&signal).await;
    send(&mut ws, OPEN).await;
    let _ = recv(&mut ws).await;
    let _ = recv(&mut ws).await;
    send(&mut ws, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><a></b></auth>").await;
    let e = until(&mut ws, |e| e.name() == "error").await;
    assert!(e.children().any(|c| c.name() == "not-well-formed"), "{e}");
    assert_eq!(until(&mut ws, |e| e.name() == "close").await.name(), "close");
    still_served(&mut bystander, "ok").await;
}
