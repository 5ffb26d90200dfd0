//! The notifications Amazon sends to an SQS destination: ORDER_CHANGE (schema `OrderChangeNotification.json`) and
//! FULFILLMENT_ORDER_STATUS (`FulfillmentOrderStatusNotification.json`), and their delivery to a local SQS (moto).
//!
//! FULFILLMENT_ORDER_STATUS: the schema is generated from its example (every description is a placeholder and every
//! field of the example is `required`), so what its fields hold and when they appear is taken from Amazon's
//! Notifications API use case guide (amzn/selling-partner-api-docs,
//! `guides/en-US/use-case-guides/notifications-api-use-case-guide/notifications-use-case-guide-v1.md`):
//! - `EventType` is `Order` (the order's status changed), `Shipment` (a shipment did) or `Return` (the sandbox
//!   has no returns, so never `Return`);
//! - `FulfillmentOrderStatus` is one of `Received`, `Invalid`, `Planning`, `Processing`, `Cancelled`, `Complete`,
//!   `CompletePartialled`, `Unfulfillable`: the Fulfillment Outbound API's words (never its `New`), not the
//!   example's `PROCESSED`;
//! - `FulfillmentShipment` is "Returned only when EventType is Shipment" and `FulfillmentReturnItem` "only when
//!   EventType is Return": an `Order` notification carries neither, a `Shipment` one no return item, although the
//!   schema's `required` lists both;
//! - `FulfillmentShipmentStatus` is `Pending`, `Shipped`, `CancelledByFulfiller` or `CancelledBySeller` (the guide's
//!   casing, not the upper case of getFulfillmentOrder's `fulfillmentShipmentStatus`), and "if the shipment has been
//!   cancelled, EstimatedArrivalDateTime is not returned".
//!
//! Where the guide says nothing, the schema's shape is kept: `FulfillmentShipmentPackages` is always there (empty
//! before the shipment leaves), and `info` (required by the schema, absent from the guide) is the first package, as
//! in the schema's example, once there is one. Each change is one notification: a step that moves the status and
//! the shipment together (Processing opens the shipment; Complete ships it) sends the `Order` notification, then the
//! `Shipment` one, both at the time of the step.
use serde_json::{Value, json};

use crate::fulfillment::outbound::{Change, EventType, ShipmentStatus};
use crate::orders::{FulfilledBy, FulfillmentStatus, Order};
use crate::time::{format_iso, format_iso_millis};

/// The application the notifications name (`NotificationMetadata.ApplicationId`).
pub const APPLICATION_ID: &str = "amzn1.sp.solution.sandbox";
pub const ORDER_CHANGE: &str = "ORDER_CHANGE";
pub const FULFILLMENT_ORDER_STATUS: &str = "FULFILLMENT_ORDER_STATUS";
/// The notification types the sandbox sends (and takes subscriptions to).
pub const SUPPORTED_TYPES: [&str; 2] = [ORDER_CHANGE, FULFILLMENT_ORDER_STATUS];

/// The `NotificationType` of a notification the sandbox built.
pub fn notification_type(notification: &Value) -> Option<&str> {
    notification["NotificationType"].as_str()
}

/// The notification for a change of `order`, published at `now`.
pub fn order_change(order: &Order, seller_id: &str, subscription_id: &str, now: &str) -> Value {
    // The notification speaks the Orders v0 status words.
    let status = match order.status() {
        Some(FulfillmentStatus::PendingAvailability) => "PendingAvailability",
        Some(FulfillmentStatus::Pending) | None => "Pending",
        Some(FulfillmentStatus::Unshipped) => "Unshipped",
        Some(FulfillmentStatus::PartiallyShipped) => "PartiallyShipped",
        Some(FulfillmentStatus::Shipped) => "Shipped",
        Some(FulfillmentStatus::Cancelled) => "Canceled",
        Some(FulfillmentStatus::Unfulfillable) => "Unfulfillable",
    };
    let fulfillment_type = if order.fulfilled_by() == Some(FulfilledBy::Amazon) { "AFN" } else { "MFN" };
    let postal_code = order.recipient.as_ref().map(|r| r.delivery_address.postal_code.clone()).unwrap_or_default();
    let items: Vec<Value> = order
        .order_items
        .iter()
        .map(|item| {
            let shipped = item.fulfillment.as_ref().map_or(0, |f| f.quantity_fulfilled);
            json!({
                "OrderItemId": item.order_item_id,
                "SellerSKU": item.product.seller_sku,
                // Merchant-fulfilled orders ship from the seller's default location.
                "SupplySourceId": "",
                "OrderItemStatus": if shipped >= item.quantity_ordered { "Shipped" } else { "Unshipped" },
                "Quantity": item.quantity_ordered,
                "QuantityShipped": shipped,
                "IsBuyerRequestedCancel": false,
            })
        })
        .collect();
    json!({
        "NotificationVersion": "1.0",
        "NotificationType": ORDER_CHANGE,
        "PayloadVersion": "1.0",
        "EventTime": now,
        "Payload": {"OrderChangeNotification": {
            "NotificationLevel": "OrderLevel",
            "SellerId": seller_id,
            "AmazonOrderId": order.order_id,
            "OrderChangeType": "OrderStatusChange",
            "OrderChangeTrigger": {"TimeOfOrderChange": now, "ChangeReason": "Order status changed"},
            "Summary": {
                "MarketplaceId": order.marketplace_id(),
                "OrderStatus": status,
                "PurchaseDate": crate::time::format_iso(order.created_time),
                "DestinationPostalCode": postal_code,
                "FulfillmentType": fulfillment_type,
                "OrderType": "StandardOrder",
                "OrderItems": items,
            }
        }},
        "NotificationMetadata": {
            "ApplicationId": APPLICATION_ID,
            "SubscriptionId": subscription_id,
            "PublishTime": now,
            "NotificationId": uuid::Uuid::new_v4().to_string(),
        }
    })
}

/// The FULFILLMENT_ORDER_STATUS notification of one change to a fulfillment order, sent when it happened.
pub fn fulfillment_order_status(change: &Change, seller_id: &str, subscription_id: &str) -> Value {
    let at = format_iso_millis(change.at);
    let mut body = json!({
        "SellerId": seller_id,
        "EventType": change.event_type.as_str(),
        "StatusUpdatedDateTime": at,
        "SellerFulfillmentOrderId": change.seller_fulfillment_order_id,
        "FulfillmentOrderStatus": change.status.as_str(),
    });
    if let (EventType::Shipment, Some(shipment)) = (change.event_type, &change.shipment) {
        let packages: Vec<Value> = shipment
            .package
            .iter()
            .map(|p| json!({"PackageNumber": 1, "CarrierCode": p.carrier_code, "TrackingNumber": p.tracking_number}))
            .collect();
        let status = match shipment.status {
            ShipmentStatus::Pending => "Pending",
            ShipmentStatus::Shipped => "Shipped",
            ShipmentStatus::CancelledByFulfiller => "CancelledByFulfiller",
            ShipmentStatus::CancelledBySeller => "CancelledBySeller",
        };
        let mut fulfillment_shipment = json!({
            "FulfillmentShipmentStatus": status,
            "AmazonShipmentId": shipment.amazon_shipment_id,
        });
        if matches!(shipment.status, ShipmentStatus::Pending | ShipmentStatus::Shipped) {
            fulfillment_shipment["EstimatedArrivalDateTime"] = json!(format_iso(shipment.estimated_arrival_date));
        }
        if let Some(first) = packages.first() {
            fulfillment_shipment["info"] = first.clone();
        }
        fulfillment_shipment["FulfillmentShipmentPackages"] = Value::Array(packages);
        body["FulfillmentShipment"] = fulfillment_shipment;
    }
    json!({
        "NotificationVersion": "1.0",
        "NotificationType": FULFILLMENT_ORDER_STATUS,
        "PayloadVersion": "1.0",
        "EventTime": at,
        "Payload": {"FulfillmentOrderStatusNotification": body},
        "NotificationMetadata": {
            "ApplicationId": APPLICATION_ID,
            "SubscriptionId": subscription_id,
            "PublishTime": at,
            "NotificationId": uuid::Uuid::new_v4().to_string(),
        }
    })
}

/// `arn:aws:sqs:REGION:ACCOUNT:NAME` → `{endpoint}/ACCOUNT/NAME`, the URL moto gives that queue.
pub fn queue_url(sqs_endpoint: &str, arn: &str) -> Option<String> {
    let mut parts = arn.strip_prefix("arn:aws:sqs:")?.splitn(3, ':');
    let (_region, account, name) = (parts.next()?, parts.next()?, parts.next()?);
    Some(format!("{}/{account}/{name}", sqs_endpoint.trim_end_matches('/')))
}

/// Sends one notification as Amazon does: the JSON document is the message body.
pub async fn send_to_sqs(queue_url: &str, notification: &Value) {
    let Some(endpoint) = queue_url.rsplitn(3, '/').nth(2) else { return };
    let request = json!({"QueueUrl": queue_url, "MessageBody": notification.to_string()});
    let sent = reqwest::Client::new()
        .post(format!("{endpoint}/"))
        .header("X-Amz-Target", "AmazonSQS.SendMessage")
        .header("Content-Type", "application/x-amz-json-1.0")
        // moto routes by the credential scope's service; it does not check the signature.
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=sandbox/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(request.to_string())
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => {}
        Ok(response) => tracing::warn!(queue_url, status = %response.status(), "SQS refused a notification"),
        Err(e) => tracing::warn!(queue_url, error = %e, "could not send a notification"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sqs_arn_names_its_local_queue() {
        assert_eq!(
            queue_url("http://127.0.0.1:5000/", "arn:aws:sqs:us-east-1:123456789012:sellerbridge-notifications")
                .as_deref(),
            Some("http://127.0.0.1:5000/123456789012/sellerbridge-notifications")
        );
        assert_eq!(queue_url("http://x", "arn:aws:sns:us-east-1:1:t"), None);
    }
}
