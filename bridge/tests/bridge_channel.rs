//! The bridge channel: ServerHello on open; EndpointMessage relayed to one or all with
//! `from` set by the bridge (a page cannot impersonate another); EndpointStats relayed;
//! unparsable or bridge-only messages from a page are refused and counted.

mod common;
use common::World;
use proto::bridge_channel::BridgeChannelMessage;
use std::time::Duration;

fn endpoint_messages(w: &World, i: usize) -> Vec<(String, String, serde_json::Value)> {
    w.people[i]
        .messages
        .iter()
        .filter_map(|m| match m {
            BridgeChannelMessage::EndpointMessage { from, to, msg_payload } => {
                Some((from.clone(), to.clone(), msg_payload.clone()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn server_hello_and_endpoint_messages_are_relayed_with_the_true_sender() {
    let mut w = World::new();
    for name in ["alice", "bob", "carol"] {
        w.join(name);
    }
    w.connect_all();
    w.run_for(Duration::from_millis(500));
    for i in 0..3 {
        assert!(
            matches!(w.people[i].messages.first(), Some(BridgeChannelMessage::ServerHello { .. })),
            "ServerHello comes first: {:?}",
            w.people[i].messages.first()
        );
    }
    // alice to bob only, pretending to be carol.
    w.send_channel(
        0,
        &BridgeChannelMessage::EndpointMessage {
            from: "carol".into(),
            to: "bob".into(),
            msg_payload: serde_json::json!({"x": 1}),
        },
    );
    // bob to everyone.
    w.send_channel(
        1,
        &BridgeChannelMessage::EndpointMessage {
            from: String::new(),
            to: String::new(),
            msg_payload: serde_json::json!("hi"),
        },
    );
    w.run_for(Duration::from_millis(300));
    assert_eq!(endpoint_messages(&w, 1), vec![("alice".into(), "bob".into(), serde_json::json!({"x": 1}))]);
    assert_eq!(endpoint_messages(&w, 2), vec![("bob".into(), String::new(), serde_json::json!("hi"))]);
    assert_eq!(endpoint_messages(&w, 0), vec![("bob".into(), String::new(), serde_json::json!("hi"))]);

    // EndpointStats go to the others with `from` set.
    let mut stats = std::collections::BTreeMap::new();
    stats.insert("bitrate".to_string(), serde_json::json!(123));
    w.send_channel(2, &BridgeChannelMessage::EndpointStats { from: "alice".into(), stats });
    // Garbage and a bridge-only message from a page are dropped and counted.
    let before = w.sfu.metrics().bad_channel_messages_total.get();
    let id = w.people[0].channel.unwrap();
    w.people[0].rtc.channel(id).unwrap().write(false, b"{not json").unwrap();
    w.send_channel(0, &BridgeChannelMessage::ForwardedSources { forwarded_sources: vec!["x".into()] });
    w.run_for(Duration::from_millis(300));
    let got = w.people[0]
        .messages
        .iter()
        .any(|m| matches!(m, BridgeChannelMessage::EndpointStats { from, .. } if from == "carol"));
    assert!(got, "alice gets carol's stats, from set by the bridge");
    assert_eq!(w.sfu.metrics().bad_channel_messages_total.get(), before + 2);
}

#[test]
fn a_flooding_page_is_throttled_and_the_channel_keeps_working() {
    let mut w = World::new();
    for name in ["alice", "bob"] {
        w.join(name);
    }
    w.connect_all();
    w.run_for(Duration::from_millis(300));
    for i in 0..1000 {
        w.send_channel(
            0,
            &BridgeChannelMessage::EndpointMessage {
                from: String::new(),
                to: String::new(),
                msg_payload: serde_json::json!(i),
            },
        );
        if i % 50 == 0 {
            w.run_for(Duration::from_millis(1));
        }
    }
    w.run_for(Duration::from_secs(1));
    let relayed = endpoint_messages(&w, 1).len();
    let dropped = w.sfu.metrics().channel_messages_dropped_total.get();
    assert!(relayed <= 260, "bob got {relayed} of 1000 flood messages");
    assert!(dropped >= 700, "{dropped} dropped and counted");
    w.run_for(Duration::from_secs(2));
    w.send_channel(
        0,
        &BridgeChannelMessage::EndpointMessage {
            from: String::new(),
            to: "bob".into(),
            msg_payload: serde_json::json!("after"),
        },
    );
    w.run_for(Duration::from_millis(300));
    assert!(
        endpoint_messages(&w, 1).iter().any(|m| m.2 == serde_json::json!("after")),
        "the channel works after the flood"
    );
}
