//! Presence between people (PEOPLE.md section 2): a session's available presence reaches
//! every other available session (from its full JID, `<show/>` and `<in-meeting/>` kept,
//! other claims of our namespace dropped); a session's first presence brings everyone's
//! current one; an unavailable presence or a closed connection tells everyone; a bad show or
//! name is refused and nothing is broadcast.

mod common;

use common::*;

#[tokio::test]
async fn presence_fans_out_to_everyone_online_with_show_and_in_meeting() {
    let signal = Signal::start();
    let mut a = Client::guest(&signal, &guest_secret()).await;
    let mut b = Client::guest(&signal, &guest_secret()).await;
    let mut c = Client::guest(&signal, &guest_secret()).await;
    a.available("A", "").await;
    b.available("B", "").await;
    // B's first presence brings A's
    let p = b.presence_from(&a.jid).await;
    assert_eq!(p.get_child("nick", NS_NICK).map(|n| n.text_content()).as_deref(), Some("A"));
    a.presence_from(&b.jid).await;

    // C is not available yet: it hears nothing until its own first presence brings both
    c.no_presence_until_ping("p0").await;
    c.available("C", "").await;
    let seen = c.presences_from(&[&a.jid, &b.jid]).await;
    assert!(seen.iter().all(|p| p.get_attr("type").is_none()), "{seen:?}");

    // in a meeting: dnd and <in-meeting/>; a forged <archive/> claim is dropped
    a.available("A", &format!("<show>dnd</show><in-meeting xmlns='{NS_PEOPLE}'/><archive xmlns='{NS_PEOPLE}'/>")).await;
    for other in [&mut b, &mut c] {
        let p = other
            .until(|s| {
                s.get_attr("from") == Some(a.jid.as_str()) && s.get_child("show", proto::xml::NS_CLIENT).is_some()
            })
            .await;
        assert_eq!(p.get_child("show", proto::xml::NS_CLIENT).map(|s| s.text_content()).as_deref(), Some("dnd"));
        assert!(p.get_child("in-meeting", NS_PEOPLE).is_some(), "{p}");
        assert!(p.get_child("archive", NS_PEOPLE).is_none(), "only in-meeting of our namespace: {p}");
        assert_eq!(p.get_attr("to"), Some(other.jid.as_str()));
    }

    // C leaves by closing its connection: A and B are told
    let c_jid = c.jid.clone();
    drop(c);
    for other in [&mut a, &mut b] {
        let p = other
            .until(|s| s.get_attr("from") == Some(c_jid.as_str()) && s.get_attr("type") == Some("unavailable"))
            .await;
        assert_eq!(p.name(), "presence");
    }
    let (_, m) = http_get(signal.http, "/metrics").await;
    assert_eq!(metric_value(&m, "signal_people_online"), 2, "{m}");
    assert_eq!(metric_value(&m, "signal_people"), 3, "{m}");
}

#[tokio::test]
async fn each_session_of_a_person_is_its_own_resource() {
    let signal = Signal::start();
    let s = guest_secret();
    let mut a1 = Client::guest(&signal, &s).await;
    let mut a2 = Client::guest(&signal, &s).await;
    let mut b = Client::guest(&signal, &guest_secret()).await;
    assert_ne!(a1.jid, a2.jid);
    b.available_now("B", "").await;
    a1.available_now("A", "").await;
    a2.available("A", "<show>away</show>").await;
    b.presences_from(&[&a1.jid, &a2.jid]).await;
    a1.presence_from(&a2.jid).await; // a person's other sessions hear it too (RFC 6121)

    let online = |m: &str| metric_value(m, "signal_people_online");
    assert_eq!(online(&http_get(signal.http, "/metrics").await.1), 2, "a person with two sessions is one");
    a2.send("<presence type='unavailable'/>").await;
    let p = b.presence_from(&a2.jid).await;
    assert_eq!(p.get_attr("type"), Some("unavailable"));
    assert_eq!(online(&http_get(signal.http, "/metrics").await.1), 2, "a1 is still online");
    a1.send("<presence type='unavailable'/>").await;
    b.presence_from(&a1.jid).await;
    assert_eq!(online(&http_get(signal.http, "/metrics").await.1), 1);
    // a1 comes back: its next presence is available again
    a1.available("A", "<show>dnd</show>").await;
    let p = b.presence_from(&a1.jid).await;
    assert_eq!(p.get_attr("type"), None);
}

#[tokio::test]
async fn a_bad_show_or_name_is_refused_and_nothing_is_broadcast() {
    let signal = Signal::start();
    let mut a = Client::guest(&signal, &guest_secret()).await;
    let mut b = Client::guest(&signal, &guest_secret()).await;
    b.available("B", "").await;
    a.send("<presence id='x1'><show>sleepy</show></presence>").await;
    let e = a.until(|s| s.get_attr("id") == Some("x1")).await;
    assert_refused(&e, "bad-request", None);
    a.send(&format!("<presence id='x2'><nick xmlns='{NS_NICK}'>{}</nick></presence>", "n".repeat(101))).await;
    let e = a.until(|s| s.get_attr("id") == Some("x2")).await;
    assert_refused(&e, "not-acceptable", None);
    a.send(&format!("<presence id='x3'><nick xmlns='{NS_NICK}'>bell&#x85;ring</nick></presence>")).await;
    let e = a.until(|s| s.get_attr("id") == Some("x3")).await;
    assert_refused(&e, "not-acceptable", None);
    b.no_presence_until_ping("p").await;
    let roster = b.roster("r").await;
    assert_eq!(roster[0].1, None, "no name was taken");
}
