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
            let wait = std::time::Duration::try_from_secs_f64((1.0 - current.tokens) / quota.rate_per_second);
            Take::Wait(wait.unwrap_or(std::time::Duration::from_secs(3600)))
        }
    }
}

/// Tokens reserved ahead of use: the bucket after the reservation (it may owe tokens, which later
/// takers wait out), when each reserved token may be spent, and when each token asked for but not
/// reserved is expected, were nobody else to take any.
#[derive(Debug, Clone, PartialEq)]
pub struct Reserved {
    pub bucket: Bucket,
    pub slots: Vec<std::time::Duration>,
    pub unreserved: Vec<std::time::Duration>,
}

impl Bucket {
    /// Reserves up to `wanted` tokens, each at the moment the bucket refills it, taking only those due
    /// within `horizon`: a batch of calls is paced in one write, not one contended write per call.
    pub fn reserve(self, quota: Quota, now: DateTime<Utc>, wanted: usize, horizon: std::time::Duration) -> Reserved {
        let current = self.refilled(quota, now);
        let due = |index: usize| {
            let missing = index as f64 + 1.0 - current.tokens;
            if missing <= 0.0 {
                Some(std::time::Duration::ZERO)
            } else if quota.rate_per_second <= 0.0 {
                None
            } else {
                // A rate so low the wait overflows a Duration is as good as never.
                std::time::Duration::try_from_secs_f64(missing / quota.rate_per_second).ok()
            }
        };
        let mut slots = Vec::new();
        let mut unreserved = Vec::new();
        for index in 0..wanted {
            match due(index) {
                Some(at) if at <= horizon && unreserved.is_empty() => slots.push(at),
                Some(at) => unreserved.push(at),
                None => unreserved.push(std::time::Duration::from_secs(3600)),
            }
        }
        let bucket = Bucket { tokens: current.tokens - slots.len() as f64, ..current };
        Reserved { bucket, slots, unreserved }
    }

    /// The bucket with nothing left to spend now; tokens already owed stay owed.
    pub fn emptied(self, quota: Quota, now: DateTime<Utc>) -> Self {
        let current = self.refilled(quota, now);
        Self { tokens: current.tokens.min(0.0), ..current }
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

    #[test]
    fn a_reservation_paces_tokens_at_the_refill_rate_up_to_the_horizon() {
        let quota = Quota::new(2.0, 3.0);
        let full = Bucket::full(quota, t0());
        let reserved = full.reserve(quota, t0(), 8, std::time::Duration::from_secs(2));
        let ms: Vec<u128> = reserved.slots.iter().map(|d| d.as_millis()).collect();
        // Three from the burst at once, then one every half second up to the two-second horizon.
        assert_eq!(ms, [0, 0, 0, 500, 1000, 1500, 2000]);
        assert_eq!(reserved.unreserved.iter().map(|d| d.as_millis()).collect::<Vec<_>>(), [2500]);
        assert_eq!(reserved.bucket.tokens, -4.0, "the bucket owes what it reserved beyond its tokens");

        // The next taker queues behind the reservation.
        let next = reserved.bucket.reserve(quota, t0(), 1, std::time::Duration::from_secs(10));
        assert_eq!(next.slots, [std::time::Duration::from_millis(2500)]);
        assert_eq!(reserved.bucket.take(quota, t0()), Take::Wait(std::time::Duration::from_millis(2500)));
        // Half a second later the owed tokens are half a second nearer.
        let later = reserved.bucket.reserve(quota, t0() + Duration::milliseconds(500), 1, std::time::Duration::ZERO);
        assert!(later.slots.is_empty());
        assert_eq!(later.unreserved, [std::time::Duration::from_millis(2000)]);
    }

    #[test]
    fn emptying_a_bucket_keeps_what_it_owes() {
        let quota = Quota::new(2.0, 3.0);
        let owing = Bucket { tokens: -4.0, refilled_at: t0() };
        assert_eq!(owing.emptied(quota, t0() + Duration::seconds(1)).tokens, -2.0);
        let full = Bucket::full(quota, t0());
        assert_eq!(full.emptied(quota, t0()).tokens, 0.0);
    }
}
