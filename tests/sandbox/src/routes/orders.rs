//! Orders API v2026-01-01: `searchOrders` and `getOrder`.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde::Serialize;
use serde_json::{Value, json};

use super::AppState;
use crate::error::ApiError;
use crate::orders::Order;
use crate::search::{self, QueryParams, SearchRequest, parse_included_data};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Pagination {
    next_token: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchOrdersResponse {
    orders: Vec<Order>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pagination: Option<Pagination>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_updated_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_before: Option<String>,
}

pub(crate) async fn search_orders(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<SearchOrdersResponse>, ApiError> {
    let params = QueryParams::parse(query.as_deref());
    let inner = state.lock();
    let request = SearchRequest::from_query(&params, inner.now())?;
    let page = search::run(&request, &inner.orders);
    let (last_updated_before, created_before) = request.filter.echoed_bounds();
    Ok(Json(SearchOrdersResponse {
        orders: page.orders,
        pagination: page.next_token.map(|next_token| Pagination { next_token }),
        last_updated_before,
        created_before,
    }))
}

pub(crate) async fn get_order(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let included = parse_included_data(&QueryParams::parse(query.as_deref()))?.unwrap_or_default();
    let order = state.order(&order_id).ok_or_else(|| ApiError::not_found(format!("Order {order_id} not found")))?;
    Ok(Json(json!({ "order": order.project(&included) })))
}
