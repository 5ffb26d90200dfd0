//! Fulfillment orders (one record per store order Amazon fulfils, under its `sellerFulfillmentOrderId`),
//! the connection's FBA inventory levels, and the two cursors the sync keeps for them.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::dynamo::{DynamoStore, Item, MAX_CONFLICT_RETRIES, Versioned, n, record, s, versioned};
use super::keys;
use crate::domain::fulfillment::{FulfillmentOrder, InventoryLevel};
use crate::domain::ids::{ConnectionId, SellerFulfillmentOrderId, Sku};
use crate::spapi::models::utc_timestamp;

/// Where a connection's reading of Amazon has got to: the next read asks for changes since `since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMark {
    pub since: DateTime<Utc>,
    /// Changes stored at or after this time were not all announced to the store yet (SQS refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unannounced_from: Option<DateTime<Utc>>,
}

/// A `fulfillment.updated` SQS would not take: the connection's next sync queues it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingFulfillmentEvent {
    pub connection_id: ConnectionId,
    pub fulfillment_id: SellerFulfillmentOrderId,
    pub revision: u32,
}

/// A connection's FBA inventory as stored: when it was last read, and each SKU's quantities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InventoryReport {
    pub connection_id: ConnectionId,
    pub read_at: Option<DateTime<Utc>>,
    pub skus: usize,
    pub items: Vec<InventoryLevel>,
}

fn fulfillment_item(order: &FulfillmentOrder, version: u64) -> Result<Item, StoreError> {
    let mut item = record(&keys::fulfillment(&order.id), order)?;
    item.insert("version".into(), n(version));
    item.insert("connection_id".into(), s(order.connection_id.as_str()));
    // In the sparse redaction index while the destination holds PII, like an order.
    if let Some(due) = order.redaction_due() {
        item.insert(keys::REDACTION_PK.into(), s(keys::fulfillment_redaction_partition(&order.id)));
        item.insert(keys::REDACTION_DUE_AT.into(), s(utc_timestamp(due)));
    }
    Ok(item)
}

impl DynamoStore {
    /// Records a new fulfillment order: `false` when one with its id exists already.
    pub async fn create_fulfillment(&self, order: &FulfillmentOrder) -> Result<bool, StoreError> {
        self.put_if(self.put_request(fulfillment_item(order, 1)?, Some(0))?).await
    }

    pub async fn get_fulfillment(
        &self,
        id: &SellerFulfillmentOrderId,
    ) -> Result<Option<Versioned<FulfillmentOrder>>, StoreError> {
        let key = keys::fulfillment(id);
        self.get(&key).await?.map(|item| versioned(&key, &item)).transpose()
    }

    /// Writes the order if it is still at `expected_version`; a conflict otherwise.
    pub async fn save_fulfillment(&self, order: &FulfillmentOrder, expected_version: u64) -> Result<u64, StoreError> {
        self.put(fulfillment_item(order, expected_version + 1)?, Some(expected_version)).await?;
        Ok(expected_version + 1)
    }

    /// Reads the order, applies `change` and writes it back, again on a concurrent write. `change` says
    /// whether it changed anything (nothing is written when not); `None` if there is no such order.
    pub async fn update_fulfillment<F>(
        &self,
        id: &SellerFulfillmentOrderId,
        mut change: F,
    ) -> Result<Option<(FulfillmentOrder, bool)>, StoreError>
    where
        F: FnMut(&mut FulfillmentOrder) -> bool,
    {
        let mut tries = 0;
        loop {
            let Some(mut stored) = self.get_fulfillment(id).await? else { return Ok(None) };
            if !change(&mut stored.value) {
                return Ok(Some((stored.value, false)));
            }
            match self.save_fulfillment(&stored.value, stored.version).await {
                Ok(_) => return Ok(Some((stored.value, true))),
                Err(StoreError::Conflict { .. }) if tries < MAX_CONFLICT_RETRIES => tries += 1,
                Err(e) => return Err(e),
            }
        }
    }

    pub async fn read_mark(&self, key: &keys::Key) -> Result<Option<ReadMark>, StoreError> {
        self.get(key).await?.map(|item| super::dynamo::body(key, &item)).transpose()
    }

    pub async fn save_read_mark(&self, key: &keys::Key, mark: ReadMark) -> Result<(), StoreError> {
        self.put(record(key, &mark)?, None).await
    }

    pub async fn get_inventory_level(
        &self,
        connection: &ConnectionId,
        sku: &Sku,
    ) -> Result<Option<InventoryLevel>, StoreError> {
        let key = keys::inventory_level(connection, sku);
        self.get(&key).await?.map(|item| super::dynamo::body(&key, &item)).transpose()
    }

    pub async fn put_inventory_level(&self, level: &InventoryLevel) -> Result<(), StoreError> {
        self.put(record(&keys::inventory_level(&level.connection_id, &level.sku), level)?, None).await
    }

    pub async fn put_pending_fulfillment_event(&self, pending: &PendingFulfillmentEvent) -> Result<(), StoreError> {
        let key = keys::pending_fulfillment_event(&pending.connection_id, &pending.fulfillment_id);
        self.put(record(&key, pending)?, None).await
    }

    pub async fn list_pending_fulfillment_events(
        &self,
        connection: &ConnectionId,
    ) -> Result<Vec<PendingFulfillmentEvent>, StoreError> {
        let partition = keys::connection_partition(connection);
        self.query_partition(partition, Some(keys::pending_fulfillment_event_prefix())).await
    }

    pub async fn delete_pending_fulfillment_event(&self, pending: &PendingFulfillmentEvent) -> Result<(), StoreError> {
        self.delete(&keys::pending_fulfillment_event(&pending.connection_id, &pending.fulfillment_id)).await
    }

    /// The connection's FBA inventory as last read (one SKU's, or every SKU's), for the read endpoint and
    /// the CLI.
    pub async fn inventory_report(
        &self,
        connection: &ConnectionId,
        sku: Option<&Sku>,
    ) -> Result<InventoryReport, StoreError> {
        let items = match sku {
            Some(sku) => self.get_inventory_level(connection, sku).await?.into_iter().collect(),
            None => self.list_inventory(connection).await?,
        };
        let read_at = self.read_mark(&keys::inventory_cursor(connection)).await?.map(|mark| mark.since);
        Ok(InventoryReport { connection_id: connection.clone(), read_at, skus: items.len(), items })
    }

    /// Every SKU's level of the connection, in SKU order.
    pub async fn list_inventory(&self, connection: &ConnectionId) -> Result<Vec<InventoryLevel>, StoreError> {
        self.query_partition(keys::inventory_partition(connection), None).await
    }
}
