//! Per-source limits on guessing and knocking, across all rooms of a service: after 5 wrong
//! room passwords within a minute, or 10 knocks within a minute, one source address waits
//! until the oldest of them is a minute old. Sans-IO: time comes in; the windows are pruned
//! on the service's tick so idle sources cost nothing.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Wrong passwords one source may send within [`WINDOW`].
pub const PASSWORD_FAILURES: usize = 5;
/// Knocks one source may make within [`WINDOW`].
pub const KNOCKS: usize = 10;
pub const WINDOW: Duration = Duration::from_secs(60);

/// Events per source within the last [`WINDOW`].
#[derive(Debug, Default)]
struct Window {
    by_source: HashMap<IpAddr, VecDeque<Instant>>,
}

impl Window {
    /// `Some(seconds to wait)` when `source` already has `max` events in the window.
    fn blocked(&mut self, source: IpAddr, max: usize, now: Instant) -> Option<u64> {
        let q = self.by_source.get_mut(&source)?;
        while q.front().is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW) {
            q.pop_front();
        }
        if q.len() < max {
            return None;
        }
        let oldest = *q.front()?;
        let left = (oldest + WINDOW).saturating_duration_since(now);
        Some(left.as_secs() + u64::from(left.subsec_nanos() > 0)).map(|s| s.max(1))
    }

    fn record(&mut self, source: IpAddr, max: usize, now: Instant) {
        let q = self.by_source.entry(source).or_default();
        q.push_back(now);
        // only the last `max` matter for the decision
        while q.len() > max {
            q.pop_front();
        }
    }

    fn prune(&mut self, now: Instant) {
        self.by_source.retain(|_, q| q.back().is_some_and(|t| now.saturating_duration_since(*t) < WINDOW));
    }
}

#[derive(Debug, Default)]
pub struct SourceLimits {
    /// Every wrong password so far, for `/metrics`.
    pub password_failures_total: u64,
    password_failures: Window,
    knocks: Window,
}

impl SourceLimits {
    /// Seconds `source` must wait before its next password try, if it is over the limit.
    pub fn password_blocked(&mut self, source: IpAddr, now: Instant) -> Option<u64> {
        self.password_failures.blocked(source, PASSWORD_FAILURES, now)
    }

    pub fn record_password_failure(&mut self, source: IpAddr, now: Instant) {
        self.password_failures_total += 1;
        self.password_failures.record(source, PASSWORD_FAILURES, now);
    }

    /// Seconds `source` must wait before it may knock again, if it is over the limit.
    pub fn knock_blocked(&mut self, source: IpAddr, now: Instant) -> Option<u64> {
        self.knocks.blocked(source, KNOCKS, now)
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
        assert!(l.password_failures.by_source.is_empty());
    }
}
