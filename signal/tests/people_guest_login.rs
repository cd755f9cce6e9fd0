//! Recognised guests (PEOPLE.md section 1): SASL PLAIN on `guest.meet.lan` with the guest id
//! and secret a browser keeps. The first login of an id records the secret's hash (trust on
//! first use); the same secret is recognised again, also after a restart; a wrong secret is
//! refused, counted, and after 5 within a minute the source address is refused outright.

mod common;

use common::*;

#[tokio::test]
async fn the_same_secret_is_the_same_person_on_every_visit_and_after_a_restart() {
    let data = temp_dir("guests");
    let secret = guest_secret();
    let id = guest_id(&secret);
    let signal = Signal::start_in(data.clone(), &[]);
    let first = Client::guest(&signal, &secret).await;
    assert_eq!(first.bare(), format!("{id}@guest.meet.lan"));
    let again = Client::guest(&signal, &secret).await;
    assert_eq!(again.bare(), first.bare(), "a second session of the same person");
    drop((first, again));

    // the file holds the hash, never the secret
    let stored = std::fs::read(data.join("people.sqlite")).unwrap_or_default();
    let wal = std::fs::read(data.join("people.sqlite-wal")).unwrap_or_default();
    for bytes in [&stored, &wal] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "the secret itself is never stored");
    }

    let signal = signal.restart(&[]);
    let mut other = Client::guest(&signal, &guest_secret()).await;
    let roster = other.roster("r1").await;
    assert!(roster.iter().any(|(j, _)| *j == format!("{id}@guest.meet.lan")), "still known: {roster:?}");
    let back = Client::guest(&signal, &secret).await;
    assert_eq!(back.bare(), format!("{id}@guest.meet.lan"), "recognised after a restart");
}

#[tokio::test]
async fn a_wrong_secret_is_refused_counted_and_limited_per_source() {
    let signal = Signal::start();
    let secret = guest_secret();
    let id = guest_id(&secret);
    Client::guest(&signal, &secret).await;

    let other = guest_secret();
    let (cond, text) = Client::guest_login(&signal, &id, &other).await.err().expect("another secret is refused");
    assert_eq!(cond, "not-authorized");
    assert!(text.contains("wrong guest"), "{text}");
    // an id that is not the secret's hash, for an id nobody has used yet
    let (cond, _) = Client::guest_login(&signal, &"ab".repeat(16), &other).await.err().expect("refused");
    assert_eq!(cond, "not-authorized");
    let (cond, text) = Client::guest_login(&signal, &id, "short").await.err().expect("a short secret is refused");
    assert_eq!((cond.as_str(), text.contains("16 to 1024")), ("not-authorized", true), "{text}");

    let (_, metrics) = http_get(signal.http, "/metrics").await;
    assert!(metric_value(&metrics, "signal_auth_failures_total") >= 3, "{metrics}");

    for _ in 0..3 {
        assert!(Client::guest_login(&signal, &id, &guest_secret()).await.is_err());
    }
    // five wrong secrets from 127.0.0.1 within the minute: even the right one waits now
    let (cond, text) = Client::guest_login(&signal, &id, &secret).await.err().expect("limited");
    assert_eq!(cond, "temporary-auth-failure", "{text}");
    assert!(text.contains("try again in"), "{text}");
}

#[tokio::test]
async fn the_limit_counts_per_source_address_over_websocket_too() {
    let signal = Signal::start();
    let secret = guest_secret();
    let id = guest_id(&secret);
    for _ in 0..5 {
        let f = WsClient::guest(&signal, "10.0.0.1", &id, &guest_secret()).await.err().expect("a wrong secret");
        assert!(f.get_child("not-authorized", "urn:ietf:params:xml:ns:xmpp-sasl").is_some(), "{f}");
    }
    let f = WsClient::guest(&signal, "10.0.0.1", &id, &secret).await.err().expect("10.0.0.1 waits");
    assert!(f.get_child("temporary-auth-failure", "urn:ietf:params:xml:ns:xmpp-sasl").is_some(), "{f}");
    let page = WsClient::guest(&signal, "10.0.0.2", &id, &secret).await.expect("another address is not held up");
    assert!(page.jid.contains(&format!("{id}@guest.meet.lan/")), "{}", page.jid);
}

#[tokio::test]
async fn guests_are_guests_for_auth_mode_and_token_mode_has_none() {
    let signal = Signal::start_with(&[("AUTH_MODE", "accounts")]);
    let mut g = Client::guest(&signal, &guest_secret()).await;
    let p = g.try_join("planning", "g", "").await;
    assert_refused(&p, "not-authorized", Some("host-required"));
    drop(signal);

    let signal = Signal::start_with(&jwt::token_mode_env());
    let mut s = RawStream::connect(signal.c2s, false).await;
    s.send(&header_to("guest.meet.lan")).await;
    let Some(proto::xml::StreamEvent::Open(_)) = s.next().await else { panic!("no stream header") };
    let f = s.stanza().await;
    assert!(!f.to_string().contains("PLAIN"), "no guests in token mode: {f}");
}

#[tokio::test]
async fn the_guest_domain_offers_plain_only() {
    let signal = Signal::start();
    let mut s = RawStream::connect(signal.c2s, false).await;
    s.send(&header_to("guest.meet.lan")).await;
    let Some(proto::xml::StreamEvent::Open(_)) = s.next().await else { panic!("no stream header") };
    let f = s.stanza().await;
    let mechs: Vec<String> = f.children().flat_map(|m| m.children()).map(|m| m.text_content()).collect::<Vec<_>>();
    assert_eq!(mechs, vec!["PLAIN".to_string()], "{f}");
    s.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/>").await;
    let r = s.stanza().await;
    assert!(r.get_child("invalid-mechanism", "urn:ietf:params:xml:ns:xmpp-sasl").is_some(), "{r}");
}
