//! HTTP routing: LWA, SP-API operations and the `/_sandbox` inspection API.

mod gate;
mod lwa;
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
        .merge(crate::inspect::router())
        .fallback(not_found)
        // Runs for every request, matched or not: auth, faults, quota, headers, call log.
        .layer(from_fn_with_state(state.clone(), gate::gate))
        .layer(axum::Extension(HostRegion(region)))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("Resource not found")
}
