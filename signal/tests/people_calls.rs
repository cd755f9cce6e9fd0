//! Calls (PEOPLE.md section 5, XEP-0353): a proposal to a person's bare JID rings every
//! session of theirs; accept to one's own bare JID reaches one's other sessions; proceed goes
//! to the caller's full JID; reject and retract to bare JIDs; every one of them is copied to
//! the archive. Limits: one open proposal per caller and callee, 5 proposals per caller per
//! minute, proposals only to another person's bare JID.

mod common;

use common::*;

const JMI: &str = "urn:xmpp:jingle-message:0";

fn propose(to: &str, id: &str, call: &str) -> String {
    format!(
        "<message type='chat' to='{to}' id='m-{id}'><propose xmlns='{JMI}' id='{id}'>\
         <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/>\
         <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'/>\
         <call xmlns='{NS_PEOPLE}' room='call-{call}' password='abcdefghijklmnopqrstuvwx'/></propose></message>"
    )
}

fn answer(to: &str, action: &str, id: &str) -> String {
    format!("<message type='chat' to='{to}' id='m-{action}-{id}'><{action} xmlns='{JMI}' id='{id}'/></message>")
}

fn jmi(s: &proto::xml::Element) -> Option<(String, String)> {
    s.children().find(|c| c.ns() == JMI).map(|c| (c.name().to_string(), c.get_attr("id").unwrap_or("").to_string()))
}

#[tokio::test]
async fn a_call_rings_every_page_and_its_answers_reach_the_right_sessions() {
    let signal = Signal::start();
    let mut archive = BusComponent::archive(&signal).await;
    let (sa, sb) = (guest_secret(), guest_secret());
    let mut caller = Client::guest(&signal, &sa).await;
    let mut b1 = Client::guest(&signal, &sb).await;
    let mut b2 = Client::guest(&signal, &sb).await;
    let room = "0123456789abcdef0123456789abcdef";
    caller.available("Abe", "").await;

    caller.send(&propose(&b1.bare(), "c1", room)).await;
    for b in [&mut b1, &mut b2] {
        let m = b.message(|m| jmi(m).is_some()).await;
        assert_eq!(jmi(&m), Some(("propose".into(), "c1".into())));
        assert_eq!(m.get_attr("from"), Some(caller.jid.as_str()));
        assert!(m.to_string().contains(&format!("call-{room}")), "{m}");
    }
    let (copy, inner) = archive.copy().await;
    assert_eq!(jmi(&inner), Some(("propose".into(), "c1".into())));
    assert_eq!(copy.get_child("archive", NS_PEOPLE).and_then(|a| a.get_attr("delivered")), Some("true"));
    assert_eq!(
        copy.get_child("archive", NS_PEOPLE).and_then(|a| a.get_attr("name")),
        Some("Abe"),
        "the caller's name, for a missed call"
    );

    // a page says it rings (XEP-0353 <ringing/>): passed on as it is, not stored
    b2.send(&answer(&caller.jid, "ringing", "c1")).await;
    let m = caller.message(|m| jmi(m).is_some()).await;
    assert_eq!(jmi(&m), Some(("ringing".into(), "c1".into())));
    assert!(stanza_id(&m).is_none(), "{m}");
    b1.message(|m| m.get_child("sent", "urn:xmpp:carbons:2").is_some() && m.to_string().contains("ringing")).await;

    // b1 accepts: its other page stops ringing, the caller is told to proceed
    b1.send(&answer(&b1.bare(), "accept", "c1")).await;
    let m = b2.message(|m| jmi(m).is_some()).await;
    assert_eq!(jmi(&m), Some(("accept".into(), "c1".into())));
    assert_eq!(archive.copy().await.1.get_attr("to"), Some(b1.bare().as_str()));
    b1.no_message_until_ping("p1").await;
    b1.send(&answer(&caller.jid, "proceed", "c1")).await;
    let m = caller.message(|m| jmi(m).is_some()).await;
    assert_eq!(jmi(&m), Some(("proceed".into(), "c1".into())));
    assert_eq!(m.get_attr("from"), Some(b1.jid.as_str()));
    assert_eq!(jmi(&archive.copy().await.1), Some(("proceed".into(), "c1".into())));
    // b2 gets b1's proceed as a <sent/> copy
    let sent = b2.message(|m| m.get_child("sent", "urn:xmpp:carbons:2").is_some()).await;
    assert!(sent.to_string().contains("proceed"), "{sent}");

    // the next call is declined; a third one is retracted
    caller.send(&propose(&b1.bare(), "c2", room)).await;
    b2.message(|m| jmi(m) == Some(("propose".into(), "c2".into()))).await;
    b2.send(&answer(&caller.bare(), "reject", "c2")).await;
    let m = caller.message(|m| jmi(m).is_some()).await;
    assert_eq!(jmi(&m), Some(("reject".into(), "c2".into())));
    caller.send(&propose(&b1.bare(), "c3", room)).await;
    caller.send(&answer(&b1.bare(), "retract", "c3")).await;
    b1.message(|m| jmi(m) == Some(("retract".into(), "c3".into()))).await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(jmi(&archive.copy().await.1).unwrap());
    }
    assert_eq!(
        seen,
        vec![
            ("propose".into(), "c2".into()),
            ("reject".into(), "c2".into()),
            ("propose".into(), "c3".into()),
            ("retract".into(), "c3".into())
        ]
    );
}

#[tokio::test]
async fn call_floods_are_limited_per_caller() {
    let signal = Signal::start();
    let _archive = BusComponent::archive(&signal).await;
    let mut caller = Client::guest(&signal, &guest_secret()).await;
    let mut callees = Vec::new();
    for _ in 0..6 {
        callees.push(Client::guest(&signal, &guest_secret()).await);
    }
    let room = "00000000000000000000000000000000";
    let b = callees[0].bare();

    // one open proposal per caller and callee: the page rings for one call at a time
    assert_eq!(caller.message_answer("m-c1", &propose(&b, "c1", room)).await.get_attr("id"), Some("after-message"));
    let r = caller.message_answer("m-c2", &propose(&b, "c2", room)).await;
    assert_refused(&r, "resource-constraint", None);
    assert!(r.to_string().contains("already calling"), "{r}");
    callees[0].message(|m| jmi(m) == Some(("propose".into(), "c1".into()))).await;
    callees[0].no_message_until_ping("p").await;

    // a proposal to a full JID, to oneself, or with a bad call room: refused
    let r = caller.message_answer("m-x1", &propose(&callees[1].jid, "x1", room)).await;
    assert_refused(&r, "bad-request", None);
    let r = caller.message_answer("m-x2", &propose(&caller.bare(), "x2", room)).await;
    assert_refused(&r, "bad-request", None);
    let r = caller.message_answer("m-x3", &propose(&callees[1].bare(), "x3", "NOT-HEX")).await;
    assert_refused(&r, "bad-request", None);

    // 5 proposals a minute: the 6th (to someone new) is refused
    for (i, c) in callees.iter().enumerate().skip(1).take(4) {
        let r = caller.message_answer(&format!("m-d{i}"), &propose(&c.bare(), &format!("d{i}"), room)).await;
        assert_eq!(r.get_attr("id"), Some("after-message"), "proposal {i} passes: {r}");
    }
    let r = caller.message_answer("m-d5", &propose(&callees[5].bare(), "d5", room)).await;
    assert_refused(&r, "resource-constraint", None);
    assert!(r.to_string().contains("too many calls"), "{r}");
    callees[5].no_message_until_ping("p5").await;
}
