//! Amazon's token buckets mirrored in DynamoDB, so every concurrent Lambda spends from the same quota.
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use rand::Rng;

use super::dynamo::{n, s, unavailable};
use super::{DynamoStore, keys};
use crate::domain::clock::SharedClock;
use crate::domain::rate::{Bucket, Quota, Take};
use crate::spapi::limiter::{Acquired, LimiterError, RateKey, RateLimiter};

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
}

#[async_trait]
impl RateLimiter for DynamoRateLimiter {
    async fn try_acquire(&self, key: &RateKey, quota: Quota) -> Result<Acquired, LimiterError> {
        let item_key = keys::rate_bucket(&key.seller_id, key.operation.name());
        for _ in 0..MAX_CONTENTION_RETRIES {
            let now = self.clock.now();
            let stored = self.load(&item_key).await?;
            let bucket = stored.map_or_else(|| Bucket::full(quota, now), |(bucket, _)| bucket);
            match bucket.take(quota, now) {
                Take::Wait(wait) => return Ok(Acquired::Wait(wait)),
                Take::Granted(after) => {
                    if self.store(&item_key, after, stored.map(|(_, version)| version)).await? {
                        return Ok(Acquired::Granted);
                    }
                    // Another invocation took a token between our read and write: read again.
                    let pause = rand::rng().random_range(1..=15);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
            }
        }
        Err(LimiterError(format!("rate bucket {} is too contended", keys::describe(&item_key))))
    }

    async fn drain(&self, key: &RateKey, _quota: Quota) -> Result<(), LimiterError> {
        let item_key = keys::rate_bucket(&key.seller_id, key.operation.name());
        self.store
            .client()
            .update_item()
            .table_name(self.store.table())
            .key(keys::PK, s(&item_key.0))
            .key(keys::SK, s(&item_key.1))
            .update_expression("SET tokens = :zero, refilled_at_ms = :now ADD version :one")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(millis(self.clock.now())))
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map(drop)
            .map_err(|e| LimiterError(unavailable(e).to_string()))
    }
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}
