//! `/_sandbox/*`: unauthenticated inspection and control endpoints for tests and the demo.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Duration;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::Operation;
use crate::error::ApiError;
use crate::orders::{FulfillmentStatus, Order};
use crate::routes::AppState;
use crate::state::{CallRecord, Fault, Stats};
use crate::time::{format_iso_millis, parse_utc};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/_sandbox/calls", get(calls))
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/orders", get(orders))
        .route("/_sandbox/orders/{order_id}", get(order))
        .route("/_sandbox/orders/{order_id}/touch", post(touch))
        .route("/_sandbox/faults", post(add_fault))
        .route("/_sandbox/refresh-tokens/revoke", post(revoke))
        .route("/_sandbox/clock", get(clock).post(set_clock))
}

/// Parses an optional JSON body; an empty body means "all defaults".
fn optional_json<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::invalid_input(format!("Malformed request body: {e}")))
}

async fn calls(State(state): State<AppState>) -> Json<Vec<CallRecord>> {
    Json(state.calls())
}

async fn stats(State(state): State<AppState>) -> Json<Stats> {
    Json(state.stats())
}

async fn orders(State(state): State<AppState>) -> Json<Vec<Order>> {
    Json(state.orders())
}

async fn order(State(state): State<AppState>, Path(order_id): Path<String>) -> Result<Json<Order>, ApiError> {
    state.order(&order_id).map(Json).ok_or_else(|| ApiError::not_found(format!("Order {order_id} not found")))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TouchRequest {
    fulfillment_status: Option<FulfillmentStatus>,
}

async fn touch(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
    body: Bytes,
) -> Result<Json<Order>, ApiError> {
    let request: TouchRequest = optional_json(&body)?;
    state
        .touch_order(&order_id, request.fulfillment_status)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("Order {order_id} not found")))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FaultRequest {
    operation: String,
    status: Option<u16>,
    /// LWA error code, for `lwaToken` faults.
    error: Option<String>,
    #[serde(default = "one")]
    count: u32,
}

fn one() -> u32 {
    1
}

async fn add_fault(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let request: FaultRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid_input(format!("Malformed request body: {e}")))?;
    let op: Operation = request
        .operation
        .parse()
        .map_err(|e: crate::config::UnknownOperation| ApiError::invalid_input(e.to_string()))?;
    let status = match (request.status, request.error.as_deref()) {
        (Some(code), _) => StatusCode::from_u16(code).map_err(|_| ApiError::invalid_input("Invalid status"))?,
        (None, Some(error)) => crate::error::LwaError::status_for(error),
        (None, None) => return Err(ApiError::invalid_input("Provide status and/or error")),
    };
    state.inject_fault(op, Fault { status, lwa_error: request.error.clone(), remaining: request.count });
    Ok(Json(json!({
        "operation": op.as_str(),
        "status": status.as_u16(),
        "error": request.error,
        "count": request.count,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RevokeRequest {
    refresh_token: String,
}

async fn revoke(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let request: RevokeRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid_input(format!("Malformed request body: {e}")))?;
    let revoked = state.revoke_refresh_token(&request.refresh_token);
    Ok(Json(json!({ "revoked": revoked })))
}

fn clock_body(state: &AppState) -> Json<Value> {
    Json(json!({ "now": format_iso_millis(state.now()) }))
}

async fn clock(State(state): State<AppState>) -> Json<Value> {
    clock_body(&state)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClockRequest {
    now: Option<String>,
    /// Alternative to `now`: move the clock forward (or back, if negative).
    advance_seconds: Option<i64>,
}

async fn set_clock(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let request: ClockRequest = optional_json(&body)?;
    if let Some(raw) = request.now.as_deref() {
        let now = parse_utc(raw).ok_or_else(|| ApiError::invalid_input(format!("Invalid now '{raw}'")))?;
        state.set_now(now);
    }
    if let Some(seconds) = request.advance_seconds {
        state.set_now(state.now() + Duration::seconds(seconds));
    }
    Ok(clock_body(&state))
}
