//! Orders API v2026-01-01: `searchOrders` and `getOrder`.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde::Serialize;
use serde_json::{Value, json};

use super::{AppState, HostRegion};
use crate::error::ApiError;
use crate::search::{self, QueryParams, SearchRequest, parse_included_data};
use crate::sites::Site;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Pagination {
    next_token: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchOrdersResponse {
    orders: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pagination: Option<Pagination>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_updated_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_before: Option<String>,
}

pub(crate) async fn search_orders(
    State(state): State<AppState>,
    Extension(HostRegion(region)): Extension<HostRegion>,
    RawQuery(query): RawQuery,
) -> Result<Json<SearchOrdersResponse>, ApiError> {
    let params = QueryParams::parse(query.as_deref());
    for marketplace_id in params.list("marketplaceIds").unwrap_or_default() {
        ensure_served_here(&marketplace_id, region)?;
    }
    let mut inner = state.lock();
    let now = inner.now();
    let request = SearchRequest::from_query(&params, now, &mut inner.pagination_tokens)?;
    let behaviour = inner.search;
    let page = search::run(&request, &inner.orders, behaviour.paging);
    let lifetime = state.config().pagination_token_lifetime;
    let next_token = page.next.map(|resume| inner.pagination_tokens.issue_opaque(resume, now, lifetime));
    let (last_updated_before, created_before) = request.filter.echoed_bounds();
    let served = page.orders.iter().map(|order| inner.served(order)).collect();
    for changed in search::earliest_matches(&request.filter, &inner.orders, behaviour.churn_per_search) {
        inner.touch(&changed, None);
    }
    Ok(Json(SearchOrdersResponse {
        orders: served,
        pagination: next_token.map(|next_token| Pagination { next_token }),
        last_updated_before,
        created_before,
    }))
}

pub(crate) async fn get_order(
    State(state): State<AppState>,
    Extension(HostRegion(region)): Extension<HostRegion>,
    Path(order_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let included = parse_included_data(&QueryParams::parse(query.as_deref()))?.unwrap_or_default();
    let inner = state.lock();
    let order = inner
        .order(&order_id)
        .filter(|order| ensure_served_here(order.marketplace_id(), region).is_ok())
        .ok_or_else(|| ApiError::not_found(format!("Order {order_id} not found")))?;
    Ok(Json(json!({ "order": inner.served(&order.project(&included)) })))
}

/// A regional host knows only its own region's marketplaces (and their orders).
pub(crate) fn ensure_served_here(marketplace_id: &str, region: &str) -> Result<(), ApiError> {
    match Site::find(marketplace_id) {
        Some(site) if site.region != region => Err(ApiError::invalid_input(format!(
            "Invalid marketplaceId: {} ({}) is not served by this endpoint; call the {} endpoint",
            site.marketplace_id, site.name, site.region
        ))),
        _ => Ok(()),
    }
}
