//! Loudest-only audio routing (jitsi-videobridge's optional `route-loudest-only`): in a large
//! meeting most microphones carry silence, yet every one of them costs a packet per receiver
//! every 20 ms. With routing on, a sender's audio goes out only while it is among the `k`
//! loudest (RFC 6464 levels, the `ssrc-audio-level` extension browsers send).
//!
//! Loudness rises at once with a loud packet (a new speaker's first syllable is routed) and
//! falls slowly afterwards (a pause between words does not cut the speaker off). Pure state:
//! levels and time in, "route this packet" out.

use std::time::{Duration, Instant};

use crate::dominant_speaker::loudness;
use crate::track::EpNum;

/// How fast a speaker's loudness falls when quieter packets (or none) follow: it halves every
/// this long, so a speaker stays routed through the pauses of normal speech.
const HALF_LIFE: Duration = Duration::from_millis(600);
/// A sender's loudness counts as it was at its last packet for this long: senders are ranked
/// by what they last sent, not by how many milliseconds ago they sent it (packets of
/// different senders arrive interleaved, every 20 ms each).
const HOLD: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy)]
struct Sender {
    ep: EpNum,
    /// Loudness (127 − level in −dBov) at `at`, decaying from there.
    loudness: f64,
    at: Instant,
}

impl Sender {
    fn loudness_at(&self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.loudness * 0.5f64.powf(elapsed / HALF_LIFE.as_secs_f64())
    }

    /// Loudness for ranking: held at the last packet's value for [`HOLD`], decaying after.
    fn rank_loudness(&self, now: Instant) -> f64 {
        if now.saturating_duration_since(self.at) <= HOLD {
            self.loudness
        } else {
            self.loudness_at(now)
        }
    }
}

/// Which senders' audio is routed; see the module doc.
#[derive(Debug)]
pub struct LoudestAudio {
    /// How many senders are routed at once; 0 routes everyone.
    k: usize,
    senders: Vec<Sender>,
}

impl LoudestAudio {
    pub fn new(k: usize) -> Self {
        LoudestAudio { k, senders: Vec::new() }
    }

    /// One audio packet of `ep` with its level (RFC 6464: 0 = loudest, 127 = silence; `None`
    /// when the sender does not say): whether to forward it. A sender that gives no levels
    /// is always routed, as is `always` (the dominant speaker).
    pub fn route(&mut self, ep: EpNum, level: Option<i8>, always: Option<EpNum>, now: Instant) -> bool {
        if self.k == 0 {
            return true;
        }
        let Some(level) = level else { return true };
        let heard = f64::from(loudness(level));
        let mine = match self.senders.iter_mut().find(|s| s.ep == ep) {
            Some(s) => {
                s.loudness = s.loudness_at(now).max(heard);
                s.at = now;
                s.loudness
            }
            None => {
                self.senders.push(Sender { ep, loudness: heard, at: now });
                heard
            }
        };
        if always == Some(ep) {
            return true;
        }
        // Routed while fewer than k others rank above: louder, or as loud and joined earlier
        // (a room of silent microphones still gets exactly k, not everyone).
        let above = self
            .senders
            .iter()
            .filter(|s| s.ep != ep)
            .filter(|s| {
                let theirs = s.rank_loudness(now);
                theirs > mine || (theirs == mine && s.ep < ep)
            })
            .count();
        above < self.k
    }

    /// How many senders are routed at once (0: everyone).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Forgets a sender that left.
    pub fn remove(&mut self, ep: EpNum) {
        self.senders.retain(|s| s.ep != ep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_k_loudest_are_routed_and_a_new_speaker_gets_in_at_once() {
        let t0 = Instant::now();
        let mut r = LoudestAudio::new(2);
        let (a, b, c, d) = (EpNum(1), EpNum(2), EpNum(3), EpNum(4));
        let mut t = t0;
        for _ in 0..50 {
            t += Duration::from_millis(20);
            assert!(r.route(a, Some(-20), None, t));
            assert!(r.route(b, Some(-30), None, t));
            assert!(!r.route(c, Some(-127), None, t), "silence is not routed while two speak");
        }
        // d starts speaking louder than both: routed from its first packet.
        t += Duration::from_millis(20);
        assert!(r.route(d, Some(-10), None, t));
        // b is now third and quiet: dropped once a and d keep speaking.
        for _ in 0..10 {
            t += Duration::from_millis(20);
            r.route(a, Some(-20), None, t);
            r.route(d, Some(-10), None, t);
        }
        assert!(!r.route(b, Some(-127), None, t));
        // The dominant speaker is always routed; no level means always routed; 0 routes all.
        assert!(r.route(c, Some(-127), Some(c), t));
        assert!(r.route(c, None, None, t));
        assert!(LoudestAudio::new(0).route(c, Some(-127), None, t));
    }

    #[test]
    fn equally_loud_senders_interleaved_in_time_route_k_not_everyone() {
        let t0 = Instant::now();
        let mut r = LoudestAudio::new(3);
        let mut routed = [0usize; 8];
        for frame in 0..50u64 {
            for n in 0..8u64 {
                // each sender's packet arrives a little after the previous sender's
                let t = t0 + Duration::from_millis(frame * 20) + Duration::from_micros(n * 2_000);
                if r.route(EpNum(n), Some(-40), None, t) {
                    routed[n as usize] += 1;
                }
            }
        }
        assert_eq!(routed.iter().filter(|c| **c > 40).count(), 3, "{routed:?}");
        assert_eq!(routed.iter().filter(|c| **c == 0).count(), 5, "{routed:?}");
    }

    #[test]
    fn a_room_of_silent_microphones_routes_k_not_everyone() {
        let t = Instant::now();
        let mut r = LoudestAudio::new(2);
        let routed = (1..=6).filter(|n| r.route(EpNum(*n), Some(-127), None, t)).count();
        assert_eq!(routed, 2);
        let again = (1..=6).filter(|n| r.route(EpNum(*n), Some(-127), None, t)).count();
        assert_eq!(again, 2);
    }

    #[test]
    fn a_pause_between_words_keeps_the_speaker_routed() {
        let t0 = Instant::now();
        let mut r = LoudestAudio::new(1);
        let (a, b) = (EpNum(1), EpNum(2));
        assert!(r.route(a, Some(-20), None, t0));
        // a pauses for 300 ms while b's microphone carries room noise
        let t = t0 + Duration::from_millis(300);
        assert!(!r.route(b, Some(-90), None, t));
        assert!(r.route(a, Some(-127), None, t));
        r.remove(a);
        assert!(r.route(b, Some(-90), None, t), "alone after a left");
    }
}
