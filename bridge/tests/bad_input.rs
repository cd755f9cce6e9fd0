//! Bad input never panics, never disturbs the others, and is counted: garbage datagrams,
//! truncated RTP/RTCP/STUN, STUN with an unknown ufrag, spoofed packets from a known
//! address, and Colibri requests with bad parameters (refused, nothing changes).

mod common;
use common::{World, BRIDGE};
use proto::colibri::{ColibriRequest, ColibriResponse};
use proto::{ConferenceId, EndpointId};
use std::net::SocketAddr;
use std::time::Duration;

fn stun_binding_request(username: &str) -> Vec<u8> {
    let mut attr = Vec::new();
    attr.extend_from_slice(&0x0006u16.to_be_bytes());
    attr.extend_from_slice(&(username.len() as u16).to_be_bytes());
    attr.extend_from_slice(username.as_bytes());
    while attr.len() % 4 != 0 {
        attr.push(0);
    }
    // PRIORITY and a MESSAGE-INTEGRITY (which nobody can verify: the ufrag is unknown).
    attr.extend_from_slice(&[0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x1e, 0xff]);
    attr.extend_from_slice(&[0x00, 0x08, 0x00, 0x14]);
    attr.extend_from_slice(&[0xab; 20]);
    let mut m = Vec::new();
    m.extend_from_slice(&0x0001u16.to_be_bytes());
    m.extend_from_slice(&(attr.len() as u16).to_be_bytes());
    m.extend_from_slice(&0x2112A442u32.to_be_bytes());
    m.extend_from_slice(&[7u8; 12]);
    m.extend_from_slice(&attr);
    m
}

#[test]
fn garbage_datagrams_are_dropped_counted_and_harmless() {
    let mut w = World::new();
    for name in ["alice", "bob"] {
        w.join(name);
    }
    w.connect_all();
    w.run_for(Duration::from_secs(1));
    let stranger: SocketAddr = "10.0.9.9:4444".parse().unwrap();
    let alice = w.people[0].addr;
    let m = w.sfu.metrics().clone();
    let (bad0, ufrag0, unknown0) =
        (m.bad_datagrams_total.get(), m.unknown_ufrag_total.get(), m.unknown_source_total.get());
    let mut rng: u64 = 0x9E3779B97F4A7C15;
    let mut inputs: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x80],
        vec![0x80, 0x60, 0x00],
        vec![0x80, 0xc8, 0x00, 0x06],
        vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12],
        vec![0x16, 0xfe, 0xfd],
        stun_binding_request("nobody:x"),
        stun_binding_request(""),
        vec![0x90; 1500],
        vec![0x80; 3000],
    ];
    for _ in 0..300 {
        let len = (rng % 1400) as usize;
        let mut v = Vec::with_capacity(len);
        for _ in 0..len {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            v.push(rng as u8);
        }
        inputs.push(v);
    }
    for data in &inputs {
        w.sfu.handle_datagram(w.now, stranger, BRIDGE, data);
        w.sfu.handle_datagram(w.now, alice, BRIDGE, data);
    }
    assert!(m.bad_datagrams_total.get() > bad0, "unclassifiable datagrams counted");
    assert!(m.unknown_ufrag_total.get() > ufrag0, "STUN for nobody counted");
    assert!(m.unknown_source_total.get() > unknown0, "media from strangers counted");
    assert_eq!(w.endpoint_count(), 2, "nobody was disturbed");
    w.reset_counts();
    w.run_for(Duration::from_secs(1));
    assert!(w.received(0, 1).audio_frames > 40 && w.received(1, 0).video_frames > 20, "media keeps flowing");
}

#[test]
fn bad_colibri_requests_are_refused_and_change_nothing() {
    // One core: the requests go to it directly.
    let mut w = World::single();
    w.join("alice");
    let now = w.now;
    let conf = w.conference.clone();
    let alice = EndpointId::new("alice").unwrap();
    let other = ConferenceId::new("other").unwrap();
    let mut check = |req: ColibriRequest, condition: &str| {
        let e = w.sfu.handle_colibri(now, req).expect_err("refused");
        assert_eq!(e.condition(), condition, "{e}");
    };
    let alloc = |offer: String| ColibriRequest::Allocate {
        conference: ConferenceId::new("room1").unwrap(),
        endpoint: EndpointId::new("bob").unwrap(),
        display_name: "b".into(),
        offer,
    };
    check(alloc("garbage".into()), "bad-request");
    check(alloc(format!("v=0\r\n{}", "a=x\r\n".repeat(20_000))), "bad-request");
    check(alloc(format!("v=0\r\n{}", "a=x\r\n".repeat(bridge::sfu::MAX_SDP / 5 + 1))), "bad-request");
    check(
        ColibriRequest::Answer { conference: conf.clone(), endpoint: alice.clone(), answer: "v=0".into() },
        "bad-request",
    );
    check(
        ColibriRequest::Answer {
            conference: conf.clone(),
            endpoint: EndpointId::new("nobody").unwrap(),
            answer: String::new(),
        },
        "item-not-found",
    );
    check(ColibriRequest::Expire { conference: other.clone(), endpoint: alice.clone() }, "item-not-found");
    check(ColibriRequest::ExpireConference { conference: other.clone() }, "item-not-found");
    check(
        ColibriRequest::ForceMute {
            conference: conf.clone(),
            endpoint: EndpointId::new("nobody").unwrap(),
            audio: true,
            video: true,
        },
        "item-not-found",
    );
    assert_eq!((w.sfu.conference_count(), w.sfu.endpoint_count()), (1, 1));
    assert!(w.sfu.metrics().colibri_errors_total.get() >= 7);

    // Draining: no new conferences, existing ones still accept endpoints.
    w.sfu.start_draining();
    let e = w
        .sfu
        .handle_colibri(
            now,
            ColibriRequest::Allocate {
                conference: other,
                endpoint: alice.clone(),
                display_name: String::new(),
                offer: "v=0".into(),
            },
        )
        .expect_err("draining bridge refuses a new conference");
    assert_eq!(e.condition(), "service-unavailable");
    match w.sfu.handle_colibri(now, ColibriRequest::Health) {
        Ok(ColibriResponse::Health { stats }) => assert!(stats.draining),
        other => panic!("{other:?}"),
    }
    w.join("bob");
    assert_eq!(w.sfu.endpoint_count(), 2);
}

#[test]
fn force_mute_stops_forwarding_that_source() {
    let mut w = World::new();
    for name in ["alice", "bob", "carol"] {
        w.join(name);
    }
    w.connect_all();
    w.run_for(Duration::from_secs(2));
    w.force_mute("bob", true, false).expect("force mute");
    w.run_for(Duration::from_millis(200));
    w.reset_counts();
    w.run_for(Duration::from_secs(1));
    assert_eq!(w.received(0, 1).audio_frames, 0, "bob's audio is muted");
    assert!(w.received(0, 1).video_frames > 20, "bob's video still flows");
    assert!(w.received(0, 2).audio_frames > 40);
    // The request states the whole mute state: audio false lifts it (bob unmuted himself).
    w.force_mute("bob", false, false).expect("lifting the mute");
    w.reset_counts();
    w.run_for(Duration::from_secs(1));
    assert!(w.received(0, 1).audio_frames > 40, "bob's audio flows again");
}

#[test]
fn force_mute_right_after_allocation_holds_for_tracks_added_later() {
    // Focus sends ForceMute as soon as the allocation is answered (a muted person who
    // rejoins or moves to this bridge): the endpoint's tracks do not exist yet.
    let mut w = World::new();
    for name in ["alice", "bob"] {
        w.join(name);
    }
    w.force_mute("bob", true, true).expect("force mute of a just-allocated endpoint");
    w.connect_all();
    w.run_for(Duration::from_secs(2));
    w.reset_counts();
    w.run_for(Duration::from_secs(1));
    assert_eq!(w.received(0, 1).audio_frames, 0, "bob's audio never reaches alice");
    assert_eq!(w.received(0, 1).video_frames, 0, "nor his video");
    assert!(w.received(1, 0).audio_frames > 40, "alice is heard");
}

#[test]
fn wrong_dtls_fingerprint_fails_that_endpoint_only() {
    let mut w = World::new();
    for name in ["alice", "bob"] {
        w.join(name);
    }
    // mallory's offer announces a certificate fingerprint that is not hers.
    w.join_with("mallory", |sdp| {
        sdp.lines()
            .map(|l| if l.starts_with("a=fingerprint:sha-256 ") { "a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF".to_string() } else { l.to_string() })
            .collect::<Vec<_>>()
            .join("\r\n")
            + "\r\n"
    });
    w.run_for(Duration::from_secs(35));
    let failed = w
        .colibri_events
        .iter()
        .any(|e| matches!(e, proto::colibri::ColibriEvent::EndpointFailed { endpoint, .. } if endpoint.as_str() == "mallory"));
    assert!(failed, "mallory's endpoint fails");
    assert!(!w.people[2].connected || w.received(0, 2).audio_frames == 0, "no media from mallory reaches alice");
    w.reset_counts();
    w.run_for(Duration::from_secs(1));
    assert!(
        w.received(0, 1).audio_frames > 40 && w.received(1, 0).video_frames > 20,
        "alice and bob are not disturbed"
    );
}
