//! The records of order fulfillment feeds: each connection's backlog of packages waiting for a feed,
//! its open feeds and the summaries of settled ones, and which Amazon feed ids our records hold.
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::dynamo::{DynamoStore, Versioned, body, expiring_record, item_key, n, package_item, record, versioned};
use super::keys::{self, Key};
use crate::domain::feed::FeedRecord;
use crate::domain::ids::{AmazonOrderId, ConnectionId, PackageId, SellerId};
use crate::domain::shipment::{Package, PackageState};

/// Amazon keeps feed results 28 days; so do we.
const SETTLED_FEED_RETENTION: Duration = Duration::days(28);
/// Longer than any feed stays open.
const AMAZON_FEED_CLAIM_RETENTION: Duration = Duration::days(90);

/// A package waiting for its connection's next feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedBacklogEntry {
    pub order_id: AmazonOrderId,
    pub package_id: PackageId,
    pub since: DateTime<Utc>,
}

impl FeedBacklogEntry {
    fn key(&self, connection: &ConnectionId) -> Key {
        keys::feed_backlog(connection, self.since.timestamp_millis(), &self.order_id, &self.package_id)
    }
}

/// How a feed ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FeedEnd {
    /// Amazon processed it; its report settled each package.
    Done,
    /// Amazon rejected it as a whole.
    Fatal,
    /// Amazon cancelled it: its packages went back to the backlog.
    Cancelled,
    /// None of its packages was still waiting for it when it was packed.
    NotSent,
    /// It could not settle its packages; they went back to the call path.
    HandedBack,
}

/// What became of a feed, once every package in it is settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettledFeed {
    pub record_id: String,
    pub connection_id: ConnectionId,
    /// Amazon's id; `None` for a feed that never reached Amazon.
    pub feed_id: Option<String>,
    pub ended: FeedEnd,
    /// Why it was handed back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub packages: u32,
    pub confirmed: u32,
    pub failed: u32,
    pub created_at: DateTime<Utc>,
    pub settled_at: DateTime<Utc>,
}

impl DynamoStore {
    /// Moves a package to its connection's feed backlog, if it is still at `version` (a concurrent
    /// delivery claimed, changed or settled it otherwise): its new version, or `None`.
    pub async fn divert_to_feed(
        &self,
        connection: &ConnectionId,
        package: &Package,
        version: u64,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError> {
        let mut diverted = package.clone();
        diverted.claimed_at = None;
        diverted.state = PackageState::AwaitingFeed { since: now };
        let entry =
            FeedBacklogEntry { order_id: package.order_id.clone(), package_id: package.package_id.clone(), since: now };
        let items = vec![
            TransactWriteItem::builder()
                .put(self.put_request(package_item(&diverted, version + 1)?, Some(version))?)
                .build(),
            TransactWriteItem::builder().put(self.put_request(record(&entry.key(connection), &entry)?, None)?).build(),
        ];
        Ok(self.transact(items).await?.is_none().then_some(version + 1))
    }

    /// The connection's feed backlog (at most `limit` of it), oldest first.
    pub async fn feed_backlog(
        &self,
        connection: &ConnectionId,
        limit: Option<usize>,
    ) -> Result<Vec<FeedBacklogEntry>, StoreError> {
        let limit = limit.map(|l| i32::try_from(l).unwrap_or(i32::MAX));
        let items = self.query_items(keys::feed_backlog_partition(connection), None, true, limit).await?;
        items.iter().map(|item| body(&item_key(item), item)).collect()
    }

    /// Takes a package out of the backlog without packing it (it is no longer waiting for a feed).
    pub async fn drop_from_feed_backlog(
        &self,
        connection: &ConnectionId,
        entry: &FeedBacklogEntry,
    ) -> Result<(), StoreError> {
        self.delete(&entry.key(connection)).await
    }

    /// Marks a backlogged package as message `message_id` of feed `record_id` and takes it out of the
    /// backlog, if it is still at `version`: `false` otherwise.
    pub async fn mark_in_feed(
        &self,
        connection: &ConnectionId,
        package: &Package,
        version: u64,
        record_id: &str,
        message_id: u32,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let PackageState::AwaitingFeed { since } = package.state else { return Ok(false) };
        let entry =
            FeedBacklogEntry { order_id: package.order_id.clone(), package_id: package.package_id.clone(), since };
        let mut marked = package.clone();
        marked.state = PackageState::InFeed { feed: record_id.to_owned(), message_id, at: now };
        let items = vec![
            TransactWriteItem::builder()
                .put(self.put_request(package_item(&marked, version + 1)?, Some(version))?)
                .build(),
            TransactWriteItem::builder().delete(self.delete_request(&entry.key(connection))?).build(),
        ];
        Ok(self.transact(items).await?.is_none())
    }

    /// Takes Amazon's feed `feed_id` for our record `record_id`, unless a record (of any connection of
    /// the seller) took it first: `false` then.
    pub async fn claim_amazon_feed(
        &self,
        seller: &SellerId,
        feed_id: &str,
        record_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let claim = serde_json::json!({ "record_id": record_id, "at": now });
        let item = expiring_record(&keys::amazon_feed(seller, feed_id), &claim, now + AMAZON_FEED_CLAIM_RETENTION)?;
        let put = self.put_request(item, Some(0))?;
        if self.put_if(put).await? {
            return Ok(true);
        }
        // Ours already, from a run that died before saying so in the record.
        let held = self.get(&keys::amazon_feed(seller, feed_id)).await?;
        let holder = held.and_then(|item| item.get("body")?.as_s().ok().cloned());
        Ok(holder
            .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
            .is_some_and(|claim| claim["record_id"] == record_id))
    }

    /// The connection's feeds not settled yet, oldest first.
    pub async fn open_feeds(&self, connection: &ConnectionId) -> Result<Vec<Versioned<FeedRecord>>, StoreError> {
        let items = self
            .query_items(keys::connection_partition(connection), Some(keys::open_feed_prefix()), true, None)
            .await?;
        items.iter().map(|item| versioned(&item_key(item), item)).collect()
    }

    /// Writes a feed record at `expected_version` (0: a new one).
    pub async fn save_feed(&self, feed: &FeedRecord, expected_version: u64) -> Result<u64, StoreError> {
        let mut item = record(&keys::open_feed(&feed.connection_id, &feed.id), feed)?;
        item.insert("version".into(), n(expected_version + 1));
        self.put(item, Some(expected_version)).await?;
        Ok(expected_version + 1)
    }

    /// Replaces an open feed by its summary, once every package in it is settled.
    pub async fn close_feed(&self, feed: &FeedRecord, version: u64, summary: &SettledFeed) -> Result<(), StoreError> {
        let open = keys::open_feed(&feed.connection_id, &feed.id);
        let settled = keys::settled_feed(&feed.connection_id, &feed.id);
        let delete = self
            .delete_builder(&open)
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected", n(version))
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let items = vec![
            TransactWriteItem::builder().delete(delete).build(),
            TransactWriteItem::builder()
                .put(self.put_request(
                    expiring_record(&settled, summary, summary.settled_at + SETTLED_FEED_RETENTION)?,
                    None,
                )?)
                .build(),
        ];
        match self.transact(items).await? {
            None => Ok(()),
            Some(_) => Err(StoreError::Conflict { key: keys::describe(&open) }),
        }
    }

    /// The connection's most recently created settled feed.
    pub async fn latest_settled_feed(&self, connection: &ConnectionId) -> Result<Option<SettledFeed>, StoreError> {
        let items = self
            .query_items(keys::connection_partition(connection), Some(keys::settled_feed_prefix()), false, Some(1))
            .await?;
        items.first().map(|item| body(&item_key(item), item)).transpose()
    }

    /// Every settled feed of the connection kept, newest first.
    pub async fn settled_feeds(&self, connection: &ConnectionId) -> Result<Vec<SettledFeed>, StoreError> {
        let items = self
            .query_items(keys::connection_partition(connection), Some(keys::settled_feed_prefix()), false, None)
            .await?;
        items.iter().map(|item| body(&item_key(item), item)).collect()
    }
}
