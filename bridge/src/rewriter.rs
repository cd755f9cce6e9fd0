//! Sequence number and timestamp rewriting for one outgoing track (`TrackOut`).
//!
//! A receiver sees one continuous RTP stream per track even when the bridge switches the
//! simulcast layer (a different incoming SSRC) or starts forwarding mid-stream: sequence
//! numbers continue without gaps and timestamps keep advancing with wall-clock time. The
//! outgoing SSRC is the bridge's own (str0m's `StreamTx`), so SSRC rewriting comes free.
//! This module never looks at payloads and never drops packets of the current mapping
//! except those older than the switch point.

use std::time::Instant;

/// Where one incoming stream lands in the outgoing numbering.
#[derive(Debug, Clone, Copy)]
struct Mapping {
    ssrc: u32,
    /// First incoming (extended) sequence number forwarded after the switch; older ones are
    /// from before the switch and must not be forwarded.
    first_in_seq: u64,
    seq_offset: u64,
    ts_offset: u32,
}

/// Rewrites (ssrc, seq, timestamp) of forwarded packets into one continuous outgoing stream.
#[derive(Debug)]
pub struct Rewriter {
    clock_rate: u32,
    current: Option<Mapping>,
    /// Highest outgoing extended sequence number written so far.
    max_out_seq: u64,
    /// Outgoing timestamp of the newest packet and when it arrived.
    last_out_ts: u32,
    last_at: Option<Instant>,
}

/// The outgoing numbering of one forwarded packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewritten {
    pub seq: u64,
    pub ts: u32,
}

impl Rewriter {
    /// `initial_seq` is where the outgoing numbering starts; keep it below 2^15 so the
    /// receiver's SRTP rollover counter starts at zero (no out-of-band ROC signalling).
    pub fn new(clock_rate: u32, initial_seq: u16) -> Self {
        Rewriter {
            clock_rate: clock_rate.max(1),
            current: None,
            max_out_seq: u64::from(initial_seq),
            last_out_ts: u32::from(initial_seq).wrapping_mul(7919),
            last_at: None,
        }
    }

    /// The incoming SSRC currently forwarded, if any.
    pub fn current_ssrc(&self) -> Option<u32> {
        self.current.map(|m| m.ssrc)
    }

    /// Maps one incoming packet. A packet of another SSRC than the current one starts a new
    /// mapping (the caller decides when switching is allowed, e.g. on a keyframe). Returns
    /// `None` for a packet from before the current mapping's start.
    pub fn rewrite(&mut self, ssrc: u32, in_seq: u64, in_ts: u32, arrival: Instant) -> Option<Rewritten> {
        let mapping = match self.current {
            Some(m) if m.ssrc == ssrc => m,
            _ => {
                let out_seq = self.max_out_seq + 1;
                let out_ts = match self.last_at {
                    None => self.last_out_ts,
                    Some(at) => {
                        let elapsed = arrival.saturating_duration_since(at);
                        let ticks = (elapsed.as_micros() * u128::from(self.clock_rate) / 1_000_000).max(1);
                        self.last_out_ts.wrapping_add(ticks as u32)
                    }
                };
                let m = Mapping {
                    ssrc,
                    first_in_seq: in_seq,
                    seq_offset: out_seq.wrapping_sub(in_seq),
                    ts_offset: out_ts.wrapping_sub(in_ts),
                };
                self.current = Some(m);
                m
            }
        };
        if in_seq < mapping.first_in_seq {
            return None;
        }
        let seq = in_seq.wrapping_add(mapping.seq_offset);
        let ts = in_ts.wrapping_add(mapping.ts_offset);
        if seq > self.max_out_seq {
            self.max_out_seq = seq;
            self.last_out_ts = ts;
            self.last_at = Some(arrival);
        }
        Some(Rewritten { seq, ts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn switching_source_keeps_sequence_contiguous_and_time_advancing() {
        let t0 = Instant::now();
        let mut r = Rewriter::new(90_000, 100);
        let a = r.rewrite(1, 70_000, 5_000, t0).unwrap();
        assert_eq!(a.seq, 101);
        let b = r.rewrite(1, 70_001, 8_000, t0 + Duration::from_millis(33)).unwrap();
        assert_eq!(b.seq, 102);
        assert_eq!(b.ts.wrapping_sub(a.ts), 3_000);
        // switch to another layer with unrelated numbering
        let c = r.rewrite(2, 9, 1_000_000, t0 + Duration::from_millis(66)).unwrap();
        assert_eq!(c.seq, 103);
        assert_eq!(c.ts.wrapping_sub(b.ts), 2_970);
        // a late packet of the new layer from before the switch point is dropped
        assert!(r.rewrite(2, 8, 997_000, t0 + Duration::from_millis(67)).is_none());
        // reordering inside the mapping is kept
        let d = r.rewrite(2, 11, 1_003_000, t0 + Duration::from_millis(99)).unwrap();
        let e = r.rewrite(2, 10, 1_003_000, t0 + Duration::from_millis(99)).unwrap();
        assert_eq!((d.seq, e.seq), (105, 104));
    }
}
