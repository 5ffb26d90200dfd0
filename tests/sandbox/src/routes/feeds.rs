//! Feeds API 2021-06-30: createFeedDocument, getFeedDocument, createFeed, getFeed, getFeeds, cancelFeed.
//! Bodies and answers are the model's (`feeds_2021-06-30.json`), unwrapped (no `payload`).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::orders::ensure_served_here;
use super::{AppState, HostRegion};
use crate::error::ApiError;
use crate::feeds::{FeedError, FeedType, FeedView, FeedsQuery, NewFeed, Transfer};
use crate::search::QueryParams;

const MAX_MARKETPLACES: usize = 25;

fn body<T: for<'de> Deserialize<'de>>(raw: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(raw).map_err(|e| ApiError::invalid_input(format!("Malformed request body: {e}")))
}

/// The host the client called, where the presigned URLs point too (`http://127.0.0.1:PORT`).
fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    format!("http://{host}")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateFeedDocumentSpecification {
    content_type: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateFeedDocumentResponse {
    feed_document_id: String,
    url: String,
}

pub(crate) async fn create_feed_document(
    State(state): State<AppState>,
    Extension(HostRegion(region)): Extension<HostRegion>,
    headers: HeaderMap,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let request: CreateFeedDocumentSpecification = body(&raw)?;
    let content_type = request
        .content_type
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| ApiError::invalid_input("Missing required field: contentType"))?;
    let mut inner = state.lock();
    let now = inner.now();
    let feed_document_id = inner.feeds.documents.create_input(&content_type, region);
    let url = inner.feeds.documents.presign(&base_url(&headers), &feed_document_id, Transfer::Upload, now, false);
    Ok((StatusCode::CREATED, Json(CreateFeedDocumentResponse { feed_document_id, url })).into_response())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FeedDocument {
    feed_document_id: String,
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    compression_algorithm: Option<&'static str>,
}

pub(crate) async fn get_feed_document(
    State(state): State<AppState>,
    Extension(HostRegion(region)): Extension<HostRegion>,
    Path(feed_document_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<FeedDocument>, ApiError> {
    let params = QueryParams::parse(query.as_deref());
    let content_encoding_gzip = match params.scalar("enableContentEncodingUrlHeader") {
        None => false,
        Some(raw) => raw
            .parse::<bool>()
            .map_err(|_| ApiError::invalid_input("enableContentEncodingUrlHeader must be true or false"))?,
    };
    let mut inner = state.lock();
    let now = inner.now();
    let compression = inner
        .feeds
        .documents
        .get(&feed_document_id)
        .filter(|d| d.region == region)
        .map(|d| d.compression)
        .ok_or(FeedError::UnknownDocument)?;
    let gzip = compression.is_some() && content_encoding_gzip;
    let url = inner.feeds.documents.presign(&base_url(&headers), &feed_document_id, Transfer::Download, now, gzip);
    Ok(Json(FeedDocument { feed_document_id, url, compression_algorithm: compression.map(|_| "GZIP") }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateFeedSpecification {
    feed_type: Option<String>,
    marketplace_ids: Option<Vec<String>>,
    input_feed_document_id: Option<String>,
    feed_options: Option<BTreeMap<String, String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateFeedResponse {
    feed_id: String,
}

pub(crate) async fn create_feed(
    State(state): State<AppState>,
    Extension(HostRegion(region)): Extension<HostRegion>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let request: CreateFeedSpecification = body(&raw)?;
    let missing = |field: &str| ApiError::invalid_input(format!("Missing required field: {field}"));
    let feed_type = request.feed_type.ok_or_else(|| missing("feedType"))?;
    let marketplace_ids = request.marketplace_ids.ok_or_else(|| missing("marketplaceIds"))?;
    let input_feed_document_id = request.input_feed_document_id.ok_or_else(|| missing("inputFeedDocumentId"))?;
    let feed_type = FeedType::parse(&feed_type).ok_or(FeedError::UnsupportedFeedType(feed_type))?;
    if marketplace_ids.is_empty() || marketplace_ids.len() > MAX_MARKETPLACES {
        return Err(FeedError::MarketplaceCount.into());
    }
    for marketplace_id in &marketplace_ids {
        ensure_served_here(marketplace_id, region)?;
        if !state.config().marketplace_ids.contains(marketplace_id) {
            return Err(FeedError::ForeignMarketplace(marketplace_id.clone()).into());
        }
    }
    let new = NewFeed {
        feed_type,
        marketplace_ids,
        input_feed_document_id,
        feed_options: request.feed_options.unwrap_or_default(),
        region,
    };
    let mut inner = state.lock();
    let now = inner.now();
    let feed_id = inner.feeds.create_feed(new, now)?;
    Ok((StatusCode::ACCEPTED, Json(CreateFeedResponse { feed_id })).into_response())
}

pub(crate) async fn get_feed(
    State(state): State<AppState>,
    Extension(HostRegion(region)): Extension<HostRegion>,
    Path(feed_id): Path<String>,
) -> Result<Json<FeedView>, ApiError> {
    let inner = state.lock();
    Ok(Json(inner.feeds.feed(&feed_id, region)?.view()))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GetFeedsResponse {
    feeds: Vec<FeedView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn get_feeds(
    State(state): State<AppState>,
    Extension(HostRegion(region)): Extension<HostRegion>,
    RawQuery(query): RawQuery,
) -> Result<Json<GetFeedsResponse>, ApiError> {
    let query = FeedsQuery::parse(query.as_deref())?;
    let lifetime = state.config().pagination_token_lifetime;
    let mut inner = state.lock();
    let now = inner.now();
    let (feeds, next_token) = inner.feeds.list(query, region, now, lifetime)?;
    Ok(Json(GetFeedsResponse { feeds, next_token }))
}

/// 200 with no body, as the model declares.
pub(crate) async fn cancel_feed(
    State(state): State<AppState>,
    Extension(HostRegion(region)): Extension<HostRegion>,
    Path(feed_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let mut inner = state.lock();
    let now = inner.now();
    inner.feeds.cancel(&feed_id, region, now)?;
    Ok(StatusCode::OK)
}
