//! Keyframe detection on RTP payloads, so that a simulcast layer switch happens exactly at
//! the start of a keyframe of the target layer. Parsing only reads the payload; truncated
//! or malformed payloads are simply "not a keyframe start".

use str0m::format::Codec;
use str0m::rtp::Vp8Descriptor;

/// True when `payload` (RTP payload, no header) starts a keyframe of `codec`.
pub fn starts_keyframe(codec: Codec, payload: &[u8]) -> bool {
    match codec {
        Codec::Vp8 => Vp8Descriptor::parse(payload).is_ok_and(|d| d.starts_keyframe(payload)),
        Codec::H264 => h264_starts_keyframe(payload),
        _ => false,
    }
}

/// H.264 (RFC 6184): an IDR slice (5) or SPS (7) as a single NAL unit, inside a STAP-A
/// aggregate (24), or at the start of a FU-A fragment (28).
fn h264_starts_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else { return false };
    let is_key = |t: u8| t == 5 || t == 7;
    match first & 0x1f {
        24 => {
            let mut i = 1;
            while i + 2 < payload.len() {
                let len = usize::from(payload[i]) << 8 | usize::from(payload[i + 1]);
                if len == 0 || i + 2 + len > payload.len() {
                    return false;
                }
                if is_key(payload[i + 2] & 0x1f) {
                    return true;
                }
                i += 2 + len;
            }
            false
        }
        28 => payload.get(1).is_some_and(|fu| fu & 0x80 != 0 && is_key(fu & 0x1f)),
        t => is_key(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vp8_and_h264_keyframes_are_recognised_and_garbage_is_not() {
        // VP8: descriptor S=1 PID=0, no extension; frame tag P bit 0 = keyframe
        assert!(starts_keyframe(Codec::Vp8, &[0x10, 0x00, 0x01]));
        assert!(!starts_keyframe(Codec::Vp8, &[0x10, 0x01, 0x01]));
        assert!(!starts_keyframe(Codec::Vp8, &[0x00, 0x00]));
        assert!(!starts_keyframe(Codec::Vp8, &[]));
        assert!(!starts_keyframe(Codec::Vp8, &[0x90]));
        // H.264
        assert!(starts_keyframe(Codec::H264, &[0x65, 0x88]));
        assert!(starts_keyframe(Codec::H264, &[0x18, 0x00, 0x02, 0x67, 0x42, 0x00, 0x01, 0x68]));
        assert!(starts_keyframe(Codec::H264, &[0x7c, 0x85]));
        assert!(!starts_keyframe(Codec::H264, &[0x7c, 0x05]));
        assert!(!starts_keyframe(Codec::H264, &[0x18, 0xff, 0xff, 0x67]));
        assert!(!starts_keyframe(Codec::H264, &[0x41]));
    }
}

/// The frame height a VP8 keyframe announces (RFC 6386 §9.1), read from the first packet of
/// the keyframe. `None` for anything else.
pub fn vp8_keyframe_height(payload: &[u8]) -> Option<u16> {
    let b0 = *payload.first()?;
    let mut i = 1;
    if b0 & 0x80 != 0 {
        let x = *payload.get(i)?;
        i += 1;
        if x & 0x80 != 0 {
            let p = *payload.get(i)?;
            i += if p & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            i += 1;
        }
        if x & 0x30 != 0 {
            i += 1;
        }
    }
    let frame = payload.get(i..i + 10)?;
    if frame[0] & 0x01 != 0 || frame[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    Some(u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff)
}

#[cfg(test)]
mod height_tests {
    #[test]
    fn vp8_keyframe_height_is_read_from_the_frame_header() {
        let p = [0x90, 0x80, 0x05, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01];
        assert_eq!(super::vp8_keyframe_height(&p), Some(360));
        assert_eq!(super::vp8_keyframe_height(&p[..8]), None);
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;

    /// Random and truncated payloads never panic the payload parsers of the forwarding path.
    #[test]
    fn random_payloads_never_panic_the_parsers() {
        let mut x: u64 = 0x853c49e6748fea9b;
        let mut ids = crate::rewriter::Vp8Ids::default();
        for i in 0..20_000u32 {
            let len = (x % 64) as usize;
            let mut p = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                p.push(x as u8);
            }
            let _ = starts_keyframe(Codec::Vp8, &p);
            let _ = starts_keyframe(Codec::H264, &p);
            let _ = vp8_keyframe_height(&p);
            let _ = ids.rewrite(i % 3, &p);
        }
    }
}
