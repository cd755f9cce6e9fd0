//! H.264 is forwarded like VP8: three participants offering only H.264 (and Opus) receive
//! each other's video, and layer switches start at an IDR.

mod common;
use common::World;
use std::time::Duration;
use str0m::format::Codec;

#[test]
fn h264_participants_receive_each_others_video() {
    let mut w = World::new();
    w.video_codec = Codec::H264;
    for name in ["alice", "bob", "carol"] {
        w.join(name);
    }
    w.connect_all();
    w.run_for(Duration::from_secs(2));
    w.reset_counts();
    w.run_for(Duration::from_secs(2));
    for r in 0..3 {
        for s in 0..3 {
            if r != s {
                let got = w.received(r, s);
                assert!(got.video_frames >= 50, "{r} got {got:?} from {s}");
                assert!(got.audio_frames >= 90, "{r} got {got:?} from {s}");
                assert_eq!(got.last_video_layer, Some(2));
                assert_eq!(got.switches_without_keyframe, 0);
            }
        }
    }
}
