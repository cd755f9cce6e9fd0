//! The bridge's `Sfu::handle_datagram` in virtual time, after a real handshake: two str0m
//! participants (the bridge tests' harness, `bridge/tests/common`) join and connect (ICE,
//! DTLS, SCTP), media flows, then the fuzzer acts: arbitrary datagrams from Alice's and
//! Bob's addresses and from a stranger (STUN, DTLS, SRTP and garbage paths), arbitrary
//! VP8/H.264/Opus frame payloads through Alice's real sender (so they arrive as valid SRTP
//! and reach the bridge's RTP paths: keyframe detection, layer parsing, rewriting, audio
//! levels), arbitrary text on the bridge channel, Colibri requests (force-mute, expire),
//! and time passing. Afterwards Bob must still be connected unless Bob was expired.
#![no_main]

#[allow(dead_code, unused_imports)]
#[path = "../../bridge/tests/common/mod.rs"]
mod common;

use arbitrary::Arbitrary;
use common::{World, BRIDGE};
use libfuzzer_sys::fuzz_target;
use proto::colibri::ColibriRequest;
use std::net::SocketAddr;
use std::time::Duration;
use str0m::format::Codec;
use str0m::media::{Frequency, MediaTime};

#[derive(Debug, Arbitrary)]
enum Action {
    /// A raw datagram from Alice (0), Bob (1) or a stranger (2).
    Datagram {
        from: u8,
        data: Vec<u8>,
    },
    /// A frame from Alice: audio (Opus) or video (VP8/H.264, simulcast layer `layer`).
    Frame {
        video: bool,
        layer: u8,
        data: Vec<u8>,
        rtp_time_step: u16,
    },
    /// Text on Alice's bridge channel.
    Channel {
        text: String,
    },
    ForceMute {
        audio: bool,
        video: bool,
    },
    /// Expire Alice (true) or Bob.
    Expire {
        alice: bool,
    },
    Advance {
        ms: u16,
    },
}

#[derive(Debug, Arbitrary)]
struct Input {
    h264: bool,
    actions: Vec<Action>,
}

fuzz_target!(|input: Input| {
    let mut w = World::new();
    if input.h264 {
        w.video_codec = Codec::H264;
    }
    w.join("alice");
    w.join("bob");
    w.connect_all();
    w.run_for(Duration::from_millis(300));
    let stranger: SocketAddr = "10.0.9.9:4444".parse().expect("address");
    let mut bob_expired = false;
    let mut rtp_time = 0u64;
    for action in input.actions.into_iter().take(48) {
        match action {
            Action::Datagram { from, data } => {
                let src = match from % 3 {
                    0 => w.people[0].addr,
                    1 => w.people[1].addr,
                    _ => stranger,
                };
                w.sfu.handle_datagram(w.now, src, BRIDGE, &data);
            }
            Action::Frame { video, layer, data, rtp_time_step } => {
                rtp_time += u64::from(rtp_time_step);
                let now = w.now;
                let p = &mut w.people[0];
                let (mid, codec, freq) = if video {
                    (p.video_mid, if input.h264 { Codec::H264 } else { Codec::Vp8 }, Frequency::NINETY_KHZ)
                } else {
                    (p.audio_mid, Codec::Opus, Frequency::FORTY_EIGHT_KHZ)
                };
                let Some(pt) = p.rtc.codec_config().find(|c| c.spec().codec == codec).map(|c| c.pt()) else { continue };
                if let Some(wr) = p.rtc.writer(mid) {
                    let wr = if video { wr.rid(common::LAYERS[layer as usize % 3].0.into()) } else { wr };
                    let _ = wr.write(pt, now, MediaTime::new(rtp_time, freq), data);
                }
                w.step();
            }
            Action::Channel { text } => {
                let p = &mut w.people[0];
                if let Some(mut ch) = p.channel.and_then(|id| p.rtc.channel(id)) {
                    let _ = ch.write(false, text.as_bytes());
                }
                w.step();
            }
            Action::ForceMute { audio, video } => {
                let endpoint = w.people[0].id.clone();
                let _ = w.sfu.handle_colibri(
                    w.now,
                    ColibriRequest::ForceMute { conference: w.conference.clone(), endpoint, audio, video },
                );
            }
            Action::Expire { alice } => {
                let i = if alice { 0 } else { 1 };
                bob_expired |= !alice;
                let endpoint = w.people[i].id.clone();
                let _ =
                    w.sfu.handle_colibri(w.now, ColibriRequest::Expire { conference: w.conference.clone(), endpoint });
            }
            Action::Advance { ms } => w.run_for(Duration::from_millis(u64::from(ms % 3000))),
        }
    }
    w.run_for(Duration::from_millis(500));
    if !bob_expired {
        assert!(w.people[1].connected, "Bob lost his connection to what Alice and strangers sent");
    }
});
