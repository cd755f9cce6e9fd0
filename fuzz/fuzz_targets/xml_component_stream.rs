//! The internal bus (XEP-0114 component streams): what signal reads from focus and bridges
//! and what `proto::bus` reads from signal, with the component limit (1 MiB stanzas) and
//! `jabber:component:accept` mapped to `jabber:client`. Every accepted stanza must survive
//! a serialize/parse round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meet_lan_fuzz::{check_round_trip, chunks, parse_stream};
use proto::xml::{ParserLimits, StreamEvent, NS_CLIENT};

fuzz_target!(|data: &[u8]| {
    let (_, pieces) = chunks(data);
    let limits = ParserLimits { component_as_client: true, max_stanza_bytes: 1 << 20, ..ParserLimits::default() };
    for ev in parse_stream(limits, &pieces) {
        if let StreamEvent::Stanza(s) = ev {
            assert_ne!(s.ns(), proto::xml::NS_COMPONENT, "component stanzas are mapped to {NS_CLIENT}");
            check_round_trip(&s);
        }
    }
});
