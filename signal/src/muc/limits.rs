//! Per-source limits on guessing and knocking, across all rooms of a service: after 5 wrong
//! room passwords within a minute, or 10 knocks within a minute, one source address waits
//! until the oldest of them is a minute old (a [`Window`] each). Sans-IO: time comes in; the
//! windows are pruned on the service's tick so idle sources cost nothing.

use crate::ratelimit::Window;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Wrong passwords one source may send within [`WINDOW`].
pub const PASSWORD_FAILURES: usize = 5;
/// Knocks one source may make within [`WINDOW`].
pub const KNOCKS: usize = 10;
pub const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct SourceLimits {
    /// Every wrong password so far, for `/metrics`.
    pub password_failures_total: u64,
    password_failures: Window<IpAddr>,
    knocks: Window<IpAddr>,
}

impl Default for SourceLimits {
    fn default() -> Self {
        SourceLimits { password_failures_total: 0, password_failures: Window::new(WINDOW), knocks: Window::new(WINDOW) }
    }
}

impl SourceLimits {
    /// Seconds `source` must wait before its next password try, if it is over the limit.
    pub fn password_blocked(&mut self, source: IpAddr, now: Instant) -> Option<u64> {
        self.password_failures.blocked(&source, PASSWORD_FAILURES, now)
    }

    pub fn record_password_failure(&mut self, source: IpAddr, now: Instant) {
        self.password_failures_total += 1;
        self.password_failures.record(source, PASSWORD_FAILURES, now);
    }

    /// Seconds `source` must wait before it may knock again, if it is over the limit.
    pub fn knock_blocked(&mut self, source: IpAddr, now: Instant) -> Option<u64> {
        self.knocks.blocked(&source, KNOCKS, now)
    }

    pub fn record_knock(&mut self, source: IpAddr, now: Instant) {
        self.knocks.record(source, KNOCKS, now);
    }

    /// Forgets sources whose last event is older than the window.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.password_failures.prune(now);
        self.knocks.prune(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_block_one_source_for_the_rest_of_the_minute() {
        let mut l = SourceLimits::default();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for i in 0..5 {
            assert_eq!(l.password_blocked(a, t0 + Duration::from_secs(i)), None);
            l.record_password_failure(a, t0 + Duration::from_secs(i));
        }
        assert_eq!(l.password_blocked(a, t0 + Duration::from_secs(10)), Some(50));
        assert_eq!(l.password_blocked(b, t0 + Duration::from_secs(10)), None, "another source is not affected");
        assert_eq!(l.password_blocked(a, t0 + Duration::from_secs(60)), None, "the oldest failure left the window");
        l.handle_timeout(t0 + Duration::from_secs(200));
        assert!(l.password_failures.is_empty());
    }
}
