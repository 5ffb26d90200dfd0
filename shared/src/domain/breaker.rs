//! A circuit breaker per seller and operation. When Amazon refuses a seller's calls several times in a
//! row (429s our own limiter did not foresee: another app spending the same quota; or 403s even with a
//! fresh token: a role withdrawn), calls stop for a cool-down instead of being sent again and again.
//! The cool-down is the caller's to choose ([`CoolDown`]: for 429s, the time the seller's quota takes to
//! refill whole; for 403s, a minute). After it calls go through again; if Amazon refuses the first of
//! them too, the breaker opens again for twice as long (up to the cool-down's ceiling); any success
//! closes it.
use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Refusals in a row that open a closed breaker.
    pub threshold: u32,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self { threshold: 5 }
    }
}

/// How long a breaker stays open: `first` the first time, doubled each time it opens again, never
/// longer than `longest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoolDown {
    pub first: Duration,
    pub longest: Duration,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Breaker {
    refusals_in_a_row: u32,
    /// How often it opened since it was last closed by a success.
    times_opened: u32,
    open_until: Option<DateTime<Utc>>,
}

impl Breaker {
    /// When calls may be sent again, if the breaker is open at `now`.
    pub fn open_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.open_until.filter(|until| *until > now)
    }

    /// Amazon refused a call; returns when calls may resume if this opened the breaker.
    pub fn refused(
        &mut self,
        now: DateTime<Utc>,
        cool_down: CoolDown,
        policy: &BreakerPolicy,
    ) -> Option<DateTime<Utc>> {
        self.refusals_in_a_row += 1;
        // Once it has opened, the one call let through after the cool-down decides.
        let needed = if self.times_opened > 0 { 1 } else { policy.threshold.max(1) };
        if self.refusals_in_a_row < needed {
            return None;
        }
        let doublings = self.times_opened.min(16);
        let cool_down = (cool_down.first * 2_i32.pow(doublings)).min(cool_down.longest);
        self.times_opened += 1;
        self.refusals_in_a_row = 0;
        let until = now + cool_down;
        self.open_until = Some(until);
        Some(until)
    }

    /// Amazon answered: the seller is well again.
    pub fn succeeded(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + seconds, 0).unwrap()
    }

    fn minute() -> CoolDown {
        CoolDown { first: Duration::seconds(60), longest: Duration::minutes(15) }
    }

    #[test]
    fn opens_after_the_threshold_and_stays_open_for_the_cool_down() {
        let policy = BreakerPolicy::default();
        let mut breaker = Breaker::default();
        for _ in 0..4 {
            assert_eq!(breaker.refused(at(0), minute(), &policy), None);
        }
        assert_eq!(breaker.refused(at(0), minute(), &policy), Some(at(60)));
        assert_eq!(breaker.open_until(at(59)), Some(at(60)));
        assert_eq!(breaker.open_until(at(60)), None, "one call may go through");
    }

    #[test]
    fn a_refusal_after_the_cool_down_reopens_it_for_twice_as_long_up_to_the_ceiling() {
        let policy = BreakerPolicy::default();
        let mut breaker = Breaker::default();
        (0..5).for_each(|_| {
            breaker.refused(at(0), minute(), &policy);
        });
        assert_eq!(breaker.refused(at(60), minute(), &policy), Some(at(180)));
        assert_eq!(breaker.refused(at(180), minute(), &policy), Some(at(420)));
        let mut now = at(420);
        for _ in 0..10 {
            let until = breaker.refused(now, minute(), &policy).unwrap();
            assert!(until - now <= Duration::minutes(15));
            now = until;
        }
    }

    #[test]
    fn a_success_closes_it() {
        let policy = BreakerPolicy::default();
        let mut breaker = Breaker::default();
        (0..4).for_each(|_| {
            breaker.refused(at(0), minute(), &policy);
        });
        breaker.succeeded();
        assert_eq!(breaker.refused(at(0), minute(), &policy), None, "the count starts over");
        (0..4).for_each(|_| {
            breaker.refused(at(0), minute(), &policy);
        });
        assert!(breaker.open_until(at(1)).is_some());
        breaker.succeeded();
        assert_eq!(breaker.open_until(at(1)), None);
    }
}
