//! The real bridge binary on loopback, allocated over the real bus (a real `signal`), with
//! three str0m participants on real UDP sockets: presence with stats, Colibri health,
//! allocation, renegotiation offers, everyone receiving everyone, `/stats` and `/metrics`,
//! an endpoint expiring, bad Colibri input refused, and a graceful drain on SIGTERM.

mod live;
use live::{http_get, FocusClient, PeerSetup, System};
use proto::colibri::{ColibriEvent, ColibriRequest, ColibriResponse};
use proto::ConferenceId;
use std::time::Duration;

async fn next_event(f: &mut FocusClient, peers: &[live::LivePeer], conf: &ConferenceId) -> Option<ColibriEvent> {
    let ev = tokio::time::timeout(Duration::from_millis(200), f.events.recv()).await.ok()??;
    if let ColibriEvent::Offer { endpoint, offer, .. } = &ev {
        if let Some(p) = peers.iter().find(|p| &p.id == endpoint) {
            let answer = p.accept_offer(offer.clone()).await;
            let req = ColibriRequest::Answer { conference: conf.clone(), endpoint: endpoint.clone(), answer };
            f.colibri(&req).await.expect("bridge accepts the answer");
        }
    }
    Some(ev)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_binary_forwards_between_three_udp_peers_allocated_over_the_bus() {
    let sys = System::start();
    let mut focus = FocusClient::connect(sys.bus, &sys.secret).await;

    let stats = tokio::time::timeout(Duration::from_secs(15), focus.presences.recv())
        .await
        .expect("bridge presence arrives in the bridges room")
        .expect("presence channel open");
    assert!(!stats.draining);
    match focus.colibri(&ColibriRequest::Health).await {
        Ok(ColibriResponse::Health { stats }) => assert_eq!(stats.endpoints, 0),
        other => panic!("health: {other:?}"),
    }
    // Bad input is refused with an error and changes nothing.
    let conf = ConferenceId::new("liveroom").unwrap();
    let bad = ColibriRequest::Allocate {
        conference: conf.clone(),
        endpoint: proto::EndpointId::new("zz").unwrap(),
        display_name: String::new(),
        offer: "v=0\r\nthis is not sdp".into(),
    };
    let err = focus.colibri(&bad).await.expect_err("garbage offer refused");
    assert!(err.contains("bad-request") || err.contains("offer"), "{err}");
    let err = focus
        .colibri(&ColibriRequest::Expire {
            conference: conf.clone(),
            endpoint: proto::EndpointId::new("nobody").unwrap(),
        })
        .await
        .expect_err("unknown conference refused");
    assert!(err.contains("item-not-found") || err.contains("not found"), "{err}");

    let mut peers = Vec::new();
    for (i, name) in ["alice", "bob", "carol"].into_iter().enumerate() {
        let setup = PeerSetup::new(name, i as u8).await;
        let answer = setup.allocate(&focus, &conf, name).await;
        assert!(answer.contains(&format!("{}", sys.media.port())), "answer carries the media port");
        peers.push(setup.start(&answer));
    }

    // Run: answer the bridge's offers until everyone receives everyone (bounded).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut connected = 0;
    loop {
        if let Some(ColibriEvent::EndpointConnected { .. }) = next_event(&mut focus, &peers, &conf).await {
            connected += 1;
        }
        let mut done = true;
        for (r, p) in peers.iter().enumerate() {
            let rep = p.report().await;
            for s in 0..3u8 {
                if s as usize != r {
                    let got = rep.received.get(&s).cloned().unwrap_or_default();
                    done &= got.audio_frames >= 50 && got.video_frames >= 30;
                }
            }
        }
        if done {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "media did not flow between all three in time");
    }
    assert_eq!(connected, 3, "focus heard EndpointConnected for each");
    for p in &peers {
        let rep = p.report().await;
        let others: Vec<&String> = rep.msid_of_mid.values().filter(|s| s.as_str() != p.id.as_str()).collect();
        assert_eq!(others.len(), 4, "two m-lines per other participant: {:?}", rep.msid_of_mid);
        assert!(others.iter().all(|s| ["alice", "bob", "carol"].contains(&s.as_str())), "{:?}", rep.msid_of_mid);
        assert!(rep
            .messages
            .iter()
            .any(|m| matches!(m, proto::bridge_channel::BridgeChannelMessage::ServerHello { .. })));
    }

    let (code, body) = http_get(sys.bridge_http, "/stats").await;
    assert_eq!(code, 200);
    let st: proto::colibri::BridgeStats = serde_json::from_str(&body).expect("stats JSON");
    assert_eq!((st.conferences, st.endpoints), (1, 3));
    let (code, body) = http_get(sys.bridge_http, "/metrics").await;
    assert_eq!(code, 200);
    let forwarded: u64 = body
        .lines()
        .find_map(|l| l.strip_prefix("bridge_rtp_forwarded_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("forwarded counter exported");
    assert!(forwarded > 100);
    assert_eq!(http_get(sys.bridge_http, "/health").await.0, 200);

    // carol leaves: alice and bob get an offer removing her.
    focus
        .colibri(&ColibriRequest::Expire { conference: conf.clone(), endpoint: peers[2].id.clone() })
        .await
        .expect("expire");
    let mut removed_for = Vec::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    while removed_for.len() < 2 && tokio::time::Instant::now() < until {
        if let Some(ColibriEvent::Offer { endpoint, removed, .. }) = next_event(&mut focus, &peers, &conf).await {
            if removed.iter().any(|r| r.as_str() == "carol") {
                removed_for.push(endpoint);
            }
        }
    }
    assert_eq!(removed_for.len(), 2, "both remaining endpoints are offered carol's removal");

    // Graceful drain: focus hears Draining, the bridge then exits.
    sys.terminate_bridge();
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut draining = false;
    while !draining && tokio::time::Instant::now() < until {
        draining = matches!(next_event(&mut focus, &peers, &conf).await, Some(ColibriEvent::Draining));
    }
    assert!(draining, "focus is told the bridge drains");
    let mut sys = sys;
    let until = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = sys.bridge.child.try_wait().expect("wait on bridge") {
            assert!(status.success(), "bridge exits cleanly after draining: {status}");
            break;
        }
        assert!(std::time::Instant::now() < until, "bridge exits after the drain timeout");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
