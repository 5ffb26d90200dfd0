//! The records of order feeds: each connection's backlog of packages (and of cancellations and
//! refunds) waiting for a feed, its open feeds and the summaries of settled ones, and which Amazon
//! feed ids our records hold.
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::dynamo::{
    DynamoStore, Item, SortKeys, Versioned, body, expiring_record, item_key, n, package_item, record, versioned,
};
use super::keys::{self, Key};
use crate::domain::adjustment::Adjustment;
use crate::domain::feed::{FeedItem, FeedRecord, ORDER_FULFILLMENT_FEED};
use crate::domain::ids::{AmazonOrderId, ConnectionId, SellerId};
use crate::domain::shipment::{Package, PackageState};

/// Amazon keeps feed results 28 days; so do we.
const SETTLED_FEED_RETENTION: Duration = Duration::days(28);
/// Longer than any feed stays open.
const AMAZON_FEED_CLAIM_RETENTION: Duration = Duration::days(90);

/// A package, cancellation or refund waiting for its connection's next feed of its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedBacklogEntry {
    pub order_id: AmazonOrderId,
    /// [`FeedItem::item_id`].
    #[serde(alias = "package_id")]
    pub item: String,
    pub since: DateTime<Utc>,
}

impl FeedBacklogEntry {
    pub(super) fn of(item: &impl FeedItem, since: DateTime<Utc>) -> Self {
        Self { order_id: item.order_id().clone(), item: item.item_id().to_owned(), since }
    }

    pub(super) fn key(&self, connection: &ConnectionId, feed_type: &str) -> Key {
        keys::feed_backlog(connection, feed_type, self.since.timestamp_millis(), &self.order_id, &self.item)
    }
}

/// What an order feed carries, as the table stores it.
pub trait StoredFeedItem: FeedItem {
    /// Its table item at `version`.
    fn stored(&self, version: u64) -> Result<Item, StoreError>;
}

impl StoredFeedItem for Package {
    fn stored(&self, version: u64) -> Result<Item, StoreError> {
        package_item(self, version)
    }
}

impl StoredFeedItem for Adjustment {
    fn stored(&self, version: u64) -> Result<Item, StoreError> {
        super::adjustments::adjustment_item(self, version)
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
    /// Which feed (`POST_ORDER_FULFILLMENT_DATA` for summaries kept before there were others).
    #[serde(default = "fulfillment_feed")]
    pub feed_type: String,
    /// Its messages: packages, cancellations or refunds.
    pub packages: u32,
    /// Messages Amazon accepted.
    pub confirmed: u32,
    pub failed: u32,
    pub created_at: DateTime<Utc>,
    pub settled_at: DateTime<Utc>,
}

fn fulfillment_feed() -> String {
    ORDER_FULFILLMENT_FEED.into()
}

impl DynamoStore {
    /// Moves a package to its connection's order fulfillment backlog, if it is still at `version` (a
    /// concurrent delivery claimed, changed or settled it otherwise): its new version, or `None`.
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
        self.enter_feed_backlog(connection, ORDER_FULFILLMENT_FEED, &diverted, version).await
    }

    /// Writes `waiting` (in its awaiting-feed state) over its version `version` together with its entry
    /// in the connection's backlog for `feed_type`: its new version, or `None` if it moved on meanwhile.
    pub async fn enter_feed_backlog<T: StoredFeedItem>(
        &self,
        connection: &ConnectionId,
        feed_type: &str,
        waiting: &T,
        version: u64,
    ) -> Result<Option<u64>, StoreError> {
        let since = waiting.awaiting_feed().ok_or_else(|| StoreError::Corrupt {
            key: format!("{} of order {}", waiting.item_id(), waiting.order_id()),
            message: "entering a feed backlog without waiting for a feed".into(),
        })?;
        let entry = FeedBacklogEntry::of(waiting, since);
        let items = vec![
            TransactWriteItem::builder().put(self.put_request(waiting.stored(version + 1)?, Some(version))?).build(),
            TransactWriteItem::builder()
                .put(self.put_request(record(&entry.key(connection, feed_type), &entry)?, None)?)
                .build(),
        ];
        Ok(self.transact(items).await?.is_none().then_some(version + 1))
    }

    /// The connection's backlog for `feed_type` (at most `limit` of it), oldest first.
    pub async fn feed_backlog(
        &self,
        connection: &ConnectionId,
        feed_type: &str,
        limit: Option<usize>,
    ) -> Result<Vec<FeedBacklogEntry>, StoreError> {
        let limit = limit.map(|l| i32::try_from(l).unwrap_or(i32::MAX));
        let partition = keys::feed_backlog_partition(connection, feed_type);
        let items = self.query_items(partition, SortKeys::All, true, limit).await?;
        items.iter().map(|item| body(&item_key(item), item)).collect()
    }

    /// Takes an entry out of the backlog without packing it (it is no longer waiting for a feed).
    pub async fn drop_from_feed_backlog(
        &self,
        connection: &ConnectionId,
        feed_type: &str,
        entry: &FeedBacklogEntry,
    ) -> Result<(), StoreError> {
        self.delete(&entry.key(connection, feed_type)).await
    }

    /// Writes `marked` (now in a feed) over its version `version`, which waited in the backlog for
    /// `feed_type` since `since`, and takes it out of the backlog: `false` if it moved on meanwhile.
    pub async fn mark_in_feed<T: StoredFeedItem>(
        &self,
        connection: &ConnectionId,
        feed_type: &str,
        marked: &T,
        version: u64,
        since: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let entry = FeedBacklogEntry::of(marked, since);
        let items = vec![
            TransactWriteItem::builder().put(self.put_request(marked.stored(version + 1)?, Some(version))?).build(),
            TransactWriteItem::builder().delete(self.delete_request(&entry.key(connection, feed_type))?).build(),
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
            .query_items(keys::connection_partition(connection), SortKeys::Prefix(keys::open_feed_prefix()), true, None)
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

    /// The connection's settled feeds created at `since` or later (their record ids start with their
    /// creation time), newest first.
    pub async fn settled_feeds_since(
        &self,
        connection: &ConnectionId,
        since: DateTime<Utc>,
    ) -> Result<Vec<SettledFeed>, StoreError> {
        let prefix = keys::settled_feed_prefix();
        let from = format!("{prefix}{}", FeedRecord::id_prefix(since));
        let sort_keys = SortKeys::Between(from, format!("{prefix}~"));
        let items = self.query_items(keys::connection_partition(connection), sort_keys, false, None).await?;
        items.iter().map(|item| body(&item_key(item), item)).collect()
    }

    /// Every settled feed of the connection kept, newest first.
    pub async fn settled_feeds(&self, connection: &ConnectionId) -> Result<Vec<SettledFeed>, StoreError> {
        let items = self
            .query_items(
                keys::connection_partition(connection),
                SortKeys::Prefix(keys::settled_feed_prefix()),
                false,
                None,
            )
            .await?;
        items.iter().map(|item| body(&item_key(item), item)).collect()
    }
}
