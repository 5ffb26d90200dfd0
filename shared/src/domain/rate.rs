//! Token-bucket arithmetic, the same model Amazon uses for its usage plans.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A rate (tokens per second) and a burst (bucket size).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quota {
    pub rate_per_second: f64,
    pub burst: f64,
}

impl Quota {
    pub const fn new(rate_per_second: f64, burst: f64) -> Self {
        Self { rate_per_second, burst }
    }

    pub fn scaled(self, factor: f64) -> Self {
        Self { rate_per_second: self.rate_per_second * factor, ..self }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub tokens: f64,
    pub refilled_at: DateTime<Utc>,
}

/// The outcome of asking for one token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Take {
    /// Granted; the bucket as it is after the take.
    Granted(Bucket),
    /// Empty; a token will be there after this long.
    Wait(std::time::Duration),
}

impl Bucket {
    pub fn full(quota: Quota, now: DateTime<Utc>) -> Self {
        Self { tokens: quota.burst, refilled_at: now }
    }

    pub fn refilled(self, quota: Quota, now: DateTime<Utc>) -> Self {
        let elapsed = (now - self.refilled_at).num_microseconds().unwrap_or(i64::MAX).max(0) as f64 / 1e6;
        Self {
            tokens: (self.tokens + elapsed * quota.rate_per_second).min(quota.burst),
            refilled_at: now.max(self.refilled_at),
        }
    }

    pub fn take(self, quota: Quota, now: DateTime<Utc>) -> Take {
        let current = self.refilled(quota, now);
        if current.tokens >= 1.0 {
            Take::Granted(Bucket { tokens: current.tokens - 1.0, ..current })
        } else if quota.rate_per_second <= 0.0 {
            Take::Wait(std::time::Duration::from_secs(3600))
        } else {
            Take::Wait(std::time::Duration::from_secs_f64((1.0 - current.tokens) / quota.rate_per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    fn granted(take: Take) -> Bucket {
        match take {
            Take::Granted(bucket) => bucket,
            Take::Wait(wait) => panic!("expected a token, told to wait {wait:?}"),
        }
    }

    #[test]
    fn a_full_bucket_grants_its_burst_then_asks_to_wait() {
        let quota = Quota::new(2.0, 3.0);
        let mut bucket = Bucket::full(quota, t0());
        for _ in 0..3 {
            bucket = granted(bucket.take(quota, t0()));
        }
        assert_eq!(bucket.take(quota, t0()), Take::Wait(std::time::Duration::from_millis(500)));
    }

    #[test]
    fn tokens_refill_at_the_rate_up_to_the_burst() {
        let quota = Quota::new(2.0, 3.0);
        let empty = Bucket { tokens: 0.0, refilled_at: t0() };
        assert_eq!(empty.refilled(quota, t0() + Duration::milliseconds(500)).tokens, 1.0);
        assert_eq!(empty.refilled(quota, t0() + Duration::seconds(60)).tokens, 3.0);
    }

    #[test]
    fn a_clock_going_backwards_never_adds_tokens() {
        let quota = Quota::new(2.0, 3.0);
        let bucket = Bucket { tokens: 0.5, refilled_at: t0() };
        let refilled = bucket.refilled(quota, t0() - Duration::seconds(10));
        assert_eq!(refilled.tokens, 0.5);
        assert_eq!(refilled.refilled_at, t0());
    }

    #[test]
    fn search_orders_quota_waits_three_minutes_per_token() {
        let quota = Quota::new(0.0056, 20.0);
        let empty = Bucket { tokens: 0.0, refilled_at: t0() };
        let Take::Wait(wait) = empty.take(quota, t0()) else { panic!("empty bucket granted a token") };
        assert_eq!(wait.as_secs(), 178);
    }
}
