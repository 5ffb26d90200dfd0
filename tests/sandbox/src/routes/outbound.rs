//! Fulfillment Outbound API 2020-07-01: getFulfillmentPreview, createFulfillmentOrder, listAllFulfillmentOrders,
//! getFulfillmentOrder, cancelFulfillmentOrder and the sandbox-only submitFulfillmentOrderStatusUpdate. Answers
//! are the model's: results under `payload`; createFulfillmentOrder, cancelFulfillmentOrder and the status update,
//! whose responses hold nothing but `errors`, answer `{}` on success.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{AppState, HostRegion};
use crate::error::ApiError;
use crate::fulfillment::FulfillmentOrderStatus;
use crate::fulfillment::outbound::{CreateRequest, FulfillmentOrderResult, Host, ListResult};
use crate::fulfillment::preview::{PreviewRequest, PreviewResult, preview};

/// `{"payload": …}`.
#[derive(Serialize)]
pub(crate) struct Payload<T> {
    payload: T,
}

/// The request body as sent (for telling a retry from a clash) and read.
fn body<T: for<'de> Deserialize<'de>>(raw: &[u8]) -> Result<(Value, T), ApiError> {
    let malformed = |e: serde_json::Error| ApiError::invalid_input(format!("Malformed request body: {e}"));
    let value: Value = serde_json::from_slice(raw).map_err(malformed)?;
    let read = serde_json::from_value(value.clone()).map_err(malformed)?;
    Ok((value, read))
}

/// The seller's marketplaces the host of `region` serves.
fn host(state: &AppState, region: &'static str) -> Host {
    Host { region, sites: state.config().sites().into_iter().filter(|site| site.region == region).collect() }
}

pub(crate) async fn get_fulfillment_preview(
    State(state): State<AppState>,
    Extension(HostRegion(region)): Extension<HostRegion>,
    raw: Bytes,
) -> Result<Json<Payload<PreviewResult>>, ApiError> {
    let (_, request) = body::<PreviewRequest>(&raw)?;
    let host = host(&state, region);
    let inner = state.lock();
    let payload = preview(request, &host, &inner.fulfillment.inventory, inner.now())?;
    Ok(Json(Payload { payload }))
}

pub(crate) async fn create_fulfillment_order(
    State(state): State<AppState>,
    Extension(HostRegion(region)): Extension<HostRegion>,
    raw: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (sent, request) = body::<CreateRequest>(&raw)?;
    let host = host(&state, region);
    let mut inner = state.lock();
    let now = inner.now();
    inner.fulfillment.create(sent, request, &host, now)?;
    inner.raise_fulfillment_changes();
    Ok(Json(json!({})))
}

pub(crate) async fn list_all_fulfillment_orders(
    State(state): State<AppState>,
    Extension(HostRegion(region)): Extension<HostRegion>,
    RawQuery(query): RawQuery,
) -> Result<Json<Payload<ListResult>>, ApiError> {
    let lifetime = state.config().pagination_token_lifetime;
    let mut inner = state.lock();
    let now = inner.now();
    let payload = inner.fulfillment.list(query.as_deref(), region, now, lifetime)?;
    Ok(Json(Payload { payload }))
}

pub(crate) async fn get_fulfillment_order(
    State(state): State<AppState>,
    Extension(HostRegion(region)): Extension<HostRegion>,
    Path(seller_fulfillment_order_id): Path<String>,
) -> Result<Json<Payload<FulfillmentOrderResult>>, ApiError> {
    let inner = state.lock();
    let payload = inner.fulfillment.order_in(&seller_fulfillment_order_id, region)?.result();
    Ok(Json(Payload { payload }))
}

/// `GET …/fulfillmentOrders/preview` is getFulfillmentOrder of an order called "preview" (the preview is a POST).
pub(crate) async fn get_fulfillment_order_named_preview(
    state: State<AppState>,
    region: Extension<HostRegion>,
) -> Result<Json<Payload<FulfillmentOrderResult>>, ApiError> {
    get_fulfillment_order(state, region, Path("preview".to_owned())).await
}

pub(crate) async fn cancel_fulfillment_order(
    State(state): State<AppState>,
    Extension(HostRegion(region)): Extension<HostRegion>,
    Path(seller_fulfillment_order_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let mut inner = state.lock();
    let now = inner.now();
    inner.fulfillment.cancel(&seller_fulfillment_order_id, region, now)?;
    inner.raise_fulfillment_changes();
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusUpdate {
    fulfillment_order_status: Option<String>,
}

pub(crate) async fn submit_fulfillment_order_status_update(
    State(state): State<AppState>,
    Extension(HostRegion(region)): Extension<HostRegion>,
    Path(seller_fulfillment_order_id): Path<String>,
    raw: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (_, update) = body::<StatusUpdate>(&raw)?;
    let raw_status = update
        .fulfillment_order_status
        .ok_or_else(|| ApiError::invalid_input("Missing required field: fulfillmentOrderStatus"))?;
    let status = FulfillmentOrderStatus::parse(&raw_status)
        .ok_or_else(|| ApiError::invalid_input(format!("Invalid value '{raw_status}' for fulfillmentOrderStatus")))?;
    let mut inner = state.lock();
    let now = inner.now();
    inner.fulfillment.move_to(&seller_fulfillment_order_id, region, status, now)?;
    inner.raise_fulfillment_changes();
    Ok(Json(json!({})))
}
