//! `POST /webhooks/shopify`: Shopify's webhook format beside ours.
//!
//! `fulfillments/create` and `fulfillments/update` of a successful fulfillment with tracking become a
//! shipment confirmed to Amazon exactly like `shipment.created` (one package under the fulfillment's id,
//! deduplicated by `X-Shopify-Webhook-Id`; a later update of the same fulfillment is the same package).
//! One not shipped yet, or without tracking, is acknowledged and waits for its update (a refusal would
//! only make Shopify retry the same body, and in the end drop the subscription). `orders/create` and
//! `orders/updated` teach which Amazon order a Shopify order came from. `orders/cancelled` and
//! `refunds/create` become a cancellation and a refund at Amazon, like `order.cancelled` and
//! `order.refunded` (an order Amazon cancelled already, or a refund of shipping alone, is
//! acknowledged and not sent). Other topics are acknowledged so Shopify does not retry them, and logged.
use http::StatusCode;
use lambda_http::Request;
use sellerbridge_core::domain::adjustment::AdjustmentRequest;
use sellerbridge_core::domain::ids::{AmazonOrderId, EventId};
use sellerbridge_core::domain::status::OrderStatus;
use sellerbridge_core::webhook::events::{EventError, ShipmentCreated};
use sellerbridge_core::webhook::shopify::{
    self as format, HMAC_HEADER, ShopifySignatureError, TOPIC_HEADER, Topic, WEBHOOK_ID_HEADER,
};
use serde_json::json;
use tracing::{info, warn};

use super::{Accepted, Rejected, WebhookDeps, accept_shipment, adjustments, header, verified};

pub const PATH: &str = "/webhooks/shopify";

pub(crate) async fn receive(deps: &WebhookDeps, request: &Request, body: &[u8]) -> Result<Accepted, Rejected> {
    let Some(keys) = &deps.shopify_keys else {
        return Err(Rejected::new(StatusCode::NOT_FOUND, "this stack takes no Shopify webhooks (no Shopify secret)"));
    };
    let signature = header(request, HMAC_HEADER);
    verified(keys, |keys| format::verify(keys, signature, body), |e| *e == ShopifySignatureError::Mismatch).await?;
    let topic = header(request, TOPIC_HEADER)
        .map(Topic::parse)
        .ok_or_else(|| Rejected::new(StatusCode::BAD_REQUEST, format!("missing {TOPIC_HEADER} header")))?;
    let webhook_id = header(request, WEBHOOK_ID_HEADER)
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .and_then(|id| EventId::parse(format!("shopify:{id}")).ok())
        .ok_or_else(|| {
            Rejected::new(StatusCode::BAD_REQUEST, format!("missing or invalid {WEBHOOK_ID_HEADER} header"))
        })?;
    tracing::Span::current().record("event_id", webhook_id.as_str());
    match topic {
        Topic::FulfillmentsCreate | Topic::FulfillmentsUpdate => fulfillment(deps, webhook_id, body).await,
        Topic::OrdersCreate | Topic::OrdersUpdated => link_order(deps, body).await,
        Topic::OrdersCancelled => cancel_order(deps, webhook_id, body).await,
        Topic::RefundsCreate => refund(deps, webhook_id, body).await,
        Topic::Other(topic) => {
            warn!(topic, "a Shopify topic this endpoint does not act on; acknowledged so Shopify stops retrying");
            Ok(Accepted {
                status: StatusCode::OK,
                outcome: "ignored",
                body: json!({"status": "ignored", "topic": topic}),
            })
        }
    }
}

async fn fulfillment(deps: &WebhookDeps, event_id: EventId, body: &[u8]) -> Result<Accepted, Rejected> {
    let fulfillment = format::parse_fulfillment(body).map_err(|e| unreadable(body, e))?;
    if !fulfillment.shipped() || !fulfillment.has_tracking() {
        let waiting = if fulfillment.shipped() { "awaiting_tracking" } else { "not_shipped" };
        info!(status = fulfillment.status, waiting, "a fulfillment not ready for Amazon; acknowledged");
        let answer = json!({"status": "ignored", "fulfillment_status": fulfillment.status, "detail": waiting});
        return Ok(Accepted { status: StatusCode::OK, outcome: "ignored", body: answer });
    }
    let order_id = linked_order(deps, fulfillment.shopify_order_id).await?;
    let shipment = fulfillment
        .shipment(order_id.clone())
        .map_err(|e| Rejected::new(StatusCode::UNPROCESSABLE_ENTITY, format!("order {order_id}: {e}")))?;
    accept_shipment(deps, &ShipmentCreated { event_id, shipment }).await
}

/// The Amazon order a Shopify order came from, as its order webhooks taught (422 when none did).
async fn linked_order(deps: &WebhookDeps, shopify_order_id: u64) -> Result<AmazonOrderId, Rejected> {
    deps.store.shopify_order(shopify_order_id).await?.ok_or_else(|| {
        Rejected::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "Shopify order {shopify_order_id} is not linked to an Amazon order: no orders/create or \
                 orders/updated webhook with its Amazon order id as source_identifier has arrived"
            ),
        )
    })
}

fn ignored(detail: &str) -> Accepted {
    Accepted { status: StatusCode::OK, outcome: "ignored", body: json!({"status": "ignored", "detail": detail}) }
}

/// `orders/cancelled`: every line of the Amazon order not shipped yet, cancelled at Amazon.
async fn cancel_order(deps: &WebhookDeps, event_id: EventId, body: &[u8]) -> Result<Accepted, Rejected> {
    let cancellation = format::parse_cancellation(body).map_err(|e| unreadable(body, e))?;
    let shopify_order_id = cancellation.link.shopify_order_id;
    let order_id = match &cancellation.link.amazon_order_id {
        Some(order_id) => order_id.clone(),
        None => match deps.store.shopify_order(shopify_order_id).await? {
            Some(order_id) => order_id,
            None => return Ok(ignored("not an Amazon order (no Amazon order id in source_identifier)")),
        },
    };
    // Amazon cancelled it first (the buyer asked there), and the store follows: nothing to send.
    if let Some(order) = deps.store.get_order(&order_id).await?
        && order.value.status == OrderStatus::Cancelled
    {
        tracing::Span::current().record("order_id", order_id.as_str());
        return Ok(ignored("the order is cancelled at Amazon already"));
    }
    let accepted =
        adjustments::accept(deps, event_id, AdjustmentRequest::Cancel(cancellation.request(order_id.clone()))).await?;
    // Its refunds, which name only the Shopify order, find the Amazon order through this link.
    deps.store.link_shopify_order(shopify_order_id, &order_id, deps.clock.now()).await?;
    Ok(accepted)
}

/// `refunds/create`: each refunded line's amounts refunded at Amazon.
async fn refund(deps: &WebhookDeps, event_id: EventId, body: &[u8]) -> Result<Accepted, Rejected> {
    let refund = format::parse_refund(body).map_err(|e| unreadable(body, e))?;
    if refund.lines.is_empty() {
        warn!(refund = refund.refund_id, "a Shopify refund of no line (shipping alone); not sent to Amazon");
        return Ok(ignored("a refund of no line item: Amazon refunds shipping with the line it belongs to"));
    }
    let order_id = linked_order(deps, refund.shopify_order_id).await?;
    let mut request = refund.request(order_id.clone());
    // A Shopify cancellation refunds the cancelled lines too; at Amazon cancelling a line refunds it.
    if let Some(order) = deps.store.get_order(&order_id).await? {
        let order = &order.value;
        request.lines.retain(|line| {
            let mut matching = order.items_matching(&line.item).peekable();
            // A line the order lacks stays, for the refund's check to name it.
            matching.peek().is_none() || !matching.all(|item| order.local.cancelling.contains(&item.id))
        });
        if request.lines.is_empty() {
            tracing::Span::current().record("order_id", order_id.as_str());
            return Ok(ignored("the refunded lines are being cancelled at Amazon, which refunds them itself"));
        }
    }
    adjustments::accept(deps, event_id, AdjustmentRequest::Refund(request)).await
}

async fn link_order(deps: &WebhookDeps, body: &[u8]) -> Result<Accepted, Rejected> {
    let link = format::parse_order_link(body).map_err(|e| unreadable(body, e))?;
    let Some(amazon_order_id) = link.amazon_order_id else {
        let answer =
            json!({"status": "ignored", "detail": "not an Amazon order (no Amazon order id in source_identifier)"});
        return Ok(Accepted { status: StatusCode::OK, outcome: "ignored", body: answer });
    };
    tracing::Span::current().record("order_id", amazon_order_id.as_str());
    deps.store.link_shopify_order(link.shopify_order_id, &amazon_order_id, deps.clock.now()).await?;
    let answer = json!({"status": "linked", "order_id": amazon_order_id, "shopify_order_id": link.shopify_order_id});
    Ok(Accepted { status: StatusCode::OK, outcome: "linked", body: answer })
}

/// A body that is not the payload its topic promises: 400 when unreadable, 422 for a wrong value; the
/// Shopify order is named when the body names one.
fn unreadable(body: &[u8], error: EventError) -> Rejected {
    let status = match error {
        EventError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::BAD_REQUEST,
    };
    let named = serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|v| {
        let key = if v.get("order_id").is_some() { "order_id" } else { "id" };
        v.get(key).and_then(serde_json::Value::as_u64)
    });
    match named {
        Some(order) => Rejected::new(status, format!("Shopify order {order}: {error}")),
        None => Rejected::new(status, error.to_string()),
    }
}
