//! Events posted to the merchant's webhook URL: `{"id", "type", "created_at", "data"}`, signed like the
//! store's own webhooks (`X-Sellerbridge-Signature: t=<unix>,v1=<HMAC-SHA256 of "<t>.<body>">` with the
//! stack's signing secret).
//!
//! - `order.imported`, `order.updated`, `order.cancelled`: the order as read when the event is sent, so
//!   it carries the latest state (and `REDACTED (Amazon)` once redacted); the event id names the event,
//!   the order and Amazon's version of it.
//! - `fulfillment.updated`: a fulfillment order as the store sees it (state, reason, tracking; never the
//!   destination), its id naming the order's revision.
//! - `inventory.updated`: the SKUs whose FBA quantities changed in one read of the connection's
//!   inventory, with their quantities as stored when sent.
//!
//! Event ids let a receiver drop repeats. A 2xx is remembered and the same event is never sent again;
//! anything else is retried with backoff, and after the last attempt recorded for the operator while
//! SQS moves the message to the dead-letter queue.
use chrono::{DateTime, Utc};
use sellerbridge_core::domain::connection::Connection;
use sellerbridge_core::domain::ids::{AmazonOrderId, ConnectionId, SellerFulfillmentOrderId, Sku};
use sellerbridge_core::domain::view::{OrderEvent, OrderView};
use sellerbridge_core::metrics::{self, Metric};
use sellerbridge_core::store::WebhookFailure;
use sellerbridge_core::webhook::signature::SIGNATURE_HEADER;
use serde_json::{Value, json};
use tracing::{info, warn};

use super::{Outcome, SendError, SenderDeps};

/// The merchant's endpoint gets this long to answer.
const DELIVERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
pub(crate) const FULFILLMENT_UPDATED: &str = "fulfillment.updated";
pub(crate) const INVENTORY_UPDATED: &str = "inventory.updated";

/// One event for the merchant's endpoint, and what a failure record names.
struct Event {
    id: String,
    kind: &'static str,
    data: Value,
    order_id: Option<AmazonOrderId>,
    fulfillment_id: Option<SellerFulfillmentOrderId>,
}

pub(crate) async fn deliver(
    deps: &SenderDeps,
    order_id: &AmazonOrderId,
    event: OrderEvent,
    version: DateTime<Utc>,
    receives: u32,
) -> Result<Outcome, SendError> {
    let store = &deps.adapters.store;
    let event_id = event.id(order_id, version);
    if store.webhook_delivered(&event_id).await? {
        info!(event_id, "order event delivered already");
        return Ok(Outcome::Done);
    }
    let Some(order) = store.get_order(order_id).await? else {
        warn!(event_id, "the order of this event is not in the table");
        return Ok(Outcome::Done);
    };
    let Some((connection, url)) = posting(deps, &order.value.connection_id).await? else {
        info!(event_id, "the connection no longer posts events");
        return Ok(Outcome::Done);
    };
    let packages = store.list_packages(order_id).await?;
    let data = json!(OrderView::of(&order.value, &packages, connection.options.product_identifier));
    let event =
        Event { id: event_id, kind: event.name(), data, order_id: Some(order_id.clone()), fulfillment_id: None };
    post(deps, &connection, &url, event, receives).await
}

pub(crate) async fn deliver_fulfillment(
    deps: &SenderDeps,
    id: &SellerFulfillmentOrderId,
    revision: u32,
    receives: u32,
) -> Result<Outcome, SendError> {
    let store = &deps.adapters.store;
    let event_id = format!("{FULFILLMENT_UPDATED}:{id}:{revision}");
    if store.webhook_delivered(&event_id).await? {
        info!(event_id, "fulfillment event delivered already");
        return Ok(Outcome::Done);
    }
    let Some(order) = store.get_fulfillment(id).await? else {
        warn!(event_id, "the fulfillment order of this event is not in the table");
        return Ok(Outcome::Done);
    };
    let Some((connection, url)) = posting(deps, &order.value.connection_id).await? else {
        info!(event_id, "the connection no longer posts events");
        return Ok(Outcome::Done);
    };
    let data = json!(order.value.view());
    let event =
        Event { id: event_id, kind: FULFILLMENT_UPDATED, data, order_id: None, fulfillment_id: Some(id.clone()) };
    post(deps, &connection, &url, event, receives).await
}

pub(crate) async fn deliver_inventory(
    deps: &SenderDeps,
    connection_id: &ConnectionId,
    read_at: DateTime<Utc>,
    part: u32,
    skus: &[Sku],
    receives: u32,
) -> Result<Outcome, SendError> {
    let store = &deps.adapters.store;
    let event_id = format!("{INVENTORY_UPDATED}:{connection_id}:{}:{part}", read_at.timestamp_millis());
    if store.webhook_delivered(&event_id).await? {
        info!(event_id, "inventory event delivered already");
        return Ok(Outcome::Done);
    }
    let Some((connection, url)) = posting(deps, connection_id).await? else {
        info!(event_id, "the connection no longer posts events");
        return Ok(Outcome::Done);
    };
    let mut items = Vec::with_capacity(skus.len());
    for sku in skus {
        if let Some(level) = store.get_inventory_level(connection_id, sku).await? {
            items.push(json!({"sku": level.sku, "fnsku": level.fnsku, "asin": level.asin,
                              "quantities": level.quantities, "amazon_updated_at": level.amazon_updated_at}));
        }
    }
    let data = json!({"connection_id": connection_id, "marketplace_id": connection.marketplace_id,
                      "read_at": read_at, "items": items});
    let event = Event { id: event_id, kind: INVENTORY_UPDATED, data, order_id: None, fulfillment_id: None };
    post(deps, &connection, &url, event, receives).await
}

/// The connection and its webhook URL, if it posts events.
async fn posting(deps: &SenderDeps, id: &ConnectionId) -> Result<Option<(Connection, String)>, SendError> {
    let connection = deps.adapters.store.get_connection(id).await?;
    Ok(connection.and_then(|c| c.options.outbound_webhook_url.clone().map(|url| (c, url))))
}

async fn post(
    deps: &SenderDeps,
    connection: &Connection,
    url: &str,
    event: Event,
    receives: u32,
) -> Result<Outcome, SendError> {
    let store = &deps.adapters.store;
    let now = deps.adapters.clock.now();
    let event_id = event.id;
    let body = json!({"id": event_id, "type": event.kind, "created_at": now, "data": event.data}).to_string();
    // Signed with the current key and, during a rotation, the previous one: a receiver that has not
    // switched yet still verifies it.
    let signature = deps.signing_keys.keys().await?.sign(now, body.as_bytes());
    let sent = deps
        .adapters
        .http
        .post(url)
        .header(SIGNATURE_HEADER, signature)
        .header("content-type", "application/json")
        .timeout(DELIVERY_TIMEOUT)
        .body(body)
        .send()
        .await;
    let reason = match sent {
        Ok(response) if response.status().is_success() => {
            store.record_webhook_delivered(&event_id, now).await?;
            info!(event_id, status = response.status().as_u16(), "event delivered");
            return Ok(Outcome::Done);
        }
        Ok(response) => format!("the endpoint answered {}", response.status()),
        // Without the URL: it may carry a token of the merchant's.
        Err(e) => format!("the request failed: {}", e.without_url()),
    };
    if receives >= deps.settings.max_receives {
        let failure = WebhookFailure {
            connection_id: connection.id.clone(),
            event_id: event_id.clone(),
            order_id: event.order_id,
            fulfillment_id: event.fulfillment_id,
            reason: reason.clone(),
            attempts: receives,
            at: now,
        };
        store.put_webhook_failure(&failure).await?;
        warn!(event_id, attempts = receives, "event given up; its message goes to the dead-letter queue");
        metrics::count(Metric::WebhookFailures, 1);
        metrics::count(Metric::DeadLettered, 1);
    }
    Err(SendError::Webhook { event_id, reason })
}
