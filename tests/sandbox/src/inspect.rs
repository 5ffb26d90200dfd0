//! `/_sandbox/*`: unauthenticated inspection and control endpoints for tests and the demo.
//!
//! - `GET calls`, `GET stats`, `GET orders`, `GET orders/{id}`: what was called (each call names the access
//!   token it presented as `accessTokenId`), counts, and the orders with every dataset.
//! - `POST orders/{id}/touch` `{"fulfillmentStatus"?}`: a change on Amazon's side.
//! - `POST orders/{id}/quirk` `{"pointer", "value"}` or `{}`: from now on the order is served with `value`
//!   at the JSON `pointer` (something Amazon's model does not promise), or, with `{}`, as the model says
//!   again; either way a change on Amazon's side.
//! - `POST faults` `{"operation", "status"?, "error"?, "delayMs"?, "count" = 1, "every" = 1}`: the next
//!   `count` calls of the operation (with `every` = n, one call in n, the others running normally) wait
//!   `delayMs` (real time), then answer `status`/`error` instead of running (with neither, they run, only late). `error` is an LWA code for `lwaToken`, else one of `ApiError::FAULT_ERRORS`.
//! - `GET tokens`: `{"accessTokens": [...], "paginationTokens": [...]}`, each `{id, issuedAt, expiresAt,
//!   presented}` (an access token's id is its number, never the token).
//! - `POST access-tokens/expire`, `POST pagination-tokens/expire`: every token of that kind dies now (pagination
//!   tokens: searchOrders', getInventorySummaries' and listAllFulfillmentOrders').
//! - `GET|POST search` `{"paging": "keyset"|"offset", "churnPerSearch"}`: how pagination tokens continue, and
//!   how many of the orders a search matches first change after every searchOrders call (orders changing
//!   while a window is read).
//! - `GET notifications`: every notification raised for a subscription (ORDER_CHANGE, FULFILLMENT_ORDER_STATUS),
//!   in the order sent, each to the SQS destination of its type's subscription (with an `--sqs-endpoint`) or
//!   only recorded.
//! - `POST refresh-tokens/revoke` `{"refreshToken"}`, `GET|POST clock` `{"now"?, "advanceSeconds"?}` (feeds
//!   catch up with a clock that moves).
//! - `GET feeds`: every feed, oldest first: Amazon's `Feed` fields plus `inputFeedDocumentId`, `feedOptions`,
//!   `messageCount`, `fatal` and `messages` (`{messageId, orderId?, itemId?, result: Success|Error|Warning,
//!   resultMessageCode?, resultDescription?}`); `GET feeds/{feedId}` adds `inputDocument` and `report` as text.
//! - `GET|POST feeds/settings` `{"queueSeconds"?, "processingSeconds"?, "compressReports"?}`: how long feeds
//!   created from now on wait and process (sandbox seconds), and whether their reports are gzipped.
//! - `GET refunds`: `[{orderId, orderItemId, refunded: {amount, currencyCode}}]`, from payment adjustment feeds.
//! - `GET inventory`: every SKU of the FBA inventory as getInventorySummaries shows it with `details=true`.
//! - `POST inventory` `{"sellerSku", "fulfillable"?, "inboundWorking"?, "inboundShipped"?, "inboundReceiving"?,
//!   "reserved"?, "unfulfillable"?}`: sets those quantities of the SKU (created, with derived fnSku and asin, if new)
//!   and stamps its lastUpdatedTime now, as Amazon's sandbox-only createInventoryItem and addInventory would; answers
//!   the SKU's summary.
//! - `GET fulfillment-orders`: every fulfillment order as getFulfillmentOrder's payload, in creation order.
//! - `GET|POST fulfillment/settings` `{"planningAfterSeconds"?, "processingAfterSeconds"?,
//!   "completeAfterSeconds"?}`: when fulfillment orders created from now on turn Planning, Processing and Complete
//!   (sandbox seconds after their receivedDate).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::Operation;
use crate::error::{ApiError, LwaError};
use crate::feeds::{FeedSettings, FeedSummary};
use crate::fulfillment::inventory::InventorySummary;
use crate::fulfillment::outbound::FulfillmentOrderResult;
use crate::fulfillment::{FulfillmentSettings, QuantityUpdate};
use crate::orders::{FulfillmentStatus, Order};
use crate::routes::AppState;
use crate::state::{CallRecord, Fault, IssuedTokens, SearchBehaviour, Stats};
use crate::time::{format_iso_millis, parse_utc};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/_sandbox/calls", get(calls))
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/orders", get(orders))
        .route("/_sandbox/orders/{order_id}", get(order))
        .route("/_sandbox/orders/{order_id}/touch", post(touch))
        .route("/_sandbox/orders/{order_id}/quirk", post(quirk))
        .route("/_sandbox/faults", post(add_fault))
        .route("/_sandbox/tokens", get(tokens))
        .route("/_sandbox/access-tokens/expire", post(expire_access_tokens))
        .route("/_sandbox/pagination-tokens/expire", post(expire_pagination_tokens))
        .route("/_sandbox/refresh-tokens/revoke", post(revoke))
        .route("/_sandbox/clock", get(clock).post(set_clock))
        .route("/_sandbox/search", get(search_behaviour).post(set_search_behaviour))
        .route("/_sandbox/notifications", get(notifications))
        .route("/_sandbox/feeds", get(feeds))
        .route("/_sandbox/feeds/settings", get(feed_settings).post(set_feed_settings))
        .route("/_sandbox/feeds/{feed_id}", get(feed))
        .route("/_sandbox/refunds", get(refunds).post(refund_outside_feeds))
        .route("/_sandbox/inventory", get(inventory).post(update_inventory))
        .route("/_sandbox/fulfillment-orders", get(fulfillment_orders))
        .route("/_sandbox/fulfillment/settings", get(fulfillment_settings).post(set_fulfillment_settings))
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

#[derive(Debug, Default, Deserialize)]
struct QuirkRequest {
    pointer: Option<String>,
    value: Option<Value>,
}

async fn quirk(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
    body: Bytes,
) -> Result<Json<Order>, ApiError> {
    let request: QuirkRequest = optional_json(&body)?;
    let quirk = match (request.pointer, request.value) {
        (Some(pointer), Some(value)) => Some((pointer, value)),
        (None, None) => None,
        _ => return Err(ApiError::invalid_input("Provide both pointer and value, or neither")),
    };
    state
        .set_quirk(&order_id, quirk)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("Order {order_id} not found")))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FaultRequest {
    operation: String,
    status: Option<u16>,
    /// An LWA error code for `lwaToken`; one of `ApiError::for_error`'s names for SP-API operations.
    error: Option<String>,
    /// Hold the answer back this long (real milliseconds).
    delay_ms: Option<u64>,
    #[serde(default = "one")]
    count: u32,
    /// Strike one call in `every` (the ones between run normally): a flaky Amazon rather than an outage.
    #[serde(default = "one")]
    every: u32,
    /// Run the call, then answer with the error: the work is done and the answer lost.
    #[serde(default)]
    after_running: bool,
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
    let status = request
        .status
        .map(|code| StatusCode::from_u16(code).map_err(|_| ApiError::invalid_input("Invalid status")))
        .transpose()?;
    // The status the fault will answer with, for the echo (`null` for a delay alone).
    let answered = match (status, request.error.as_deref()) {
        (Some(status), _) => Some(status),
        (None, Some(error)) if op == Operation::LwaToken => Some(LwaError::status_for(error)),
        (None, Some(error)) => Some(
            ApiError::for_error(error)
                .ok_or_else(|| {
                    let known = ApiError::FAULT_ERRORS.join(", ");
                    ApiError::invalid_input(format!("Unknown error '{error}' (expected one of {known})"))
                })?
                .status,
        ),
        (None, None) if request.delay_ms.is_some() => None,
        (None, None) => return Err(ApiError::invalid_input("Provide status, error and/or delayMs")),
    };
    let delay = Duration::from_millis(request.delay_ms.unwrap_or(0));
    let every = request.every.max(1);
    let fault = Fault {
        status,
        error: request.error.clone(),
        delay,
        remaining: request.count,
        every,
        passed: 0,
        after_running: request.after_running,
    };
    if request.after_running && answered.is_none() {
        return Err(ApiError::invalid_input("afterRunning needs the status or error the answer is replaced by"));
    }
    state.inject_fault(op, fault);
    let mut echo = json!({
        "operation": op.as_str(),
        "status": answered.map(|s| s.as_u16()),
        "error": request.error,
        "delayMs": request.delay_ms,
        "count": request.count,
    });
    if request.after_running {
        echo["afterRunning"] = json!(true);
    }
    Ok(Json(echo))
}

async fn tokens(State(state): State<AppState>) -> Json<IssuedTokens> {
    Json(state.tokens())
}

async fn expire_access_tokens(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "expired": state.expire_access_tokens() }))
}

async fn expire_pagination_tokens(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "expired": state.expire_pagination_tokens() }))
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
        state.set_now(state.now() + chrono::Duration::seconds(seconds));
    }
    Ok(clock_body(&state))
}

async fn search_behaviour(State(state): State<AppState>) -> Json<SearchBehaviour> {
    Json(state.search_behaviour())
}

async fn set_search_behaviour(State(state): State<AppState>, body: Bytes) -> Result<Json<SearchBehaviour>, ApiError> {
    let behaviour: SearchBehaviour = optional_json(&body)?;
    state.set_search_behaviour(behaviour);
    Ok(Json(behaviour))
}

async fn notifications(State(state): State<AppState>) -> Json<Vec<Value>> {
    Json(state.notifications())
}

async fn feeds(State(state): State<AppState>) -> Json<Vec<FeedSummary>> {
    Json(state.feeds())
}

async fn feed(State(state): State<AppState>, Path(feed_id): Path<String>) -> Result<Json<Value>, ApiError> {
    state.feed_detail(&feed_id).map(Json).ok_or_else(|| ApiError::not_found(format!("Feed {feed_id} not found")))
}

async fn feed_settings(State(state): State<AppState>) -> Json<FeedSettings> {
    Json(state.feed_settings())
}

/// Any field left out keeps its value.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FeedSettingsRequest {
    queue_seconds: Option<i64>,
    processing_seconds: Option<i64>,
    compress_reports: Option<bool>,
}

async fn set_feed_settings(State(state): State<AppState>, body: Bytes) -> Result<Json<FeedSettings>, ApiError> {
    let request: FeedSettingsRequest = optional_json(&body)?;
    if request.queue_seconds.is_some_and(|s| s < 0) || request.processing_seconds.is_some_and(|s| s < 0) {
        return Err(ApiError::invalid_input("queueSeconds and processingSeconds must not be negative"));
    }
    let mut settings = state.feed_settings();
    settings.queue_seconds = request.queue_seconds.unwrap_or(settings.queue_seconds);
    settings.processing_seconds = request.processing_seconds.unwrap_or(settings.processing_seconds);
    settings.compress_reports = request.compress_reports.unwrap_or(settings.compress_reports);
    state.set_feed_settings(settings);
    Ok(Json(settings))
}

async fn refunds(State(state): State<AppState>) -> Json<Vec<Value>> {
    Json(state.refunds())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OutsideRefund {
    order_id: String,
    order_item_id: String,
    amount: String,
}

/// A refund made in Seller Central: `{"orderId", "orderItemId", "amount": "12.50"}`.
async fn refund_outside_feeds(State(state): State<AppState>, body: Bytes) -> Result<Json<Vec<Value>>, ApiError> {
    let refund: OutsideRefund =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid_input(format!("Malformed request body: {e}")))?;
    state
        .refund_outside_feeds(&refund.order_id, &refund.order_item_id, &refund.amount)
        .map_err(ApiError::invalid_input)?;
    Ok(Json(state.refunds()))
}

async fn inventory(State(state): State<AppState>) -> Json<Vec<InventorySummary>> {
    Json(state.inventory())
}

async fn update_inventory(State(state): State<AppState>, body: Bytes) -> Result<Json<InventorySummary>, ApiError> {
    let update: QuantityUpdate =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid_input(format!("Malformed request body: {e}")))?;
    if update.seller_sku.trim().is_empty() || update.seller_sku.chars().count() > 50 {
        return Err(ApiError::invalid_input("sellerSku must be 1 to 50 characters"));
    }
    Ok(Json(state.update_inventory(&update)))
}

async fn fulfillment_orders(State(state): State<AppState>) -> Json<Vec<FulfillmentOrderResult>> {
    Json(state.fulfillment_orders())
}

async fn fulfillment_settings(State(state): State<AppState>) -> Json<FulfillmentSettings> {
    Json(state.fulfillment_settings())
}

/// Any field left out keeps its value.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FulfillmentSettingsRequest {
    planning_after_seconds: Option<i64>,
    processing_after_seconds: Option<i64>,
    complete_after_seconds: Option<i64>,
}

async fn set_fulfillment_settings(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<FulfillmentSettings>, ApiError> {
    let request: FulfillmentSettingsRequest = optional_json(&body)?;
    let current = state.fulfillment_settings();
    let settings = FulfillmentSettings {
        planning_after_seconds: request.planning_after_seconds.unwrap_or(current.planning_after_seconds),
        processing_after_seconds: request.processing_after_seconds.unwrap_or(current.processing_after_seconds),
        complete_after_seconds: request.complete_after_seconds.unwrap_or(current.complete_after_seconds),
    };
    settings.check().map_err(ApiError::invalid_input)?;
    state.set_fulfillment_settings(settings);
    Ok(Json(settings))
}
