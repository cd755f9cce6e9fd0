//! The bridge channel (`proto::bridge_channel`): JSON a page sends the bridge on the SCTP
//! data channel. Whatever parses must serialize and parse back to an equal message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proto::bridge_channel::BridgeChannelMessage;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = serde_json::from_slice::<BridgeChannelMessage>(data) else { return };
    let json = serde_json::to_string(&msg).expect("a parsed message serializes");
    let back: BridgeChannelMessage = serde_json::from_str(&json).expect("our own JSON parses back");
    // Numbers in opaque payloads may lose precision through f64; compare the JSON form.
    let (a, b) = (serde_json::to_value(&back).expect("serializes"), serde_json::to_value(&msg).expect("serializes"));
    assert!(meet_lan_fuzz::json_close(&a, &b), "{json}\n{a}\n{b}");
});
