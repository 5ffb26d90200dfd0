//! Per-operation token buckets emulating SP-API usage plans.

use std::collections::HashMap;

use tokio::time::Instant;

use crate::config::{Operation, SandboxConfig};

/// Classic token bucket. Uses tokio's monotonic clock so tests may run with paused time.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last_refill: Instant,
}

impl TokenBucket {
    /// Buckets start full, like a fresh Amazon usage plan.
    pub fn full(rate: f64, burst: f64, now: Instant) -> Self {
        Self { rate, burst, tokens: burst, last_refill: now }
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    pub fn tokens(&self) -> f64 {
        self.tokens
    }

    fn refill(&mut self, now: Instant, time_scale: f64) {
        let elapsed = now.saturating_duration_since(self.last_refill).as_secs_f64();
        self.tokens = (self.tokens + self.rate * elapsed * time_scale).min(self.burst);
        self.last_refill = now;
    }

    /// Takes one token if available.
    pub fn try_take(&mut self, now: Instant, time_scale: f64) -> bool {
        self.refill(now, time_scale);
        // Tolerance avoids refusing a request when float refill lands a hair below 1.
        if self.tokens >= 1.0 - 1e-9 {
            self.tokens = (self.tokens - 1.0).max(0.0);
            true
        } else {
            false
        }
    }
}

/// All buckets of one sandbox.
#[derive(Debug)]
pub struct Quotas {
    time_scale: f64,
    buckets: HashMap<Operation, TokenBucket>,
}

impl Quotas {
    pub fn new(config: &SandboxConfig) -> Self {
        let now = Instant::now();
        let buckets = Operation::ALL
            .into_iter()
            .filter_map(|op| config.rate_for(op).map(|(r, b)| (op, TokenBucket::full(r, b, now))))
            .collect();
        Self { time_scale: config.time_scale, buckets }
    }

    /// The advertised `x-amzn-RateLimit-Limit` for an operation.
    pub fn rate(&self, op: Operation) -> Option<f64> {
        self.buckets.get(&op).map(TokenBucket::rate)
    }

    /// `true` if the call may proceed (operations without a bucket are unlimited).
    pub fn try_acquire(&mut self, op: Operation) -> bool {
        let scale = self.time_scale;
        match self.buckets.get_mut(&op) {
            Some(bucket) => bucket.try_take(Instant::now(), scale),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let t0 = Instant::now();
        let mut b = TokenBucket::full(2.0, 3.0, t0);
        assert!(b.try_take(t0, 1.0));
        assert!(b.try_take(t0, 1.0));
        assert!(b.try_take(t0, 1.0));
        assert!(!b.try_take(t0, 1.0));
        // 0.25 s at 2/s with scale 2 = 1 token.
        assert!(b.try_take(t0 + Duration::from_millis(250), 2.0));
        assert!(!b.try_take(t0 + Duration::from_millis(250), 2.0));
        // Long idle caps at burst.
        let later = t0 + Duration::from_secs(3600);
        b.try_take(later, 1.0);
        assert!((b.tokens() - 2.0).abs() < 1e-6);
    }
}
