//! Per-connection token buckets: a connection that sends faster than its budget gets a
//! `policy-violation` stream error; others are never slowed by it. Sans-IO: time comes in.

use std::time::Instant;

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
