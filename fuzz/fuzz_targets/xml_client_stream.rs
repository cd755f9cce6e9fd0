//! Signal's client streams: the bytes of a TCP stream (RFC 6120, with stream restarts) or,
//! when the first byte's bit 3 is set, RFC 7395 WebSocket frames (fragment mode), parsed
//! with signal's default client limits (64 KiB stanzas, depth 64). Every accepted stanza
//! must survive a serialize/parse round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meet_lan_fuzz::{check_round_trip, chunks, parse_stream};
use proto::xml::{ParserLimits, StreamEvent, NS_CLIENT};

fuzz_target!(|data: &[u8]| {
    let (flags, pieces) = chunks(data);
    let websocket = flags & 0x08 != 0;
    let limits = ParserLimits {
        max_stanza_bytes: 64 * 1024,
        fragments: websocket,
        default_ns: if websocket { NS_CLIENT.into() } else { String::new() },
        ..ParserLimits::default()
    };
    for ev in parse_stream(limits, &pieces) {
        if let StreamEvent::Stanza(s) = ev {
            check_round_trip(&s);
        }
    }
});
