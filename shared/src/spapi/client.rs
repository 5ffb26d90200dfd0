use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::limiter::{Acquired, RateKey, RateLimiter};
use super::lwa::{LwaClient, RefreshToken};
use super::models::{self, ConfirmShipmentRequest, ErrorList, GetOrderResponse, SearchOrdersResponse};
use super::{Operation, SpApiError};
use crate::domain::ids::{AmazonOrderId, ConnectionId, MarketplaceId, SellerId};
use crate::domain::order::AmazonOrder;
use crate::domain::rate::Quota;
use crate::domain::status::{AmazonStatus, FulfilledBy};

const MAX_ATTEMPTS: u32 = 5;
const BASE_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
const RATE_HEADROOM: f64 = 0.95;

#[derive(Debug, Clone)]
pub struct Endpoints {
    /// The regional SP-API host, e.g. `https://sellingpartnerapi-na.amazon.com`.
    pub spapi: url::Url,
    /// The LWA token endpoint, `https://api.amazon.com/auth/o2/token`.
    pub lwa_token: url::Url,
}

/// How long a caller may wait inside one call for quota or retries. The sync passes its Lambda deadline;
/// the queue consumer passes none, because a message waits better in the queue than in a Lambda.
#[derive(Debug, Clone, Copy)]
pub struct WaitBudget {
    until: Option<Instant>,
}

impl WaitBudget {
    pub fn none() -> Self {
        Self { until: None }
    }

    pub fn until(deadline: Instant) -> Self {
        Self { until: Some(deadline) }
    }

    fn allows(&self, wait: Duration) -> bool {
        self.until.is_some_and(|until| Instant::now() + wait < until)
    }
}

/// Who a call is made for: the seller's identity, refresh token and quota plan.
#[derive(Debug, Clone)]
pub struct SellerAuth {
    pub connection_id: ConnectionId,
    pub seller_id: SellerId,
    pub refresh_token: RefreshToken,
    pub quota_overrides: BTreeMap<String, Quota>,
}

/// One window of `searchOrders`: orders updated in `[updated_after, updated_before)`.
#[derive(Debug, Clone)]
pub struct SearchOrdersQuery {
    pub marketplace_id: MarketplaceId,
    pub updated_after: DateTime<Utc>,
    pub updated_before: DateTime<Utc>,
    pub statuses: Vec<AmazonStatus>,
    pub fulfilled_by: Vec<FulfilledBy>,
    pub page_size: u8,
    pub pagination_token: Option<String>,
}

#[derive(Debug)]
pub struct SearchPage {
    /// Each order mapped on its own: one unreadable order never hides the others.
    pub orders: Vec<Result<AmazonOrder, models::OrderMappingError>>,
    pub next_token: Option<String>,
}

pub struct SpApiClient {
    http: reqwest::Client,
    endpoints: Endpoints,
    lwa: LwaClient,
    limiter: Arc<dyn RateLimiter>,
}

impl SpApiClient {
    pub fn new(http: reqwest::Client, endpoints: Endpoints, lwa: LwaClient, limiter: Arc<dyn RateLimiter>) -> Self {
        Self { http, endpoints, lwa, limiter }
    }

    pub async fn search_orders(
        &self,
        auth: &SellerAuth,
        query: &SearchOrdersQuery,
        budget: WaitBudget,
    ) -> Result<SearchPage, SpApiError> {
        let mut params: Vec<(&str, String)> = vec![("marketplaceIds", query.marketplace_id.to_string())];
        match &query.pagination_token {
            // The token carries the original filter; it is passed exactly as received (reqwest encodes it once).
            Some(token) => params.push(("paginationToken", token.clone())),
            None => {
                params.push(("lastUpdatedAfter", models::utc_timestamp(query.updated_after)));
                params.push(("lastUpdatedBefore", models::utc_timestamp(query.updated_before)));
                params.push(("fulfillmentStatuses", join(&query.statuses)));
                params.push(("fulfilledBy", join(&query.fulfilled_by)));
                params.push(("maxResultsPerPage", query.page_size.to_string()));
            }
        }
        params.push(("includedData", "BUYER,RECIPIENT,PROCEEDS,FULFILLMENT,PACKAGES".into()));
        let response: SearchOrdersResponse = self
            .call(auth, Operation::SearchOrders, Method::GET, "/orders/2026-01-01/orders", &params, None, budget)
            .await?
            .json()?;
        Ok(SearchPage {
            orders: response.orders.into_iter().map(models::map_order).collect(),
            next_token: response.pagination.and_then(|p| p.next_token).filter(|t| !t.is_empty()),
        })
    }

    pub async fn get_order(
        &self,
        auth: &SellerAuth,
        order_id: &AmazonOrderId,
        budget: WaitBudget,
    ) -> Result<AmazonOrder, SpApiError> {
        let path = format!("/orders/2026-01-01/orders/{order_id}");
        let params = [("includedData", "BUYER,RECIPIENT,PROCEEDS,FULFILLMENT,PACKAGES".to_owned())];
        let response: GetOrderResponse =
            self.call(auth, Operation::GetOrder, Method::GET, &path, &params, None, budget).await?.json()?;
        models::map_order(response.order)
            .map_err(|e| SpApiError::Decode { operation: Operation::GetOrder.name(), message: e.to_string() })
    }

    pub async fn confirm_shipment(
        &self,
        auth: &SellerAuth,
        order_id: &AmazonOrderId,
        request: &ConfirmShipmentRequest,
        budget: WaitBudget,
    ) -> Result<(), SpApiError> {
        let path = format!("/orders/v0/orders/{order_id}/shipmentConfirmation");
        let body = serde_json::to_value(request).expect("confirmShipment request serializes");
        self.call(auth, Operation::ConfirmShipment, Method::POST, &path, &[], Some(&body), budget).await.map(drop)
    }

    /// Sends one request: spends a token first, refreshes an expired access token once, backs off on
    /// throttling and transient failures while the budget allows, and types every failure.
    #[allow(clippy::too_many_arguments)]
    async fn call(
        &self,
        auth: &SellerAuth,
        operation: Operation,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
        budget: WaitBudget,
    ) -> Result<Answer, SpApiError> {
        let key = RateKey { seller_id: auth.seller_id.clone(), operation };
        let quota = self.quota(auth, operation);
        let url = self.endpoints.spapi.join(path).map_err(|e| SpApiError::Rejected {
            operation: operation.name(),
            status: 0,
            code: "InvalidPath".into(),
            message: e.to_string(),
        })?;
        let mut attempt = 0;
        let mut refreshed_token = false;
        loop {
            self.spend_token(&key, quota, budget).await?;
            let token = self.lwa.access_token(auth.connection_id.as_str(), &auth.refresh_token).await?;
            let mut request =
                self.http.request(method.clone(), url.clone()).header("x-amz-access-token", token).query(query);
            if let Some(body) = body {
                request = request.json(body);
            }
            let failure = match request.send().await {
                Ok(response) if response.status().is_success() => {
                    let bytes = response.bytes().await.map_err(|e| transient(operation, e))?;
                    return Ok(Answer { operation, bytes });
                }
                Ok(response) => self.classify(operation, response).await,
                Err(e) => transient(operation, e),
            };
            attempt += 1;
            let backoff = backoff(attempt);
            match failure {
                SpApiError::Forbidden { .. } if !refreshed_token => {
                    // An access token Amazon no longer honours: fetch a new one, once.
                    self.lwa.invalidate(auth.connection_id.as_str());
                    refreshed_token = true;
                }
                SpApiError::Throttled { .. } => {
                    self.limiter
                        .drain(&key, quota)
                        .await
                        .map_err(|e| SpApiError::Transient { operation: operation.name(), message: e.to_string() })?;
                    if attempt >= MAX_ATTEMPTS || !budget.allows(backoff) {
                        return Err(SpApiError::Throttled {
                            operation: operation.name(),
                            retry_after: backoff.max(refill_time(quota)),
                        });
                    }
                    tracing::warn!(operation = operation.name(), attempt, "throttled by Amazon; backing off");
                    tokio::time::sleep(backoff).await;
                }
                SpApiError::Transient { .. } if attempt < MAX_ATTEMPTS && budget.allows(backoff) => {
                    tracing::warn!(operation = operation.name(), attempt, error = %failure, "transient failure; retrying");
                    tokio::time::sleep(backoff).await;
                }
                other => return Err(other),
            }
        }
    }

    /// Waits for a token only while the budget allows; otherwise reports the call as throttled.
    async fn spend_token(&self, key: &RateKey, quota: Quota, budget: WaitBudget) -> Result<(), SpApiError> {
        loop {
            let acquired = self
                .limiter
                .try_acquire(key, quota)
                .await
                .map_err(|e| SpApiError::Transient { operation: key.operation.name(), message: e.to_string() })?;
            match acquired {
                Acquired::Granted => return Ok(()),
                Acquired::Wait(wait) if budget.allows(wait) => tokio::time::sleep(wait).await,
                Acquired::Wait(wait) => {
                    return Err(SpApiError::Throttled { operation: key.operation.name(), retry_after: wait });
                }
            }
        }
    }

    /// The seller's plan for the operation with a little headroom: one token less, so requests that
    /// reach Amazon closer together than we sent them still fit, and a slightly slower refill, so that
    /// token comes back after it was used.
    fn quota(&self, auth: &SellerAuth, operation: Operation) -> Quota {
        let plan = auth.quota_overrides.get(operation.name()).copied().unwrap_or_else(|| operation.default_quota());
        Quota { rate_per_second: plan.rate_per_second * RATE_HEADROOM, burst: (plan.burst - 1.0).max(1.0) }
    }

    async fn classify(&self, operation: Operation, response: reqwest::Response) -> SpApiError {
        let status = response.status();
        let errors: ErrorList = response.json().await.unwrap_or_default();
        let first = errors.errors.into_iter().next();
        let code = first.as_ref().map(|e| e.code.clone()).unwrap_or_default();
        let message = first.map(|e| e.message).unwrap_or_else(|| status.to_string());
        let name = operation.name();
        match status {
            StatusCode::TOO_MANY_REQUESTS => SpApiError::Throttled { operation: name, retry_after: Duration::ZERO },
            StatusCode::FORBIDDEN => SpApiError::Forbidden { operation: name, message },
            s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => {
                SpApiError::Transient { operation: name, message: format!("{s}: {message}") }
            }
            s => SpApiError::Rejected { operation: name, status: s.as_u16(), code, message },
        }
    }
}

struct Answer {
    operation: Operation,
    bytes: bytes::Bytes,
}

impl Answer {
    fn json<T: DeserializeOwned>(self) -> Result<T, SpApiError> {
        serde_json::from_slice(&self.bytes)
            .map_err(|e| SpApiError::Decode { operation: self.operation.name(), message: e.to_string() })
    }
}

fn transient(operation: Operation, error: reqwest::Error) -> SpApiError {
    SpApiError::Transient { operation: operation.name(), message: error.without_url().to_string() }
}

/// Exponential backoff with full jitter, capped.
fn backoff(attempt: u32) -> Duration {
    let ceiling = BASE_BACKOFF.saturating_mul(1 << attempt.min(16)).min(MAX_BACKOFF);
    let jittered = rand::rng().random_range(ceiling.as_millis() as u64 / 2..=ceiling.as_millis() as u64);
    Duration::from_millis(jittered)
}

fn refill_time(quota: Quota) -> Duration {
    if quota.rate_per_second > 0.0 { Duration::from_secs_f64(1.0 / quota.rate_per_second) } else { MAX_BACKOFF }
}

fn join<T: serde::Serialize>(values: &[T]) -> String {
    values
        .iter()
        .filter_map(|v| serde_json::to_value(v).ok())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect::<Vec<_>>()
        .join(",")
}
