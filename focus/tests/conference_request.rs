//! The conference request over real XMPP (signal + focus): a good room is answered with
//! `ready="true"` after focus joined it; a malformed one gets `bad-request`.

mod common;

use common::cluster::{require_bins, Cluster, ClusterOptions};
use common::xmpp::Xmpp;
use proto::xml::{Element, NS_CLIENT};
use std::time::Duration;

async fn ask(x: &mut Xmpp, id: &str, room: &str) -> Element {
    let iq = Element::new("iq", NS_CLIENT)
        .attr("type", "set")
        .attr("id", id)
        .attr("to", "focus.meet.lan")
        .child(Element::new("conference", proto::ns::FOCUS).attr("room", room));
    x.send(&iq).await.expect("send");
    loop {
        let s = tokio::time::timeout(Duration::from_secs(10), x.recv())
            .await
            .expect("answer within 10 s")
            .expect("stream up");
        if s.name() == "iq" && s.get_attr("id") == Some(id) {
            return s;
        }
    }
}

#[tokio::test]
async fn conference_request_is_answered_ready_and_bad_rooms_are_refused() {
    if require_bins(&["signal"]).is_none() {
        return;
    }
    let opts = ClusterOptions { bridges: 0, focus_bin: Some(env!("CARGO_BIN_EXE_focus").into()), ..Default::default() };
    let cluster = Cluster::start(opts);
    let mut x = Xmpp::connect(cluster.c2s, "meet.lan").await.expect("XMPP login");
    let ok = ask(&mut x, "c1", "standup@conference.meet.lan").await;
    assert_eq!(ok.get_attr("type"), Some("result"), "{}", ok.to_stanza_string());
    let conf = ok.get_child("conference", proto::ns::FOCUS).expect("conference payload");
    assert_eq!((conf.get_attr("ready"), conf.get_attr("focusjid")), (Some("true"), Some("focus.meet.lan")));
    let st = cluster.focus_stats();
    assert_eq!(st["rooms"], 1);
    for (id, bad) in [("b1", "../x@conference.meet.lan"), ("b2", "a b@conference.meet.lan"), ("b3", "x@elsewhere.lan")]
    {
        let e = ask(&mut x, id, bad).await;
        assert_eq!(e.get_attr("type"), Some("error"), "{bad}");
        assert!(e.to_stanza_string().contains("bad-request"), "{}", e.to_stanza_string());
    }
    assert_eq!(cluster.focus_stats()["rooms"], 1, "bad requests changed nothing");
}
