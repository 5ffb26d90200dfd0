//! The read endpoint, on the same HTTP API as the webhooks, for the merchant's systems:
//!
//! - `GET /orders?connection=ID[&limit=N][&cursor=C]`: the connection's orders awaiting shipment,
//!   earliest ship-by first, `limit` (1–100, default 50) at a time; `next_cursor` continues.
//! - `GET /orders/{order_id}`: one order with its items and packages.
//! - `GET /inventory?connection=ID[&sku=SKU]`: the connection's FBA inventory as last read.
//! - `GET /fulfillments?connection=ID&store_order=ID`: a store order Amazon fulfils, as the store sees it
//!   (state, reason, shipments and tracking; never the address).
//!
//! All need the stack's API key in `x-api-key` (401 without it or with another). Orders carry buyer
//! PII until they are redacted, `REDACTED (Amazon)` afterwards ([`OrderView`]).
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use sellerbridge_core::domain::connection::{Connection, ProductIdentifier};
use sellerbridge_core::domain::ids::{AmazonOrderId, ConnectionId, SellerFulfillmentOrderId, Sku, StoreOrderId};
use sellerbridge_core::domain::view::OrderView;
use sellerbridge_core::http::{json_response, request_id};
use sellerbridge_core::store::{DynamoStore, StoreError};
use serde_json::json;
use tracing::{Instrument, info, info_span, warn};

/// The environment variable naming the secret that holds the API key.
pub const API_KEY_SECRET_ID: &str = "SELLERBRIDGE_API_KEY_SECRET_ID";
pub const API_KEY_HEADER: &str = "x-api-key";
const DEFAULT_LIMIT: usize = 50;

/// The key the merchant's systems present; compared in constant time.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into().trim().to_owned())
    }

    fn admits(&self, presented: Option<&str>) -> bool {
        let Some(presented) = presented else { return false };
        let (expected, presented) = (self.0.as_bytes(), presented.trim().as_bytes());
        !expected.is_empty()
            && expected.len() == presented.len()
            && expected.iter().zip(presented).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

pub struct ApiDeps {
    pub store: DynamoStore,
    pub api_key: ApiKey,
}

pub async fn handle(deps: &ApiDeps, request: Request) -> Result<Response<Body>, lambda_http::Error> {
    let request_id = request_id(&request);
    let span = info_span!("read_api", request_id, path = request.uri().path());
    let answer = answer(deps, &request).instrument(span.clone()).await;
    let _entered = span.enter();
    Ok(match answer {
        Ok(body) => {
            info!(status = 200, "read answered");
            json_response(StatusCode::OK, body)
        }
        Err((status, message)) => {
            warn!(status = status.as_u16(), reason = %message, "read refused");
            json_response(status, json!({ "error": message }))
        }
    })
}

type Refused = (StatusCode, String);

async fn answer(deps: &ApiDeps, request: &Request) -> Result<serde_json::Value, Refused> {
    if !deps.api_key.admits(request.headers().get(API_KEY_HEADER).and_then(|v| v.to_str().ok())) {
        return Err((StatusCode::UNAUTHORIZED, format!("missing or wrong API key in {API_KEY_HEADER}")));
    }
    if request.method() != Method::GET {
        return Err((StatusCode::METHOD_NOT_ALLOWED, "only GET is accepted".into()));
    }
    // The HTTP API may put its stage before the route: the route starts at the first resource name.
    let segments: Vec<&str> = request.uri().path().split('/').filter(|s| !s.is_empty()).collect();
    let route = segments.iter().position(|s| RESOURCES.contains(s)).map(|at| &segments[at..]);
    match route {
        Some(["orders"]) => list(deps, request).await,
        Some(["orders", order_id]) => one(deps, order_id).await,
        Some(["inventory"]) => inventory(deps, request).await,
        Some(["fulfillments"]) => fulfillment(deps, request).await,
        _ => Err((
            StatusCode::NOT_FOUND,
            "no such resource: use /orders, /orders/{order_id}, /inventory or /fulfillments".into(),
        )),
    }
}

const RESOURCES: [&str; 3] = ["orders", "inventory", "fulfillments"];

/// The `connection` query parameter, which must name a connection that exists.
async fn connection_named(deps: &ApiDeps, request: &Request) -> Result<Connection, Refused> {
    let query = request.query_string_parameters();
    let connection = query
        .first("connection")
        .ok_or_else(|| (StatusCode::BAD_REQUEST, "the connection query parameter is required".to_owned()))?;
    let connection =
        ConnectionId::parse(connection).map_err(|e| (StatusCode::BAD_REQUEST, format!("connection: {e}")))?;
    deps.store
        .get_connection(&connection)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| (StatusCode::NOT_FOUND, format!("no connection {connection}")))
}

async fn inventory(deps: &ApiDeps, request: &Request) -> Result<serde_json::Value, Refused> {
    let connection = connection_named(deps, request).await?;
    let sku = request
        .query_string_parameters()
        .first("sku")
        .map(|raw| Sku::parse(raw).map_err(|e| (StatusCode::BAD_REQUEST, format!("sku: {e}"))))
        .transpose()?;
    let report = deps.store.inventory_report(&connection.id, sku.as_ref()).await.map_err(unavailable)?;
    Ok(json!(report))
}

async fn fulfillment(deps: &ApiDeps, request: &Request) -> Result<serde_json::Value, Refused> {
    let connection = connection_named(deps, request).await?;
    let store_order = request
        .query_string_parameters()
        .first("store_order")
        .ok_or_else(|| (StatusCode::BAD_REQUEST, "the store_order query parameter is required".to_owned()))
        .and_then(|raw| StoreOrderId::parse(raw).map_err(|e| (StatusCode::BAD_REQUEST, format!("store_order: {e}"))))?;
    let id = SellerFulfillmentOrderId::for_store_order(&connection.id, &store_order);
    let order = deps.store.get_fulfillment(&id).await.map_err(unavailable)?.ok_or_else(|| {
        (
            StatusCode::NOT_FOUND,
            format!("no fulfillment was requested for store order {store_order} on connection {}", connection.id),
        )
    })?;
    Ok(json!(order.value.view()))
}

fn unavailable(e: StoreError) -> Refused {
    (StatusCode::SERVICE_UNAVAILABLE, format!("temporarily unable to read: {e}"))
}

async fn list(deps: &ApiDeps, request: &Request) -> Result<serde_json::Value, Refused> {
    let query = request.query_string_parameters();
    let limit = match query.first("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| (StatusCode::BAD_REQUEST, format!("limit must be 1 to 100, not {raw:?}")))?,
    };
    let after = query
        .first("cursor")
        .map(|raw| {
            URL_SAFE_NO_PAD
                .decode(raw)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                // It ends with the last order's id: anything else was not given by this endpoint.
                .filter(|key| key.rsplit('#').next().is_some_and(|id| AmazonOrderId::parse(id).is_ok()))
                .ok_or_else(|| (StatusCode::BAD_REQUEST, "cursor is not one this endpoint gave".to_owned()))
        })
        .transpose()?;
    let found = connection_named(deps, request).await?;
    let page = deps.store.orders_awaiting_shipment(&found.id, after.as_deref(), limit).await.map_err(unavailable)?;
    let mut orders = Vec::with_capacity(page.orders.len());
    for id in &page.orders {
        // The index lags the table a little: an order shipped a moment ago is left out.
        if let Some(view) = view(deps, id, found.options.product_identifier).await?
            && view.get("status").is_none_or(|status| status == "awaiting_shipment")
        {
            orders.push(view);
        }
    }
    Ok(json!({
        "orders": orders,
        "next_cursor": page.next.map(|key| URL_SAFE_NO_PAD.encode(key)),
    }))
}

async fn one(deps: &ApiDeps, order_id: &str) -> Result<serde_json::Value, Refused> {
    let id = AmazonOrderId::parse(order_id).map_err(|e| (StatusCode::BAD_REQUEST, format!("order id: {e}")))?;
    let Some(order) = deps.store.get_order(&id).await.map_err(unavailable)? else {
        return Err((StatusCode::NOT_FOUND, format!("no order {id}")));
    };
    let identifier = deps
        .store
        .get_connection(&order.value.connection_id)
        .await
        .map_err(unavailable)?
        .map_or(ProductIdentifier::default(), |c| c.options.product_identifier);
    let view = view(deps, &id, identifier).await?.ok_or_else(|| (StatusCode::NOT_FOUND, format!("no order {id}")))?;
    serde_json::to_value(view).map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

async fn view(
    deps: &ApiDeps,
    id: &AmazonOrderId,
    identifier: ProductIdentifier,
) -> Result<Option<serde_json::Value>, Refused> {
    let order = match deps.store.get_order(id).await {
        Ok(Some(order)) => order.value,
        Ok(None) => return Ok(None),
        // A record that cannot be read is named, not hidden and not fatal to the page.
        Err(e @ StoreError::Corrupt { .. }) => return Ok(Some(json!({"order_id": id, "error": e.to_string()}))),
        Err(e) => return Err(unavailable(e)),
    };
    let packages = deps.store.list_packages(id).await.map_err(unavailable)?;
    let view = OrderView::of(&order, &packages, identifier);
    serde_json::to_value(view).map(Some).map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_key_must_match_exactly() {
        let key = ApiKey::new("s3cret-key");
        assert!(key.admits(Some("s3cret-key")));
        assert!(!key.admits(Some("s3cret-kez")));
        assert!(!key.admits(Some("s3cret")));
        assert!(!key.admits(None));
        assert!(!ApiKey::new("").admits(Some("")), "an empty key admits nobody");
        assert_eq!(format!("{key:?}"), "ApiKey(***)");
    }
}
