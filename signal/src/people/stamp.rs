//! The stamps signal puts on every one-to-one stanza it hands the archive: a XEP-0359
//! `<stanza-id/>` that orders by time and is unique (also across restarts), and the XEP-0203
//! `<delay/>` time in RFC 3339.
//!
//! Ids are 24 hex digits: milliseconds since 1970 (12), a counter within the millisecond
//! (4), and a random salt drawn at start (8). They never go backwards while signal runs, even
//! when the clock does; two signal processes started in the same millisecond would have to
//! draw the same 32-bit salt to collide.

use std::time::{SystemTime, UNIX_EPOCH};

pub struct Stamper {
    last_ms: u64,
    seq: u32,
    salt: String,
}

/// One stanza's id and time.
pub struct Stamp {
    pub id: String,
    /// `2025-01-31T12:00:00.123Z`
    pub time: String,
}

impl Default for Stamper {
    fn default() -> Self {
        Stamper::new()
    }
}

impl Stamper {
    pub fn new() -> Self {
        let salt = proto::secrets::random_hex(4).unwrap_or_else(|_| format!("{:08x}", std::process::id()));
        Stamper { last_ms: 0, seq: 0, salt }
    }

    pub fn next(&mut self, now: SystemTime) -> Stamp {
        let ms = now.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        if ms > self.last_ms {
            self.last_ms = ms;
            self.seq = 0;
        } else {
            self.seq += 1;
            if self.seq > 0xffff {
                self.last_ms += 1;
                self.seq = 0;
            }
        }
        Stamp { id: format!("{:012x}{:04x}{}", self.last_ms, self.seq, self.salt), time: rfc3339_ms(ms) }
    }
}

/// Milliseconds since 1970 as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub fn rfc3339_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", rest / 3600, rest / 60 % 60, rest % 60, ms % 1000)
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_in_rfc3339() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339_ms(1_767_225_599_999), "2025-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_ms(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
    }

    #[test]
    fn ids_grow_within_a_millisecond_and_when_the_clock_goes_back() {
        let mut s = Stamper::new();
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_000);
        let a = s.next(t).id;
        let b = s.next(t).id;
        let c = s.next(t - Duration::from_secs(5)).id;
        let d = s.next(t + Duration::from_millis(1)).id;
        assert!(a < b && b < c && c < d, "{a} {b} {c} {d}");
        assert_eq!(a.len(), 24);
    }
}
