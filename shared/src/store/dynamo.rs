use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::builders::DeleteBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::keys::{self, Key};
use crate::domain::connection::{Connection, ConnectionState};
use crate::domain::ids::{AmazonOrderId, ConnectionId, EventId, PackageId, SellerFulfillmentOrderId, TrackingNumber};
use crate::domain::order::{AmazonOrder, Order};
use crate::domain::pii;
use crate::domain::shipment::{Package, PackageState};
use crate::domain::status::{ImportDecision, OrderStatus};
use crate::domain::view::OrderEvent;
use crate::spapi::models::utc_timestamp;

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) const MAX_CONFLICT_RETRIES: usize = 8;
const EVENT_RETENTION: Duration = Duration::days(7);
/// Amazon's Valid Tracking Rate looks back 30 days; a tracking number reused after half a year is not
/// the same parcel.
const TRACKING_RETENTION: Duration = Duration::days(180);
/// Deliveries are remembered longer than SQS keeps a message (14 days).
const OUTBOUND_RETENTION: Duration = Duration::days(15);

/// A record with the version it was read at, for optimistic locking.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

/// Where the sync of one connection stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CursorRecord {
    /// Every order updated before this instant is stored.
    pub committed_until: DateTime<Utc>,
    /// The window being read, if a previous run stopped in the middle of it.
    pub window: Option<SyncWindow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncWindow {
    /// Where reading stands: everything of the window before it is stored.
    pub updated_after: DateTime<Utc>,
    /// The window's end.
    pub updated_before: DateTime<Utc>,
    /// The end of the slice being read from `updated_after` (none: the window's end). Windows saved
    /// before slicing have none, and finish by following their token.
    #[serde(default)]
    pub slice_end: Option<DateTime<Utc>>,
    pub pagination_token: Option<String>,
    /// When Amazon gave us `pagination_token`; windows saved before this was kept count as fresh.
    #[serde(default)]
    pub token_received_at: Option<DateTime<Utc>>,
    pub pages_read: u32,
}

impl SyncWindow {
    pub fn open(updated_after: DateTime<Utc>, updated_before: DateTime<Utc>) -> Self {
        Self {
            updated_after,
            updated_before,
            slice_end: None,
            pagination_token: None,
            token_received_at: None,
            pages_read: 0,
        }
    }

    /// The same slice, to be read again from its first page.
    pub fn without_token(self) -> Self {
        Self { pagination_token: None, token_received_at: None, ..self }
    }

    /// Where the slice being read ends.
    pub fn read_until(&self) -> DateTime<Utc> {
        self.slice_end.unwrap_or(self.updated_before).min(self.updated_before)
    }

    /// Whether the saved token is too old to be sent to Amazon.
    pub fn token_expired(&self, now: DateTime<Utc>, lifetime: Duration) -> bool {
        self.pagination_token.is_some() && self.token_received_at.is_some_and(|at| now - at > lifetime)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SyncLease {
    holder: String,
    until: DateTime<Utc>,
}

/// An order Amazon sent that we could not read (or whose stored copy we could not read): what the
/// operator sees and what later runs retry. `payload` is Amazon's JSON with every PII value replaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnreadableRecord {
    pub connection_id: ConnectionId,
    pub order_id: String,
    pub reason: String,
    pub payload: Option<serde_json::Value>,
    pub first_seen: DateTime<Utc>,
    pub last_attempt: DateTime<Utc>,
    pub attempts: u32,
}

/// An order event stored but not yet queued: identifiers only, like the message it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingWebhook {
    pub connection_id: ConnectionId,
    pub order_id: AmazonOrderId,
    pub event: OrderEvent,
    pub version: DateTime<Utc>,
}

/// An order event the merchant's webhook endpoint did not accept after every retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookFailure {
    pub connection_id: ConnectionId,
    pub event_id: String,
    /// The order an order event is about (none for fulfillment and inventory events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<AmazonOrderId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_id: Option<SellerFulfillmentOrderId>,
    /// The endpoint's status, or why the request failed; never the payload.
    pub reason: String,
    pub attempts: u32,
    pub at: DateTime<Utc>,
}

/// Login with Amazon rejected the app's client id or secret (`invalid_client`): no connection can call
/// Amazon until the operator stores the app's current secret. One for the whole stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppCredentialsAlert {
    pub since: DateTime<Utc>,
    /// Amazon's words, and the connection whose call met them.
    pub detail: String,
}

impl AppCredentialsAlert {
    /// Amazon's words `detail`, met on a call for `connection` at `now`.
    pub fn met(now: DateTime<Utc>, detail: &str, connection: &ConnectionId) -> Self {
        Self { since: now, detail: format!("{detail} (met calling Amazon for connection {connection})") }
    }

    pub const HINT: &'static str = "Login with Amazon rejected the app's client id or secret (invalid_client): \
        the app's LWA client secret was rotated or is wrong. Copy the current one from the app's page in \
        Seller Central (Develop Apps > View > LWA credentials) and store it with \
        `sellerbridge app set-credentials`; every connection resumes with its next run.";
}

/// The record of one inbound webhook event: its identity and what it asked for, never its payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    pub event_id: EventId,
    pub order_id: AmazonOrderId,
    pub package_id: PackageId,
    pub received_at: DateTime<Utc>,
    pub enqueued: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertOutcome {
    Inserted,
    /// Amazon's newer copy replaced ours; `was` is the order's status before.
    Updated {
        was: OrderStatus,
    },
    /// We already hold this version or a newer one.
    Unchanged,
    /// Not imported: Amazon's order is not one we keep (or only update, and we do not hold it).
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ShopifyOrderLink {
    amazon_order_id: AmazonOrderId,
    linked_at: DateTime<Utc>,
}

/// The order that first shipped with a tracking number, on one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingClaim {
    pub order_id: AmazonOrderId,
    pub claimed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacePackage {
    Placed,
    DuplicateEvent,
    DuplicatePackage,
}

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    // ---- connections ----

    pub async fn put_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        let key = keys::connection(&connection.id);
        let mut item = record(&key, connection)?;
        let state = match connection.state {
            ConnectionState::Active => "active",
            ConnectionState::NeedsReauthorization { .. } => "needs_reauthorization",
            ConnectionState::Disabled { .. } => "disabled",
        };
        item.insert("state".into(), s(state));
        item.insert("credentials_version".into(), n(connection.credentials_version));
        self.put(item, None).await
    }

    /// Marks the connection as needing re-authorization, from its stored copy (not the caller's, which
    /// may predate an operator's change), unless a new refresh token was stored since the one Amazon
    /// refused (`credentials_version`). Whether it was marked.
    pub async fn flag_needs_reauthorization(
        &self,
        id: &ConnectionId,
        credentials_version: u32,
        since: DateTime<Utc>,
        reason: String,
    ) -> Result<bool, StoreError> {
        let Some(stored) = self.get_connection(id).await? else { return Ok(false) };
        if stored.credentials_version != credentials_version {
            return Ok(false);
        }
        let flagged = stored.needing_reauthorization(since, reason);
        let key = keys::connection(id);
        let mut item = record(&key, &flagged)?;
        item.insert("state".into(), s("needs_reauthorization"));
        item.insert("credentials_version".into(), n(credentials_version));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#v) OR #v = :v")
            .expression_attribute_names("#v", "credentials_version")
            .expression_attribute_values(":v", n(credentials_version))
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        // `false`: a new refresh token was stored meanwhile.
        self.put_if(put).await
    }

    /// Deletes the connection's record (its orders and their records stay).
    pub async fn delete_connection(&self, id: &ConnectionId) -> Result<(), StoreError> {
        self.delete(&keys::connection(id)).await
    }

    pub async fn get_connection(&self, id: &ConnectionId) -> Result<Option<Connection>, StoreError> {
        let key = keys::connection(id);
        self.get(&key).await?.map(|item| body(&key, &item)).transpose()
    }

    pub async fn list_connections(&self) -> Result<Vec<Connection>, StoreError> {
        self.query_partition(keys::connections_partition(), None).await
    }

    // ---- sync cursors ----

    pub async fn load_cursor(&self, connection: &ConnectionId) -> Result<Option<Versioned<CursorRecord>>, StoreError> {
        let key = keys::sync_cursor(connection);
        self.get(&key).await?.map(|item| versioned(&key, &item)).transpose()
    }

    /// Saves the cursor if nobody moved it since it was read at `expected_version` (0: must be new). A
    /// conflict means an operator reset the import date, or another run moved on: the caller stops.
    pub async fn save_cursor(
        &self,
        connection: &ConnectionId,
        cursor: &CursorRecord,
        expected_version: u64,
    ) -> Result<u64, StoreError> {
        let mut item = record(&keys::sync_cursor(connection), cursor)?;
        item.insert("version".into(), n(expected_version + 1));
        let put = if expected_version == 0 {
            // Cursors saved before they were versioned read as version 0 and may be taken over.
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#pk) OR attribute_not_exists(#version)")
                .expression_attribute_names("#pk", keys::PK)
                .expression_attribute_names("#version", "version")
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?
        } else {
            self.put_request(item, Some(expected_version))?
        };
        self.put_checked(put).await?;
        Ok(expected_version + 1)
    }

    /// Replaces the cursor whatever a running sync holds; that run's next save fails and it stops.
    pub async fn replace_cursor(&self, connection: &ConnectionId, cursor: &CursorRecord) -> Result<u64, StoreError> {
        self.retry_conflicts(|| async {
            let version = self.load_cursor(connection).await?.map_or(0, |stored| stored.version);
            self.save_cursor(connection, cursor, version).await
        })
        .await
    }

    /// Takes the connection's sync lease for `holder` until `until`, unless another holder's lease is
    /// still running. Returns whether it was taken.
    pub async fn acquire_sync_lease(
        &self,
        connection: &ConnectionId,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let key = keys::sync_lease(connection);
        let mut item = record(&key, &SyncLease { holder: holder.to_owned(), until })?;
        item.insert("lease_until".into(), n(until.timestamp_millis()));
        item.insert("lease_holder".into(), s(holder));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #until < :now OR #holder = :holder")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#until", "lease_until")
            .expression_attribute_names("#holder", "lease_holder")
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .expression_attribute_values(":holder", s(holder))
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        self.put_if(put).await
    }

    /// Gives the lease back, if `holder` still has it.
    pub async fn release_sync_lease(&self, connection: &ConnectionId, holder: &str) -> Result<(), StoreError> {
        let release = self
            .delete_builder(&keys::sync_lease(connection))
            .condition_expression("#holder = :holder")
            .expression_attribute_names("#holder", "lease_holder")
            .expression_attribute_values(":holder", s(holder));
        // Not held by `holder` (any more): not its to give back.
        self.delete_if(release).await.map(drop)
    }

    // ---- orders Amazon sent that could not be read ----

    pub async fn put_unreadable(&self, unreadable: &UnreadableRecord) -> Result<(), StoreError> {
        self.put(record(&keys::unreadable_order(&unreadable.connection_id, &unreadable.order_id), unreadable)?, None)
            .await
    }

    pub async fn get_unreadable(
        &self,
        connection: &ConnectionId,
        order_id: &str,
    ) -> Result<Option<UnreadableRecord>, StoreError> {
        let key = keys::unreadable_order(connection, order_id);
        self.get(&key).await?.map(|item| body(&key, &item)).transpose()
    }

    pub async fn list_unreadable(&self, connection: &ConnectionId) -> Result<Vec<UnreadableRecord>, StoreError> {
        self.query_partition(keys::connection_partition(connection), Some(keys::unreadable_prefix())).await
    }

    pub async fn delete_unreadable(&self, connection: &ConnectionId, order_id: &str) -> Result<(), StoreError> {
        self.delete(&keys::unreadable_order(connection, order_id)).await
    }

    // ---- Amazon's notifications ----

    /// Whether the notification was handled already.
    pub async fn notification_handled(&self, notification_id: &str) -> Result<bool, StoreError> {
        self.exists(&keys::notification(notification_id)).await
    }

    /// Records a handled notification, so a second delivery is recognised for a week.
    pub async fn record_notification(&self, notification_id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let key = keys::notification(notification_id);
        self.put(expiring_record(&key, &serde_json::json!({ "handled_at": at }), at + EVENT_RETENTION)?, None).await
    }

    // ---- outbound webhooks ----

    /// Whether the merchant's endpoint accepted this event already.
    pub async fn webhook_delivered(&self, event_id: &str) -> Result<bool, StoreError> {
        self.exists(&keys::outbound_delivery(event_id)).await
    }

    /// Records an event the merchant's endpoint accepted, so another delivery of its message is not sent.
    pub async fn record_webhook_delivered(&self, event_id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let key = keys::outbound_delivery(event_id);
        let delivered = serde_json::json!({ "delivered_at": at });
        self.put(expiring_record(&key, &delivered, at + OUTBOUND_RETENTION)?, None).await
    }

    /// An event the merchant's endpoint kept refusing: kept for the operator, its message dead-lettered.
    pub async fn put_webhook_failure(&self, failure: &WebhookFailure) -> Result<(), StoreError> {
        self.put(record(&keys::webhook_failure(&failure.connection_id, &failure.event_id), failure)?, None).await
    }

    pub async fn list_webhook_failures(&self, connection: &ConnectionId) -> Result<Vec<WebhookFailure>, StoreError> {
        self.query_partition(keys::connection_partition(connection), Some(keys::webhook_failure_prefix())).await
    }

    /// Keeps an order event SQS would not take, for the connection's next sync to queue.
    pub async fn put_pending_webhook(&self, pending: &PendingWebhook) -> Result<(), StoreError> {
        let event_id = pending.event.id(&pending.order_id, pending.version);
        self.put(record(&keys::pending_webhook(&pending.connection_id, &event_id), pending)?, None).await
    }

    pub async fn list_pending_webhooks(&self, connection: &ConnectionId) -> Result<Vec<PendingWebhook>, StoreError> {
        self.query_partition(keys::connection_partition(connection), Some(keys::pending_webhook_prefix())).await
    }

    pub async fn delete_pending_webhook(&self, pending: &PendingWebhook) -> Result<(), StoreError> {
        let event_id = pending.event.id(&pending.order_id, pending.version);
        self.delete(&keys::pending_webhook(&pending.connection_id, &event_id)).await
    }

    // ---- the app's credentials ----

    /// Records that Login with Amazon rejected the app's credentials; an alert already raised keeps
    /// its first time.
    pub async fn raise_app_credentials_alert(&self, alert: &AppCredentialsAlert) -> Result<(), StoreError> {
        match self.put(record(&keys::app_credentials_alert(), alert)?, Some(0)).await {
            Err(StoreError::Conflict { .. }) => Ok(()),
            other => other,
        }
    }

    pub async fn app_credentials_alert(&self) -> Result<Option<AppCredentialsAlert>, StoreError> {
        let key = keys::app_credentials_alert();
        self.get(&key).await?.map(|item| body(&key, &item)).transpose()
    }

    /// The operator stored the app's current credentials.
    pub async fn clear_app_credentials_alert(&self) -> Result<(), StoreError> {
        self.delete(&keys::app_credentials_alert()).await
    }

    // ---- orders ----

    pub async fn get_order(&self, id: &AmazonOrderId) -> Result<Option<Versioned<Order>>, StoreError> {
        let key = keys::order(id);
        self.get(&key).await?.map(|item| versioned(&key, &item)).transpose()
    }

    /// Writes the order if nobody else did since it was read at `expected_version` (0: must be new).
    pub async fn save_order(&self, order: &Order, expected_version: u64) -> Result<u64, StoreError> {
        let item = order_item(order, expected_version + 1)?;
        self.put(item, Some(expected_version)).await?;
        Ok(expected_version + 1)
    }

    /// Stores Amazon's view of an order: new orders are inserted, newer versions replace older ones while
    /// keeping our bookkeeping, and an older or equal `lastUpdatedTime` never overwrites what we hold.
    pub async fn upsert_from_amazon(
        &self,
        connection: &Connection,
        amazon: AmazonOrder,
        decision: ImportDecision,
        now: DateTime<Utc>,
    ) -> Result<UpsertOutcome, StoreError> {
        let policy = |order: &mut Order| {
            order.local.retention = connection.options.retention;
            order.local.tracking_rules.clone_from(&connection.options.tracking_rules);
        };
        let (status, insert_allowed) = match decision {
            ImportDecision::Import(status) => (status, true),
            ImportDecision::UpdateIfKnown(status) => (status, false),
            ImportDecision::Skip => return Ok(UpsertOutcome::Skipped),
        };
        self.retry_conflicts(|| async {
            match self.get_order(&amazon.id).await? {
                None if !insert_allowed => Ok(UpsertOutcome::Skipped),
                None => {
                    let mut order = Order::import(connection.id.clone(), status, amazon.clone(), now);
                    policy(&mut order);
                    self.save_order(&order, 0).await.map(|_| UpsertOutcome::Inserted)
                }
                Some(stored) if stored.value.amazon.updated_at >= amazon.updated_at => Ok(UpsertOutcome::Unchanged),
                Some(Versioned { mut value, version }) => {
                    let was = value.status;
                    value.absorb_update(status, amazon.clone());
                    policy(&mut value);
                    self.save_order(&value, version).await.map(|_| UpsertOutcome::Updated { was })
                }
            }
        })
        .await
    }

    /// Read-modify-write of one order, retried on concurrent updates; nothing is written if `change`
    /// changes nothing. `None` if there is no such order.
    pub async fn update_order(
        &self,
        id: &AmazonOrderId,
        change: impl Fn(&mut Order),
    ) -> Result<Option<Order>, StoreError> {
        self.retry_conflicts(|| async {
            let Some(Versioned { mut value, version }) = self.get_order(id).await? else { return Ok(None) };
            let before = value.clone();
            change(&mut value);
            if value != before {
                self.save_order(&value, version).await?;
            }
            Ok(Some(value))
        })
        .await
    }

    // ---- packages and inbound events ----

    /// Records the event, the package and the order's reservation for it in one transaction, so a
    /// package is either fully accepted or not at all. `replacing` is the version of a failed package
    /// this one replaces under the same package id; without it the package must be new.
    pub async fn place_package(
        &self,
        order: &Versioned<Order>,
        package: &Package,
        replacing: Option<u64>,
        event: &EventRecord,
        tracking: Option<&ConnectionId>,
    ) -> Result<PlacePackage, StoreError> {
        let event_item = expiring_record(&keys::event(&event.event_id), event, event.received_at + EVENT_RETENTION)?;
        let package_version = replacing.unwrap_or(0);
        let mut writes = vec![
            self.put_request(event_item, Some(0))?,
            self.put_request(package_item(package, package_version + 1)?, Some(package_version))?,
            self.put_request(order_item(&order.value, order.version + 1)?, Some(order.version))?,
        ];
        if let Some(connection) = tracking {
            writes.push(self.tracking_claim_request(connection, package, event.received_at)?);
        }
        match self.transact_puts(writes).await? {
            None => Ok(PlacePackage::Placed),
            Some(failed) => match failed.as_slice() {
                [true, ..] => Ok(PlacePackage::DuplicateEvent),
                [_, true, ..] => Ok(PlacePackage::DuplicatePackage),
                _ => Err(StoreError::Conflict { key: keys::describe(&keys::order(order.value.id())) }),
            },
        }
    }

    /// Remembers that a Shopify order came from an Amazon order (its `source_identifier`).
    pub async fn link_shopify_order(
        &self,
        shopify_order_id: u64,
        amazon_order_id: &AmazonOrderId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let link = ShopifyOrderLink { amazon_order_id: amazon_order_id.clone(), linked_at: at };
        self.put(record(&keys::shopify_order(shopify_order_id), &link)?, None).await
    }

    /// The Amazon order a Shopify order came from, if its order webhook told us.
    pub async fn shopify_order(&self, shopify_order_id: u64) -> Result<Option<AmazonOrderId>, StoreError> {
        let key = keys::shopify_order(shopify_order_id);
        let link: Option<ShopifyOrderLink> = self.get(&key).await?.map(|item| body(&key, &item)).transpose()?;
        Ok(link.map(|link| link.amazon_order_id))
    }

    /// The order that first shipped with `tracking` on this connection, if any. A claim past its
    /// retention is gone, whether or not DynamoDB has deleted it yet (it may take days).
    pub async fn tracking_claim(
        &self,
        connection: &ConnectionId,
        tracking: &TrackingNumber,
        now: DateTime<Utc>,
    ) -> Result<Option<TrackingClaim>, StoreError> {
        let key = keys::tracking(connection, tracking);
        let Some(item) = self.get(&key).await? else { return Ok(None) };
        let expired = item
            .get(keys::TTL_ATTRIBUTE)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<i64>().ok())
            .is_some_and(|expires_at| expires_at <= now.timestamp());
        if expired { Ok(None) } else { body(&key, &item).map(Some) }
    }

    /// Gives up the claim of `package`'s order on its tracking number once Amazon refused the package
    /// (so the number is on no order at Amazon), unless another package of the order still stands on
    /// it. Best effort: a claim left behind only gets the number's next use warned about, and expires.
    pub async fn release_tracking_claim(&self, connection: &ConnectionId, package: &Package) {
        if let Err(e) = self.try_release_tracking_claim(connection, package).await {
            tracing::warn!(error = %e, order_id = %package.order_id, "could not release the refused package's tracking number");
        }
    }

    async fn try_release_tracking_claim(&self, connection: &ConnectionId, package: &Package) -> Result<(), StoreError> {
        let PackageState::Failed { at: failed_at, .. } = package.state else { return Ok(()) };
        let number = package.tracking_number.as_str();
        let still_used = self.list_packages(&package.order_id).await?.iter().any(|other| {
            other.package_id != package.package_id
                && other.tracking_number.as_str().eq_ignore_ascii_case(number)
                && !matches!(other.state, PackageState::Failed { .. })
        });
        if still_used {
            return Ok(());
        }
        let release = self
            .delete_builder(&keys::tracking(connection, &package.tracking_number))
            // A claim written after the failure (a resend, a new package of the order) expires later:
            // it stands.
            .condition_expression("#owner = :owner AND #expires_at <= :claimed_by_then")
            .expression_attribute_names("#owner", "order_id")
            .expression_attribute_names("#expires_at", keys::TTL_ATTRIBUTE)
            .expression_attribute_values(":owner", s(package.order_id.as_str()))
            .expression_attribute_values(":claimed_by_then", n((failed_at + TRACKING_RETENTION).timestamp()));
        // Another order's claim (or none): not ours to give up.
        self.delete_if(release).await.map(drop)
    }

    /// Claims the package's tracking number for its order; fails the transaction if another order
    /// claimed it first (the caller reads the claim again and decides).
    fn tracking_claim_request(
        &self,
        connection: &ConnectionId,
        package: &Package,
        at: DateTime<Utc>,
    ) -> Result<Put, StoreError> {
        let key = keys::tracking(connection, &package.tracking_number);
        let claim = TrackingClaim { order_id: package.order_id.clone(), claimed_at: at };
        let mut item = expiring_record(&key, &claim, at + TRACKING_RETENTION)?;
        item.insert("order_id".into(), s(package.order_id.as_str()));
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #owner = :owner OR #expires_at <= :now")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#owner", "order_id")
            .expression_attribute_names("#expires_at", keys::TTL_ATTRIBUTE)
            .expression_attribute_values(":owner", s(package.order_id.as_str()))
            .expression_attribute_values(":now", n(at.timestamp()))
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// Writes a package's new state together with what it means for its order (`change`), in one
    /// transaction: the order never misses, or counts twice, what happened to the package. Fails with
    /// a conflict if the package moved on since `package_version`; a concurrent change of the order
    /// is retried. `change` may refuse (its error is passed back, nothing is written).
    pub async fn settle_package<E>(
        &self,
        package: &Package,
        package_version: u64,
        change: impl Fn(&mut Order) -> Result<(), E>,
    ) -> Result<Result<u64, E>, StoreError> {
        let key = keys::package(&package.order_id, &package.package_id);
        let put = self.put_request(package_item(package, package_version + 1)?, Some(package_version))?;
        let written = self.write_with_order(&package.order_id, &key, put, change).await?;
        Ok(written.map(|()| package_version + 1))
    }

    /// Writes `record` (a conditional put of the record at `key`) together with what it means for its
    /// order (`change`), in one transaction. Fails with a conflict if `record`'s condition fails; a
    /// concurrent change of the order is retried. `change` may refuse (its error is passed back,
    /// nothing is written).
    pub(super) async fn write_with_order<E>(
        &self,
        order_id: &AmazonOrderId,
        key: &Key,
        record: Put,
        change: impl Fn(&mut Order) -> Result<(), E>,
    ) -> Result<Result<(), E>, StoreError> {
        let order_key = keys::order(order_id);
        for _ in 0..=MAX_CONFLICT_RETRIES {
            let Some(Versioned { value: mut order, version }) = self.get_order(order_id).await? else {
                return Err(StoreError::Corrupt {
                    key: keys::describe(&order_key),
                    message: format!("{} has no order", keys::describe(key)),
                });
            };
            if let Err(refused) = change(&mut order) {
                return Ok(Err(refused));
            }
            let writes = vec![record.clone(), self.put_request(order_item(&order, version + 1)?, Some(version))?];
            let written = match self.transact_puts(writes).await {
                Err(StoreError::Conflict { .. }) => continue,
                other => other?,
            };
            match written {
                None => return Ok(Ok(())),
                Some(failed) if failed.first() == Some(&true) => {
                    return Err(StoreError::Conflict { key: keys::describe(key) });
                }
                Some(_) => tracing::debug!(key = keys::describe(&order_key), "order changed meanwhile; retrying"),
            }
        }
        Err(StoreError::Conflict { key: keys::describe(&order_key) })
    }

    /// Settles a package ([`Self::settle_package`], `effect` on its order) whoever else writes it
    /// meanwhile: while the stored package is still `ours` to settle, the outcome is written over it
    /// (keeping what changed, such as a delivery time) at its new version. `None` when it no longer is.
    pub async fn settle_package_merging(
        &self,
        settled: &Package,
        version: u64,
        ours: impl Fn(&Package) -> bool,
        effect: fn(&mut Order, &Package),
    ) -> Result<Option<u64>, StoreError> {
        let (mut settled, mut version) = (settled.clone(), version);
        for _ in 0..=MAX_CONFLICT_RETRIES {
            let written = self
                .settle_package(&settled, version, |order| {
                    effect(order, &settled);
                    Ok::<(), std::convert::Infallible>(())
                })
                .await;
            match written {
                Ok(Ok(written)) => return Ok(Some(written)),
                Ok(Err(never)) => match never {},
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
            let Some(stored) = self.get_package(&settled.order_id, &settled.package_id).await? else {
                return Ok(None);
            };
            if !ours(&stored.value) {
                return Ok(None);
            }
            settled = stored.value.with_outcome_of(&settled);
            version = stored.version;
        }
        Err(StoreError::Conflict { key: keys::describe(&keys::package(&settled.order_id, &settled.package_id)) })
    }

    pub async fn get_package(
        &self,
        order_id: &AmazonOrderId,
        package_id: &PackageId,
    ) -> Result<Option<Versioned<Package>>, StoreError> {
        let key = keys::package(order_id, package_id);
        self.get(&key).await?.map(|item| versioned(&key, &item)).transpose()
    }

    pub async fn save_package(&self, package: &Package, expected_version: u64) -> Result<u64, StoreError> {
        self.put(package_item(package, expected_version + 1)?, Some(expected_version)).await?;
        Ok(expected_version + 1)
    }

    pub async fn list_packages(&self, order_id: &AmazonOrderId) -> Result<Vec<Package>, StoreError> {
        self.query_partition(keys::order(order_id).0, Some(keys::package_prefix())).await
    }

    pub async fn get_event(&self, id: &EventId) -> Result<Option<EventRecord>, StoreError> {
        let key = keys::event(id);
        self.get(&key).await?.map(|item| body(&key, &item)).transpose()
    }

    pub async fn mark_event_enqueued(&self, event: &EventRecord) -> Result<(), StoreError> {
        let enqueued = EventRecord { enqueued: true, ..event.clone() };
        self.put(expiring_record(&keys::event(&event.event_id), &enqueued, event.received_at + EVENT_RETENTION)?, None)
            .await
    }

    // ---- PII redaction ----

    /// Up to `limit` orders whose redaction time has come, read from the sparse index (never a table
    /// scan): every shard in turn, starting where `after` (the previous page's `next`) left off. `next` is
    /// `None` once every shard has been read to the end.
    pub async fn orders_due_for_redaction(
        &self,
        now: DateTime<Utc>,
        after: Option<&DueCursor>,
        limit: usize,
    ) -> Result<DuePage, StoreError> {
        let mut page = DuePage { orders: Vec::new(), fulfillments: Vec::new(), next: None };
        let mut shard = after.map_or(0, |cursor| cursor.shard);
        let mut start: Option<Item> = after
            .and_then(|cursor| cursor.after.as_ref())
            .map(|key| key.iter().map(|(k, v)| (k.clone(), s(v))).collect());
        while shard < keys::REDACTION_PARTITIONS {
            if page.len() >= limit {
                page.next = Some(DueCursor::at(shard, start.as_ref()));
                return Ok(page);
            }
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::REDACTION_INDEX)
                .key_condition_expression("#p = :p AND #due <= :now")
                .expression_attribute_names("#p", keys::REDACTION_PK)
                .expression_attribute_names("#due", keys::REDACTION_DUE_AT)
                .expression_attribute_values(":p", s(keys::redaction_shard_partition(shard)))
                .expression_attribute_values(":now", s(utc_timestamp(now)))
                .limit((limit - page.len()).min(100) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            for item in output.items() {
                let key = item_key(item);
                if let Some(id) = key.0.strip_prefix(keys::fulfillment_prefix()) {
                    match SellerFulfillmentOrderId::parse(id) {
                        Ok(id) => page.fulfillments.push(id),
                        Err(_) => tracing::warn!(key = keys::describe(&key), "redaction index entry is unreadable"),
                    }
                    continue;
                }
                match AmazonOrderId::parse(key.0.strip_prefix("ORDER#").unwrap_or_default()) {
                    Ok(id) => page.orders.push(id),
                    // Not an order key: nothing to redact there; the rest of the index still is.
                    Err(_) => tracing::warn!(key = keys::describe(&key), "redaction index entry is not an order"),
                }
            }
            match output.last_evaluated_key() {
                Some(next) => start = Some(next.clone()),
                None => shard += 1,
            }
        }
        Ok(page)
    }

    /// One page of a connection's orders awaiting shipment, earliest ship-by first, after the page that
    /// ended at `after` (an [`AwaitingPage::next`]).
    pub async fn orders_awaiting_shipment(
        &self,
        connection: &ConnectionId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<AwaitingPage, StoreError> {
        let partition = keys::awaiting_partition(connection);
        let start = after.and_then(|sort_key| {
            let order_id = AmazonOrderId::parse(sort_key.rsplit('#').next()?).ok()?;
            let (pk, sk) = keys::order(&order_id);
            Some(HashMap::from([
                (keys::AWAITING_PK.to_owned(), s(&partition)),
                (keys::AWAITING_SK.to_owned(), s(sort_key)),
                (keys::PK.to_owned(), s(pk)),
                (keys::SK.to_owned(), s(sk)),
            ]))
        });
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::AWAITING_INDEX)
            .key_condition_expression("#p = :p")
            .expression_attribute_names("#p", keys::AWAITING_PK)
            .expression_attribute_values(":p", s(&partition))
            .limit(limit.clamp(1, 100) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let orders = output
            .items()
            .iter()
            .filter_map(|item| AmazonOrderId::parse(item_key(item).0.strip_prefix("ORDER#")?).ok())
            .collect();
        let next =
            output.last_evaluated_key().and_then(|key| key.get(keys::AWAITING_SK)).and_then(|v| v.as_s().ok()).cloned();
        Ok(AwaitingPage { orders, next })
    }

    // ---- operator reporting (the CLI and the demo; handlers never scan) ----

    /// Every order in the table. A scan: for operators and the local demo only.
    pub async fn scan_orders(&self) -> Result<Vec<Order>, StoreError> {
        self.scan_bodies("ORDER").await
    }

    /// Every package in the table. A scan: for operators and the local demo only.
    pub async fn scan_packages(&self) -> Result<Vec<Package>, StoreError> {
        self.scan_bodies(keys::package_prefix()).await
    }

    async fn scan_bodies<T: DeserializeOwned>(&self, sk_prefix: &str) -> Result<Vec<T>, StoreError> {
        let items = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("begins_with(#sk, :prefix)")
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":prefix", s(sk_prefix))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        decode_all(items)
    }

    /// Every record of partition `pk`, optionally only sort keys starting with `sk_prefix`.
    pub(super) async fn query_partition<T: DeserializeOwned>(
        &self,
        pk: String,
        sk_prefix: Option<&str>,
    ) -> Result<Vec<T>, StoreError> {
        let sort_keys = sk_prefix.map_or(SortKeys::All, SortKeys::Prefix);
        let items = self.query_items(pk, sort_keys, true, None).await?;
        items.iter().map(|item| body(&item_key(item), item)).collect()
    }

    /// The items of partition `pk` with `sort_keys`, in sort-key order (`forward`) or reversed; at most
    /// `limit` of them (all pages without one).
    pub(super) async fn query_items(
        &self,
        pk: String,
        sort_keys: SortKeys<'_>,
        forward: bool,
        limit: Option<i32>,
    ) -> Result<Vec<Item>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_values(":pk", s(pk))
            .scan_index_forward(forward)
            .consistent_read(true);
        let query = match sort_keys {
            SortKeys::All => query.key_condition_expression("#pk = :pk"),
            SortKeys::Prefix(prefix) => query
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#sk", keys::SK)
                .expression_attribute_values(":prefix", s(prefix)),
            SortKeys::Between(from, to) => query
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                .expression_attribute_names("#sk", keys::SK)
                .expression_attribute_values(":from", s(from))
                .expression_attribute_values(":to", s(to)),
        };
        match limit {
            Some(limit) => Ok(query.limit(limit).send().await.map_err(unavailable)?.items.unwrap_or_default()),
            None => query
                .into_paginator()
                .items()
                .send()
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .map(|item| item.map_err(unavailable))
                .collect(),
        }
    }

    // ---- plumbing ----

    async fn retry_conflicts<T, F, Fut>(&self, mut attempt: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let mut tries = 0;
        loop {
            match attempt().await {
                Err(StoreError::Conflict { key }) if tries < MAX_CONFLICT_RETRIES => {
                    tries += 1;
                    tracing::debug!(key, tries, "optimistic-lock conflict; retrying");
                }
                other => return other,
            }
        }
    }

    /// Writes all puts or none. `Some(failed)` says, per put, whether its condition failed.
    async fn transact_puts(&self, puts: Vec<Put>) -> Result<Option<Vec<bool>>, StoreError> {
        self.transact(puts.into_iter().map(|put| TransactWriteItem::builder().put(put).build()).collect()).await
    }

    /// Writes all items or none. `Some(failed)` says, per item, whether its condition failed.
    pub(super) async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Option<Vec<bool>>, StoreError> {
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        match result {
            Ok(_) => Ok(None),
            Err(err) => {
                let failed = failed_conditions(&err);
                if failed.iter().any(|f| *f) {
                    Ok(Some(failed))
                } else if in_conflict(&err) {
                    // Another transaction held one of the items: nothing was written; try again.
                    Err(StoreError::Conflict { key: "a concurrent transaction".into() })
                } else {
                    Err(unavailable(err))
                }
            }
        }
    }

    pub(super) async fn delete(&self, key: &Key) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(keys::PK, s(&key.0))
            .key(keys::SK, s(&key.1))
            .send()
            .await
            .map(drop)
            .map_err(unavailable)
    }

    /// A delete of `key`, to add a condition to ([`Self::delete_if`]) or to put in a transaction.
    pub(super) fn delete_builder(&self, key: &Key) -> DeleteBuilder {
        Delete::builder().table_name(&self.table).key(keys::PK, s(&key.0)).key(keys::SK, s(&key.1))
    }

    pub(super) fn delete_request(&self, key: &Key) -> Result<Delete, StoreError> {
        self.delete_builder(key).build().map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// Deletes if `delete`'s condition holds: `false` when it does not.
    pub(super) async fn delete_if(&self, delete: DeleteBuilder) -> Result<bool, StoreError> {
        let delete = delete.build().map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let result = self
            .client
            .delete_item()
            .table_name(delete.table_name())
            .set_key(Some(delete.key().clone()))
            .set_condition_expression(delete.condition_expression().map(str::to_owned))
            .set_expression_attribute_names(delete.expression_attribute_names().cloned())
            .set_expression_attribute_values(delete.expression_attribute_values().cloned())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn exists(&self, key: &Key) -> Result<bool, StoreError> {
        Ok(self.get(key).await?.is_some())
    }

    pub(super) async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(keys::PK, s(&key.0))
            .key(keys::SK, s(&key.1))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output.item)
    }

    pub(super) async fn put(&self, item: Item, expected_version: Option<u64>) -> Result<(), StoreError> {
        self.put_checked(self.put_request(item, expected_version)?).await
    }

    /// Sends one put built by [`Self::put_request`] (or by hand); a failed condition is a conflict.
    /// Writes `put` if its condition holds: `false` when it does not.
    pub(super) async fn put_if(&self, put: Put) -> Result<bool, StoreError> {
        match self.put_checked(put).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn put_checked(&self, put: Put) -> Result<(), StoreError> {
        let key = item_key(put.item());
        let result = self
            .client
            .put_item()
            .table_name(put.table_name())
            .set_item(Some(put.item().clone()))
            .set_condition_expression(put.condition_expression().map(str::to_owned))
            .set_expression_attribute_names(put.expression_attribute_names().cloned())
            .set_expression_attribute_values(put.expression_attribute_values().cloned())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::Conflict { key: keys::describe(&key) })
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    /// A put, conditional on the stored version when one is expected (0 meaning "must not exist yet").
    pub(super) fn put_request(&self, item: Item, expected_version: Option<u64>) -> Result<Put, StoreError> {
        let builder = Put::builder().table_name(&self.table).set_item(Some(item));
        let builder = match expected_version {
            None => builder,
            Some(0) => {
                builder.condition_expression("attribute_not_exists(#pk)").expression_attribute_names("#pk", keys::PK)
            }
            Some(version) => builder
                .condition_expression("#version = :expected")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":expected", n(version)),
        };
        builder.build().map_err(|e| StoreError::Unavailable(e.to_string()))
    }
}

/// Which sort keys of a partition a query reads.
pub(super) enum SortKeys<'a> {
    All,
    Prefix(&'a str),
    /// From the first to the second, both included.
    Between(String, String),
}

/// One page of orders awaiting shipment, and where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaitingPage {
    pub orders: Vec<AmazonOrderId>,
    /// The sort key the page ended at; `None` on the last page.
    pub next: Option<String>,
}

/// One page of orders due for redaction, and where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuePage {
    pub orders: Vec<AmazonOrderId>,
    /// Fulfillment orders whose destination is due (they share the index with orders).
    pub fulfillments: Vec<SellerFulfillmentOrderId>,
    pub next: Option<DueCursor>,
}

impl DuePage {
    pub fn len(&self) -> usize {
        self.orders.len() + self.fulfillments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A position in the sharded redaction index: the shard, and the last index key read in it (`None`:
/// from its start). Holds keys only (order ids, due times), never PII.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueCursor {
    pub shard: u32,
    #[serde(default)]
    pub after: Option<std::collections::BTreeMap<String, String>>,
}

impl DueCursor {
    fn at(shard: u32, start: Option<&Item>) -> Self {
        let after = start.map(|key| {
            key.iter().filter_map(|(name, value)| Some((name.clone(), value.as_s().ok()?.clone()))).collect()
        });
        Self { shard, after }
    }
}

pub(super) fn order_item(order: &Order, version: u64) -> Result<Item, StoreError> {
    let mut item = record(&keys::order(order.id()), order)?;
    item.insert("version".into(), n(version));
    item.insert("connection_id".into(), s(order.connection_id.as_str()));
    item.insert("status".into(), s(order.status.as_str()));
    item.insert("amazon_updated_at".into(), s(utc_timestamp(order.amazon.updated_at)));
    // Only orders the merchant still has to ship are in the sparse awaiting-shipment index.
    if order.status == OrderStatus::AwaitingShipment {
        item.insert(keys::AWAITING_PK.into(), s(keys::awaiting_partition(&order.connection_id)));
        item.insert(keys::AWAITING_SK.into(), s(awaiting_sort_key(order)));
    }
    // Only orders still holding PII are in the sparse redaction index.
    if let Some(due) = pii::redaction_due(order) {
        item.insert(keys::REDACTION_PK.into(), s(keys::redaction_partition(order.id())));
        item.insert(keys::REDACTION_DUE_AT.into(), s(utc_timestamp(due)));
    }
    Ok(item)
}

/// Ship-by first (purchase time when Amazon gives none), then the order id: unique and in the order a
/// warehouse works.
fn awaiting_sort_key(order: &Order) -> String {
    format!("{}#{}", utc_timestamp(order.amazon.ship_by.unwrap_or(order.amazon.created_at)), order.id())
}

pub(super) fn package_item(package: &Package, version: u64) -> Result<Item, StoreError> {
    let mut item = record(&keys::package(&package.order_id, &package.package_id), package)?;
    item.insert("version".into(), n(version));
    item.insert("state".into(), s(package.state.name()));
    Ok(item)
}

/// A record DynamoDB deletes by itself (its TTL) some time after `expires_at`.
pub(super) fn expiring_record<T: Serialize>(
    key: &Key,
    value: &T,
    expires_at: DateTime<Utc>,
) -> Result<Item, StoreError> {
    let mut item = record(key, value)?;
    item.insert(keys::TTL_ATTRIBUTE.into(), n(expires_at.timestamp()));
    Ok(item)
}

pub(super) fn record<T: Serialize>(key: &Key, value: &T) -> Result<Item, StoreError> {
    let json = serde_json::to_string(value)
        .map_err(|e| StoreError::Corrupt { key: keys::describe(key), message: e.to_string() })?;
    Ok(HashMap::from([
        (keys::PK.to_owned(), s(&key.0)),
        (keys::SK.to_owned(), s(&key.1)),
        ("body".to_owned(), s(json)),
    ]))
}

fn decode_all<T, E, R>(items: Vec<Result<Item, SdkError<E, R>>>) -> Result<Vec<T>, StoreError>
where
    T: DeserializeOwned,
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    items
        .into_iter()
        .map(|item| {
            let item = item.map_err(unavailable)?;
            body(&item_key(&item), &item)
        })
        .collect()
}

pub(super) fn body<T: DeserializeOwned>(key: &Key, item: &Item) -> Result<T, StoreError> {
    let corrupt = |message: String| StoreError::Corrupt { key: keys::describe(key), message };
    let json = item.get("body").and_then(|v| v.as_s().ok()).ok_or_else(|| corrupt("no body attribute".into()))?;
    serde_json::from_str(json).map_err(|e| corrupt(crate::telemetry::without_quoted_values(&e.to_string())))
}

pub(super) fn versioned<T: DeserializeOwned>(key: &Key, item: &Item) -> Result<Versioned<T>, StoreError> {
    let version = item.get("version").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
    Ok(Versioned { value: body(key, item)?, version })
}

pub(super) fn item_key(item: &Item) -> Key {
    let attr = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    (attr(keys::PK), attr(keys::SK))
}

/// Whether a transaction was cancelled because another one was writing the same items.
fn in_conflict(err: &SdkError<TransactWriteItemsError>) -> bool {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
            e.cancellation_reasons().iter().any(|reason| reason.code() == Some("TransactionConflict"))
        }
        Some(TransactWriteItemsError::TransactionInProgressException(_)) => true,
        _ => false,
    }
}

/// For each write of a cancelled transaction, whether its condition failed.
fn failed_conditions(err: &SdkError<TransactWriteItemsError>) -> Vec<bool> {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
            e.cancellation_reasons().iter().map(|reason| reason.code() == Some("ConditionalCheckFailed")).collect()
        }
        _ => Vec::new(),
    }
}

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn unavailable<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(DisplayErrorContext(&err).to_string())
}
