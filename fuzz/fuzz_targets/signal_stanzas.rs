//! Signal's stanza handling, whole (`signal::hub::Hub`, the one place that routes stanzas and
//! runs both MUC services): three client sessions (two guests and one account) and the focus
//! component are registered, then the fuzzer's stanzas arrive from them: presences to rooms
//! (joins, nick changes, passwords, lobby), room messages, IQs to rooms, occupants, the
//! server, components and other clients (configuration forms, moderation, tokens, disco).
//!
//! Input: XML elements as on a WebSocket (RFC 7395 fragments). `<as who="bob"/>` makes the
//! following stanzas come from bob (`alice`, `bob`, `carol`, `focus`); the first is alice's.
//! Every stanza the hub queues for anyone must serialize (as written to the socket) and
//! parse back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meet_lan_fuzz::{check_round_trip, chunks};
use proto::xml::{ParserLimits, StreamEvent, StreamParser, NS_CLIENT};
use signal::auth::{Auth, Identity, Session};
use signal::conn::{ConnId, Outbound};
use signal::hub::{Hub, HubMsg, PeerKind};
use signal::jid::Jid;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

const PEERS: [(&str, &str, Option<&str>); 4] = [
    ("alice", "a1@meet.lan/web-a", Some("guest")),
    ("bob", "b2@meet.lan/web-b", Some("guest")),
    ("carol", "carol@auth.meet.lan/laptop", Some("account")),
    ("focus", "focus.meet.lan", None),
];

fn drain(outboxes: &mut [mpsc::Receiver<Outbound>]) {
    for rx in outboxes.iter_mut() {
        while let Ok(Outbound::Stanza { to, body }) = rx.try_recv() {
            let mut text = String::new();
            body.write_to(&mut text, Some(&to), true);
            let mut p = StreamParser::new(ParserLimits {
                max_stanza_bytes: usize::MAX,
                max_depth: usize::MAX,
                fragments: true,
                default_ns: NS_CLIENT.into(),
                ..ParserLimits::default()
            });
            p.handle_bytes(text.as_bytes());
            match p.poll_event() {
                Ok(Some(StreamEvent::Stanza(s))) => check_round_trip(&s),
                other => panic!("signal queued a stanza that does not parse: {other:?}\n{text}"),
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (_, pieces) = chunks(data);
    let secret = b"fuzz-token-secret".to_vec();
    let people = signal::people::People::in_memory("meet.lan", secret.clone()).expect("in-memory directory");
    let mut hub = Hub::new("meet.lan", secret, Arc::new(Default::default()), &Auth::open(), people);
    let mut outboxes = Vec::new();
    for (i, (_, jid, kind)) in PEERS.iter().enumerate() {
        let (tx, rx) = mpsc::channel(1 << 16);
        outboxes.push(rx);
        let (reply, _answer) = oneshot::channel();
        let session = kind.map(|k| {
            let identity =
                if k == "account" { Identity::Account("carol@auth.meet.lan".into()) } else { Identity::Guest };
            Arc::new(Session { identity, source: [192, 168, 1, 10 + i as u8].into() })
        });
        hub.handle(HubMsg::Register {
            conn: ConnId(i as u64 + 1),
            kind: if kind.is_some() { PeerKind::Client } else { PeerKind::Component },
            jid: Jid::parse(jid).expect("a valid JID"),
            session,
            outbox: tx,
            kill: CancellationToken::new(),
            reply,
        });
    }
    let mut p = StreamParser::new(ParserLimits {
        max_stanza_bytes: 64 * 1024,
        fragments: true,
        default_ns: NS_CLIENT.into(),
        ..ParserLimits::default()
    });
    let mut from = 0usize;
    let mut n = 0;
    for piece in pieces {
        p.handle_bytes(piece);
        while let Ok(Some(ev)) = p.poll_event() {
            let StreamEvent::Stanza(el) = ev else { continue };
            if el.name() == "as" {
                from = PEERS.iter().position(|(who, _, _)| Some(*who) == el.get_attr("who")).unwrap_or(0);
                continue;
            }
            n += 1;
            if n > 64 {
                return;
            }
            hub.handle(HubMsg::Stanza { conn: ConnId(from as u64 + 1), stanza: el });
            drain(&mut outboxes);
        }
    }
    // Everyone leaves: rooms are destroyed, the rest are told.
    for i in 0..PEERS.len() {
        hub.handle(HubMsg::Gone { conn: ConnId(i as u64 + 1) });
        drain(&mut outboxes);
    }
});
