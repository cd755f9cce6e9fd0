//! Filestore's `/files/` request heads: the tus creation and append checks
//! (`Tus-Resumable`, `Upload-Length`, `Upload-Offset`, `Upload-Metadata` with its base64
//! file name, `Upload-Checksum`, `Content-Type`, `Content-Length`), the room token's place
//! (`Authorization` or `?token=`), download `Range` against several file sizes, and the id
//! in the path.
//!
//! Input: an HTTP/1.1 request head as a browser or tus client sends it (request line, then
//! `Name: value` lines); header lines hyper would refuse are skipped, as hyper would refuse
//! the request before filestore saw it.
#![no_main]

use filestore::files::{download, metadata, name, tus};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

const MAX_FILE_SIZE: u64 = 1 << 30;

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|b| *b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let request_line = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let target = request_line.split(' ').nth(1).unwrap_or("");
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let mut h = HeaderMap::new();
    for line in lines {
        let Some(colon) = line.iter().position(|b| *b == b':') else { continue };
        let (Ok(k), Ok(v)) =
            (HeaderName::from_bytes(&line[..colon]), HeaderValue::from_bytes(line[colon + 1..].trim_ascii()))
        else {
            continue;
        };
        h.append(k, v);
    }

    if let Ok(c) = tus::creation(&h, MAX_FILE_SIZE) {
        assert!(c.length <= MAX_FILE_SIZE);
        assert!(c.raw_metadata.is_ascii());
        assert_eq!(name::check(&c.file_name).ok().as_deref(), Some(c.file_name.as_str()));
        // Download answers carry the name; HEAD answers echo the metadata.
        assert!(HeaderValue::from_str(&name::content_disposition(&c.file_name)).is_ok(), "{:?}", c.file_name);
        assert!(HeaderValue::from_str(&c.raw_metadata).is_ok());
    }
    if let Ok(a) = tus::append(&h) {
        assert!(h.contains_key("upload-offset"), "an offset of {} from nowhere", a.offset);
    }
    if let Some(raw) = h.get("upload-metadata").and_then(|v| v.to_str().ok()) {
        if let Ok(Some(f)) = metadata::parse(Some(raw)).map(|m| m.filename) {
            if name::check(&f).is_ok() {
                assert!(HeaderValue::from_str(&name::content_disposition(&f)).is_ok(), "{f:?}");
            }
        }
    }
    let range = h.get("range").and_then(|v| v.to_str().ok());
    for size in [0, 1, 100, 1 << 20, u64::MAX] {
        if let Ok(Some((a, b))) = download::parse_range(range, size) {
            assert!(a <= b && b < size, "range {a}-{b} of {size}");
        }
    }
    if let Ok(t) = filestore::auth::token_of(&h, query) {
        assert!(!t.is_empty());
        let _ = filestore::auth::verify(b"fuzz secret", t, None);
    }
    if let Some(id) = path.strip_prefix("/files/") {
        if let Ok(id) = filestore::ids::FileId::parse(id) {
            assert_eq!(id.as_str(), path.trim_start_matches("/files/"));
        }
    }
    let shown = filestore::auth::display_name(&request_line);
    assert!(!shown.is_empty() && !shown.chars().any(|c| c.is_control() || name::is_bidi_control(c)));
});
