//! Three participants in one conference: everyone receives everyone else's audio and video,
//! on m-lines whose msid names the sending endpoint, in virtual time.

mod common;
use common::World;
use std::time::Duration;

#[test]
fn three_endpoints_receive_each_others_audio_and_video() {
    let mut w = World::new();
    for name in ["alice", "bob", "carol"] {
        w.join(name);
    }
    w.connect_all();
    w.run_for(Duration::from_secs(3));
    w.reset_counts();
    w.run_for(Duration::from_secs(2));
    for r in 0..3 {
        for s in 0..3 {
            if r == s {
                continue;
            }
            let got = w.received(r, s);
            eprintln!("{r} <- {s}: {got:?}");
            assert!(got.audio_frames >= 90, "{r} got {} audio frames from {s} in 2 s", got.audio_frames);
            assert!(got.video_frames >= 50, "{r} got {} video frames from {s} in 2 s", got.video_frames);
            assert_eq!(got.last_video_layer, Some(2), "without constraints the top layer is forwarded");
        }
        assert_eq!(w.people[r].msid_mismatches, 0, "msid stream id names the sender");
        assert!(w.received(r, r).audio_frames == 0, "nobody receives itself");
    }
}
