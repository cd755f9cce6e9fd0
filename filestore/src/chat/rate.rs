//! Per-connection rate limit: a token bucket, sans-IO (time is passed in), so a flood from
//! one connection is refused message by message without slowing anyone else.

use std::time::Instant;

pub struct RateLimiter {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    pub fn new(rate_per_sec: f64, burst: f64, now: Instant) -> Self {
        RateLimiter { rate: rate_per_sec, burst, tokens: burst, last: now }
    }

    /// Whether a message arriving at `now` may pass; takes one token if so.
    pub fn handle_message(&mut self, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(5.0, 3.0, t0);
        assert!(r.handle_message(t0) && r.handle_message(t0) && r.handle_message(t0));
        assert!(!r.handle_message(t0));
        assert!(r.handle_message(t0 + Duration::from_millis(200)));
        assert!(!r.handle_message(t0 + Duration::from_millis(210)));
    }
}
