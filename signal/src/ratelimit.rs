//! Per-connection token buckets: a connection that sends faster than its budget gets a
//! `policy-violation` stream error; others are never slowed by it. And the sliding
//! [`Window`] behind every "n per period" limit (wrong passwords and guest secrets per
//! source, knocks, messages and call proposals per person). Sans-IO: time comes in.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Sustained stanzas per second.
    pub stanzas_per_sec: f64,
    /// Stanzas allowed in a burst.
    pub stanza_burst: f64,
    /// Sustained bytes per second.
    pub bytes_per_sec: f64,
    /// Bytes allowed in a burst.
    pub byte_burst: f64,
}

#[derive(Debug)]
pub struct RateLimit {
    budget: Budget,
    stanzas: f64,
    bytes: f64,
    last: Instant,
}

impl RateLimit {
    pub fn new(budget: Budget, now: Instant) -> Self {
        RateLimit { budget, stanzas: budget.stanza_burst, bytes: budget.byte_burst, last: now }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.stanzas = (self.stanzas + dt * self.budget.stanzas_per_sec).min(self.budget.stanza_burst);
        self.bytes = (self.bytes + dt * self.budget.bytes_per_sec).min(self.budget.byte_burst);
    }

    /// Accounts `n` received bytes; false when over budget.
    pub fn handle_bytes(&mut self, now: Instant, n: usize) -> bool {
        self.refill(now);
        self.bytes -= n as f64;
        self.bytes >= 0.0
    }

    /// Accounts one received stanza; false when over budget.
    pub fn handle_stanza(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.stanzas -= 1.0;
        self.stanzas >= 0.0
    }
}

/// Events per key (a source address, a person) within the last `span`: the sliding window
/// behind every "n per minute" limit of signal.
#[derive(Debug)]
pub struct Window<K> {
    span: Duration,
    by_key: HashMap<K, VecDeque<Instant>>,
}

impl<K: Hash + Eq> Window<K> {
    pub fn new(span: Duration) -> Self {
        Window { span, by_key: HashMap::new() }
    }

    /// `Some(seconds to wait)` when `key` already has `max` events in the window.
    pub fn blocked(&self, key: &K, max: usize, now: Instant) -> Option<u64> {
        let span = self.span;
        let q = self.by_key.get(key)?;
        let mut live = q.iter().filter(|t| now.saturating_duration_since(**t) < span);
        let oldest = *live.next()?;
        if 1 + live.count() < max {
            return None;
        }
        let left = (oldest + span).saturating_duration_since(now);
        Some(left.as_secs() + u64::from(left.subsec_nanos() > 0)).map(|s| s.max(1))
    }

    pub fn record(&mut self, key: K, max: usize, now: Instant) {
        let span = self.span;
        let q = self.by_key.entry(key).or_default();
        while q.front().is_some_and(|t| now.saturating_duration_since(*t) >= span) {
            q.pop_front();
        }
        q.push_back(now);
        // only the last `max` matter for the decision
        while q.len() > max {
            q.pop_front();
        }
    }

    /// Forgets keys whose last event left the window (on the tick, so idle keys cost nothing).
    pub fn prune(&mut self, now: Instant) {
        let span = self.span;
        self.by_key.retain(|_, q| q.back().is_some_and(|t| now.saturating_duration_since(*t) < span));
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(
            Budget { stanzas_per_sec: 10.0, stanza_burst: 5.0, bytes_per_sec: 1e9, byte_burst: 1e9 },
            t0,
        );
        for _ in 0..5 {
            assert!(r.handle_stanza(t0));
        }
        assert!(!r.handle_stanza(t0));
        assert!(r.handle_stanza(t0 + Duration::from_millis(500)));
    }
}
