//! A bridge that answers allocations with garbage is marked failed and the participant's
//! offer goes to a healthy bridge: the participant never notices, nobody else is affected.
//! The bad bridge is a real bus component (proto::bus) that announces itself like a bridge.

mod common;

use common::cluster::{require_bins, Cluster, ClusterOptions};
use common::peer::{Peer, Via};
use common::wait_mutual_media;
use proto::bus::iq_result;
use proto::xml::{Element, NS_CLIENT};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_answering_garbage_is_avoided_and_media_flows_elsewhere() {
    if require_bins(&["signal", "bridge"]).is_none() {
        return;
    }
    let cluster = Cluster::start(ClusterOptions {
        bridges: 1,
        focus_bin: Some(env!("CARGO_BIN_EXE_focus").into()),
        ..Default::default()
    });
    // "aaa-bad" sorts before the real bridge and announces no load: focus picks it first.
    let (tx, mut rx) = proto::bus::connect(&cluster.bus.to_string(), "aaa-bad.meet.lan", &cluster.bus_secret)
        .await
        .expect("bus login");
    let stats = proto::colibri::BridgeStats { version: "garbage".into(), ..Default::default() };
    let presence = Element::new("presence", NS_CLIENT)
        .attr("to", "bridges@internal.meet.lan/aaa-bad")
        .child(Element::new("x", "http://jabber.org/protocol/muc"))
        .child(
            Element::new("stats", proto::ns::BRIDGE_STATS)
                .text(serde_json::to_string(&stats).expect("stats serialize")),
        );
    tx.send(presence).expect("bus up");
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel::<()>();
    let answering = tokio::spawn(async move {
        while let Some(s) = rx.recv().await {
            if s.name() != "iq" || !matches!(s.get_attr("type"), Some("get" | "set")) {
                continue;
            }
            let json = s.first_child().map(|c| c.text_content()).unwrap_or_default();
            let payload = if json.contains("\"health\"") {
                let h = proto::colibri::ColibriResponse::Health { stats: stats.clone() };
                serde_json::to_string(&h).expect("serialize")
            } else {
                let _ = seen_tx.send(());
                "{\"op\":\"allocated\",\"answer\":\"this is not SDP\"}".to_string()
            };
            let _ = tx.send(iq_result(&s, Some(Element::new("colibri", proto::ns::COLIBRI).text(payload))));
        }
    });
    cluster.wait_focus_stats("focus sees both bridges", |s| s["bridges"].as_array().is_some_and(|b| b.len() == 2));
    let mut a = Peer::join(cluster.c2s, "meet.lan", "garbage", "Ann").await;
    let mut b = Peer::join(cluster.c2s, "meet.lan", "garbage", "Bob").await;
    wait_mutual_media(&mut [&mut a, &mut b], Via::Bridge, 15, Duration::from_secs(30)).await;
    let st = cluster.wait_focus_stats("bad bridge marked failed", |s| {
        s["bridges"].as_array().is_some_and(|bs| bs.iter().any(|b| b["id"] == "aaa-bad" && b["failed"] == true))
    });
    assert!(st["counters"]["bridge_failures"].as_u64() >= Some(1));
    assert!(seen.try_recv().is_ok(), "the bad bridge was asked for an allocation first");
    assert_eq!(st["room_list"][0]["bridge"], cluster.bridges[0].id.as_str());
    for p in [&a, &b] {
        let v = p.snapshot();
        assert_eq!(v.bridge_initiates, 1, "the participant never noticed: {v:#?}");
        assert!(v.errors.is_empty(), "{:?}", v.errors);
    }
    answering.abort();
}
