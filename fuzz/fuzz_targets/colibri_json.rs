//! Colibri JSON (`proto::colibri`): requests bridges read from focus, responses and events
//! focus reads from bridges, and the stats bridges publish. Whatever parses must serialize
//! and parse back to an equal value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proto::colibri::{BridgeStats, ColibriEvent, ColibriRequest, ColibriResponse};
use serde::{de::DeserializeOwned, Serialize};

fn round_trip<T: DeserializeOwned + Serialize + std::fmt::Debug>(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<T>(data) else { return };
    let json = serde_json::to_string(&v).expect("a parsed value serializes");
    let back: T = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let (a, b) = (serde_json::to_value(&back).expect("serializes"), serde_json::to_value(&v).expect("serializes"));
    assert!(meet_lan_fuzz::json_close(&a, &b), "{json}\n{a}\n{b}");
}

fuzz_target!(|data: &[u8]| {
    round_trip::<ColibriRequest>(data);
    round_trip::<ColibriResponse>(data);
    round_trip::<ColibriEvent>(data);
    round_trip::<BridgeStats>(data);
});
