//! Amazon's token buckets mirrored in DynamoDB, so every concurrent Lambda spends from the same quota.
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use rand::Rng;

use super::dynamo::{n, s, unavailable};
use super::{DynamoStore, keys};
use crate::domain::clock::SharedClock;
use crate::domain::rate::{Bucket, Quota, Reserved, Take};
use crate::spapi::limiter::{Acquired, LimiterError, RateKey, RateLimiter, Reservation};

const MAX_CONTENTION_RETRIES: usize = 32;

pub struct DynamoRateLimiter {
    store: DynamoStore,
    clock: SharedClock,
}

impl DynamoRateLimiter {
    pub fn new(store: DynamoStore, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    async fn load(&self, key: &keys::Key) -> Result<Option<(Bucket, u64)>, LimiterError> {
        let item = self.store.get(key).await.map_err(|e| LimiterError(e.to_string()))?;
        let Some(item) = item else { return Ok(None) };
        let number = |name: &str| item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<f64>().ok());
        match (number("tokens"), number("refilled_at_ms"), number("version")) {
            (Some(tokens), Some(at_ms), Some(version)) => {
                let refilled_at = Utc.timestamp_millis_opt(at_ms as i64).single().unwrap_or_else(Utc::now);
                Ok(Some((Bucket { tokens, refilled_at }, version as u64)))
            }
            _ => Err(LimiterError(format!("rate bucket {} is unreadable", keys::describe(key)))),
        }
    }

    /// Writes the bucket only if nobody else wrote it since `read_version` (`None`: it did not exist).
    async fn store(&self, key: &keys::Key, bucket: Bucket, read_version: Option<u64>) -> Result<bool, LimiterError> {
        let request = self
            .store
            .client()
            .put_item()
            .table_name(self.store.table())
            .item(keys::PK, s(&key.0))
            .item(keys::SK, s(&key.1))
            .item("tokens", n(bucket.tokens))
            .item("refilled_at_ms", n(millis(bucket.refilled_at)))
            .item("version", n(read_version.map_or(1, |v| v + 1)))
            .expression_attribute_names("#x", read_version.map_or(keys::PK, |_| "version"));
        let request = match read_version {
            None => request.condition_expression("attribute_not_exists(#x)"),
            Some(version) => request.condition_expression("#x = :v").expression_attribute_values(":v", n(version)),
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(err) => Err(LimiterError(unavailable(err).to_string())),
        }
    }

    /// Reads the bucket, lets `change` decide (a new bucket to write, or none) and writes it only if
    /// nobody wrote it meanwhile; reads again after losing a race.
    async fn modify<R>(
        &self,
        key: &RateKey,
        quota: Quota,
        change: impl Fn(Bucket, DateTime<Utc>) -> (Option<Bucket>, R),
    ) -> Result<R, LimiterError> {
        let item_key = keys::rate_bucket(&key.seller_id, key.operation.name());
        for _ in 0..MAX_CONTENTION_RETRIES {
            // The bucket stores milliseconds: computed from a later instant than it records, it would
            // grant a sliver of time twice on every write.
            let now = whole_millis(self.clock.now());
            let stored = self.load(&item_key).await?;
            let bucket = stored.map_or_else(|| Bucket::full(quota, now), |(bucket, _)| bucket);
            let (after, result) = change(bucket, now);
            let Some(after) = after else { return Ok(result) };
            if self.store(&item_key, after, stored.map(|(_, version)| version)).await? {
                return Ok(result);
            }
            let pause = rand::rng().random_range(1..=15);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        Err(LimiterError(format!("rate bucket {} is too contended", keys::describe(&item_key))))
    }
}

#[async_trait]
impl RateLimiter for DynamoRateLimiter {
    async fn try_acquire(&self, key: &RateKey, quota: Quota) -> Result<Acquired, LimiterError> {
        self.modify(key, quota, |bucket, now| match bucket.take(quota, now) {
            Take::Granted(after) => (Some(after), Acquired::Granted),
            Take::Wait(wait) => (None, Acquired::Wait(wait)),
        })
        .await
    }

    async fn reserve(
        &self,
        key: &RateKey,
        quota: Quota,
        wanted: usize,
        horizon: Duration,
    ) -> Result<Reservation, LimiterError> {
        self.modify(key, quota, |bucket, now| {
            let Reserved { bucket, slots, unreserved } = bucket.reserve(quota, now, wanted, horizon);
            let write = (!slots.is_empty()).then_some(bucket);
            (write, Reservation { slots, unreserved })
        })
        .await
    }

    async fn drain(&self, key: &RateKey, quota: Quota) -> Result<(), LimiterError> {
        self.modify(key, quota, |bucket, now| {
            let emptied = bucket.emptied(quota, now);
            let write = (emptied.tokens < bucket.refilled(quota, now).tokens).then_some(emptied);
            (write, ())
        })
        .await
    }
}

fn whole_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(at.timestamp_millis()).single().unwrap_or(at)
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}
