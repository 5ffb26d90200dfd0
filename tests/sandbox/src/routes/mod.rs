//! HTTP routing: LWA, SP-API operations and the `/_sandbox` inspection API.

mod documents;
mod feeds;
mod gate;
mod inventory;
mod lwa;
mod notifications;
mod orders;
mod outbound;
pub(crate) mod shipment;

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post, put};

use crate::error::ApiError;
use crate::state::SandboxState;

pub(crate) type AppState = Arc<SandboxState>;

/// The SP-API region a listener stands for (`NA`, `EU`, `FE`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HostRegion(pub &'static str);

pub fn router(state: AppState, region: &'static str) -> Router {
    Router::new()
        .route("/auth/o2/token", post(lwa::token))
        .route("/orders/2026-01-01/orders", get(orders::search_orders))
        .route("/orders/2026-01-01/orders/{order_id}", get(orders::get_order))
        .route("/orders/v0/orders/{order_id}/shipmentConfirmation", post(shipment::confirm_shipment))
        .route(
            "/notifications/v1/destinations",
            post(notifications::create_destination).get(notifications::get_destinations),
        )
        .route(
            "/notifications/v1/subscriptions/{notification_type}",
            post(notifications::create_subscription).get(notifications::get_subscription),
        )
        .route("/feeds/2021-06-30/documents", post(feeds::create_feed_document))
        .route("/feeds/2021-06-30/documents/{feed_document_id}", get(feeds::get_feed_document))
        .route("/feeds/2021-06-30/feeds", get(feeds::get_feeds).post(feeds::create_feed))
        .route("/feeds/2021-06-30/feeds/{feed_id}", get(feeds::get_feed).delete(feeds::cancel_feed))
        .route("/_documents/{feed_document_id}", put(documents::upload).get(documents::download))
        .route(
            "/fba/outbound/2020-07-01/fulfillmentOrders/preview",
            post(outbound::get_fulfillment_preview).get(outbound::get_fulfillment_order_named_preview),
        )
        .route(
            "/fba/outbound/2020-07-01/fulfillmentOrders",
            get(outbound::list_all_fulfillment_orders).post(outbound::create_fulfillment_order),
        )
        .route(
            "/fba/outbound/2020-07-01/fulfillmentOrders/{seller_fulfillment_order_id}",
            get(outbound::get_fulfillment_order),
        )
        .route(
            "/fba/outbound/2020-07-01/fulfillmentOrders/{seller_fulfillment_order_id}/cancel",
            put(outbound::cancel_fulfillment_order),
        )
        .route(
            "/fba/outbound/2020-07-01/fulfillmentOrders/{seller_fulfillment_order_id}/status",
            put(outbound::submit_fulfillment_order_status_update),
        )
        .route("/fba/inventory/v1/summaries", get(inventory::get_inventory_summaries))
        .merge(crate::inspect::router())
        .fallback(not_found)
        // Runs for every request, matched or not: auth, faults, quota, headers, call log.
        .layer(from_fn_with_state(state.clone(), gate::gate))
        // Around any request (an SP-API call or a change through `/_sandbox`): feeds and fulfillment orders catch up
        // with the clock first, and what the request (or a finishing feed) raised is sent after.
        .layer(from_fn_with_state(state.clone(), deliver_notifications))
        .layer(axum::Extension(HostRegion(region)))
        .with_state(state)
}

async fn deliver_notifications(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    state.advance();
    let response = next.run(request).await;
    state.deliver_notifications().await;
    response
}

async fn not_found() -> ApiError {
    ApiError::not_found("Resource not found")
}
