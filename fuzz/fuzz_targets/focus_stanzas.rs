//! Focus, whole: the stanzas signal routes to `focus.<domain>` (conference requests, room
//! presences, session IQs with plain or compressed SDP, Colibri results and events from
//! bridges, bridge presences with stats) go through the driver's parsing
//! (`focus::driver::stanza::incoming`) into the sans-IO core in virtual time, and every
//! output is turned back into a stanza (`outgoing`) that must serialize and parse back.
//!
//! The input is a sequence of XML elements (as on the bus, `jabber:component:accept`
//! mapped to `jabber:client`). Two harness conventions let the fuzzer reach deep states:
//! `<tick s="N"/>` advances virtual time by N seconds (running the core's timers), and an
//! `id` attribute `$k` is replaced by the id of the k-th latest IQ focus sent, so answers to
//! focus's own requests (Colibri allocations, session initiates) can match.
#![no_main]

use focus::core::{Focus, Output, Settings};
use focus::driver::stanza::{incoming, outgoing, Incoming, Jids};
use libfuzzer_sys::fuzz_target;
use meet_lan_fuzz::{check_round_trip, chunks};
use proto::xml::{Element, ParserLimits, StreamEvent, StreamParser, NS_CLIENT};
use std::time::{Duration, Instant};

struct Harness {
    focus: Focus,
    jids: Jids,
    now: Instant,
    /// Ids of the IQs focus sent, latest last.
    sent_ids: Vec<String>,
}

impl Harness {
    fn drain(&mut self) {
        while let Some(o) = self.focus.poll_output() {
            if let Some(el) = outgoing(&self.jids, &o) {
                check_round_trip(&el);
                if el.name() == "iq" && matches!(el.get_attr("type"), Some("get" | "set")) {
                    if let Some(id) = el.get_attr("id") {
                        self.sent_ids.push(id.to_string());
                    }
                }
            } else {
                assert!(matches!(o, Output::Notify(_)), "only notifications have no stanza: {o:?}");
            }
        }
    }

    fn advance(&mut self, secs: u64) {
        let end = self.now + Duration::from_secs(secs);
        // Bounded: a core that keeps asking for a timeout in the past would loop forever.
        for _ in 0..10_000 {
            match self.focus.poll_timeout() {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.focus.handle_timeout(self.now);
                    self.drain();
                }
                _ => break,
            }
        }
        self.now = end;
        self.focus.handle_timeout(self.now);
        self.drain();
    }

    fn stanza(&mut self, mut el: Element) {
        if el.name() == "tick" {
            let secs = el.get_attr("s").and_then(|s| s.parse::<u64>().ok()).unwrap_or(1).min(3600);
            self.advance(secs);
            return;
        }
        if let Some(k) = el.get_attr("id").and_then(|id| id.strip_prefix('$')).and_then(|k| k.parse::<usize>().ok()) {
            if let Some(id) = self.sent_ids.iter().rev().nth(k) {
                el.set_attr("id", id.clone());
            }
        }
        match incoming(&self.jids, &el) {
            Incoming::Input(i) => {
                self.focus.handle_input(self.now, i);
                self.drain();
            }
            Incoming::Answer(a) => check_round_trip(&a),
            Incoming::Ignore => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (flags, pieces) = chunks(data);
    let settings = Settings { p2p_enabled: flags & 0x10 == 0, ..Settings::default() };
    let mut h =
        Harness { focus: Focus::new(settings), jids: Jids::new("meet.lan"), now: Instant::now(), sent_ids: Vec::new() };
    let mut p = StreamParser::new(ParserLimits {
        max_stanza_bytes: 1 << 20,
        component_as_client: true,
        fragments: true,
        default_ns: NS_CLIENT.into(),
        ..ParserLimits::default()
    });
    for piece in pieces {
        p.handle_bytes(piece);
        while let Ok(Some(ev)) = p.poll_event() {
            if let StreamEvent::Stanza(el) = ev {
                h.stanza(el);
            }
        }
    }
    // Let every timer run out: sessions time out, rooms go idle, bridges are health-checked.
    h.advance(600);
});
