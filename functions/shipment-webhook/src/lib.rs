//! Webhook ingest: `POST /webhooks/shipments` with a signed `shipment.created`, `shipment.delivered`,
//! `order.cancelled` or `order.refunded` event (`api/webhooks.openapi.yaml` documents each; the last
//! two in [`adjustments`]), and
//! `POST /webhooks/shopify` with Shopify's own format ([`shopify`]).
//!
//! Signature, with either of two keys during a rotation (401) → event parsing (400 when unreadable,
//! 422 naming the field and order when a value is wrong) → order lookup (422) → the package id: a
//! repeat is acknowledged (200), a changed package refused (409), a failed one may be sent again →
//! domain shipment rules (422) → one transaction recording the event, the package and the order's
//! reservation → an SQS message carrying identifiers only. A repeated event id is acknowledged and not
//! queued again; an event recorded but not yet queued (SQS was down) is queued when the store retries it.
use std::sync::Arc;

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use sellerbridge_core::domain::adjustment::AdjustmentRequest;
use sellerbridge_core::domain::clock::SharedClock;
use sellerbridge_core::domain::connection::DuplicateTrackingPolicy;
use sellerbridge_core::domain::ids::{AmazonOrderId, StoreOrderId};
use sellerbridge_core::domain::order::Order;
use sellerbridge_core::domain::pii;
use sellerbridge_core::domain::shipment::{
    Package, PackageState, SamePackageId, ShipmentRequest, apply_delivery, plan_package, plan_resend, release_package,
    reserve_package,
};
use sellerbridge_core::http::{json_response, request_id};
use sellerbridge_core::queue::{UpdateMessage, UpdateQueue};
use sellerbridge_core::secrets::SecretError;
use sellerbridge_core::store::{DynamoStore, EventRecord, PlacePackage, StoreError, Versioned};
use sellerbridge_core::webhook::events::{EventError, ShipmentCreated, ShipmentDelivered, StoreEvent, parse_event};
use sellerbridge_core::webhook::keyring::KeyRing;
use sellerbridge_core::webhook::signature::{SIGNATURE_HEADER, SignatureError, SigningKeys};
use serde_json::json;
use tracing::{Instrument, info, info_span, warn};

mod adjustments;
mod fulfillment;
mod shopify;

/// Far above any real shipment event; keeps a hostile sender from making us buffer megabytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
const MAX_CONFLICT_RETRIES: usize = 5;

pub struct WebhookDeps {
    pub store: DynamoStore,
    pub queue: Arc<dyn UpdateQueue>,
    /// Events for the merchant's webhook URL (`fulfillment.updated`).
    pub outbound: Arc<dyn UpdateQueue>,
    /// Our signing keys: the current one and, during a rotation, the previous one.
    pub keys: Arc<KeyRing>,
    /// The Shopify app's secret (and the one before it), when the stack takes Shopify's webhooks.
    pub shopify_keys: Option<Arc<KeyRing>>,
    pub clock: SharedClock,
}

pub async fn handle(deps: &WebhookDeps, request: Request) -> Result<Response<Body>, lambda_http::Error> {
    let request_id = request_id(&request);
    let span = info_span!(
        "webhook",
        request_id,
        event_id = tracing::field::Empty,
        order_id = tracing::field::Empty,
        fulfillment_id = tracing::field::Empty
    );
    let response = receive(deps, &request).instrument(span.clone()).await;
    let _entered = span.enter();
    match &response {
        Ok(accepted) => info!(status = accepted.status.as_u16(), outcome = accepted.outcome, "webhook accepted"),
        Err(rejected) => warn!(status = rejected.status.as_u16(), reason = %rejected.message, "webhook rejected"),
    }
    Ok(match response {
        Ok(accepted) => json_response(accepted.status, accepted.body),
        Err(rejected) => json_response(rejected.status, json!({"error": rejected.message})),
    })
}

pub(crate) struct Accepted {
    status: StatusCode,
    outcome: &'static str,
    body: serde_json::Value,
}

#[derive(Debug)]
pub struct Rejected {
    status: StatusCode,
    message: String,
}

impl Rejected {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }
}

impl From<StoreError> for Rejected {
    fn from(e: StoreError) -> Self {
        // 503 tells the sender to retry; the event is recorded at most once whatever happens.
        Self::new(StatusCode::SERVICE_UNAVAILABLE, format!("temporarily unable to record the event: {e}"))
    }
}

async fn receive(deps: &WebhookDeps, request: &Request) -> Result<Accepted, Rejected> {
    if request.method() != Method::POST {
        return Err(Rejected::new(StatusCode::METHOD_NOT_ALLOWED, "only POST is accepted"));
    }
    let body: &[u8] = request.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Err(Rejected::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body is {} bytes; the limit is {MAX_BODY_BYTES}", body.len()),
        ));
    }
    if request.uri().path().ends_with(shopify::PATH) {
        return shopify::receive(deps, request, body).await;
    }
    let signature = header(request, SIGNATURE_HEADER);
    let now = deps.clock.now();
    verified(&deps.keys, |keys| keys.verify(signature, body, now), |e| *e == SignatureError::Mismatch).await?;
    match parse_event(body).map_err(|e| refused_event(body, e))? {
        StoreEvent::ShipmentCreated(event) => accept_shipment(deps, &event).await,
        StoreEvent::ShipmentDelivered(event) => record_delivery(deps, &event).await,
        StoreEvent::OrderCancelled(event) => {
            adjustments::accept(deps, event.event_id, AdjustmentRequest::Cancel(event.request)).await
        }
        StoreEvent::OrderRefunded(event) => {
            adjustments::accept(deps, event.event_id, AdjustmentRequest::Refund(event.request)).await
        }
        StoreEvent::FulfillmentRequested(event) => fulfillment::accept_request(deps, *event).await,
        StoreEvent::FulfillmentCancelled(event) => fulfillment::accept_cancel(deps, event).await,
    }
}

/// `shipment.delivered`: the package's delivery time, and the order's PII schedule with it, in one
/// transaction. A repeat, or a later time than one already known, changes nothing (200 either way).
async fn record_delivery(deps: &WebhookDeps, event: &ShipmentDelivered) -> Result<Accepted, Rejected> {
    let span = tracing::Span::current();
    span.record("event_id", event.event_id.as_str());
    span.record("order_id", event.order_id.as_str());
    let (order_id, package_id) = (&event.order_id, &event.package_id);
    let Some(order) = deps.store.get_order(order_id).await? else {
        return Err(Rejected::new(StatusCode::UNPROCESSABLE_ENTITY, format!("unknown order {order_id}")));
    };
    let placed = order.value.amazon.created_at;
    for _ in 0..MAX_CONFLICT_RETRIES {
        let Some(Versioned { value: mut package, version }) = deps.store.get_package(order_id, package_id).await?
        else {
            let message = format!("order {order_id} has no package {package_id}");
            return Err(Rejected::new(StatusCode::UNPROCESSABLE_ENTITY, message));
        };
        let changed = package
            .record_delivery(event.delivered_at, placed, deps.clock.now())
            .map_err(|e| Rejected::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
        if changed {
            let written = deps.store.settle_package(&package, version, |order| {
                apply_delivery(order, &package);
                Ok::<(), std::convert::Infallible>(())
            });
            match written.await {
                Ok(_) => {}
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let order = deps.store.get_order(order_id).await?;
        let redaction_due = order.and_then(|order| pii::redaction_due(&order.value));
        info!(changed, "delivery recorded");
        return Ok(Accepted {
            status: StatusCode::OK,
            outcome: if changed { "delivered" } else { "duplicate_delivery" },
            body: json!({
                "status": if changed { "recorded" } else { "unchanged" },
                "order_id": order_id,
                "package_id": package_id,
                "delivered_at": package.delivered_at,
                "redaction_due": redaction_due,
            }),
        });
    }
    Err(Rejected::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("order {order_id} is being updated concurrently; retry"),
    ))
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A verified shipment, whichever format it came in: acknowledged if its event was seen, else placed.
async fn accept_shipment(deps: &WebhookDeps, event: &ShipmentCreated) -> Result<Accepted, Rejected> {
    let span = tracing::Span::current();
    span.record("event_id", event.event_id.as_str());
    span.record("order_id", event.shipment.order_id.as_str());
    if let Some(recorded) = deps.store.get_event(&event.event_id).await? {
        return acknowledge_repeat(deps, recorded).await;
    }
    for _ in 0..MAX_CONFLICT_RETRIES {
        if let Some(answer) = place(deps, event).await? {
            return Ok(answer);
        }
    }
    Err(Rejected::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("order {} is being updated concurrently; retry", event.shipment.order_id),
    ))
}

/// Records the shipment's package, or answers for the package already recorded under its id. `None`
/// when the order changed concurrently and the caller should try again.
async fn place(deps: &WebhookDeps, event: &ShipmentCreated) -> Result<Option<Accepted>, Rejected> {
    let order_id = &event.shipment.order_id;
    let Some(mut order) = deps.store.get_order(order_id).await? else {
        return Err(Rejected::new(StatusCode::UNPROCESSABLE_ENTITY, format!("unknown order {order_id}")));
    };
    let options = match deps.store.get_connection(&order.value.connection_id).await? {
        Some(connection) => connection.options,
        None => Default::default(),
    };
    // Lines read as the connection names products (SKU or ASIN), before anything compares or plans them.
    let shipment = &event.shipment.clone().named_by(options.product_identifier);
    // The package id is checked before anything else: a repeat must not be judged by the quantities
    // its own first delivery reserved.
    let previous = deps.store.get_package(order_id, &shipment.package_id).await?;
    match previous.as_ref().and_then(|previous| Some((previous, previous.value.compare(shipment)?))) {
        None => {}
        Some((previous, SamePackageId::Repeat)) => return Ok(Some(duplicate_package(shipment, &previous.value.state))),
        Some((previous, SamePackageId::Changed)) => {
            return Err(Rejected::new(
                StatusCode::CONFLICT,
                format!(
                    "package {} of order {order_id} was already accepted ({}) with other details; an accepted \
                     package cannot change. A package that failed can be sent again under its id",
                    shipment.package_id,
                    previous.value.state.name()
                ),
            ));
        }
    }
    let carriers = &options.carrier_rules;
    let now = deps.clock.now();
    if let Some(failed) = previous.as_ref().filter(|failed| !failed.value.units_released) {
        // Ended before failed packages gave their units back: give them back now.
        release_package(&mut order.value, &failed.value);
    }
    let planned = match &previous {
        Some(failed) => plan_resend(&order.value, &failed.value, shipment, carriers, now),
        None => plan_package(&order.value, shipment, carriers, now),
    };
    let mut package = planned.map_err(|e| Rejected::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    // Whether the service reports tracking decides the PII schedule; the connection may know better.
    let carrier_name = package.carrier.other_name().unwrap_or(package.carrier.code());
    // Tracking rules name services as the store does, before the shipping-method mapping.
    package.tracked = Some(options.reports_tracking(carrier_name, shipment.shipping_method.as_deref()));
    let claim_tracking = match tracking_in_use(deps, &order.value, &package).await? {
        None => Some(order.value.connection_id.clone()),
        Some(other) => match options.duplicate_tracking {
            DuplicateTrackingPolicy::Refuse => {
                return Err(Rejected::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!(
                        "order {order_id}: tracking number {} is already used on order {other}; this connection \
                         refuses a tracking number on more than one order (Amazon's Valid Tracking Rate)",
                        package.tracking_number
                    ),
                ));
            }
            DuplicateTrackingPolicy::Warn => {
                warn!(other_order_id = %other, "tracking number already used on another order; accepted with a warning");
                package.warnings.push(format!("tracking number already used on order {other}"));
                None
            }
        },
    };
    reserve_package(&mut order.value, &package);
    let record = EventRecord {
        event_id: event.event_id.clone(),
        order_id: shipment.order_id.clone(),
        package_id: shipment.package_id.clone(),
        received_at: now,
        enqueued: false,
    };
    match deps
        .store
        .place_package(&order, &package, previous.map(|p| p.version), &record, claim_tracking.as_ref())
        .await
    {
        Ok(PlacePackage::Placed) => {}
        Ok(PlacePackage::DuplicateEvent) => {
            let recorded = deps.store.get_event(&event.event_id).await?.unwrap_or(record);
            return acknowledge_repeat(deps, recorded).await.map(Some);
        }
        // Another delivery placed (or replaced) the package meanwhile: judge again against it.
        Ok(PlacePackage::DuplicatePackage) | Err(StoreError::Conflict { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    enqueue(deps, &record).await?;
    let mut body = json!({
        "status": "queued",
        "order_id": shipment.order_id,
        "package_id": shipment.package_id,
        "package_reference_id": package.reference.to_string(),
        "carrier_code": package.carrier.code(),
    });
    if !package.warnings.is_empty() {
        body["warnings"] = json!(package.warnings);
    }
    Ok(Some(Accepted { status: StatusCode::ACCEPTED, outcome: "queued", body }))
}

/// Checks a signature with the keys in force and, if it matches none of them, once more with the keys
/// read again (a rotation this container has not seen yet). Every signature failure is a 401.
pub async fn verified<E: std::fmt::Display>(
    keys: &KeyRing,
    check: impl Fn(&SigningKeys) -> Result<(), E>,
    mismatch: impl Fn(&E) -> bool,
) -> Result<(), Rejected> {
    let unavailable = |e: SecretError| {
        // The caller is not authenticated yet: the secret's name and the AWS error stay in our log.
        warn!(error = %e, "the signing keys could not be read");
        Rejected::new(StatusCode::SERVICE_UNAVAILABLE, "temporarily unable to check the signature; retry")
    };
    let result = match check(&keys.keys().await.map_err(unavailable)?) {
        Err(e) if mismatch(&e) => match keys.reloaded_after_mismatch().await.map_err(unavailable)? {
            Some(reloaded) => check(&reloaded),
            None => Err(e),
        },
        other => other,
    };
    result.map_err(|e| Rejected::new(StatusCode::UNAUTHORIZED, e.to_string()))
}

/// A body that is not a valid event: 400 when it cannot be read as one, 422 when a field's value is
/// wrong; either names the order when the body names one.
fn refused_event(body: &[u8], error: EventError) -> Rejected {
    let status = match error {
        EventError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::BAD_REQUEST,
    };
    let body = serde_json::from_slice::<serde_json::Value>(body).ok();
    let named = |pointer: &str| body.as_ref().and_then(|v| v.pointer(pointer)).and_then(|id| id.as_str());
    let order = named("/data/order_id").and_then(|id| AmazonOrderId::parse(id).ok());
    let store_order = named("/data/store_order_id").and_then(|id| StoreOrderId::parse(id).ok());
    match (order, store_order) {
        (Some(order), _) => Rejected::new(status, format!("order {order}: {error}")),
        (None, Some(store_order)) => Rejected::new(status, format!("store order {store_order}: {error}")),
        (None, None) => Rejected::new(status, error.to_string()),
    }
}

/// Another order of the same connection that already shipped with this package's tracking number.
async fn tracking_in_use(
    deps: &WebhookDeps,
    order: &Order,
    package: &Package,
) -> Result<Option<AmazonOrderId>, Rejected> {
    let claim = deps.store.tracking_claim(&order.connection_id, &package.tracking_number, deps.clock.now()).await?;
    Ok(claim.map(|claim| claim.order_id).filter(|owner| owner != order.id()))
}

fn duplicate_package(shipment: &ShipmentRequest, state: &PackageState) -> Accepted {
    let detail = format!("package {} of order {} was already received", shipment.package_id, shipment.order_id);
    let detail = match state {
        PackageState::Failed { .. } | PackageState::DeadLettered { .. } => {
            format!("{detail} and has {}; send it with corrected details to try again", state.name().replace('_', " "))
        }
        _ => detail,
    };
    Accepted {
        status: StatusCode::OK,
        outcome: "duplicate_package",
        body: json!({"status": "duplicate", "package_state": state.name(), "detail": detail}),
    }
}

/// A repeated event: acknowledged, and queued only if its first delivery never reached the queue.
async fn acknowledge_repeat(deps: &WebhookDeps, recorded: EventRecord) -> Result<Accepted, Rejected> {
    if !recorded.enqueued {
        enqueue(deps, &recorded).await?;
    }
    Ok(Accepted {
        status: StatusCode::OK,
        outcome: "duplicate_event",
        body: json!({"status": "duplicate", "event_id": recorded.event_id}),
    })
}

async fn enqueue(deps: &WebhookDeps, record: &EventRecord) -> Result<(), Rejected> {
    let message =
        UpdateMessage::ConfirmShipment { order_id: record.order_id.clone(), package_id: record.package_id.clone() };
    deps.queue.send(&message, std::time::Duration::ZERO).await.map_err(|e| {
        Rejected::new(StatusCode::SERVICE_UNAVAILABLE, format!("event recorded but not queued yet ({e}); retry"))
    })?;
    deps.store.mark_event_enqueued(record).await?;
    Ok(())
}
