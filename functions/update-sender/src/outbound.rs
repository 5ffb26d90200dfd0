//! Order events posted to the merchant's webhook URL: `{"id", "type", "created_at", "data": <order>}`,
//! signed like the store's own webhooks (`X-Sellerbridge-Signature: t=<unix>,v1=<HMAC-SHA256 of
//! "<t>.<body>">` with the stack's signing secret). The order is read when the event is sent, so it
//! carries the latest state (and `REDACTED (Amazon)` once redacted); the event id names the event,
//! the order and Amazon's version of it, so a receiver can drop repeats. A 2xx is remembered and the
//! same event is never sent again; anything else is retried with backoff, and after the last
//! attempt recorded for the operator while SQS moves the message to the dead-letter queue.
use chrono::{DateTime, Utc};
use sellerbridge_core::domain::ids::AmazonOrderId;
use sellerbridge_core::domain::view::{OrderEvent, OrderView};
use sellerbridge_core::store::WebhookFailure;
use sellerbridge_core::webhook::signature::SIGNATURE_HEADER;
use serde_json::json;
use tracing::{info, warn};

use super::{Outcome, SendError, SenderDeps};

/// The merchant's endpoint gets this long to answer.
const DELIVERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

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
    let connection = store.get_connection(&order.value.connection_id).await?;
    let Some((connection, url)) = connection.and_then(|c| c.options.outbound_webhook_url.clone().map(|url| (c, url)))
    else {
        info!(event_id, "the connection no longer posts order events");
        return Ok(Outcome::Done);
    };
    let packages = store.list_packages(order_id).await?;
    let now = deps.adapters.clock.now();
    let body = json!({
        "id": event_id,
        "type": event.name(),
        "created_at": now,
        "data": OrderView::of(&order.value, &packages, connection.options.product_identifier),
    })
    .to_string();
    // Signed with the current key and, during a rotation, the previous one: a receiver that has not
    // switched yet still verifies it.
    let signature = deps.signing_keys.keys().await?.sign(now, body.as_bytes());
    let sent = deps
        .adapters
        .http
        .post(&url)
        .header(SIGNATURE_HEADER, signature)
        .header("content-type", "application/json")
        .timeout(DELIVERY_TIMEOUT)
        .body(body)
        .send()
        .await;
    let reason = match sent {
        Ok(response) if response.status().is_success() => {
            store.record_webhook_delivered(&event_id, now).await?;
            info!(event_id, status = response.status().as_u16(), "order event delivered");
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
            order_id: order_id.clone(),
            reason: reason.clone(),
            attempts: receives,
            at: now,
        };
        store.put_webhook_failure(&failure).await?;
        warn!(event_id, attempts = receives, "order event given up; its message goes to the dead-letter queue");
    }
    Err(SendError::Webhook { event_id, reason })
}
