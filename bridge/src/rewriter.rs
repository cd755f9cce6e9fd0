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

    /// Packets of the current source are being left out (its audio is not routed): the next
    /// packet starts a new mapping, so the receiver sees contiguous sequence numbers and a
    /// timestamp that jumps by the time that passed, as after a DTX pause.
    pub fn pause(&mut self) {
        self.current = None;
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

    #[test]
    fn a_pause_leaves_no_sequence_gap_and_time_jumps_by_what_passed() {
        let t0 = Instant::now();
        let mut r = Rewriter::new(48_000, 10);
        let a = r.rewrite(7, 500, 96_000, t0).unwrap();
        r.pause();
        // 50 packets (1 s) left out; the 51st goes out next in sequence, 1 s later in time
        let b = r.rewrite(7, 551, 96_000 + 51 * 960, t0 + Duration::from_millis(1020)).unwrap();
        assert_eq!(b.seq, a.seq + 1);
        assert_eq!(b.ts.wrapping_sub(a.ts), 48_960);
        let c = r.rewrite(7, 552, 96_000 + 52 * 960, t0 + Duration::from_millis(1040)).unwrap();
        assert_eq!((c.seq, c.ts.wrapping_sub(b.ts)), (b.seq + 1, 960));
    }
}

/// VP8 PictureID and TL0PICIDX rewriting for one outgoing track: after a switch to another
/// simulcast layer (another SSRC with its own numbering) the receiver keeps seeing picture
/// ids that continue, so its decoder does not take the new frames for old ones.
#[derive(Debug, Default)]
pub struct Vp8Ids {
    ssrc: Option<u32>,
    pid_offset: u16,
    tl0_offset: u8,
    /// Newest picture id / TL0PICIDX written out.
    last_pid: Option<u16>,
    last_tl0: Option<u8>,
}

const PID_MASK: u16 = 0x7fff;

impl Vp8Ids {
    /// The patch for one VP8 payload of `ssrc`, or `None` when nothing needs rewriting (the
    /// first layer forwarded, or no descriptor fields to rewrite).
    pub fn rewrite(&mut self, ssrc: u32, payload: &[u8]) -> Option<str0m::rtp::Vp8Patch> {
        let d = str0m::rtp::Vp8Descriptor::parse(payload).ok()?;
        if self.ssrc != Some(ssrc) {
            if let (Some(pid), Some(last)) = (d.picture_id(), self.last_pid) {
                self.pid_offset = last.wrapping_add(1).wrapping_sub(pid) & PID_MASK;
            }
            if let (Some(t), Some(last)) = (d.tl0_pic_idx(), self.last_tl0) {
                self.tl0_offset = last.wrapping_add(1).wrapping_sub(t);
            }
            self.ssrc = Some(ssrc);
        }
        let pid = d.picture_id().map(|p| p.wrapping_add(self.pid_offset) & PID_MASK);
        let tl0 = d.tl0_pic_idx().map(|t| t.wrapping_add(self.tl0_offset));
        if let Some(p) = pid {
            // Newest in 15-bit sequence space (reordered packets do not move it back).
            if self.last_pid.is_none_or(|l| p.wrapping_sub(l) & PID_MASK < 0x4000) {
                self.last_pid = Some(p);
            }
        }
        if let Some(t) = tl0 {
            if self.last_tl0.is_none_or(|l| t.wrapping_sub(l) < 0x80) {
                self.last_tl0 = Some(t);
            }
        }
        if self.pid_offset == 0 && self.tl0_offset == 0 {
            return None;
        }
        let build = |pid: Option<u16>| {
            let mut b = d.patch();
            if let Some(p) = pid {
                b = b.picture_id(p);
            }
            if let Some(t) = tl0 {
                b = b.tl0_pic_idx(t);
            }
            b.build()
        };
        // A 7-bit PictureID keeps its width: continue modulo 128.
        build(pid).or_else(|_| build(pid.map(|p| p & 0x7f))).ok()
    }
}

#[cfg(test)]
mod vp8_tests {
    use super::Vp8Ids;

    /// A VP8 descriptor with a 15-bit picture id and TL0PICIDX, then one payload byte.
    fn payload(pid: u16, tl0: u8) -> Vec<u8> {
        vec![0x90, 0xe0, 0x80 | (pid >> 8) as u8, pid as u8, tl0, 0x20, 0x00]
    }

    #[test]
    fn picture_ids_continue_across_a_layer_switch() {
        let mut ids = Vp8Ids::default();
        assert!(ids.rewrite(1, &payload(100, 7)).is_none(), "the first layer passes unchanged");
        assert!(ids.rewrite(1, &payload(101, 8)).is_none());
        // Switch to a layer whose numbering is far away: the ids continue at 102 / 9.
        let patch = ids.rewrite(2, &payload(5000, 200));
        assert!(patch.is_some());
        assert_eq!(ids.last_pid, Some(102));
        assert_eq!(ids.last_tl0, Some(9));
        ids.rewrite(2, &payload(5001, 201));
        assert_eq!(ids.last_pid, Some(103));
        // Garbage is left alone.
        assert!(ids.rewrite(2, &[0x90]).is_none());
    }
}
