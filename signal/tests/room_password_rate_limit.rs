//! Guessing room passwords (ROOMS.md section 5): after 5 wrong passwords within a minute
//! from one source address, further tries from it — right or wrong — get `policy-violation`
//! with `<retry-after seconds/>`. The source of a WebSocket client is the `X-Forwarded-For`
//! address `web` sets: two browsers behind the same proxy but from different addresses are
//! limited independently.

mod common;

use common::*;

const FORM: &str = "<iq type='set' id='cfg' to='guess@conference.meet.lan'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field><field var='muc#roomconfig_roomsecret'><value>right</value></field></x></query></iq>";

#[tokio::test]
async fn wrong_passwords_are_limited_per_forwarded_source() {
    let signal = Signal::start();
    let mut owner = Client::anonymous(&signal).await;
    owner.join("guess", "owner").await;
    let r = owner.iq("cfg", FORM).await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");

    let mut a = WsClient::anonymous(&signal, "192.0.2.10").await;
    let mut b = WsClient::anonymous(&signal, "198.51.100.7, 192.0.2.20").await;
    for i in 0..5 {
        let e = a.try_join("guess", "a", &format!("<password>wrong{i}</password>")).await;
        assert_refused(&e, "not-authorized", Some("password-wrong"));
    }
    // the sixth try, even the right password, waits
    for pw in ["wrong5", "right"] {
        let e = a.try_join("guess", "a", &format!("<password>{pw}</password>")).await;
        assert_refused(&e, "policy-violation", Some("retry-after"));
        let secs: u64 = e
            .get_child("error", proto::xml::NS_CLIENT)
            .and_then(|er| er.get_child("retry-after", NS_ROOM))
            .and_then(|r| r.get_attr("seconds"))
            .and_then(|s| s.parse().ok())
            .expect("retry-after seconds");
        assert!((1..=60).contains(&secs), "{secs}");
    }
    // another source address (the last X-Forwarded-For entry) is not affected
    let e = b.try_join("guess", "b", "<password>wrong</password>").await;
    assert_refused(&e, "not-authorized", Some("password-wrong"));
    let ok = b.try_join("guess", "b", "<password>right</password>").await;
    assert_ne!(ok.get_attr("type"), Some("error"), "{ok}");

    let (_, m) = http_get(signal.http, "/metrics").await;
    assert_eq!(metric_value(&m, "signal_room_password_failures_total"), 6, "limited tries are not counted as wrong");
}
