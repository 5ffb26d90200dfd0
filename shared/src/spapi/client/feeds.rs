//! Feeds API 2021-06-30: documents up and down, feeds created and read back.
use std::io::Read;

use reqwest::Method;

use super::{SellerAuth, SpApiClient, WaitBudget, transient};
use crate::domain::ids::MarketplaceId;
use crate::spapi::models::{CreateFeedResponse, Feed, FeedDocumentLocation, FeedDocumentUpload, GetFeedsResponse};
use crate::spapi::{Operation, SpApiError};

const FEEDS: &str = "/feeds/2021-06-30/feeds";
const DOCUMENTS: &str = "/feeds/2021-06-30/documents";
/// What a result document may inflate to: a processing report of a 2,000-message feed is far smaller.
const MAX_DOCUMENT_BYTES: u64 = 64 * 1024 * 1024;

impl SpApiClient {
    /// Asks for a document to upload a feed into; Amazon answers with a presigned URL valid 5 minutes.
    pub async fn create_feed_document(
        &self,
        auth: &SellerAuth,
        content_type: &str,
    ) -> Result<FeedDocumentUpload, SpApiError> {
        let body = serde_json::json!({ "contentType": content_type });
        self.call(auth, Operation::CreateFeedDocument, Method::POST, DOCUMENTS, &[], Some(&body), WaitBudget::none())
            .await?
            .json()
    }

    /// Uploads a feed's content to the URL `create_feed_document` gave, with the same content type (the
    /// URL's signature covers it). Not an SP-API call: no access token, no quota.
    pub async fn upload_feed_document(
        &self,
        upload: &FeedDocumentUpload,
        content_type: &str,
        content: Vec<u8>,
    ) -> Result<(), SpApiError> {
        let operation = Operation::CreateFeedDocument;
        let response = self
            .http
            .put(&upload.url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(content)
            .send()
            .await
            .map_err(|e| transient(operation, e))?;
        document_transfer_failure(operation, response).await.map(drop)
    }

    pub async fn create_feed(
        &self,
        auth: &SellerAuth,
        feed_type: &str,
        marketplace_id: &MarketplaceId,
        document_id: &str,
    ) -> Result<String, SpApiError> {
        let body = serde_json::json!({
            "feedType": feed_type,
            "marketplaceIds": [marketplace_id.as_str()],
            "inputFeedDocumentId": document_id,
        });
        let created: CreateFeedResponse = self
            .call(auth, Operation::CreateFeed, Method::POST, FEEDS, &[], Some(&body), WaitBudget::none())
            .await?
            .json()?;
        Ok(created.feed_id)
    }

    pub async fn get_feed(&self, auth: &SellerAuth, feed_id: &str) -> Result<Feed, SpApiError> {
        let path = format!("{FEEDS}/{}", url::form_urlencoded::byte_serialize(feed_id.as_bytes()).collect::<String>());
        self.call(auth, Operation::GetFeed, Method::GET, &path, &[], None, WaitBudget::none()).await?.json()
    }

    /// The seller's feeds of `feed_type` for `marketplace_id` created in `[since, until]`, every page.
    pub async fn get_feeds(
        &self,
        auth: &SellerAuth,
        feed_type: &str,
        marketplace_id: &MarketplaceId,
        since: chrono::DateTime<chrono::Utc>,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Feed>, SpApiError> {
        let mut feeds = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            // With a token Amazon wants nothing else.
            let params: Vec<(&str, String)> = match &next_token {
                Some(token) => vec![("nextToken", token.clone())],
                None => vec![
                    ("feedTypes", feed_type.to_owned()),
                    ("marketplaceIds", marketplace_id.to_string()),
                    ("pageSize", "100".into()),
                    ("createdSince", super::models::utc_timestamp(since)),
                    ("createdUntil", super::models::utc_timestamp(until)),
                ],
            };
            let page: GetFeedsResponse = self
                .call(auth, Operation::GetFeeds, Method::GET, FEEDS, &params, None, WaitBudget::none())
                .await?
                .json()?;
            feeds.extend(page.feeds);
            match page.next_token.filter(|t| !t.is_empty()) {
                Some(token) => next_token = Some(token),
                None => return Ok(feeds),
            }
        }
    }

    /// Downloads a result document, inflated when Amazon compressed it.
    pub async fn download_feed_document(&self, auth: &SellerAuth, document_id: &str) -> Result<Vec<u8>, SpApiError> {
        let operation = Operation::GetFeedDocument;
        let path =
            format!("{DOCUMENTS}/{}", url::form_urlencoded::byte_serialize(document_id.as_bytes()).collect::<String>());
        let location: FeedDocumentLocation =
            self.call(auth, operation, Method::GET, &path, &[], None, WaitBudget::none()).await?.json()?;
        let response = self.http.get(&location.url).send().await.map_err(|e| transient(operation, e))?;
        let response = document_transfer_failure(operation, response).await?;
        let bytes = response.bytes().await.map_err(|e| transient(operation, e))?;
        match location.compression_algorithm.as_deref().map(str::trim) {
            None | Some("") => Ok(bytes.to_vec()),
            Some(algorithm) if algorithm.eq_ignore_ascii_case("GZIP") => {
                let mut inflated = Vec::new();
                flate2::read::GzDecoder::new(bytes.as_ref())
                    .take(MAX_DOCUMENT_BYTES)
                    .read_to_end(&mut inflated)
                    .map_err(|e| SpApiError::Decode { operation: operation.name(), message: format!("GZIP: {e}") })?;
                Ok(inflated)
            }
            Some(other) => Err(SpApiError::Decode {
                operation: operation.name(),
                message: format!("unknown compressionAlgorithm {other}"),
            }),
        }
    }
}

/// A document transfer's answer, as a typed failure unless it succeeded. The URL is presigned, so a
/// 403 (expired, or a signature that does not match) will not pass by retrying it.
async fn document_transfer_failure(
    operation: Operation,
    response: reqwest::Response,
) -> Result<reqwest::Response, SpApiError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    // S3 answers with an XML error: its code is enough, and holds no data of ours.
    let text = response.text().await.unwrap_or_default();
    let code = between(&text, "<Code>", "</Code>").unwrap_or_default().to_owned();
    if status.is_server_error() {
        return Err(SpApiError::Transient {
            operation: operation.name(),
            message: format!("document transfer: {status} {code}"),
        });
    }
    let message = between(&text, "<Message>", "</Message>").unwrap_or("the document transfer was refused").to_owned();
    Err(SpApiError::Rejected { operation: operation.name(), status: status.as_u16(), code, message })
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}
