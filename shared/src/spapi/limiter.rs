//! The one rate-limiter interface every SP-API call goes through.
use std::time::Duration;

use async_trait::async_trait;

use super::Operation;
use crate::domain::ids::SellerId;
use crate::domain::rate::Quota;

/// Amazon meters quota per selling partner, application and operation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RateKey {
    pub seller_id: SellerId,
    pub operation: Operation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// A token was spent: send now.
    Granted,
    /// No token: the next is expected after this long.
    Wait(Duration),
}

/// Tokens reserved for a batch of calls ([`RateLimiter::reserve`]), as waits from the moment of the
/// reservation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reservation {
    /// When each reserved token may be spent, earliest first.
    pub slots: Vec<Duration>,
    /// When each token asked for beyond the horizon is expected, were nobody else to take any.
    pub unreserved: Vec<Duration>,
}

#[derive(Debug, thiserror::Error)]
#[error("rate limiter unavailable: {0}")]
pub struct LimiterError(pub String);

#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Tries to spend one token of `quota` for `key`. Never sleeps.
    async fn try_acquire(&self, key: &RateKey, quota: Quota) -> Result<Acquired, LimiterError>;

    /// Reserves up to `wanted` tokens of `quota` for `key`, each at the time the bucket refills it, as
    /// many as fall within `horizon`. Never sleeps; the caller waits for each slot.
    async fn reserve(
        &self,
        key: &RateKey,
        quota: Quota,
        wanted: usize,
        horizon: Duration,
    ) -> Result<Reservation, LimiterError>;

    /// Tells the limiter that Amazon throttled a call it had granted (our view of the bucket was too
    /// generous, e.g. another app spends the same quota): the bucket is emptied.
    async fn drain(&self, key: &RateKey, quota: Quota) -> Result<(), LimiterError>;
}

/// A limiter that never limits. Only for tests that must show what happens without one.
pub struct Unlimited;

#[async_trait]
impl RateLimiter for Unlimited {
    async fn try_acquire(&self, _key: &RateKey, _quota: Quota) -> Result<Acquired, LimiterError> {
        Ok(Acquired::Granted)
    }

    async fn reserve(
        &self,
        _key: &RateKey,
        _quota: Quota,
        wanted: usize,
        _horizon: Duration,
    ) -> Result<Reservation, LimiterError> {
        Ok(Reservation { slots: vec![Duration::ZERO; wanted], unreserved: Vec::new() })
    }

    async fn drain(&self, _key: &RateKey, _quota: Quota) -> Result<(), LimiterError> {
        Ok(())
    }
}
