//! The bridge bound to `0.0.0.0` (the production default) advertises the host's addresses
//! and loopback; it learns each datagram's real destination (IP_PKTINFO) so STUN is answered
//! on the candidate the peer used. Two str0m peers on loopback exchange media.

mod live;
use live::{FocusClient, PeerSetup, System};
use proto::colibri::{ColibriEvent, ColibriRequest};
use proto::ConferenceId;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_bound_to_all_addresses_serves_loopback_peers() {
    let sys = System::start_with_media_ip("0.0.0.0");
    let mut focus = FocusClient::connect_ready(sys.bus, &sys.secret).await;
    let conf = ConferenceId::new("wildcard").unwrap();
    let mut peers = Vec::new();
    for (i, name) in ["alice", "bob"].into_iter().enumerate() {
        let setup = PeerSetup::new(name, i as u8).await;
        let answer = setup.allocate(&focus, &conf, name).await;
        assert!(answer.contains("127.0.0.1"), "loopback is a candidate when bound to all addresses");
        peers.push(setup.start(&answer));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(ColibriEvent::Offer { endpoint, offer, .. })) =
            tokio::time::timeout(Duration::from_millis(200), focus.events.recv()).await
        {
            let p = peers.iter().find(|p| p.id == endpoint).expect("known endpoint");
            let answer = p.accept_offer(offer).await;
            focus
                .colibri(&ColibriRequest::Answer { conference: conf.clone(), endpoint, answer })
                .await
                .expect("answer accepted");
        }
        let a = peers[0].report().await.received.get(&1).cloned().unwrap_or_default();
        let b = peers[1].report().await.received.get(&0).cloned().unwrap_or_default();
        if a.audio_frames >= 50 && a.video_frames >= 30 && b.audio_frames >= 50 && b.video_frames >= 30 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "media flows both ways: {a:?} {b:?}");
    }
}
