//! Amazon's notifications, as their SQS destination delivers them: ORDER_CHANGE (schema
//! `OrderChangeNotification.json`) names an order that changed, FULFILLMENT_ORDER_STATUS
//! (`FulfillmentOrderStatusNotification.json`) a fulfillment order whose status or shipment changed. The
//! order itself is read from Amazon, so only the identifiers are taken from either.
use chrono::{DateTime, Utc};
use serde::Deserialize;
use thiserror::Error;

use crate::domain::ids::{AmazonOrderId, MarketplaceId, SellerId};

pub const ORDER_CHANGE: &str = "ORDER_CHANGE";
pub const FULFILLMENT_ORDER_STATUS: &str = "FULFILLMENT_ORDER_STATUS";

/// One notification we act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    OrderChange(OrderChange),
    FulfillmentStatus(FulfillmentStatusChange),
}

impl Notification {
    pub fn parse(body: &str) -> Result<Self, NotificationError> {
        let (wire, notification_id) = read(body)?;
        match wire.notification_type.as_deref() {
            Some(ORDER_CHANGE) => OrderChange::from_wire(wire, notification_id).map(Self::OrderChange),
            Some(FULFILLMENT_ORDER_STATUS) => {
                FulfillmentStatusChange::from_wire(wire, notification_id).map(Self::FulfillmentStatus)
            }
            other => Err(NotificationError::OtherType(other.unwrap_or_default().to_owned())),
        }
    }

    pub fn notification_id(&self) -> &str {
        match self {
            Self::OrderChange(change) => &change.notification_id,
            Self::FulfillmentStatus(change) => &change.notification_id,
        }
    }
}

/// The identifiers an ORDER_CHANGE notification carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderChange {
    pub notification_id: String,
    pub seller_id: SellerId,
    /// Absent in some deliveries; the seller's only connection is then meant.
    pub marketplace_id: Option<MarketplaceId>,
    pub order_id: AmazonOrderId,
    pub event_time: Option<DateTime<Utc>>,
}

/// The identifiers a FULFILLMENT_ORDER_STATUS notification carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentStatusChange {
    pub notification_id: String,
    pub seller_id: SellerId,
    /// Our `sellerFulfillmentOrderId`, as Amazon sends it (it may be an order we did not create).
    pub fulfillment_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NotificationError {
    #[error("not a JSON notification: {0}")]
    NotJson(String),
    #[error("notification type {0:?} is not ORDER_CHANGE or FULFILLMENT_ORDER_STATUS")]
    OtherType(String),
    #[error("notification {notification_id} lacks {missing}")]
    Missing { notification_id: String, missing: &'static str },
    #[error("notification {notification_id}: {message}")]
    Invalid { notification_id: String, message: String },
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Wire {
    notification_type: Option<String>,
    event_time: Option<String>,
    payload: Option<WirePayload>,
    notification_metadata: Option<WireMetadata>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WirePayload {
    order_change_notification: Option<WireOrderChange>,
    fulfillment_order_status_notification: Option<WireFulfillmentStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireOrderChange {
    seller_id: Option<String>,
    amazon_order_id: Option<String>,
    summary: Option<WireSummary>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireSummary {
    marketplace_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireFulfillmentStatus {
    seller_id: Option<String>,
    seller_fulfillment_order_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireMetadata {
    notification_id: Option<String>,
}

/// The body read, and its notification id.
fn read(body: &str) -> Result<(Wire, String), NotificationError> {
    // serde's messages quote the offending text; they must not carry a body into logs or the DLQ.
    let mut wire: Wire = serde_json::from_str(body)
        .map_err(|e| NotificationError::NotJson(crate::telemetry::without_quoted_values(&e.to_string())))?;
    let notification_id = wire
        .notification_metadata
        .take()
        .and_then(|m| m.notification_id)
        .filter(|id| !id.trim().is_empty())
        .ok_or(NotificationError::Missing { notification_id: "(none)".into(), missing: "a NotificationId" })?;
    Ok((wire, notification_id))
}

fn missing(notification_id: &str, missing: &'static str) -> NotificationError {
    NotificationError::Missing { notification_id: notification_id.to_owned(), missing }
}

fn invalid(notification_id: &str, error: impl std::fmt::Display) -> NotificationError {
    NotificationError::Invalid { notification_id: notification_id.to_owned(), message: error.to_string() }
}

impl OrderChange {
    /// An ORDER_CHANGE notification; any other type is [`NotificationError::OtherType`].
    pub fn parse(body: &str) -> Result<Self, NotificationError> {
        match Notification::parse(body)? {
            Notification::OrderChange(change) => Ok(change),
            Notification::FulfillmentStatus(_) => Err(NotificationError::OtherType(FULFILLMENT_ORDER_STATUS.into())),
        }
    }

    fn from_wire(wire: Wire, notification_id: String) -> Result<Self, NotificationError> {
        let id = notification_id.as_str();
        let change =
            wire.payload.and_then(|p| p.order_change_notification).ok_or_else(|| missing(id, "its payload"))?;
        let seller_id = change.seller_id.ok_or_else(|| missing(id, "a SellerId"))?;
        let order_id = change.amazon_order_id.ok_or_else(|| missing(id, "an AmazonOrderId"))?;
        let marketplace_id = change.summary.and_then(|s| s.marketplace_id).filter(|m| !m.trim().is_empty());
        Ok(Self {
            seller_id: SellerId::parse(seller_id).map_err(|e| invalid(id, e))?,
            order_id: AmazonOrderId::parse(order_id).map_err(|e| invalid(id, e))?,
            marketplace_id: marketplace_id.map(MarketplaceId::parse).transpose().map_err(|e| invalid(id, e))?,
            event_time: wire.event_time.and_then(|t| t.parse().ok()),
            notification_id,
        })
    }
}

impl FulfillmentStatusChange {
    fn from_wire(wire: Wire, notification_id: String) -> Result<Self, NotificationError> {
        let id = notification_id.as_str();
        let change = wire
            .payload
            .and_then(|p| p.fulfillment_order_status_notification)
            .ok_or_else(|| missing(id, "its payload"))?;
        let seller_id = change.seller_id.ok_or_else(|| missing(id, "a SellerId"))?;
        let fulfillment_id = change
            .seller_fulfillment_order_id
            .filter(|f| !f.trim().is_empty())
            .ok_or_else(|| missing(id, "a SellerFulfillmentOrderId"))?;
        Ok(Self { seller_id: SellerId::parse(seller_id).map_err(|e| invalid(id, e))?, fulfillment_id, notification_id })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// The example in Amazon's `OrderChangeNotification.json`.
    fn amazons_example() -> Value {
        json!({
            "NotificationVersion": "1.0",
            "NotificationType": "ORDER_CHANGE",
            "PayloadVersion": "1.0",
            "EventTime": "2020-01-11T00:09:53.109Z",
            "Payload": {"OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": "A3TH9S8BH6GOGM",
                "AmazonOrderId": "903-8868176-2219830",
                "OrderChangeType": "BuyerRequestedChange",
                "OrderChangeTrigger": {"TimeOfOrderChange": "2022-11-29T19:42:04.284Z", "ChangeReason": "Buyer Requested Cancel"},
                "Summary": {"MarketplaceId": "ATVPDKIKX0DER", "OrderStatus": "Unshipped", "FulfillmentType": "MFN",
                            "DestinationPostalCode": "48110", "OrderItems": [{"OrderItemId": "OIID34853450", "Quantity": 10}]}
            }},
            "NotificationMetadata": {
                "ApplicationId": "app-id-d0e9e693-c3ad-4373-979f-ed4ec98dd746",
                "SubscriptionId": "subscription-id-d0e9e693-c3ad-4373-979f-ed4ec98dd746",
                "PublishTime": "2020-07-13T19:42:04.284Z",
                "NotificationId": "d0e9e693-c3ad-4373-979f-ed4ec98dd746"
            }
        })
    }

    #[test]
    fn amazons_example_names_its_order() {
        let change = OrderChange::parse(&amazons_example().to_string()).unwrap();
        assert_eq!(change.notification_id, "d0e9e693-c3ad-4373-979f-ed4ec98dd746");
        assert_eq!(change.seller_id.as_str(), "A3TH9S8BH6GOGM");
        assert_eq!(change.order_id.as_str(), "903-8868176-2219830");
        assert_eq!(change.marketplace_id.map(|m| m.to_string()).as_deref(), Some("ATVPDKIKX0DER"));
        assert!(change.event_time.is_some());
    }

    #[test]
    fn a_broken_notification_says_what_is_wrong_and_which_one() {
        let mut no_order = amazons_example();
        no_order["Payload"]["OrderChangeNotification"].as_object_mut().unwrap().remove("AmazonOrderId");
        let error = OrderChange::parse(&no_order.to_string()).unwrap_err().to_string();
        assert!(error.contains("AmazonOrderId") && error.contains("d0e9e693"), "{error}");

        let mut other = amazons_example();
        other["NotificationType"] = json!("ANY_OFFER_CHANGED");
        assert!(
            matches!(OrderChange::parse(&other.to_string()), Err(NotificationError::OtherType(t)) if t == "ANY_OFFER_CHANGED")
        );

        let error = OrderChange::parse("{\"NotificationType\": \"ORDER_CHANGE\", \"Payload\": \"Jane Doe, 1 Main St\"")
            .unwrap_err();
        assert!(!error.to_string().contains("Jane"), "no body text in the error: {error}");
    }

    /// The example in Amazon's `FulfillmentOrderStatusNotification.json`, shortened.
    #[test]
    fn a_fulfillment_status_notification_names_its_fulfillment_order() {
        let example = json!({
            "NotificationVersion": "1.0", "NotificationType": "FULFILLMENT_ORDER_STATUS", "PayloadVersion": "1.0",
            "EventTime": "2020-07-13T19:42:04.284Z",
            "Payload": {"FulfillmentOrderStatusNotification": {
                "SellerId": "A3TH9S8BH6GOGM", "EventType": "Order", "StatusUpdatedDateTime": "2020-07-13T19:42:04.284Z",
                "SellerFulfillmentOrderId": "SFOID2345", "FulfillmentOrderStatus": "PROCESSED"}},
            "NotificationMetadata": {"ApplicationId": "app-id", "SubscriptionId": "subscription-id",
                                     "PublishTime": "2020-07-13T19:42:04.284Z", "NotificationId": "n-1"}
        });
        let Notification::FulfillmentStatus(change) = Notification::parse(&example.to_string()).unwrap() else {
            panic!("not a fulfillment status change")
        };
        assert_eq!((change.fulfillment_id.as_str(), change.seller_id.as_str()), ("SFOID2345", "A3TH9S8BH6GOGM"));
        let mut broken = example.clone();
        broken["Payload"]["FulfillmentOrderStatusNotification"]
            .as_object_mut()
            .unwrap()
            .remove("SellerFulfillmentOrderId");
        let error = Notification::parse(&broken.to_string()).unwrap_err().to_string();
        assert!(error.contains("SellerFulfillmentOrderId") && error.contains("n-1"), "{error}");
        assert!(matches!(OrderChange::parse(&example.to_string()), Err(NotificationError::OtherType(_))));
    }
}
