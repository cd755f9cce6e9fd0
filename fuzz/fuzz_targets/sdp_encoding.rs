//! `proto::sdp_encoding`: the compressed session descriptions pages send focus
//! (`encoding="deflate"`). Decoding arbitrary text must end in SDP or an error, never more
//! than the limit; whatever decodes must encode and decode back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proto::sdp_encoding::{decode, decode_deflate, encode_deflate, SdpEncodingError, DEFLATE};

/// Small, so the fuzzer reaches the limit check (the real one is 1 MiB).
const LIMIT: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match decode(Some(DEFLATE), text, LIMIT) {
        Ok(sdp) => {
            assert!(sdp.len() <= LIMIT);
            assert_eq!(decode_deflate(&encode_deflate(&sdp), LIMIT).as_deref(), Ok(sdp.as_str()));
        }
        Err(SdpEncodingError::TooLarge { limit }) => assert_eq!(limit, LIMIT),
        Err(_) => {}
    }
    // The raw bytes as plain SDP, compressed and back: the encoder side of the same path.
    assert_eq!(decode(Some(DEFLATE), &encode_deflate(text), usize::MAX).as_deref(), Ok(text));
});
