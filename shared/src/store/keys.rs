//! Every partition and sort key of the table, in one place.
use crate::domain::ids::{AmazonOrderId, ConnectionId, EventId, PackageId, SellerId};

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const REDACTION_INDEX: &str = "by-redaction-due";
pub const REDACTION_PK: &str = "redaction_pk";
pub const REDACTION_DUE_AT: &str = "redaction_due_at";
/// All orders holding PII share one index partition; it holds only unredacted orders, so it stays small.
pub const REDACTION_PARTITION: &str = "PII";
pub const TTL_ATTRIBUTE: &str = "expires_at";

pub type Key = (String, String);

pub fn connection(id: &ConnectionId) -> Key {
    ("CONNECTION".into(), id.to_string())
}

pub fn connections_partition() -> String {
    "CONNECTION".into()
}

pub fn sync_cursor(id: &ConnectionId) -> Key {
    (format!("CONNECTION#{id}"), "SYNC_CURSOR".into())
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

pub fn event(id: &EventId) -> Key {
    (format!("EVENT#{id}"), "EVENT".into())
}

pub fn rate_bucket(seller: &SellerId, operation: &str) -> Key {
    (format!("RATE#{seller}#{operation}"), "BUCKET".into())
}

pub fn describe(key: &Key) -> String {
    format!("{}/{}", key.0, key.1)
}
