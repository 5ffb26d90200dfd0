//! `fulfillment.requested` and `fulfillment.cancelled`: store orders Amazon ships from its warehouses.
//!
//! A request is checked completely before anything is recorded (422 naming the store order and the field:
//! a SKU not marked Amazon-fulfilled, a quantity of 0, an incomplete address, a country the marketplace
//! does not serve, a rate name no speed is mapped to), then recorded under the `sellerFulfillmentOrderId`
//! its store order derives, and its create message queued. The same store order asked again is the same
//! fulfillment order: acknowledged (and queued again if it never left), never a second one; asked again
//! with other items or another address it is refused (409).
//!
//! A cancellation is settled at once when the outcome is already known (Amazon is shipping: too late;
//! nothing will ship: nothing to cancel), and otherwise queued for the sender, which asks Amazon.
use std::time::Duration;

use http::StatusCode;
use sellerbridge_core::domain::fulfillment::{FulfillmentOrder, Progress};
use sellerbridge_core::domain::ids::SellerFulfillmentOrderId;
use sellerbridge_core::domain::marketplace::Marketplace;
use sellerbridge_core::queue::{UpdateMessage, announce_fulfillment};
use sellerbridge_core::webhook::fulfillment_events::{FulfillmentCancelled, FulfillmentRequested};
use serde_json::json;
use tracing::info;

use super::{Accepted, Rejected, WebhookDeps};

pub(crate) async fn accept_request(deps: &WebhookDeps, event: FulfillmentRequested) -> Result<Accepted, Rejected> {
    let request = event.request;
    let span = tracing::Span::current();
    span.record("event_id", event.event_id.as_str());
    let order_name = request.store_order_id.clone();
    let Some(connection) = deps.store.get_connection(&request.connection_id).await? else {
        return Err(Rejected::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("store order {order_name}: connection {} does not exist", request.connection_id),
        ));
    };
    let marketplace = Marketplace::find(&connection.marketplace_id)
        .map_err(|e| Rejected::new(StatusCode::UNPROCESSABLE_ENTITY, format!("store order {order_name}: {e}")))?;
    let mut order = request
        .plan(&connection.options.fulfillment, marketplace, event.event_id.clone(), deps.clock.now())
        .map_err(|refusal| Rejected::new(StatusCode::UNPROCESSABLE_ENTITY, refusal.to_string()))?;
    order.retention = connection.options.retention;
    span.record("fulfillment_id", order.id.as_str());
    if !deps.store.create_fulfillment(&order).await? {
        return repeated_request(deps, &order).await;
    }
    info!(fulfillment_id = %order.id, "fulfillment order accepted; queued for Amazon");
    queue(deps, UpdateMessage::CreateFulfillment { fulfillment_id: order.id.clone() }).await?;
    Ok(Accepted {
        status: StatusCode::ACCEPTED,
        outcome: "fulfillment_accepted",
        body: json!({"status": "accepted", "fulfillment_id": order.id, "store_order_id": order.store_order_id,
                     "state": order.store_state(), "shipping_speed": order.speed.as_str()}),
    })
}

/// The store order was requested before: the same request is acknowledged (and queued again while it
/// has not reached Amazon: the first delivery may have found SQS down); another one is refused.
async fn repeated_request(deps: &WebhookDeps, order: &FulfillmentOrder) -> Result<Accepted, Rejected> {
    let Some(existing) = deps.store.get_fulfillment(&order.id).await? else {
        return Err(Rejected::new(StatusCode::SERVICE_UNAVAILABLE, "the fulfillment order is being recorded; retry"));
    };
    let existing = existing.value;
    if !existing.same_request(order) {
        return Err(Rejected::new(
            StatusCode::CONFLICT,
            format!(
                "store order {}: already requested (fulfillment order {}) with other items, speed or address; \
                 cancel it with fulfillment.cancelled, and request the new shipment under another store order id",
                order.store_order_id, existing.id
            ),
        ));
    }
    if existing.progress == Progress::Queued {
        queue(deps, UpdateMessage::CreateFulfillment { fulfillment_id: existing.id.clone() }).await?;
    }
    Ok(Accepted {
        status: StatusCode::OK,
        outcome: "duplicate_fulfillment",
        body: json!({"status": "duplicate", "fulfillment_id": existing.id, "store_order_id": existing.store_order_id,
                     "state": existing.store_state()}),
    })
}

pub(crate) async fn accept_cancel(deps: &WebhookDeps, event: FulfillmentCancelled) -> Result<Accepted, Rejected> {
    let id = SellerFulfillmentOrderId::for_store_order(&event.connection_id, &event.store_order_id);
    let span = tracing::Span::current();
    span.record("event_id", event.event_id.as_str());
    span.record("fulfillment_id", id.as_str());
    let now = deps.clock.now();
    let updated =
        deps.store.update_fulfillment(&id, |order| order.request_cancellation(event.event_id.clone(), now)).await?;
    let Some((order, changed)) = updated else {
        return Err(Rejected::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "store order {}: no fulfillment was requested for it on connection {}",
                event.store_order_id, event.connection_id
            ),
        ));
    };
    if order.cancel_pending() {
        // Again for a repeated event: its first delivery may have found SQS down.
        queue(deps, UpdateMessage::CancelFulfillment { fulfillment_id: order.id.clone() }).await?;
    } else if changed && let Some(connection) = deps.store.get_connection(&order.connection_id).await? {
        announce_fulfillment(deps.outbound.as_ref(), &deps.store, &connection, &order).await;
    }
    let view = order.view();
    let cancellation = view.cancellation.as_ref();
    info!(fulfillment_id = %order.id, outcome = cancellation.map(|c| c.outcome), "fulfillment cancellation received");
    Ok(Accepted {
        status: if changed { StatusCode::ACCEPTED } else { StatusCode::OK },
        outcome: "fulfillment_cancel",
        body: json!({"status": cancellation.map(|c| c.outcome), "detail": cancellation.map(|c| c.detail.as_str()),
                     "fulfillment_id": order.id, "store_order_id": order.store_order_id, "state": view.state}),
    })
}

async fn queue(deps: &WebhookDeps, message: UpdateMessage) -> Result<(), Rejected> {
    deps.queue.send(&message, Duration::ZERO).await.map_err(|e| {
        Rejected::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("recorded but not queued yet ({e}); send the event again"),
        )
    })
}
