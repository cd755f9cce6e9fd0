//! `BRIDGE_MEDIA_THREADS`: the real bridge binary with two media threads places two
//! conferences on different threads (one UDP port, str0m peers on loopback) and media flows
//! in both, with `/stats` summing the threads; with one thread the same meetings give the
//! same media results. A media thread that panics makes the bridge unhealthy (Colibri
//! health fails, `/health` answers 503) while the others keep running; `0` or a non-number
//! stops the bridge at start with a clear message.

mod live;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::Duration;

use bridge::driver::{self, Command, MediaSetup};
use bridge::SfuConfig;
use live::{http_get, FocusClient, Launch, LivePeer, PeerSetup, System};
use proto::colibri::{ColibriEvent, ColibriRequest, ColibriResponse};
use proto::ConferenceId;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// Conference name → its participants' names; participant index = position in this list.
const MEETINGS: [(&str, [&str; 2]); 2] = [("room-a", ["alice", "bob"]), ("room-b", ["carol", "dave"])];

/// Who received audio and video from whom (indices), and the msids each was offered.
type MediaResult = BTreeMap<u8, (BTreeSet<u8>, BTreeSet<String>)>;

fn gauge(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} exported: {metrics}"))
}

/// Two 2-person meetings on a bridge with `threads` media threads; returns the media
/// result and the conferences per thread from `/metrics`.
async fn two_meetings(threads: &str) -> (MediaResult, Vec<u64>) {
    let (sys, mut focus) = bridge_with_threads(threads).await;

    let mut peers: Vec<(ConferenceId, LivePeer)> = Vec::new();
    let mut index = 0u8;
    for (room, names) in MEETINGS {
        let conf = ConferenceId::new(room).expect("valid id");
        for name in names {
            peers.push(allocate(&focus, &sys, &conf, PeerSetup::new(name, index).await, name).await);
            index += 1;
        }
    }

    // Answer the bridge's offers until everyone receives their partner (bounded).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        if let Ok(Some(ColibriEvent::Offer { conference, endpoint, offer, .. })) =
            tokio::time::timeout(Duration::from_millis(200), focus.events.recv()).await
        {
            let (_, p) = peers.iter().find(|(c, p)| c == &conference && p.id == endpoint).expect("known endpoint");
            let answer = p.accept_offer(offer).await;
            focus
                .colibri(&ColibriRequest::Answer { conference, endpoint, answer })
                .await
                .expect("bridge accepts the answer");
        }
        let mut done = true;
        for (i, (_, p)) in peers.iter().enumerate() {
            let partner = (i ^ 1) as u8;
            let got = p.report().await.received.get(&partner).cloned().unwrap_or_default();
            done &= got.audio_frames >= 50 && got.video_frames >= 30;
        }
        if done {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "media did not flow in both meetings in time");
    }

    let mut result = MediaResult::new();
    for (i, (_, p)) in peers.iter().enumerate() {
        let rep = p.report().await;
        let from: BTreeSet<u8> =
            rep.received.iter().filter(|(_, r)| r.audio_frames > 0 || r.video_frames > 0).map(|(s, _)| *s).collect();
        let msids: BTreeSet<String> = rep.msid_of_mid.values().cloned().collect();
        result.insert(i as u8, (from, msids));
    }

    let (code, body) = http_get(sys.bridge_http, "/stats").await;
    assert_eq!(code, 200);
    let st: proto::colibri::BridgeStats = serde_json::from_str(&body).expect("stats JSON");
    assert_eq!((st.conferences, st.endpoints), (2, 4), "/stats sums the threads");
    match focus.colibri(&ColibriRequest::Health).await {
        Ok(ColibriResponse::Health { stats }) => assert_eq!((stats.conferences, stats.endpoints), (2, 4)),
        other => panic!("health: {other:?}"),
    }
    let (code, metrics) = http_get(sys.bridge_http, "/metrics").await;
    assert_eq!(code, 200);
    assert_eq!(gauge(&metrics, "bridge_conferences"), 2);
    assert_eq!(gauge(&metrics, "bridge_endpoints"), 4);
    assert!(gauge(&metrics, "bridge_rtp_forwarded_total") > 100);
    let n: usize = threads.parse().expect("a number");
    let per_thread: Vec<u64> =
        (0..n).map(|t| gauge(&metrics, &format!("bridge_thread_conferences{{thread=\"{t}\"}}"))).collect();
    assert_eq!(http_get(sys.bridge_http, "/health").await.0, 200);
    (result, per_thread)
}

/// Each participant receives exactly its partner, and is offered exactly its partner's
/// two streams besides its own.
fn expected() -> MediaResult {
    let mut r = MediaResult::new();
    let mut index = 0u8;
    for (_, names) in MEETINGS {
        for (k, _) in names.iter().enumerate() {
            let partner = names[1 - k];
            r.insert(index, (BTreeSet::from([index ^ 1]), BTreeSet::from([partner.to_string()])));
            index += 1;
        }
    }
    r
}

fn without_own_msid(mut r: MediaResult) -> MediaResult {
    let names: Vec<&str> = MEETINGS.iter().flat_map(|(_, n)| n.iter().copied()).collect();
    for (i, (_, msids)) in r.iter_mut() {
        msids.remove(names[*i as usize]);
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_threads_carry_two_conferences_one_on_each() {
    let (result, per_thread) = two_meetings("2").await;
    assert_eq!(per_thread, vec![1, 1], "one conference on each thread");
    assert_eq!(without_own_msid(result), expected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_thread_gives_the_same_media_results() {
    let (result, per_thread) = two_meetings("1").await;
    assert_eq!(per_thread, vec![2], "both conferences on the one thread");
    assert_eq!(without_own_msid(result), expected());
}

#[test]
fn zero_or_a_non_number_is_refused_at_start() {
    for bad in ["0", "many"] {
        let dir = live::temp_dir("threads");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_bridge"))
            .env("BRIDGE_MEDIA_THREADS", bad)
            .env("BRIDGE_MEDIA_ADDR", live::free_udp().to_string())
            .env("BRIDGE_HTTP_ADDR", live::free_tcp().to_string())
            .env("BRIDGE_BUS", "false")
            .env("BUS_SECRET", "unused")
            .env("DATA_DIR", &dir)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .output()
            .expect("bridge runs");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(!out.status.success(), "BRIDGE_MEDIA_THREADS={bad} must stop the bridge");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("BRIDGE_MEDIA_THREADS") && text.contains("at least 1"), "{text}");
    }
}

async fn health(commands: &tokio::sync::mpsc::Sender<Command>) -> Result<ColibriResponse, bridge::Error> {
    let (tx, rx) = oneshot::channel();
    commands.send(Command::Colibri(ColibriRequest::Health, tx)).await.expect("dispatcher runs");
    rx.await.expect("health answered")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_media_thread_makes_the_bridge_unhealthy() {
    let socket = driver::bind_media_socket(live::free_udp()).expect("bind");
    let bound = socket.local_addr().expect("bound");
    let setup = MediaSetup {
        socket,
        bound,
        sfu: SfuConfig {
            candidates: vec![bound],
            version: "test".into(),
            bwe: true,
            loudest_audio: 0,
            loudest_above: 0,
        },
        threads: 2,
        spread_slack: 8,
        drain_timeout: Duration::from_secs(1),
    };
    let shutdown = CancellationToken::new();
    let media = driver::start(setup, shutdown.clone()).expect("media threads start");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("http bind");
    let http_addr = listener.local_addr().expect("http addr");
    let stop_http = CancellationToken::new();
    tokio::spawn(bridge::http::serve(
        listener,
        media.metrics.clone(),
        media.board.subscribe(),
        media.board.subscribe_failure(),
        stop_http.clone(),
    ));
    assert!(matches!(health(&media.commands).await, Ok(ColibriResponse::Health { .. })));
    assert_eq!(http_get(http_addr, "/health").await.0, 200);

    media.commands.send(Command::StopThreadForTest { thread: 1, panic: true }).await.expect("dispatcher runs");
    let t0 = tokio::time::Instant::now();
    while media.board.failure().is_none() {
        assert!(t0.elapsed() < Duration::from_secs(10), "the dead thread is noticed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let err = health(&media.commands).await.expect_err("health fails with a dead thread");
    assert_eq!(err.condition(), "internal-server-error");
    assert!(err.to_string().contains("media thread 1 panicked"), "{err}");
    let (code, body) = http_get(http_addr, "/health").await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("panicked"), "{body}");

    // The other thread still serves: a new conference goes to it (no endpoints anywhere,
    // thread 0 first) and its own refusal comes back, not the dead thread's.
    let (tx, rx) = oneshot::channel();
    let bad = ColibriRequest::Allocate {
        conference: ConferenceId::new("after").expect("valid id"),
        endpoint: proto::EndpointId::new("x").expect("valid id"),
        display_name: String::new(),
        offer: "v=0\r\nnot sdp".into(),
    };
    media.commands.send(Command::Colibri(bad, tx)).await.expect("dispatcher runs");
    let err = rx.await.expect("answered").expect_err("garbage offer refused");
    assert_eq!(err.condition(), "bad-request", "{err}");

    // The bridge ends with the failure once the living thread has drained.
    shutdown.cancel();
    let result = tokio::time::timeout(Duration::from_secs(10), media.done).await.expect("threads end").expect("join");
    assert!(result.is_err_and(|e| e.to_string().contains("panicked")));
    stop_http.cancel();
}

/// Answers the bridge's offers until every (receiver, sender index) pair has media (bounded).
async fn wait_media(focus: &mut FocusClient, peers: &[(ConferenceId, LivePeer)], want: &[(usize, u8)]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        if let Ok(Some(ColibriEvent::Offer { conference, endpoint, offer, .. })) =
            tokio::time::timeout(Duration::from_millis(200), focus.events.recv()).await
        {
            if let Some((_, p)) = peers.iter().find(|(c, p)| c == &conference && p.id == endpoint) {
                let answer = p.accept_offer(offer).await;
                focus
                    .colibri(&ColibriRequest::Answer { conference, endpoint, answer })
                    .await
                    .expect("bridge accepts the answer");
            }
        }
        let mut missing = Vec::new();
        for &(r, s) in want {
            let got = peers[r].1.report().await.received.get(&s).cloned().unwrap_or_default();
            if got.audio_frames < 50 || got.video_frames < 30 {
                missing.push((peers[r].1.id.to_string(), s, got));
            }
        }
        if missing.is_empty() {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "media missing: {missing:?}");
    }
}

/// The bridge's one media port is in every answer, whichever thread allocated it.
async fn allocate(
    focus: &FocusClient,
    sys: &System,
    conf: &ConferenceId,
    setup: PeerSetup,
    name: &str,
) -> (ConferenceId, LivePeer) {
    let answer = setup.allocate(focus, conf, name).await;
    assert!(answer.contains(&format!(" {} typ host", sys.media.port())), "one port for every thread");
    (conf.clone(), setup.start(&answer))
}

/// Focus expires one endpoint.
async fn expire(focus: &FocusClient, conference: &ConferenceId, name: &str) {
    let endpoint = proto::EndpointId::new(name).expect("valid id");
    let req = ColibriRequest::Expire { conference: conference.clone(), endpoint };
    focus.colibri(&req).await.unwrap_or_else(|e| panic!("{name} expires: {e}"));
}

/// The real bridge with `threads` media threads, answering Colibri on the bus.
async fn bridge_with_threads(threads: &str) -> (System, FocusClient) {
    bridge_with(&[("BRIDGE_MEDIA_THREADS", threads)]).await
}

/// The real bridge with these settings, answering Colibri on the bus.
async fn bridge_with(env: &[(&'static str, &str)]) -> (System, FocusClient) {
    let mut launch = Launch::new(live::other_binary("signal"), std::path::PathBuf::from(env!("CARGO_BIN_EXE_bridge")));
    for (k, v) in env {
        launch.bridge_env.push((k, v.to_string()));
    }
    let sys = System::launch(&launch);
    let focus = FocusClient::connect_ready(sys.bus, &sys.secret).await;
    (sys, focus)
}

/// One meeting of four spans both threads (`BRIDGE_THREAD_SLACK=0` places its endpoints in
/// turn): everyone receives everyone's audio and video, half of it relayed between the
/// threads; the bridge counts one conference; a participant leaving leaves the others'
/// media alone, and expiring the conference empties both threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_meeting_spans_both_threads() {
    let (sys, mut focus) = bridge_with(&[("BRIDGE_MEDIA_THREADS", "2"), ("BRIDGE_THREAD_SLACK", "0")]).await;
    let room = ConferenceId::new("big-room").expect("id");
    let names = ["alice", "bob", "carol", "dave"];
    let mut peers = Vec::new();
    for (i, name) in names.iter().enumerate() {
        peers.push(allocate(&focus, &sys, &room, PeerSetup::new(name, i as u8).await, name).await);
    }
    let all: Vec<(usize, u8)> =
        (0..4).flat_map(|r| (0..4u8).filter(move |s| *s as usize != r).map(move |s| (r, s))).collect();
    wait_media(&mut focus, &peers, &all).await;
    let (_, metrics) = http_get(sys.bridge_http, "/metrics").await;
    let endpoints: Vec<u64> =
        (0..2).map(|t| gauge(&metrics, &format!("bridge_thread_endpoints{{thread=\"{t}\"}}"))).collect();
    assert_eq!(endpoints, vec![2, 2], "the meeting is on both threads");
    assert_eq!(gauge(&metrics, "bridge_conferences"), 1, "and counted once");
    assert_eq!(gauge(&metrics, "bridge_relay_dropped_total"), 0);
    let (_, body) = http_get(sys.bridge_http, "/stats").await;
    let st: proto::colibri::BridgeStats = serde_json::from_str(&body).expect("stats JSON");
    assert_eq!((st.conferences, st.endpoints), (1, 4));

    // Bob (thread 1) leaves: the others still get each other.
    expire(&focus, &room, "bob").await;
    let (_, bob) = peers.remove(1);
    drop(bob);
    for (_, p) in &peers {
        p.reset().await;
    }
    // peers: alice 0, carol 2, dave 3 (sender indices as set up)
    wait_media(&mut focus, &peers, &[(0, 2), (0, 3), (1, 0), (1, 3), (2, 0), (2, 2)]).await;

    focus.colibri(&ColibriRequest::ExpireConference { conference: room.clone() }).await.expect("conference expires");
    let t0 = tokio::time::Instant::now();
    loop {
        let (_, body) = http_get(sys.bridge_http, "/stats").await;
        let st: proto::colibri::BridgeStats = serde_json::from_str(&body).expect("stats JSON");
        if (st.conferences, st.endpoints) == (0, 0) {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "both threads let go of the conference: {st:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let again = focus.colibri(&ColibriRequest::ExpireConference { conference: room.clone() }).await;
    assert!(again.is_err(), "an expired conference is not found: {again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_reused_by_an_endpoint_on_another_thread_reaches_it() {
    let (sys, mut focus) = bridge_with_threads("2").await;
    let (a, b) = (ConferenceId::new("room-a").expect("id"), ConferenceId::new("room-b").expect("id"));
    let mut peers = Vec::new();
    peers.push(allocate(&focus, &sys, &a, PeerSetup::new("alice", 0).await, "alice").await);
    peers.push(allocate(&focus, &sys, &a, PeerSetup::new("bob", 1).await, "bob").await);
    peers.push(allocate(&focus, &sys, &b, PeerSetup::new("carol", 2).await, "carol").await);
    peers.push(allocate(&focus, &sys, &b, PeerSetup::new("dave", 3).await, "dave").await);
    wait_media(&mut focus, &peers, &[(0, 1), (1, 0), (2, 3), (3, 2)]).await;
    let (_, metrics) = http_get(sys.bridge_http, "/metrics").await;
    let per_thread: Vec<u64> =
        (0..2).map(|t| gauge(&metrics, &format!("bridge_thread_conferences{{thread=\"{t}\"}}"))).collect();
    assert_eq!(per_thread, vec![1, 1], "room-a on one thread, room-b on the other");

    // Bob's page goes away; a new endpoint in room-b (the other thread) comes from the very
    // same address, which the reader still sends to the first thread.
    let bob_addr = peers[1].1.local_addr().await;
    let (_, bob) = peers.remove(1);
    drop(bob);
    expire(&focus, &a, "bob").await;
    let t0 = tokio::time::Instant::now();
    let socket = loop {
        match tokio::net::UdpSocket::bind(bob_addr).await {
            Ok(s) => break s,
            Err(e) => {
                assert!(t0.elapsed() < Duration::from_secs(5), "bob's address is free again: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    peers.push(allocate(&focus, &sys, &b, PeerSetup::on_socket("erin", 4, socket), "erin").await);
    // peers: alice, carol, dave, erin
    wait_media(&mut focus, &peers, &[(3, 2), (3, 3), (1, 4), (2, 4)]).await;
    let (_, metrics) = http_get(sys.bridge_http, "/metrics").await;
    let endpoints: Vec<u64> =
        (0..2).map(|t| gauge(&metrics, &format!("bridge_thread_endpoints{{thread=\"{t}\"}}"))).collect();
    assert_eq!(endpoints.iter().sum::<u64>(), 4);
    assert!(endpoints.contains(&3) && endpoints.contains(&1), "erin joined room-b's thread: {endpoints:?}");
}
