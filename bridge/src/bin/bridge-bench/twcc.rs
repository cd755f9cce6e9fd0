//! Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-
//! extensions-01) from the cheap participant, so that the bridge's send-side bandwidth
//! estimate toward it grows as it does toward a str0m participant and the bridge forwards
//! the same layers. Every RTP datagram's transport-cc number and kernel arrival time are
//! recorded (no decryption: header extensions are in the clear); every 50 ms, as str0m
//! does, one feedback packet reports them, with 2-bit status vector chunks only.
//!
//! Malformed or missing extensions are skipped; nothing here can panic on input.

use std::time::SystemTime;

use crate::srtp::{extend_seq, find_extension};

/// At most this many packet statuses per feedback (after a long gap, older ones are
/// dropped: the bridge has given up on them anyway).
const MAX_STATUS: u64 = 1000;

pub struct TwccFeedback {
    /// The transport-cc extension id on packets from the bridge.
    id: u8,
    /// Our feedback's sender SSRC: one str0m never uses, so the SRTCP nonces stay unique.
    pub sender_ssrc: u32,
    epoch: SystemTime,
    max: Option<u64>,
    reported: Option<u64>,
    /// (extended transport-cc number, arrival in µs since `epoch`) since the last feedback.
    pending: Vec<(u64, i64)>,
    count: u8,
    /// SRTCP index of our feedback packets.
    pub srtcp_index: u32,
}

impl TwccFeedback {
    pub fn new(id: u8, sender_ssrc: u32) -> TwccFeedback {
        TwccFeedback {
            id,
            sender_ssrc,
            epoch: SystemTime::now(),
            max: None,
            reported: None,
            pending: Vec::with_capacity(256),
            count: 0,
            srtcp_index: 0,
        }
    }

    /// Records one received RTP datagram (header already checked by `RtpView::parse`).
    pub fn record(&mut self, packet: &[u8], arrived: Option<SystemTime>) {
        let Some(&[a, b]) = find_extension(packet, self.id) else { return };
        let seq = u16::from_be_bytes([a, b]);
        let ext = match self.max {
            None => u64::from(seq),
            Some(m) => extend_seq(m, seq),
        };
        self.max = Some(self.max.map_or(ext, |m| m.max(ext)));
        if self.reported.is_some_and(|r| ext <= r) {
            return; // reported as lost already
        }
        let at = arrived.unwrap_or_else(SystemTime::now);
        let us = at.duration_since(self.epoch).map_or(0, |d| d.as_micros() as i64);
        self.pending.push((ext, us));
    }

    /// Writes the RTCP transport feedback packet (clear, to be sealed) for what arrived
    /// since the last one into `out`; false when nothing did.
    pub fn build(&mut self, out: &mut Vec<u8>) -> bool {
        if self.pending.is_empty() {
            return false;
        }
        self.pending.sort_unstable_by_key(|p| p.0);
        self.pending.dedup_by_key(|p| p.0);
        let (Some(&(lowest, _)), Some(&(last, _))) = (self.pending.first(), self.pending.last()) else { return false };
        let mut first = self.reported.map_or(lowest, |r| r + 1);
        if last + 1 - first > MAX_STATUS {
            first = last + 1 - MAX_STATUS;
            self.pending.retain(|p| p.0 >= first);
        }
        let Some(&(_, first_arrival)) = self.pending.first() else { return false };
        let reference = first_arrival.max(0) / 64_000;
        let mut prev_tick = reference * 256;
        let mut statuses = Vec::with_capacity((last + 1 - first) as usize);
        let mut deltas = Vec::with_capacity(self.pending.len() * 2);
        let mut received = self.pending.iter().peekable();
        for seq in first..=last {
            let Some(&&(s, us)) = received.peek() else { break };
            if s != seq {
                statuses.push(0u16);
                continue;
            }
            received.next();
            let tick = us.max(0) / 250;
            let delta = tick - prev_tick;
            prev_tick = tick;
            if (0..=255).contains(&delta) {
                statuses.push(1);
                deltas.push(delta as u8);
            } else {
                statuses.push(2);
                deltas.extend_from_slice(&(delta.clamp(i16::MIN.into(), i16::MAX.into()) as i16).to_be_bytes());
            }
        }
        out.clear();
        out.extend_from_slice(&[0x80 | 15, 205, 0, 0]);
        out.extend_from_slice(&self.sender_ssrc.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes()); // media SSRC: unused for transport-wide feedback
        out.extend_from_slice(&(first as u16).to_be_bytes());
        out.extend_from_slice(&(statuses.len() as u16).to_be_bytes());
        out.extend_from_slice(&((reference as u32) & 0x00ff_ffff).to_be_bytes()[1..]);
        out.push(self.count);
        for chunk in statuses.chunks(7) {
            let mut word = 0xc000u16; // status vector chunk, two bits per packet
            for (i, s) in chunk.iter().enumerate() {
                word |= s << (12 - 2 * i);
            }
            out.extend_from_slice(&word.to_be_bytes());
        }
        out.extend_from_slice(&deltas);
        let pad = (4 - out.len() % 4) % 4;
        if pad > 0 {
            out.extend(std::iter::repeat_n(0, pad - 1));
            out.push(pad as u8);
            out[0] |= 0x20;
        }
        let words = (out.len() / 4 - 1) as u16;
        out[2..4].copy_from_slice(&words.to_be_bytes());
        self.reported = Some(last);
        self.pending.clear();
        self.count = self.count.wrapping_add(1);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn packet(twcc_seq: u16) -> Vec<u8> {
        let mut p = vec![0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0xbe, 0xde, 0, 1, 0x31];
        p.extend_from_slice(&twcc_seq.to_be_bytes());
        p.push(0);
        p.extend_from_slice(&[0; 20]);
        p
    }

    #[test]
    fn feedback_reports_received_and_lost_packets_with_their_deltas() {
        let mut f = TwccFeedback::new(3, 77);
        let t0 = f.epoch + Duration::from_millis(130);
        f.record(&packet(10), Some(t0));
        f.record(&packet(12), Some(t0 + Duration::from_micros(500)));
        f.record(&packet(11), Some(t0 + Duration::from_millis(200)));
        f.record(&[0x80; 12], Some(t0)); // no extension: ignored
        let mut out = Vec::new();
        assert!(f.build(&mut out));
        assert_eq!(out.len() % 4, 0);
        assert_eq!(usize::from(u16::from_be_bytes([out[2], out[3]])), out.len() / 4 - 1);
        assert_eq!(&out[12..16], &[0, 10, 0, 3], "base 10, three statuses");
        assert_eq!(&out[16..19], &[0, 0, 2], "reference time 128 ms");
        // 10 small (2 ms after the reference), 11 large (+200 ms), 12 negative (-199.5 ms)
        assert_eq!(&out[20..22], &[0xda, 0x00], "statuses 1, 2, 2");
        assert_eq!(out[22], 8);
        assert_eq!(&out[23..25], &800i16.to_be_bytes());
        assert_eq!(&out[25..27], &(-798i16).to_be_bytes());
        assert!(!f.build(&mut out), "nothing new");
        f.record(&packet(11), Some(t0)); // late: already reported
        f.record(&packet(15), Some(t0 + Duration::from_millis(250)));
        assert!(f.build(&mut out));
        assert_eq!(&out[12..16], &[0, 13, 0, 3], "13 and 14 lost, 15 received");
        assert_eq!(out[19], 1, "feedback count");
    }
}
