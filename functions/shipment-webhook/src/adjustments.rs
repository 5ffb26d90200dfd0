//! `order.cancelled` and `order.refunded` (and Shopify's `orders/cancelled` and `refunds/create`):
//! checked against the order (422 naming the order and line when Amazon could not take it), then
//! recorded with what it books on the order and its place in the connection's feed backlog, in one
//! transaction. The sync sends it in its next feed; nothing goes on the updates queue.
use http::StatusCode;
use sellerbridge_core::domain::adjustment::{Adjustment, AdjustmentRequest, reserve_adjustment};
use sellerbridge_core::domain::ids::EventId;
use sellerbridge_core::store::{PlaceAdjustment, StoreError};
use serde_json::json;
use tracing::info;

use super::{Accepted, MAX_CONFLICT_RETRIES, Rejected, WebhookDeps};

pub(crate) async fn accept(
    deps: &WebhookDeps,
    event_id: EventId,
    request: AdjustmentRequest,
) -> Result<Accepted, Rejected> {
    let order_id = request.order_id().clone();
    let span = tracing::Span::current();
    span.record("event_id", event_id.as_str());
    span.record("order_id", order_id.as_str());
    for _ in 0..MAX_CONFLICT_RETRIES {
        if let Some(recorded) = deps.store.get_adjustment(&order_id, &event_id).await? {
            let adjustment = recorded.value;
            let body = json!({"status": "duplicate", "event_id": event_id, "order_id": order_id,
                "kind": adjustment.kind.name(), "state": adjustment.state.name()});
            return Ok(Accepted { status: StatusCode::OK, outcome: "duplicate_event", body });
        }
        let Some(mut order) = deps.store.get_order(&order_id).await? else {
            return Err(Rejected::new(StatusCode::UNPROCESSABLE_ENTITY, format!("unknown order {order_id}")));
        };
        let identifier = match deps.store.get_connection(&order.value.connection_id).await? {
            Some(connection) => connection.options.product_identifier,
            None => Default::default(),
        };
        let kind = request
            .clone()
            .named_by(identifier)
            .plan(&order.value)
            .map_err(|e| Rejected::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
        let adjustment = Adjustment::new(event_id.clone(), &order.value, kind, deps.clock.now());
        reserve_adjustment(&mut order.value, &adjustment);
        match deps.store.place_adjustment(&order, &adjustment).await {
            Ok(PlaceAdjustment::Placed) => {
                let (kind, feed_type) = (adjustment.kind.name(), adjustment.kind.feed_type());
                info!(kind, "adjustment waits for its feed");
                let body = json!({"status": "accepted", "event_id": event_id, "order_id": order_id,
                    "kind": kind, "feed_type": feed_type});
                return Ok(Accepted { status: StatusCode::ACCEPTED, outcome: "adjustment_accepted", body });
            }
            // Recorded by a concurrent delivery, or the order changed: read both again.
            Ok(PlaceAdjustment::Duplicate) | Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Rejected::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("order {order_id} is being updated concurrently; retry"),
    ))
}
