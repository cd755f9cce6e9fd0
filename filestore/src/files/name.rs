//! File names from clients. A name with a path separator, a control or bidi-override
//! character, or a dot-only name is refused (never silently rewritten), so what is stored is
//! what the uploader sees. On the way out the name goes into `Content-Disposition` as an
//! ASCII fallback plus RFC 5987 `filename*`.

use crate::Error;

/// Longest accepted name, in bytes of UTF-8 (common file system limit).
pub const MAX_NAME_BYTES: usize = 255;

/// Bidi embedding/override/isolate controls, which can make `exe.txt` display as `txt.exe`.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Checks an uploaded file's name; returns it unchanged when it is acceptable.
pub fn check(name: &str) -> Result<String, Error> {
    let bad = |why: &str| Err(Error::BadRequest(format!("file name refused: {why}")));
    if name.trim().is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return bad("longer than 255 bytes");
    }
    if name.contains(['/', '\\']) {
        return bad("contains a path separator");
    }
    if name.chars().any(|c| c.is_control()) {
        return bad("contains a control character");
    }
    if name.chars().any(is_bidi_control) {
        return bad("contains a bidirectional override character");
    }
    if name.trim_matches('.').is_empty() {
        return bad("only dots");
    }
    if name != name.trim() {
        return bad("leading or trailing white space");
    }
    Ok(name.to_string())
}

/// `attachment; filename="<ascii>"; filename*=UTF-8''<percent-encoded>`.
pub fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%' | ';') || c == ' ' { c } else { '_' })
        .collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        // RFC 5987 attr-char
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_tricks() {
        for n in ["../etc/passwd", "a\\b", "..", ".", "a\nb", "a\0b", "x\u{202E}gpj.exe", "", "  ", " a"] {
            assert!(check(n).is_err(), "{n:?} accepted");
        }
        assert_eq!(check("Résumé 2024.pdf").unwrap(), "Résumé 2024.pdf");
        assert!(check(&"a".repeat(256)).is_err());
    }

    #[test]
    fn disposition_is_ascii_and_rfc5987() {
        let d = content_disposition("naïve \"quote\";.txt");
        assert!(d.is_ascii());
        assert_eq!(d, "attachment; filename=\"na_ve _quote__.txt\"; filename*=UTF-8''na%C3%AFve%20%22quote%22%3B.txt");
    }
}
