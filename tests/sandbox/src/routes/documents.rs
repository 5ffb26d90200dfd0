//! `PUT|GET /_documents/{feedDocumentId}?X-Amz-…`: the presigned URLs of feed documents. They stand for S3, not
//! the SP-API: no access token, no usage plan, S3's XML errors (see `feeds::documents`).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;

use super::AppState;
use crate::feeds::S3Error;

pub(crate) async fn upload(
    State(state): State<AppState>,
    Path(document_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, S3Error> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let mut inner = state.lock();
    let now = inner.now();
    inner.feeds.documents.upload(&document_id, query.as_deref(), content_type, &body, now)
}

pub(crate) async fn download(
    State(state): State<AppState>,
    Path(document_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, S3Error> {
    let inner = state.lock();
    let now = inner.now();
    inner.feeds.documents.download(&document_id, query.as_deref(), now)
}
