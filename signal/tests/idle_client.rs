//! Dead peers do not stay in rooms: a silent client is pinged (XEP-0199 on TCP, a ping frame
//! on WebSocket); one that answers stays, one that does not is dropped with
//! `connection-timeout` and leaves its rooms.

mod common;

use common::*;

#[tokio::test]
async fn silent_client_is_pinged_and_dropped_when_it_does_not_answer() {
    let signal = Signal::start_with(&[("SIGNAL_IDLE_SECS", "2")]);
    let mut answers = Client::anonymous(&signal).await;
    let mut silent = Client::anonymous(&signal).await;
    answers.join("idle", "answers").await;
    silent.join("idle", "silent").await;
    let _ = answers.until(|s| s.name() == "presence").await;

    // the answering client runs on its own: answers every ping, notes the silent one leaving
    let answering = tokio::spawn(async move {
        let mut answered = 0;
        let mut saw_leave = false;
        while !(saw_leave && answered >= 3) {
            let s = answers.s.stanza().await;
            if s.name() == "iq" && s.get_child("ping", "urn:xmpp:ping").is_some() {
                let id = s.get_attr("id").unwrap();
                answers.send(&format!("<iq type='result' id='{id}' to='meet.lan'/>")).await;
                answered += 1;
            }
            if s.name() == "presence" && s.get_attr("type") == Some("unavailable") {
                assert_eq!(s.get_attr("from"), Some("idle@conference.meet.lan/silent"));
                saw_leave = true;
            }
        }
        still_served(&mut answers, "alive").await;
    });

    // the silent one gets a ping and ignores it; then its stream ends
    let ping = silent.until(|s| s.name() == "iq").await;
    assert!(ping.get_child("ping", "urn:xmpp:ping").is_some(), "{ping}");
    assert_eq!(silent.s.stream_error().await.as_deref(), Some("connection-timeout"));
    answering.await.expect("the answering client stays connected and served");
}

#[tokio::test]
async fn websocket_client_answers_ping_frames_by_itself_and_stays() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
    let signal = Signal::start_with(&[("SIGNAL_IDLE_SECS", "1")]);
    let mut req = format!("ws://{}/xmpp-websocket", signal.http).into_client_request().unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", "xmpp".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let open = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='meet.lan' version='1.0'/>";
    let steps = [
        open.to_string(),
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/>".into(),
        open.to_string(),
        "<iq xmlns='jabber:client' type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>".into(),
    ];
    for s in steps {
        ws.send(Message::Text(s.into())).await.unwrap();
    }
    // read (and so answer ping frames) for four idle periods
    let mut pings = 0;
    let mut bound = false;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(4);
    while let Ok(m) = tokio::time::timeout_at(deadline, ws.next()).await {
        match m {
            Some(Ok(Message::Ping(_))) => pings += 1,
            Some(Ok(Message::Text(t))) if t.contains("<jid") => bound = true,
            Some(Ok(Message::Text(t))) => assert!(!t.contains("stream:error") && !t.contains("<close"), "dropped: {t}"),
            other => panic!("websocket ended: {other:?}"),
        }
    }
    assert!(bound);
    assert!(pings >= 2, "signal pinged the idle WebSocket ({pings})");
    ws.send(Message::Text(
        "<iq xmlns='jabber:client' type='get' id='p' to='meet.lan'><ping xmlns='urn:xmpp:ping'/></iq>".into(),
    ))
    .await
    .unwrap();
    loop {
        match tokio::time::timeout(TIMEOUT, ws.next()).await.unwrap() {
            Some(Ok(Message::Text(t))) if t.contains("id=\"p\"") => {
                assert!(t.contains("type=\"result\""), "{t}");
                break;
            }
            Some(Ok(_)) => continue,
            other => panic!("websocket ended: {other:?}"),
        }
    }
}
