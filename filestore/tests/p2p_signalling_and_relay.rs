//! Peer-to-peer transfer: offer/answer/candidates are relayed over /chat to the named
//! participant of the same room only, with the server-set sender; when the direct path
//! fails, `relay-open` sets up a streamed relay: the sender PUTs, the receiver GETs, the
//! bytes arrive intact (SHA-256) and nobody else may attach to either side.

mod common;
use bytes::Bytes;
use common::*;
use futures_util::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signalling_reaches_only_the_target_and_the_relay_streams_intact() {
    let server = Server::start(&[]);
    let a = server.addr.clone();
    let alice_tok = token("p2p", "alice01");
    let bob_tok = token("p2p", "bob0001");
    let carol_tok = token("p2p", "carol01");
    let mut alice = Chat::connect(&a, &alice_tok).await;
    let mut bob = Chat::connect(&a, &bob_tok).await;
    let mut carol = Chat::connect(&a, &carol_tok).await;
    let mut outsider = Chat::connect(&a, &token("p2p-other", "dave001")).await;

    alice.send(json!({"type": "p2p", "to": "bob0001", "transfer": "t1", "signal": {"sdp": {"type": "offer", "sdp": "v=0..."}}})).await;
    let o = bob.recv_type("p2p").await;
    assert_eq!(o["from"]["nick"], "alice01");
    assert_eq!(o["transfer"], "t1");
    assert_eq!(o["signal"]["sdp"]["type"], "offer");
    bob.send(json!({"type": "p2p", "to": "alice01", "transfer": "t1", "signal": {"sdp": {"type": "answer", "sdp": "v=0..."}}})).await;
    assert_eq!(alice.recv_type("p2p").await["signal"]["sdp"]["type"], "answer");
    bob.send(json!({"type": "p2p", "to": "alice01", "transfer": "t1", "signal": {"candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"}}})).await;
    assert!(alice.recv_type("p2p").await["signal"]["candidate"].is_object());
    // a participant of another room is not reachable
    alice.send(json!({"type": "p2p", "to": "dave001", "transfer": "t2", "signal": {}})).await;
    assert_eq!(alice.recv_type("error").await["code"], 404);
    // a group message sent after the signalling reaches carol; nothing p2p came before it
    alice.send(json!({"type": "message", "text": "marker"})).await;
    loop {
        let v = carol.recv().await.expect("carol gets the marker");
        assert_ne!(v["type"], "p2p", "carol got signalling meant for bob: {v}");
        if v["type"] == "message" {
            break;
        }
    }
    assert!(outsider.drain_for(Duration::from_millis(50)).await.iter().all(|m| m["type"] != "p2p"));

    // relay fallback: 48 MiB streamed through
    let size: usize = 48 << 20;
    let chunk: Vec<u8> = (0..(1 << 20)).map(|i| (i * 31 % 251) as u8).collect();
    let mut h = Sha256::new();
    for _ in 0..size / chunk.len() {
        h.update(&chunk);
    }
    let want = hex::encode(h.finalize());
    alice.send(json!({"type": "relay-open", "to": "bob0001", "transfer": "t1", "name": "movie.mkv", "size": size, "sha256": want})).await;
    let ready = alice.recv_type("relay-ready").await;
    let open = bob.recv_type("relay-open").await;
    assert_eq!(open["from"]["nick"], "alice01");
    assert_eq!(open["sha256"], want.as_str());
    assert_eq!(open["url"], ready["url"]);
    let url = ready["url"].as_str().expect("url").to_string();
    assert!(carol.drain_for(Duration::from_millis(100)).await.iter().all(|m| m["type"] != "relay-open"));

    // neither carol nor another room may take a side
    assert_eq!(http(&a, "GET", &url, &[("authorization", &bearer(&carol_tok))], vec![]).await.status, 403);
    assert_eq!(http(&a, "PUT", &url, &[("authorization", &bearer(&bob_tok))], vec![1]).await.status, 403);

    let recv = {
        let a = a.clone();
        let url = url.clone();
        tokio::spawn(async move { download_hash(&a, &url, &bob_tok).await })
    };
    let stream = tokio::net::TcpStream::connect(&a).await.expect("connect");
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    let frames = futures_util::stream::iter(0..size / chunk.len())
        .map(move |_| Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from(chunk.clone()))));
    let req = hyper::Request::builder()
        .method("PUT")
        .uri(&url)
        .header("host", &a)
        .header("authorization", bearer(&alice_tok))
        .header("content-length", size.to_string())
        .body(StreamBody::new(frames))
        .expect("request");
    let resp = send.send_request(req).await.expect("put response");
    assert_eq!(resp.status(), 204);
    let _ = resp.into_body().collect().await;
    let (status, n, got) = recv.await.expect("receiver task");
    assert_eq!(status, 200);
    assert_eq!(n, size as u64);
    assert_eq!(got, want);
    // used up: a second GET finds nothing to attach to
    let again = http(&a, "GET", &url, &[("authorization", &bearer(&token("p2p", "bob0001")))], vec![]).await.status;
    assert!(again == 404 || again == 409, "{again}");
    let (blobs, partial) = server.stored();
    assert!(blobs.is_empty() && partial.is_empty(), "relay writes nothing to disk");
}
