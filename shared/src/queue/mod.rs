//! The updates queue and its messages. Messages carry identifiers only, never order contents or PII.
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use chrono::{DateTime, Utc};

use crate::domain::connection::Connection;
use crate::domain::fulfillment::{AmazonFulfillmentReport, Applied, FulfillmentOrder};
use crate::domain::ids::{AmazonOrderId, ConnectionId, PackageId, SellerFulfillmentOrderId, Sku};
use crate::domain::view::OrderEvent;
use crate::store::{DynamoStore, PendingFulfillmentEvent, StoreError};

/// SQS caps message delays and visibility extensions at 15 minutes for delays, 12 hours for visibility.
pub const MAX_DELAY: Duration = Duration::from_secs(900);

/// A change to send to Amazon. Versioned by its `type` tag so new kinds (cancellations, refunds, MCF)
/// can join the same queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UpdateMessage {
    ConfirmShipment {
        order_id: AmazonOrderId,
        package_id: PackageId,
    },
    /// An order event for the merchant's webhook URL, about the order as Amazon's copy at `version`
    /// (its `lastUpdatedTime`) left it. The order is read when the event is sent.
    DeliverWebhook {
        order_id: AmazonOrderId,
        event: OrderEvent,
        version: DateTime<Utc>,
    },
    /// Create the fulfillment order at Amazon (Multi-Channel Fulfillment).
    CreateFulfillment {
        fulfillment_id: SellerFulfillmentOrderId,
    },
    /// Ask Amazon to cancel the fulfillment order.
    CancelFulfillment {
        fulfillment_id: SellerFulfillmentOrderId,
    },
    /// `fulfillment.updated` for the merchant's webhook URL, about the order at `revision`. The order is
    /// read when the event is sent.
    DeliverFulfillmentEvent {
        fulfillment_id: SellerFulfillmentOrderId,
        revision: u32,
    },
    /// `inventory.updated` for the merchant's webhook URL: the SKUs whose quantities changed in the read
    /// of the connection's FBA inventory at `read_at` (their quantities are read when it is sent).
    DeliverInventoryEvent {
        connection_id: ConnectionId,
        read_at: DateTime<Utc>,
        part: u32,
        skus: Vec<Sku>,
    },
}

impl UpdateMessage {
    /// What the message is about, for the operator.
    pub fn subject(&self) -> String {
        match self {
            Self::ConfirmShipment { order_id, .. } | Self::DeliverWebhook { order_id, .. } => {
                format!("order {order_id}")
            }
            Self::CreateFulfillment { fulfillment_id }
            | Self::CancelFulfillment { fulfillment_id }
            | Self::DeliverFulfillmentEvent { fulfillment_id, .. } => format!("fulfillment order {fulfillment_id}"),
            Self::DeliverInventoryEvent { connection_id, .. } => format!("inventory of connection {connection_id}"),
        }
    }
}

/// Queues `fulfillment.updated` for the order's current revision, if its connection posts events to the
/// merchant. One SQS will not take is kept in the table, and the connection's next sync queues it.
pub async fn announce_fulfillment(
    outbound: &dyn UpdateQueue,
    store: &DynamoStore,
    connection: &Connection,
    order: &FulfillmentOrder,
) {
    if connection.options.outbound_webhook_url.is_none() {
        return;
    }
    let message = UpdateMessage::DeliverFulfillmentEvent { fulfillment_id: order.id.clone(), revision: order.revision };
    if let Err(e) = outbound.send(&message, Duration::ZERO).await {
        tracing::warn!(fulfillment_id = %order.id, error = %e, "could not queue fulfillment.updated; kept to queue later");
        let pending = PendingFulfillmentEvent {
            connection_id: connection.id.clone(),
            fulfillment_id: order.id.clone(),
            revision: order.revision,
        };
        if let Err(e) = store.put_pending_fulfillment_event(&pending).await {
            tracing::error!(fulfillment_id = %order.id, error = %e, "could not keep fulfillment.updated either");
        }
    }
}

/// Applies Amazon's report to the stored fulfillment order (again on a concurrent write) and, if the store
/// sees a change, tells it: `true` then.
pub async fn record_amazon_report(
    outbound: &dyn UpdateQueue,
    store: &DynamoStore,
    connection: &Connection,
    id: &SellerFulfillmentOrderId,
    report: &AmazonFulfillmentReport,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut applied = Applied::Unchanged;
    let updated = store
        .update_fulfillment(id, |order| {
            applied = order.apply_amazon(report.clone(), now);
            applied.written()
        })
        .await?;
    match updated {
        Some((order, true)) if applied.announced() => {
            tracing::info!(fulfillment_id = %id, status = ?report.status, "fulfillment order moved at Amazon");
            announce_fulfillment(outbound, store, connection, &order).await;
            Ok(true)
        }
        _ => Ok(false),
    }
}

#[derive(Debug, Error)]
#[error("SQS unavailable: {0}")]
pub struct QueueError(pub String);

#[async_trait]
pub trait UpdateQueue: Send + Sync {
    /// Enqueues a message, visible after `delay` (at most [`MAX_DELAY`]).
    async fn send(&self, message: &UpdateMessage, delay: Duration) -> Result<(), QueueError>;

    /// Hides a received message for `timeout` more, so a transient failure is retried later.
    async fn postpone(&self, receipt_handle: &str, timeout: Duration) -> Result<(), QueueError>;
}

#[derive(Clone)]
pub struct SqsUpdateQueue {
    client: Client,
    queue_url: String,
}

impl SqsUpdateQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self { client, queue_url: queue_url.into() }
    }
}

#[async_trait]
impl UpdateQueue for SqsUpdateQueue {
    async fn send(&self, message: &UpdateMessage, delay: Duration) -> Result<(), QueueError> {
        let body = serde_json::to_string(message).map_err(|e| QueueError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay.min(MAX_DELAY).as_secs() as i32)
            .send()
            .await
            .map(drop)
            .map_err(|e| QueueError(DisplayErrorContext(&e).to_string()))
    }

    async fn postpone(&self, receipt_handle: &str, timeout: Duration) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(timeout.as_secs() as i32)
            .send()
            .await
            .map(drop)
            .map_err(|e| QueueError(DisplayErrorContext(&e).to_string()))
    }
}

/// A dead-letter queue a consumer parks messages in itself, with the reason it could not handle them
/// (the `reason` message attribute), instead of letting them fail until SQS moves them.
#[derive(Clone)]
pub struct SqsDeadLetters {
    client: Client,
    queue_url: String,
}

impl SqsDeadLetters {
    pub const REASON_ATTRIBUTE: &'static str = "reason";

    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self { client, queue_url: queue_url.into() }
    }

    pub async fn park(&self, body: &str, reason: &str) -> Result<(), QueueError> {
        let reason = aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(reason)
            .build()
            .map_err(|e| QueueError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_attributes(Self::REASON_ATTRIBUTE, reason)
            .send()
            .await
            .map(drop)
            .map_err(|e| QueueError(DisplayErrorContext(&e).to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_identifiers_only() {
        let message = UpdateMessage::ConfirmShipment {
            order_id: AmazonOrderId::parse("902-1106328-1059050").unwrap(),
            package_id: PackageId::parse("PKG-1").unwrap(),
        };
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "confirm_shipment", "order_id": "902-1106328-1059050", "package_id": "PKG-1"})
        );
        assert_eq!(serde_json::from_value::<UpdateMessage>(json).unwrap(), message);
    }
}
