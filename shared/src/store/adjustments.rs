//! Cancellations and refunds the store asked for, each under its order: placed together with what
//! it books on the order and its entry in the connection's feed backlog, and settled together with
//! what Amazon's refusal gives back.
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::StoreError;
use super::dynamo::{DynamoStore, Item, Versioned, n, order_item, record, versioned};
use super::feeds::FeedBacklogEntry;
use super::keys;
use crate::domain::adjustment::Adjustment;
use crate::domain::feed::FeedItem;
use crate::domain::ids::{AmazonOrderId, EventId};
use crate::domain::order::Order;

/// What became of placing an adjustment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceAdjustment {
    Placed,
    /// Its event was placed before.
    Duplicate,
}

pub(super) fn adjustment_item(adjustment: &Adjustment, version: u64) -> Result<Item, StoreError> {
    let mut item = record(&keys::adjustment(&adjustment.order_id, &adjustment.id), adjustment)?;
    item.insert("version".into(), n(version));
    Ok(item)
}

impl DynamoStore {
    /// Records a new adjustment (waiting for a feed), the order as it books it, and its backlog entry,
    /// in one transaction. A conflict: the order changed since it was read.
    pub async fn place_adjustment(
        &self,
        order: &Versioned<Order>,
        adjustment: &Adjustment,
    ) -> Result<PlaceAdjustment, StoreError> {
        let since = adjustment.awaiting_feed().ok_or_else(|| StoreError::Corrupt {
            key: keys::describe(&keys::adjustment(&adjustment.order_id, &adjustment.id)),
            message: "a new adjustment must wait for a feed".into(),
        })?;
        let entry = FeedBacklogEntry::of(adjustment, since);
        let backlog_key = entry.key(&adjustment.connection_id, adjustment.kind.feed_type());
        let put =
            |item, version| self.put_request(item, version).map(|put| TransactWriteItem::builder().put(put).build());
        let items = vec![
            put(adjustment_item(adjustment, 1)?, Some(0))?,
            put(order_item(&order.value, order.version + 1)?, Some(order.version))?,
            put(record(&backlog_key, &entry)?, None)?,
        ];
        match self.transact(items).await? {
            None => Ok(PlaceAdjustment::Placed),
            Some(failed) if failed.first() == Some(&true) => Ok(PlaceAdjustment::Duplicate),
            Some(_) => Err(StoreError::Conflict { key: keys::describe(&keys::order(order.value.id())) }),
        }
    }

    pub async fn get_adjustment(
        &self,
        order_id: &AmazonOrderId,
        id: &EventId,
    ) -> Result<Option<Versioned<Adjustment>>, StoreError> {
        let key = keys::adjustment(order_id, id);
        self.get(&key).await?.map(|item| versioned(&key, &item)).transpose()
    }

    /// The order's adjustments, oldest event id first.
    pub async fn list_adjustments(&self, order_id: &AmazonOrderId) -> Result<Vec<Adjustment>, StoreError> {
        self.query_partition(keys::order(order_id).0, Some(keys::adjustment_prefix())).await
    }

    pub async fn save_adjustment(&self, adjustment: &Adjustment, expected_version: u64) -> Result<u64, StoreError> {
        self.put(adjustment_item(adjustment, expected_version + 1)?, Some(expected_version)).await?;
        Ok(expected_version + 1)
    }

    /// Writes an adjustment's outcome with `effect` on its order in one transaction (Amazon's refusal
    /// gives back what it booked). A conflict: the adjustment moved on since `version`.
    pub async fn settle_adjustment(
        &self,
        adjustment: &Adjustment,
        version: u64,
        effect: fn(&mut Order, &Adjustment),
    ) -> Result<u64, StoreError> {
        let key = keys::adjustment(&adjustment.order_id, &adjustment.id);
        let put = self.put_request(adjustment_item(adjustment, version + 1)?, Some(version))?;
        let written = self.write_with_order(&adjustment.order_id, &key, put, |order| {
            effect(order, adjustment);
            Ok::<(), std::convert::Infallible>(())
        });
        match written.await? {
            Ok(()) => Ok(version + 1),
            Err(never) => match never {},
        }
    }
}
