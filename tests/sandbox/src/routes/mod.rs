//! HTTP routing: LWA, SP-API operations and the `/_sandbox` inspection API.

mod gate;
mod lwa;
mod notifications;
mod orders;
mod shipment;

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

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
        .merge(crate::inspect::router())
        .fallback(not_found)
        // Runs for every request, matched or not: auth, faults, quota, headers, call log.
        .layer(from_fn_with_state(state.clone(), gate::gate))
        // After any request (an SP-API call or a change through `/_sandbox`): send what it raised.
        .layer(from_fn_with_state(state.clone(), deliver_notifications))
        .layer(axum::Extension(HostRegion(region)))
        .with_state(state)
}

async fn deliver_notifications(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let response = next.run(request).await;
    state.deliver_notifications().await;
    response
}

async fn not_found() -> ApiError {
    ApiError::not_found("Resource not found")
}
