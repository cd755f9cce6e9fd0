//! The `encoding="deflate"` form of a session `<description/>` (see [`crate::session`]):
//! base64 (standard alphabet, padded) of raw DEFLATE (RFC 1951, no zlib/gzip header) of the
//! SDP text. Browsers produce and read it with `CompressionStream('deflate-raw')` /
//! `DecompressionStream('deflate-raw')`.
//!
//! Pure functions, no I/O. Decoding never trusts its input: the decompressed size is capped
//! ([`MAX_SDP_BYTES`]) while inflating, so a deflate bomb is refused with an error after at
//! most that many bytes were produced, and the result must be UTF-8.

use std::io::{Read, Write};

use base64::Engine as _;

/// The `encoding` attribute's value for compressed SDP.
pub const DEFLATE: &str = "deflate";

/// Largest SDP a compressed description may expand to (1 MiB; a 50-participant bridge offer
/// is about 120 KB).
pub const MAX_SDP_BYTES: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SdpEncodingError {
    #[error("unknown SDP encoding {0:?}")]
    UnknownEncoding(String),
    #[error("compressed SDP is not valid base64")]
    Base64,
    #[error("compressed SDP is not valid raw DEFLATE")]
    Deflate,
    #[error("compressed SDP expands beyond {limit} bytes")]
    TooLarge { limit: usize },
    #[error("decompressed SDP is not UTF-8")]
    NotUtf8,
}

/// Raw DEFLATE, then base64: the text of a `<description encoding="deflate">`.
pub fn encode_deflate(sdp: &str) -> String {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(sdp.as_bytes()).expect("writing into a Vec cannot fail");
    let bytes = enc.finish().expect("finishing into a Vec cannot fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The inverse of [`encode_deflate`], refusing more than `limit` decompressed bytes.
pub fn decode_deflate(text: &str, limit: usize) -> Result<String, SdpEncodingError> {
    // XML text may be wrapped; base64 ignores no whitespace by itself.
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(compact.as_bytes()).map_err(|_| SdpEncodingError::Base64)?;
    let mut out = Vec::new();
    // Read one byte past the limit to tell "exactly limit" from "more" (saturating: a limit
    // of usize::MAX means none, not a wrap to zero; found by fuzz/sdp_encoding).
    flate2::read::DeflateDecoder::new(bytes.as_slice())
        .take((limit as u64).saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|_| SdpEncodingError::Deflate)?;
    if out.len() > limit {
        return Err(SdpEncodingError::TooLarge { limit });
    }
    String::from_utf8(out).map_err(|_| SdpEncodingError::NotUtf8)
}

/// Decodes a description's text given its `encoding` attribute (absent = plain SDP).
pub fn decode(encoding: Option<&str>, text: &str, limit: usize) -> Result<String, SdpEncodingError> {
    match encoding {
        None => Ok(text.to_owned()),
        Some(DEFLATE) => decode_deflate(text, limit),
        Some(other) => Err(SdpEncodingError::UnknownEncoding(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_sdp(sections: usize) -> String {
        let mut s = String::from("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
        for i in 0..sections {
            s.push_str(&format!(
                "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:{i}\r\n\
                 a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
                 a=ssrc:{} msid:abcd{i:04} abcd{i:04}-a0\r\n",
                1000 + i
            ));
        }
        s
    }

    #[test]
    fn round_trip_keeps_the_sdp_and_shrinks_it() {
        let sdp = sample_sdp(100);
        let enc = encode_deflate(&sdp);
        assert!(enc.len() * 4 < sdp.len(), "{} -> {}", sdp.len(), enc.len());
        assert_eq!(decode(Some(DEFLATE), &enc, MAX_SDP_BYTES).unwrap(), sdp);
    }

    #[test]
    fn plain_description_passes_through() {
        assert_eq!(decode(None, "v=0\r\n", MAX_SDP_BYTES).unwrap(), "v=0\r\n");
    }

    #[test]
    fn whitespace_in_base64_is_ignored() {
        let enc = encode_deflate("v=0\r\n");
        let wrapped = format!("\n  {}\n", enc);
        assert_eq!(decode_deflate(&wrapped, MAX_SDP_BYTES).unwrap(), "v=0\r\n");
    }

    #[test]
    fn deflate_bomb_is_refused_at_the_limit() {
        // 64 MiB of zeros compresses to ~64 KB; decoding must stop at the limit.
        let zeros = vec![0u8; 64 * 1024 * 1024];
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&zeros).unwrap();
        let text = base64::engine::general_purpose::STANDARD.encode(enc.finish().unwrap());
        assert_eq!(decode_deflate(&text, MAX_SDP_BYTES), Err(SdpEncodingError::TooLarge { limit: MAX_SDP_BYTES }));
    }

    #[test]
    fn exactly_the_limit_is_accepted() {
        let sdp = "a".repeat(1000);
        assert_eq!(decode_deflate(&encode_deflate(&sdp), 1000).unwrap(), sdp);
        assert!(matches!(decode_deflate(&encode_deflate(&sdp), 999), Err(SdpEncodingError::TooLarge { .. })));
    }

    #[test]
    fn the_largest_limit_means_no_limit() {
        let sdp = sample_sdp(3);
        assert_eq!(decode_deflate(&encode_deflate(&sdp), usize::MAX).unwrap(), sdp);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(decode_deflate("not base64!!", MAX_SDP_BYTES), Err(SdpEncodingError::Base64));
        let not_deflate = base64::engine::general_purpose::STANDARD.encode([0xffu8; 32]);
        assert_eq!(decode_deflate(&not_deflate, MAX_SDP_BYTES), Err(SdpEncodingError::Deflate));
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&[0xff, 0xfe, 0x80]).unwrap();
        let bad_utf8 = base64::engine::general_purpose::STANDARD.encode(enc.finish().unwrap());
        assert_eq!(decode_deflate(&bad_utf8, MAX_SDP_BYTES), Err(SdpEncodingError::NotUtf8));
        assert!(matches!(decode(Some("gzip"), "x", 10), Err(SdpEncodingError::UnknownEncoding(_))));
    }

    #[test]
    fn truncated_stream_is_an_error() {
        let enc = encode_deflate(&sample_sdp(10));
        let raw = base64::engine::general_purpose::STANDARD.decode(&enc).unwrap();
        let cut = base64::engine::general_purpose::STANDARD.encode(&raw[..raw.len() / 2]);
        assert_eq!(decode_deflate(&cut, MAX_SDP_BYTES), Err(SdpEncodingError::Deflate));
    }
}
