//! The Notifications API: destinations (grantless) and subscriptions (on a seller's authorization).
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::gate::ACCESS_TOKEN_HEADER;
use crate::error::ApiError;
use crate::notifications::{FULFILLMENT_ORDER_STATUS, SUPPORTED_TYPES};
use crate::state::{Destination, Subscription};
use crate::tokens::AccessDenied;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateDestination {
    name: Option<String>,
    resource_specification: Option<ResourceSpecification>,
}

#[derive(Deserialize)]
struct ResourceSpecification {
    sqs: Option<SqsResource>,
}

#[derive(Deserialize)]
struct SqsResource {
    arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateSubscription {
    payload_version: Option<String>,
    destination_id: Option<String>,
    processing_directive: Option<Value>,
}

/// Grantless operations take a client-credentials token, and only those operations do.
fn require_grant(state: &AppState, headers: &HeaderMap, grantless: bool) -> Result<(), ApiError> {
    let token = headers.get(ACCESS_TOKEN_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if state.lock().grantless_tokens.contains(token) == grantless {
        Ok(())
    } else {
        Err(ApiError::unauthorized(AccessDenied::Invalid))
    }
}

fn body<T: for<'de> Deserialize<'de>>(raw: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(raw).map_err(|e| ApiError::invalid_input(format!("Malformed request body: {e}")))
}

fn destination_json(d: &Destination) -> Value {
    json!({"name": d.name, "destinationId": d.destination_id, "resource": {"sqs": {"arn": d.arn}}})
}

pub(crate) async fn create_destination(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_grant(&state, &headers, true)?;
    let request: CreateDestination = body(&raw)?;
    let name = request
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::invalid_input("Missing required field: name"))?;
    let arn = request
        .resource_specification
        .and_then(|r| r.sqs)
        .and_then(|s| s.arn)
        .filter(|arn| arn.starts_with("arn:aws:sqs:") && arn.split(':').count() == 6)
        .ok_or_else(|| ApiError::invalid_input("resourceSpecification.sqs.arn must be an SQS queue ARN"))?;
    let mut inner = state.lock();
    if inner.destinations.iter().any(|d| d.arn == arn) {
        return Err(ApiError::conflict("A destination with this resource already exists."));
    }
    let destination = Destination { destination_id: uuid::Uuid::new_v4().to_string(), name, arn };
    let answer = destination_json(&destination);
    inner.destinations.push(destination);
    Ok(Json(json!({ "payload": answer })))
}

pub(crate) async fn get_destinations(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    require_grant(&state, &headers, true)?;
    let destinations: Vec<Value> = state.lock().destinations.iter().map(destination_json).collect();
    Ok(Json(json!({ "payload": destinations })))
}

fn subscription_json(s: &Subscription) -> Value {
    json!({"subscriptionId": s.subscription_id, "payloadVersion": s.payload_version, "destinationId": s.destination_id})
}

pub(crate) async fn create_subscription(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(notification_type): Path<String>,
    raw: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_grant(&state, &headers, false)?;
    if !SUPPORTED_TYPES.contains(&notification_type.as_str()) {
        return Err(ApiError::invalid_input(format!(
            "The sandbox supports {} only, not {notification_type}",
            SUPPORTED_TYPES.join(" and ")
        )));
    }
    let request: CreateSubscription = body(&raw)?;
    // The model's eventFilterType names no FULFILLMENT_ORDER_STATUS filter, and the sandbox does not evaluate the
    // filterExpression Amazon takes for it: refused rather than ignored, so nothing is sent that Amazon would filter.
    if notification_type == FULFILLMENT_ORDER_STATUS
        && request.processing_directive.as_ref().is_some_and(|d| !d.is_null())
    {
        return Err(ApiError::invalid_input(
            "The sandbox takes no processingDirective for FULFILLMENT_ORDER_STATUS (no eventFilter applies to it, and \
             it does not evaluate filterExpression)",
        ));
    }
    let payload_version =
        request.payload_version.ok_or_else(|| ApiError::invalid_input("Missing required field: payloadVersion"))?;
    let destination_id =
        request.destination_id.ok_or_else(|| ApiError::invalid_input("Missing required field: destinationId"))?;
    let marketplace_ids: Vec<String> = request
        .processing_directive
        .as_ref()
        .and_then(|d| d.pointer("/eventFilter/marketplaceIds"))
        .and_then(Value::as_array)
        .map(|ids| ids.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    let mut inner = state.lock();
    if !inner.destinations.iter().any(|d| d.destination_id == destination_id) {
        return Err(ApiError::invalid_input(format!("Destination {destination_id} not found")));
    }
    if inner.subscriptions.contains_key(&notification_type) {
        return Err(ApiError::conflict("Subscription for this notification type already exists."));
    }
    let subscription = Subscription {
        subscription_id: uuid::Uuid::new_v4().to_string(),
        destination_id,
        payload_version,
        marketplace_ids,
    };
    let answer = subscription_json(&subscription);
    inner.subscriptions.insert(notification_type, subscription);
    Ok(Json(json!({ "payload": answer })))
}

pub(crate) async fn get_subscription(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(notification_type): Path<String>,
) -> Result<Json<Value>, ApiError> {
    require_grant(&state, &headers, false)?;
    let inner = state.lock();
    let subscription = inner
        .subscriptions
        .get(&notification_type)
        .ok_or_else(|| ApiError::not_found(format!("No subscription for {notification_type}")))?;
    Ok(Json(json!({ "payload": subscription_json(subscription) })))
}
