//! Dominant speaker detection from RFC 6464 audio levels (the `ssrc-audio-level` header
//! extension every browser sends). Each speaker's loudness is averaged over a short window;
//! the loudest one takes over when it beats the current speaker by a margin for long enough,
//! so a cough does not steal the stage.
//!
//! Pure state: levels and time in, "the speaker changed" out. It never reads payloads.

use std::time::{Duration, Instant};

use crate::track::EpNum;

/// Window over which loudness is averaged.
const WINDOW: Duration = Duration::from_millis(1000);
/// How often the decision is re-evaluated.
pub const EVALUATE_EVERY: Duration = Duration::from_millis(300);
/// Loudness (127 − level in −dBov) below which a speaker counts as silent.
const SPEECH_THRESHOLD: f64 = 20.0;
/// How much louder (dB) a challenger must be on average than the current speaker.
const MARGIN: f64 = 6.0;

#[derive(Debug)]
struct Speaker {
    ep: EpNum,
    /// (arrival, loudness) samples inside the window.
    samples: std::collections::VecDeque<(Instant, u8)>,
}

impl Speaker {
    fn average(&mut self, now: Instant) -> f64 {
        while self.samples.front().is_some_and(|(t, _)| now.saturating_duration_since(*t) > WINDOW) {
            self.samples.pop_front();
        }
        if self.samples.is_empty() {
            return 0.0;
        }
        // Missing packets (DTX silence) count as silence: divide by the expected 50 packets/s.
        let sum: u64 = self.samples.iter().map(|(_, l)| u64::from(*l)).sum();
        sum as f64 / (self.samples.len().max(50) as f64)
    }
}

/// An RFC 6464 level (0 = loudest, -127 = silence, in -dBov) as loudness: 127 = loudest,
/// 0 = silence.
pub fn loudness(level: i8) -> u8 {
    127u8.saturating_sub(level.unsigned_abs().min(127))
}

/// Tracks who speaks; see the module doc.
#[derive(Debug, Default)]
pub struct DominantSpeaker {
    speakers: Vec<Speaker>,
    current: Option<EpNum>,
    /// Most recent first, the current one included.
    history: Vec<EpNum>,
    next_evaluation: Option<Instant>,
}

impl DominantSpeaker {
    /// One audio packet's level (RFC 6464: 0 = loudest, 127 = silence).
    pub fn handle_level(&mut self, ep: EpNum, level: i8, now: Instant) {
        let loudness = loudness(level);
        let s = match self.speakers.iter_mut().position(|s| s.ep == ep) {
            Some(i) => &mut self.speakers[i],
            None => {
                self.speakers.push(Speaker { ep, samples: Default::default() });
                self.speakers.last_mut().expect("invariant: just pushed")
            }
        };
        s.samples.push_back((now, loudness));
        if s.samples.len() > 200 {
            s.samples.pop_front();
        }
    }

    pub fn remove(&mut self, ep: EpNum) {
        self.speakers.retain(|s| s.ep != ep);
        self.history.retain(|e| *e != ep);
        if self.current == Some(ep) {
            self.current = None;
        }
    }

    pub fn current(&self) -> Option<EpNum> {
        self.current
    }

    /// Speakers, most recent first (for last-N ordering).
    pub fn history(&self) -> &[EpNum] {
        &self.history
    }

    pub fn next_evaluation(&self) -> Option<Instant> {
        self.next_evaluation
    }

    /// Re-evaluates when due; returns the new dominant speaker when it changed.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<EpNum> {
        if self.next_evaluation.is_some_and(|t| t > now) {
            return None;
        }
        self.next_evaluation = Some(now + EVALUATE_EVERY);
        let mut best: Option<(EpNum, f64)> = None;
        let mut current_avg = 0.0;
        for s in &mut self.speakers {
            let avg = s.average(now);
            if Some(s.ep) == self.current {
                current_avg = avg;
            }
            if best.is_none_or(|(_, b)| avg > b) {
                best = Some((s.ep, avg));
            }
        }
        let (ep, avg) = best?;
        if Some(ep) == self.current || avg < SPEECH_THRESHOLD {
            return None;
        }
        if self.current.is_some() && avg < current_avg + MARGIN {
            return None;
        }
        self.current = Some(ep);
        self.history.retain(|e| *e != ep);
        self.history.insert(0, ep);
        self.history.truncate(16);
        Some(ep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn louder_speaker_takes_over_after_a_margin_and_silence_never_does() {
        let mut d = DominantSpeaker::default();
        let t0 = Instant::now();
        let (a, b) = (EpNum(1), EpNum(2));
        let mut now = t0;
        for _ in 0..50 {
            d.handle_level(a, 30, now);
            d.handle_level(b, 127, now);
            now += Duration::from_millis(20);
        }
        assert_eq!(d.handle_timeout(now), Some(a));
        for _ in 0..100 {
            d.handle_level(a, 100, now);
            d.handle_level(b, 20, now);
            now += Duration::from_millis(20);
        }
        assert_eq!(d.handle_timeout(now), Some(b));
        assert_eq!(d.history(), &[b, a]);
        let mut quiet = DominantSpeaker::default();
        quiet.handle_level(a, 127, t0);
        assert_eq!(quiet.handle_timeout(t0), None);
    }
}
