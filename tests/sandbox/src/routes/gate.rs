//! Cross-cutting behaviour of every emulated call, in Amazon's order:
//! auth (403) → injected fault → quota (429) → handler; then response headers and the call log.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::AppState;
use crate::config::Operation;
use crate::error::{ApiError, LwaError};
use crate::feeds::S3Error;
use crate::state::{CallRecord, Fault, Rejection};

const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Feed documents may be larger (Amazon recommends feeds under 10 MiB).
const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;
pub(crate) const ACCESS_TOKEN_HEADER: &str = "x-amz-access-token";
/// LWA request fields whose values must never be written to the call log.
const SECRET_FIELDS: [&str; 2] = ["client_secret", "refresh_token"];

/// Identifies the emulated operation; `None` for the sandbox's own `/_sandbox` API.
pub(crate) fn classify(method: &Method, path: &str) -> Option<(Operation, Option<String>)> {
    if path == "/_sandbox" || path.starts_with("/_sandbox/") {
        return None;
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let found = match (method, segments.as_slice()) {
        (_, ["_documents", _]) => (Operation::DocumentTransfer, None),
        (&Method::POST, ["feeds", "2021-06-30", "documents"]) => (Operation::CreateFeedDocument, None),
        (&Method::GET, ["feeds", "2021-06-30", "documents", _]) => (Operation::GetFeedDocument, None),
        (&Method::GET, ["feeds", "2021-06-30", "feeds"]) => (Operation::GetFeeds, None),
        (&Method::POST, ["feeds", "2021-06-30", "feeds"]) => (Operation::CreateFeed, None),
        (&Method::GET, ["feeds", "2021-06-30", "feeds", _]) => (Operation::GetFeed, None),
        (&Method::DELETE, ["feeds", "2021-06-30", "feeds", _]) => (Operation::CancelFeed, None),
        (&Method::POST, ["auth", "o2", "token"]) => (Operation::LwaToken, None),
        (&Method::GET, ["orders", "2026-01-01", "orders"]) => (Operation::SearchOrders, None),
        (&Method::GET, ["orders", "2026-01-01", "orders", id]) => (Operation::GetOrder, Some(id.to_string())),
        (&Method::POST, ["orders", "v0", "orders", id, "shipmentConfirmation"]) => {
            (Operation::ConfirmShipment, Some(id.to_string()))
        }
        (&Method::POST, ["notifications", "v1", "destinations"]) => (Operation::CreateDestination, None),
        (&Method::GET, ["notifications", "v1", "destinations"]) => (Operation::GetDestinations, None),
        (&Method::POST, ["notifications", "v1", "subscriptions", _]) => (Operation::CreateSubscription, None),
        (&Method::GET, ["notifications", "v1", "subscriptions", _]) => (Operation::GetSubscription, None),
        (&Method::POST, ["fba", "outbound", "2020-07-01", "fulfillmentOrders", "preview"]) => {
            (Operation::GetFulfillmentPreview, None)
        }
        (&Method::POST, ["fba", "outbound", "2020-07-01", "fulfillmentOrders"]) => {
            (Operation::CreateFulfillmentOrder, None)
        }
        (&Method::GET, ["fba", "outbound", "2020-07-01", "fulfillmentOrders"]) => {
            (Operation::ListAllFulfillmentOrders, None)
        }
        (&Method::GET, ["fba", "outbound", "2020-07-01", "fulfillmentOrders", id]) => {
            (Operation::GetFulfillmentOrder, Some(id.to_string()))
        }
        (&Method::PUT, ["fba", "outbound", "2020-07-01", "fulfillmentOrders", id, "cancel"]) => {
            (Operation::CancelFulfillmentOrder, Some(id.to_string()))
        }
        (&Method::PUT, ["fba", "outbound", "2020-07-01", "fulfillmentOrders", id, "status"]) => {
            (Operation::SubmitFulfillmentOrderStatusUpdate, Some(id.to_string()))
        }
        (&Method::GET, ["fba", "inventory", "v1", "summaries"]) => (Operation::GetInventorySummaries, None),
        _ => (Operation::Unknown, None),
    };
    Some(found)
}

pub(crate) async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some((op, order_id)) = classify(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(str::to_string);
    let access_token = request.headers().get(ACCESS_TOKEN_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (parts, body) = request.into_parts();
    let limit = if op == Operation::DocumentTransfer { MAX_DOCUMENT_BYTES } else { MAX_BODY_BYTES };
    let (bytes, mut response) = match to_bytes(body, limit).await {
        Ok(bytes) => {
            let request = Request::from_parts(parts, Body::from(bytes.clone()));
            (bytes, dispatch(&state, op, access_token.as_deref(), request, next).await)
        }
        Err(_) if op == Operation::DocumentTransfer => (Bytes::new(), S3Error::entity_too_large().into_response()),
        Err(_) => (Bytes::new(), ApiError::invalid_input("Request body too large").into_response()),
    };
    decorate(&state, op, &mut response);
    state.record_call(CallRecord {
        seq: 0,
        operation: op,
        method,
        path,
        query,
        status: response.status().as_u16(),
        request_body: loggable_body(op, &bytes),
        order_id,
        access_token_id: access_token.and_then(|t| state.access_token_id(&t)),
        at: String::new(),
    });
    response
}

async fn dispatch(
    state: &AppState,
    op: Operation,
    access_token: Option<&str>,
    request: Request,
    next: Next,
) -> Response {
    if op == Operation::Unknown {
        return ApiError::not_found("Resource not found").into_response();
    }
    let (delay, verdict) = state.admit(op, access_token);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match verdict {
        Ok(()) => next.run(request).await,
        Err(Rejection::Unauthorized(reason)) => ApiError::unauthorized(reason).into_response(),
        Err(Rejection::Throttled) => ApiError::quota_exceeded().into_response(),
        Err(Rejection::Fault(fault)) => fault_response(op, &fault),
        Err(Rejection::AnswerLost(fault)) => {
            drop(next.run(request).await);
            fault_response(op, &fault)
        }
    }
}

fn fault_response(op: Operation, fault: &Fault) -> Response {
    if op == Operation::LwaToken {
        let status = fault.status.unwrap_or_else(|| LwaError::status_for(fault.error.as_deref().unwrap_or("")));
        let error = fault.error.clone().unwrap_or_else(|| LwaError::error_for_status(status).to_string());
        return LwaError { status, error, description: "Injected by the sandbox".into() }.into_response();
    }
    if op == Operation::DocumentTransfer {
        // S3 answers in its own way; an `error` name is an SP-API one and does not apply.
        return S3Error::for_status(fault.status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)).into_response();
    }
    let mut error = match (fault.error.as_deref().and_then(ApiError::for_error), fault.status) {
        (Some(error), _) => error,
        (None, status) => ApiError::for_status(status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)),
    };
    if let Some(status) = fault.status {
        error.status = status;
    }
    error.into_response()
}

/// Adds `x-amzn-RequestId` everywhere and `x-amzn-RateLimit-Limit` where Amazon's models declare it; S3's
/// `x-amz-request-id` to document transfers instead.
fn decorate(state: &AppState, op: Operation, response: &mut Response) {
    let headers = response.headers_mut();
    if op == Operation::DocumentTransfer {
        let id = Uuid::new_v4().simple().to_string()[..16].to_ascii_uppercase();
        if let (false, Ok(id)) = (headers.contains_key("x-amz-request-id"), HeaderValue::from_str(&id)) {
            headers.insert("x-amz-request-id", id);
        }
        return;
    }
    if let Ok(id) = HeaderValue::from_str(&Uuid::new_v4().to_string()) {
        headers.insert("x-amzn-RequestId", id);
    }
    let status = response.status();
    let declares_rate = matches!(
        status,
        StatusCode::OK
            | StatusCode::CREATED
            | StatusCode::ACCEPTED
            | StatusCode::NO_CONTENT
            | StatusCode::BAD_REQUEST
            | StatusCode::NOT_FOUND
    );
    let rate = state.rate_limit(op).filter(|_| declares_rate);
    if let Some(value) = rate.and_then(|r| HeaderValue::from_str(&r.to_string()).ok()) {
        response.headers_mut().insert("x-amzn-RateLimit-Limit", value);
    }
}

/// Request body as recorded in the call log: parsed JSON (or form for LWA), raw text, or null; an uploaded
/// document that is not text is logged by its size.
fn loggable_body(op: Operation, bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    if op == Operation::DocumentTransfer {
        return match std::str::from_utf8(bytes) {
            Ok(text) => Value::String(text.to_string()),
            Err(_) => serde_json::json!({ "bytes": bytes.len() }),
        };
    }
    let parsed = serde_json::from_slice::<Value>(bytes).ok().or_else(|| {
        (op == Operation::LwaToken).then(|| {
            let form: Map<String, Value> = url::form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect();
            Value::Object(form)
        })
    });
    match parsed {
        Some(value) if op == Operation::LwaToken => redact(value),
        Some(value) => value,
        None if op == Operation::LwaToken => Value::String("***".into()),
        None => Value::String(String::from_utf8_lossy(bytes).into_owned()),
    }
}

fn redact(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        for field in SECRET_FIELDS {
            if let Some(v) = map.get_mut(field) {
                *v = Value::String("***".into());
            }
        }
    }
    value
}

/// True when the request declares a JSON body.
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        assert_eq!(classify(&Method::POST, "/auth/o2/token"), Some((Operation::LwaToken, None)));
        assert_eq!(classify(&Method::GET, "/orders/2026-01-01/orders"), Some((Operation::SearchOrders, None)));
        assert_eq!(
            classify(&Method::POST, "/orders/v0/orders/111-1-2/shipmentConfirmation"),
            Some((Operation::ConfirmShipment, Some("111-1-2".into())))
        );
        assert_eq!(classify(&Method::GET, "/auth/o2/token"), Some((Operation::Unknown, None)));
        assert_eq!(classify(&Method::POST, "/feeds/2021-06-30/feeds"), Some((Operation::CreateFeed, None)));
        assert_eq!(classify(&Method::DELETE, "/feeds/2021-06-30/feeds/5001"), Some((Operation::CancelFeed, None)));
        assert_eq!(
            classify(&Method::GET, "/feeds/2021-06-30/documents/amzn1.tortuga.3.x"),
            Some((Operation::GetFeedDocument, None))
        );
        assert_eq!(classify(&Method::PUT, "/_documents/amzn1.tortuga.3.x"), Some((Operation::DocumentTransfer, None)));
        assert_eq!(classify(&Method::PUT, "/feeds/2021-06-30/feeds"), Some((Operation::Unknown, None)));
        assert_eq!(classify(&Method::GET, "/_sandbox/calls"), None);
        let outbound = "/fba/outbound/2020-07-01/fulfillmentOrders";
        assert_eq!(
            classify(&Method::POST, &format!("{outbound}/preview")),
            Some((Operation::GetFulfillmentPreview, None))
        );
        assert_eq!(classify(&Method::POST, outbound), Some((Operation::CreateFulfillmentOrder, None)));
        assert_eq!(classify(&Method::GET, outbound), Some((Operation::ListAllFulfillmentOrders, None)));
        assert_eq!(
            classify(&Method::GET, &format!("{outbound}/SB-1")),
            Some((Operation::GetFulfillmentOrder, Some("SB-1".into())))
        );
        assert_eq!(
            classify(&Method::PUT, &format!("{outbound}/SB-1/cancel")),
            Some((Operation::CancelFulfillmentOrder, Some("SB-1".into())))
        );
        assert_eq!(
            classify(&Method::PUT, &format!("{outbound}/SB-1/status")),
            Some((Operation::SubmitFulfillmentOrderStatusUpdate, Some("SB-1".into())))
        );
        // updateFulfillmentOrder is not emulated.
        assert_eq!(classify(&Method::PUT, &format!("{outbound}/SB-1")), Some((Operation::Unknown, None)));
        assert_eq!(
            classify(&Method::GET, "/fba/inventory/v1/summaries"),
            Some((Operation::GetInventorySummaries, None))
        );
        assert_eq!(classify(&Method::POST, "/fba/inventory/v1/items"), Some((Operation::Unknown, None)));
    }

    #[test]
    fn lwa_secrets_are_redacted() {
        let form = b"grant_type=refresh_token&refresh_token=Atzr%7Csecret&client_id=id&client_secret=shh";
        let logged = loggable_body(Operation::LwaToken, form);
        assert_eq!(logged["refresh_token"], "***");
        assert_eq!(logged["client_secret"], "***");
        assert_eq!(logged["client_id"], "id");
        let json = br#"{"refresh_token":"x","client_secret":"y","client_id":"z"}"#;
        let logged = loggable_body(Operation::LwaToken, json);
        assert_eq!(logged["refresh_token"], "***");
        assert!(!logged.to_string().contains("\"y\""));
    }
}
