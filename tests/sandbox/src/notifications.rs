//! ORDER_CHANGE notifications as Amazon sends them to an SQS destination (schema
//! `OrderChangeNotification.json`), and their delivery to a local SQS (moto).
use serde_json::{Value, json};

use crate::orders::{FulfilledBy, FulfillmentStatus, Order};

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
        "NotificationType": "ORDER_CHANGE",
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
            "ApplicationId": "amzn1.sp.solution.sandbox",
            "SubscriptionId": subscription_id,
            "PublishTime": now,
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
