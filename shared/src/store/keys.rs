//! Every partition and sort key of the table, in one place.
use crate::domain::feed::ORDER_FULFILLMENT_FEED;
use crate::domain::ids::{
    AmazonOrderId, ConnectionId, EventId, PackageId, SellerFulfillmentOrderId, SellerId, Sku, TrackingNumber,
};

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const REDACTION_INDEX: &str = "by-redaction-due";
pub const REDACTION_PK: &str = "redaction_pk";
pub const REDACTION_DUE_AT: &str = "redaction_due_at";
/// Orders holding PII are spread over this many index partitions (`PII#0` … `PII#15`) so that no one
/// partition takes every write at scale; the redactor queries each of them.
pub const REDACTION_SHARDS: u32 = 16;
/// Every partition the redactor reads: the shards, then `PII`, where every order sat before the index
/// was sharded; an order there moves to its shard the next time it is written, or is redacted there.
pub const REDACTION_PARTITIONS: u32 = REDACTION_SHARDS + 1;
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// A connection's orders awaiting shipment, earliest ship-by first (what the read endpoint lists).
pub const AWAITING_INDEX: &str = "by-awaiting-shipment";
pub const AWAITING_PK: &str = "awaiting_pk";
pub const AWAITING_SK: &str = "awaiting_sk";

pub fn awaiting_partition(connection: &ConnectionId) -> String {
    format!("AWAITING#{connection}")
}

pub type Key = (String, String);

pub fn connection(id: &ConnectionId) -> Key {
    ("CONNECTION".into(), id.to_string())
}

pub fn connections_partition() -> String {
    "CONNECTION".into()
}

/// The partition of a connection's own records: its cursor, its sync lease, its unreadable orders.
pub fn connection_partition(id: &ConnectionId) -> String {
    format!("CONNECTION#{id}")
}

pub fn sync_cursor(id: &ConnectionId) -> Key {
    (connection_partition(id), "SYNC_CURSOR".into())
}

/// Held by the one sync run working on a connection, so "sync now" never races the schedule.
pub fn sync_lease(id: &ConnectionId) -> Key {
    (connection_partition(id), "SYNC_LEASE".into())
}

/// An order Amazon sent that could not be read, kept (without PII) until a later run reads it.
pub fn unreadable_order(connection: &ConnectionId, order_id: &str) -> Key {
    (connection_partition(connection), format!("{}{order_id}", unreadable_prefix()))
}

pub fn unreadable_prefix() -> &'static str {
    "UNREADABLE#"
}

/// The stack-wide alert that Login with Amazon rejected the app's own credentials.
pub fn app_credentials_alert() -> Key {
    ("APP".into(), "LWA_CREDENTIALS_ALERT".into())
}

pub fn order(id: &AmazonOrderId) -> Key {
    (format!("ORDER#{id}"), "ORDER".into())
}

pub fn package(order_id: &AmazonOrderId, package_id: &PackageId) -> Key {
    (format!("ORDER#{order_id}"), format!("PACKAGE#{package_id}"))
}

pub fn package_prefix() -> &'static str {
    "PACKAGE#"
}

/// The first order of a connection that shipped with a tracking number (case-insensitive).
pub fn tracking(connection: &ConnectionId, tracking: &TrackingNumber) -> Key {
    (format!("TRACKING#{connection}#{}", tracking.as_str().to_ascii_uppercase()), "TRACKING".into())
}

/// The partition of a connection's backlog for one feed type: its own, so the sender's writes to it
/// never meet the connection's cursor and lease. Order fulfillment keeps the name it had before there
/// were other feed types, so packages already waiting in it are packed after an upgrade.
pub fn feed_backlog_partition(connection: &ConnectionId, feed_type: &str) -> String {
    if feed_type == ORDER_FULFILLMENT_FEED {
        format!("FEED_BACKLOG#{connection}")
    } else {
        format!("FEED_BACKLOG#{connection}#{feed_type}")
    }
}

/// A package or adjustment of the connection waiting for its next feed of `feed_type`, in the order it
/// came (`since`, milliseconds since the epoch, zero-padded).
pub fn feed_backlog(
    connection: &ConnectionId,
    feed_type: &str,
    since_ms: i64,
    order_id: &AmazonOrderId,
    item: &str,
) -> Key {
    (feed_backlog_partition(connection, feed_type), format!("{since_ms:015}#{order_id}#{item}"))
}

/// A cancellation or refund the store asked for, under its order and the event that asked.
pub fn adjustment(order_id: &AmazonOrderId, id: &EventId) -> Key {
    (format!("ORDER#{order_id}"), format!("{}{id}", adjustment_prefix()))
}

pub fn adjustment_prefix() -> &'static str {
    "ADJUSTMENT#"
}

/// An Amazon feed id taken by one of our feed records: no other record (of any connection of the
/// seller) may take it as its own.
pub fn amazon_feed(seller: &SellerId, feed_id: &str) -> Key {
    (format!("SELLER_FEEDS#{seller}"), format!("FEED#{feed_id}"))
}

/// A feed of the connection that Amazon has not settled yet (its record id starts with its creation time).
pub fn open_feed(connection: &ConnectionId, record_id: &str) -> Key {
    (connection_partition(connection), format!("{}{record_id}", open_feed_prefix()))
}

pub fn open_feed_prefix() -> &'static str {
    "OPEN_FEED#"
}

/// What became of a settled feed, kept as long as Amazon keeps its results.
pub fn settled_feed(connection: &ConnectionId, record_id: &str) -> Key {
    (connection_partition(connection), format!("{}{record_id}", settled_feed_prefix()))
}

pub fn settled_feed_prefix() -> &'static str {
    "SETTLED_FEED#"
}

/// Which Amazon order a Shopify order came from (Shopify's order ids are unique across shops).
pub fn shopify_order(shopify_order_id: u64) -> Key {
    (format!("SHOPIFY_ORDER#{shopify_order_id}"), "LINK".into())
}

pub fn event(id: &EventId) -> Key {
    (format!("EVENT#{id}"), "EVENT".into())
}

/// An Amazon notification already handled (kept a week, as Amazon may deliver one more than once).
pub fn notification(id: &str) -> Key {
    (format!("NOTIFICATION#{id}"), "NOTIFICATION".into())
}

/// An order event the merchant's endpoint accepted (kept while its message could still come again).
pub fn outbound_delivery(event_id: &str) -> Key {
    (format!("OUTBOUND#{event_id}"), "DELIVERED".into())
}

/// An order event the merchant's endpoint kept refusing.
pub fn webhook_failure(connection: &ConnectionId, event_id: &str) -> Key {
    (connection_partition(connection), format!("{}{event_id}", webhook_failure_prefix()))
}

pub fn webhook_failure_prefix() -> &'static str {
    "WEBHOOK_FAILED#"
}

/// An order event stored but not yet queued (SQS refused it); the connection's next sync queues it.
pub fn pending_webhook(connection: &ConnectionId, event_id: &str) -> Key {
    (connection_partition(connection), format!("{}{event_id}", pending_webhook_prefix()))
}

pub fn pending_webhook_prefix() -> &'static str {
    "WEBHOOK_PENDING#"
}

/// A store order Amazon fulfils (Multi-Channel Fulfillment).
pub fn fulfillment(id: &SellerFulfillmentOrderId) -> Key {
    (fulfillment_prefix().to_owned() + id.as_str(), "FULFILLMENT".into())
}

pub fn fulfillment_prefix() -> &'static str {
    "FULFILLMENT#"
}

/// Where the connection's reading of Amazon's fulfillment orders and inventory has got to.
pub fn fulfillment_cursor(connection: &ConnectionId) -> Key {
    (connection_partition(connection), "FULFILLMENT_CURSOR".into())
}

/// A `fulfillment.updated` stored but not yet queued (SQS refused it); the connection's next sync queues it.
pub fn pending_fulfillment_event(connection: &ConnectionId, id: &SellerFulfillmentOrderId) -> Key {
    (connection_partition(connection), format!("{}{id}", pending_fulfillment_event_prefix()))
}

pub fn pending_fulfillment_event_prefix() -> &'static str {
    "FULFILLMENT_PENDING#"
}

pub fn inventory_cursor(connection: &ConnectionId) -> Key {
    (connection_partition(connection), "INVENTORY_CURSOR".into())
}

/// A SKU's FBA inventory as the connection last read it; the partition holds all of the connection's.
pub fn inventory_level(connection: &ConnectionId, sku: &Sku) -> Key {
    (inventory_partition(connection), format!("SKU#{sku}"))
}

pub fn inventory_partition(connection: &ConnectionId) -> String {
    format!("INVENTORY#{connection}")
}

pub fn rate_bucket(seller: &SellerId, operation: &str) -> Key {
    (format!("RATE#{seller}#{operation}"), "BUCKET".into())
}

/// The redaction-index partition of an order: `PII#<n>`, `n` a stable hash (FNV-1a, the same in every
/// build and process) of the order id modulo [`REDACTION_SHARDS`].
pub fn redaction_partition(id: &AmazonOrderId) -> String {
    redaction_shard_partition(redaction_shard(id.as_str()))
}

/// The redaction-index partition of a fulfillment order (hashed like an order's).
pub fn fulfillment_redaction_partition(id: &SellerFulfillmentOrderId) -> String {
    redaction_shard_partition(redaction_shard(id.as_str()))
}

pub fn redaction_shard(id: &str) -> u32 {
    let hash = id.bytes().fold(0x811c_9dc5_u32, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193));
    hash % REDACTION_SHARDS
}

/// Partition `n` of [`REDACTION_PARTITIONS`]: a shard, or the legacy unsharded one last.
pub fn redaction_shard_partition(shard: u32) -> String {
    if shard == REDACTION_SHARDS { "PII".to_owned() } else { format!("PII#{shard}") }
}

pub fn describe(key: &Key) -> String {
    format!("{}/{}", key.0, key.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_spread_over_every_redaction_shard_and_always_the_same_one() {
        let ids: Vec<AmazonOrderId> =
            (0..400).map(|n| AmazonOrderId::parse(format!("902-{:07}-{:07}", n * 7919, n)).unwrap()).collect();
        let shards: std::collections::BTreeSet<u32> = ids.iter().map(|id| redaction_shard(id.as_str())).collect();
        assert_eq!(shards.len() as u32, REDACTION_SHARDS, "400 orders reach every shard");
        // Stable across processes and builds: pinned values, not a per-process hasher.
        let id = AmazonOrderId::parse("902-1106328-1059050").unwrap();
        assert_eq!(redaction_partition(&id), format!("PII#{}", redaction_shard(id.as_str())));
        assert_eq!(redaction_shard(id.as_str()), 3_236_633_481 % REDACTION_SHARDS);
    }
}
