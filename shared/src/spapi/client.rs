use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::limiter::{Acquired, RateKey, RateLimiter, Reservation};
use super::lwa::{Grant, LwaClient};
use super::models::{self, ConfirmShipmentRequest, ErrorList, GetOrderResponse, SearchOrdersResponse};
use super::{Operation, Refusal, SpApiError};
use crate::domain::breaker::{Breaker, BreakerPolicy, CoolDown};
use crate::domain::ids::{AmazonOrderId, ConnectionId, MarketplaceId, SellerId};
use crate::domain::marketplace::Region;
use crate::domain::order::AmazonOrder;
use crate::domain::rate::Quota;
use crate::domain::status::{AmazonStatus, FulfilledBy};
use crate::metrics::{self, Metric};

const MAX_ATTEMPTS: u32 = 5;
const BASE_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Our refill against Amazon's: calls paced to the millisecond still leave room for clocks that differ.
const RATE_HEADROOM: f64 = 0.98;
/// How much later than we send them calls may reach Amazon (connections opened, a busy container): a
/// burst that arrives this late meets a bucket that stopped refilling when full, so the burst we spend
/// is smaller by the tokens of this lag, and at least one.
const ARRIVAL_LAG: Duration = Duration::from_millis(100);
const LWA_RETRIES: u32 = 3;

#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Where a region's calls go instead of Amazon's host for it (the local stack, tests).
    pub spapi_overrides: BTreeMap<Region, url::Url>,
    /// The LWA token endpoint, `https://api.amazon.com/auth/o2/token` for every region.
    pub lwa_token: url::Url,
}

impl Endpoints {
    pub const LWA_TOKEN: &'static str = "https://api.amazon.com/auth/o2/token";

    /// Amazon's hosts for every region.
    pub fn amazon() -> Self {
        Self { spapi_overrides: BTreeMap::new(), lwa_token: url::Url::parse(Self::LWA_TOKEN).expect("a valid URL") }
    }

    /// Every region's calls, and the token endpoint, at one server (the sandbox).
    pub fn all_at(base: &url::Url) -> Self {
        Self {
            spapi_overrides: Region::ALL.into_iter().map(|region| (region, base.clone())).collect(),
            lwa_token: base.join("/auth/o2/token").expect("a valid URL"),
        }
    }

    /// The SP-API host a region's calls go to.
    pub fn spapi(&self, region: Region) -> url::Url {
        self.spapi_overrides
            .get(&region)
            .cloned()
            .unwrap_or_else(|| url::Url::parse(region.host()).expect("Amazon's hosts are valid URLs"))
    }
}

/// How long a caller may wait inside one call for quota or retries. The sync passes its Lambda deadline;
/// the queue consumer passes none, because a message waits better in the queue than in a Lambda.
#[derive(Debug, Clone, Copy)]
pub struct WaitBudget {
    until: Option<Instant>,
    /// The first attempt's token was reserved beforehand ([`SpApiClient::reserve`]) and its slot has come.
    prepaid: bool,
}

impl WaitBudget {
    pub fn none() -> Self {
        Self { until: None, prepaid: false }
    }

    pub fn until(deadline: Instant) -> Self {
        Self { until: Some(deadline), prepaid: false }
    }

    /// No waiting, and the first attempt spends the token reserved for it; a retry spends its own.
    pub fn reserved() -> Self {
        Self { until: None, prepaid: true }
    }

    fn allows(&self, wait: Duration) -> bool {
        self.until.is_some_and(|until| Instant::now() + wait < until)
    }
}

/// Who a call is made for: the seller's identity, refresh token and quota plan.
#[derive(Debug, Clone)]
pub struct SellerAuth {
    pub connection_id: ConnectionId,
    /// Where the seller's calls go.
    pub region: Region,
    pub seller_id: SellerId,
    pub grant: Grant,
    pub quota_overrides: BTreeMap<String, Quota>,
}

impl SellerAuth {
    /// The app itself, for grantless operations in `region`: its quota is the app's, not a seller's.
    pub fn grantless(region: Region, scope: &'static str) -> Self {
        Self {
            connection_id: ConnectionId::parse(format!("grantless-{region}")).expect("a valid connection id"),
            region,
            seller_id: SellerId::parse(format!("APP-{region}")).expect("a valid seller id"),
            grant: Grant::Grantless { scope },
            quota_overrides: BTreeMap::new(),
        }
    }
}

/// One window of `searchOrders`: orders updated between `updated_after` and `updated_before`, both
/// sent as whole seconds (truncated) and both inclusive at Amazon, so consecutive slices overlap by
/// their shared second rather than leave a gap.
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
    pub orders: Vec<Result<AmazonOrder, UnreadableOrder>>,
    pub next_token: Option<String>,
}

/// An order Amazon sent that we could not map: why, and Amazon's JSON with its PII replaced.
#[derive(Debug)]
pub struct UnreadableOrder {
    pub error: models::OrderMappingError,
    pub payload: serde_json::Value,
}

fn map_keeping_payload(raw: serde_json::Value) -> Result<AmazonOrder, UnreadableOrder> {
    models::map_order(raw.clone())
        .map_err(|error| UnreadableOrder { error, payload: super::wire_pii::without_pii(raw) })
}

pub struct SpApiClient {
    http: reqwest::Client,
    endpoints: Endpoints,
    lwa: LwaClient,
    limiter: Arc<dyn RateLimiter>,
    /// Rates Amazon reported in `x-amzn-RateLimit-Limit`, per seller and operation, for as long as this
    /// client lives (one Lambda container).
    observed_rates: Mutex<HashMap<RateKey, f64>>,
    /// Per seller and operation, in this container: paused after Amazon refused several calls in a row,
    /// and the kind of the last refusal.
    breakers: Mutex<HashMap<RateKey, (Breaker, Refusal)>>,
    breaker_policy: BreakerPolicy,
}

impl SpApiClient {
    pub fn new(http: reqwest::Client, endpoints: Endpoints, lwa: LwaClient, limiter: Arc<dyn RateLimiter>) -> Self {
        Self {
            http,
            endpoints,
            lwa,
            limiter,
            observed_rates: Mutex::new(HashMap::new()),
            breakers: Mutex::new(HashMap::new()),
            breaker_policy: BreakerPolicy::default(),
        }
    }

    pub async fn search_orders(
        &self,
        auth: &SellerAuth,
        query: &SearchOrdersQuery,
        budget: WaitBudget,
    ) -> Result<SearchPage, SpApiError> {
        // With a token, Amazon wants every other filter again, with the values that produced it.
        let mut params: Vec<(&str, String)> = vec![
            ("marketplaceIds", query.marketplace_id.to_string()),
            ("lastUpdatedAfter", models::utc_timestamp(query.updated_after)),
            ("lastUpdatedBefore", models::utc_timestamp(query.updated_before)),
            ("fulfillmentStatuses", join(&query.statuses)),
            ("fulfilledBy", join(&query.fulfilled_by)),
            ("maxResultsPerPage", query.page_size.to_string()),
        ];
        if let Some(token) = &query.pagination_token {
            // Passed exactly as received; reqwest encodes it once.
            params.push(("paginationToken", token.clone()));
        }
        params.push(("includedData", "BUYER,RECIPIENT,PROCEEDS,FULFILLMENT,PACKAGES".into()));
        let response: SearchOrdersResponse = self
            .call(auth, Operation::SearchOrders, Method::GET, "/orders/2026-01-01/orders", &params, None, budget)
            .await?
            .json()?;
        Ok(SearchPage {
            orders: response.orders.into_iter().map(map_keeping_payload).collect(),
            next_token: response.pagination.and_then(|p| p.next_token).filter(|t| !t.is_empty()),
        })
    }

    pub async fn get_order(
        &self,
        auth: &SellerAuth,
        order_id: &AmazonOrderId,
        budget: WaitBudget,
    ) -> Result<AmazonOrder, SpApiError> {
        self.fetch_order(auth, order_id.as_str(), budget)
            .await?
            .map_err(|e| SpApiError::Decode { operation: Operation::GetOrder.name(), message: e.error.to_string() })
    }

    /// `getOrder` for an id that may not even parse (an order kept as unreadable), with an order that
    /// still cannot be mapped returned as such rather than as a failed call.
    pub async fn fetch_order(
        &self,
        auth: &SellerAuth,
        order_id: &str,
        budget: WaitBudget,
    ) -> Result<Result<AmazonOrder, UnreadableOrder>, SpApiError> {
        let path = format!(
            "/orders/2026-01-01/orders/{}",
            url::form_urlencoded::byte_serialize(order_id.as_bytes()).collect::<String>()
        );
        let params = [("includedData", "BUYER,RECIPIENT,PROCEEDS,FULFILLMENT,PACKAGES".to_owned())];
        let response: GetOrderResponse =
            self.call(auth, Operation::GetOrder, Method::GET, &path, &params, None, budget).await?.json()?;
        Ok(map_keeping_payload(response.order))
    }

    /// The app's notification destinations (grantless).
    pub async fn get_destinations(&self, app: &SellerAuth) -> Result<Vec<models::Destination>, SpApiError> {
        let path = "/notifications/v1/destinations";
        let answer: models::Payload<Vec<models::Destination>> = self
            .call(app, Operation::GetDestinations, Method::GET, path, &[], None, WaitBudget::none())
            .await?
            .json()?;
        Ok(answer.payload.unwrap_or_default())
    }

    /// Registers an SQS queue as a notification destination (grantless).
    pub async fn create_destination(
        &self,
        app: &SellerAuth,
        name: &str,
        queue_arn: &str,
    ) -> Result<models::Destination, SpApiError> {
        let body = serde_json::json!({"name": name, "resourceSpecification": {"sqs": {"arn": queue_arn}}});
        let path = "/notifications/v1/destinations";
        let answer: models::Payload<models::Destination> = self
            .call(app, Operation::CreateDestination, Method::POST, path, &[], Some(&body), WaitBudget::none())
            .await?
            .json()?;
        answer.payload.ok_or_else(|| SpApiError::Decode {
            operation: Operation::CreateDestination.name(),
            message: "the answer holds no destination".into(),
        })
    }

    /// Subscribes the seller to `notification_type` at a destination, for every marketplace: Amazon
    /// keeps one subscription per seller and type, so a filter would leave out the seller's other
    /// connections (the consumer routes each notification by its marketplace).
    pub async fn create_subscription(
        &self,
        auth: &SellerAuth,
        notification_type: &str,
        destination_id: &str,
    ) -> Result<models::Subscription, SpApiError> {
        let body = serde_json::json!({"payloadVersion": "1.0", "destinationId": destination_id});
        let path = format!("/notifications/v1/subscriptions/{notification_type}");
        let answer: models::Payload<models::Subscription> = self
            .call(auth, Operation::CreateSubscription, Method::POST, &path, &[], Some(&body), WaitBudget::none())
            .await?
            .json()?;
        answer.payload.ok_or_else(|| SpApiError::Decode {
            operation: Operation::CreateSubscription.name(),
            message: "the answer holds no subscription".into(),
        })
    }

    /// The seller's subscription to `notification_type`, if there is one.
    pub async fn get_subscription(
        &self,
        auth: &SellerAuth,
        notification_type: &str,
    ) -> Result<Option<models::Subscription>, SpApiError> {
        let path = format!("/notifications/v1/subscriptions/{notification_type}");
        match self.call(auth, Operation::GetSubscription, Method::GET, &path, &[], None, WaitBudget::none()).await {
            Ok(answer) => Ok(answer.json::<models::Payload<models::Subscription>>()?.payload),
            Err(SpApiError::Rejected { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
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

    /// Reserves up to `wanted` of the seller's tokens for `operation`, paced at its refill rate over at
    /// most `horizon` ([`RateLimiter::reserve`]); each call then goes at its slot with
    /// [`WaitBudget::reserved`]. A paused seller gets none.
    pub async fn reserve(
        &self,
        auth: &SellerAuth,
        operation: Operation,
        wanted: usize,
        horizon: Duration,
    ) -> Result<Reservation, SpApiError> {
        let key = RateKey { seller_id: auth.seller_id.clone(), operation };
        if let Some(paused) = self.paused(&key) {
            return Err(paused);
        }
        self.limiter
            .reserve(&key, self.quota(auth, operation), wanted, horizon)
            .await
            .map_err(|e| SpApiError::Transient { operation: operation.name(), message: e.to_string() })
    }

    /// Fetches (and caches) the seller's access token now, so a call made at a reserved slot does not
    /// first wait for Login with Amazon and reach Amazon late.
    pub async fn ready_access_token(&self, auth: &SellerAuth) -> Result<(), SpApiError> {
        self.access_token(auth).await.map(drop)
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
        let url = self.endpoints.spapi(auth.region).join(path).map_err(|e| SpApiError::Rejected {
            operation: operation.name(),
            status: 0,
            code: "InvalidPath".into(),
            message: e.to_string(),
        })?;
        if let Some(paused) = self.paused(&key) {
            return Err(paused);
        }
        let mut attempt = 0;
        let mut refreshed_token = false;
        loop {
            // The access token first: a Login with Amazon failure must not cost a quota token.
            let token = self.access_token(auth).await?;
            if attempt > 0 || refreshed_token || !budget.prepaid {
                self.spend_token(&key, quota, budget).await?;
            }
            let mut request =
                self.http.request(method.clone(), url.clone()).header("x-amz-access-token", token).query(query);
            if let Some(body) = body {
                request = request.json(body);
            }
            let sent = request.send().await;
            if let Ok(response) = &sent {
                self.observe_rate_limit(auth, operation, response.headers());
            }
            let failure = match sent {
                Ok(response) if response.status().is_success() => {
                    self.lock_breakers().remove(&key);
                    let bytes = response.bytes().await.map_err(|e| transient(operation, e))?;
                    return Ok(Answer { operation, bytes });
                }
                Ok(response) => {
                    if response.status() == StatusCode::TOO_MANY_REQUESTS {
                        metrics::count(Metric::AmazonThrottled, 1);
                    }
                    self.classify(operation, response).await
                }
                Err(e) => transient(operation, e),
            };
            // A 429 storm pauses the seller for two tokens' refill at first, up to the quota's full refill;
            // a 403 storm for a minute at first (a withdrawn role is not restored sooner). Any other answer
            // from Amazon breaks the run of refusals.
            let refused = match &failure {
                SpApiError::Throttled { .. } => {
                    let full = full_refill_time(quota);
                    let first = (token_refill_time(quota) * 2).clamp(chrono::Duration::seconds(1), full);
                    Some((Refusal::Throttled, CoolDown { first, longest: full }))
                }
                SpApiError::Forbidden { .. } if refreshed_token => Some((
                    Refusal::Forbidden,
                    CoolDown { first: chrono::Duration::minutes(1), longest: chrono::Duration::minutes(15) },
                )),
                SpApiError::Rejected { .. } | SpApiError::Decode { .. } => {
                    self.lock_breakers().remove(&key);
                    None
                }
                _ => None,
            };
            if let Some((refusal, cool_down)) = refused
                && let Some(paused) = self.refused(&key, refusal, cool_down)
            {
                return Err(paused);
            }
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

    /// The pause in force for this seller and operation, if its breaker is open.
    fn paused(&self, key: &RateKey) -> Option<SpApiError> {
        let now = self.lwa.clock().now();
        let breakers = self.lock_breakers();
        let (breaker, refusal) = breakers.get(key)?;
        let until = breaker.open_until(now)?;
        Some(SpApiError::Paused {
            operation: key.operation.name(),
            retry_after: (until - now).to_std().unwrap_or_default(),
            refusal: *refusal,
        })
    }

    /// Counts a refusal; the pause it starts, if it opened the breaker.
    fn refused(&self, key: &RateKey, refusal: Refusal, cool_down: CoolDown) -> Option<SpApiError> {
        let now = self.lwa.clock().now();
        let until = {
            let mut breakers = self.lock_breakers();
            let (breaker, last) = breakers.entry(key.clone()).or_insert((Breaker::default(), refusal));
            *last = refusal;
            breaker.refused(now, cool_down, &self.breaker_policy)?
        };
        tracing::warn!(
            operation = key.operation.name(),
            seller_id = %key.seller_id,
            refusal = %refusal,
            until = %until,
            "Amazon keeps refusing this seller's calls; pausing them"
        );
        Some(SpApiError::Paused {
            operation: key.operation.name(),
            retry_after: (until - now).to_std().unwrap_or_default(),
            refusal,
        })
    }

    fn lock_breakers(&self) -> std::sync::MutexGuard<'_, HashMap<RateKey, (Breaker, Refusal)>> {
        self.breakers.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The connection's access token; a transient Login with Amazon failure is retried a few times
    /// with a short backoff, whatever the caller's budget (LWA has no quota of ours to wait for).
    async fn access_token(&self, auth: &SellerAuth) -> Result<String, SpApiError> {
        let mut attempt = 0;
        loop {
            match self.lwa.access_token(auth.connection_id.as_str(), &auth.grant).await {
                Err(e @ SpApiError::Transient { .. }) if attempt < LWA_RETRIES => {
                    attempt += 1;
                    tracing::warn!(attempt, error = %e, "Login with Amazon failed transiently; retrying");
                    tokio::time::sleep(backoff(attempt).min(Duration::from_secs(2))).await;
                }
                other => return other,
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
                Acquired::Wait(wait) if budget.allows(wait) => {
                    metrics::count(Metric::QuotaWaits, 1);
                    tokio::time::sleep(wait).await;
                }
                Acquired::Wait(wait) => {
                    return Err(SpApiError::Throttled { operation: key.operation.name(), retry_after: wait });
                }
            }
        }
    }

    /// The seller's plan for the operation with a little headroom: a burst smaller by the tokens of
    /// [`ARRIVAL_LAG`], so requests that reach Amazon later or closer together than we sent them still
    /// fit, and a slightly slower refill, so those tokens come back after they were used.
    fn quota(&self, auth: &SellerAuth, operation: Operation) -> Quota {
        let plan = match auth.quota_overrides.get(operation.name()) {
            Some(plan) => *plan,
            None => self.plan(&auth.seller_id, operation),
        };
        let lag_tokens = (plan.rate_per_second * ARRIVAL_LAG.as_secs_f64()).ceil().max(1.0);
        Quota { rate_per_second: plan.rate_per_second * RATE_HEADROOM, burst: (plan.burst - lag_tokens).max(1.0) }
    }

    /// Amazon's default plan for the operation, at the rate Amazon last reported for this seller when
    /// that is lower. A higher reported rate is not taken on trust (the bucket is shared by every
    /// container, which may not all have seen it): a connection override uses it.
    fn plan(&self, seller_id: &SellerId, operation: Operation) -> Quota {
        let default = operation.default_quota();
        let key = RateKey { seller_id: seller_id.clone(), operation };
        match self.lock_observed_rates().get(&key) {
            Some(&observed) if observed < default.rate_per_second => Quota { rate_per_second: observed, ..default },
            _ => default,
        }
    }

    /// Remembers the rate in `x-amzn-RateLimit-Limit` when Amazon sends one (it often does not, even on
    /// 429s), and says so once per seller, operation and value when it differs from the plan we use.
    fn observe_rate_limit(&self, auth: &SellerAuth, operation: Operation, headers: &reqwest::header::HeaderMap) {
        let Some(reported) = headers.get(RATE_LIMIT_HEADER).and_then(|v| v.to_str().ok()).and_then(parse_rate_limit)
        else {
            return;
        };
        let key = RateKey { seller_id: auth.seller_id.clone(), operation };
        let previous = self.lock_observed_rates().insert(key, reported);
        if previous.is_some_and(|p| same_rate(p, reported)) {
            return;
        }
        let overridden = auth.quota_overrides.get(operation.name());
        let planned = overridden.copied().unwrap_or_else(|| operation.default_quota()).rate_per_second;
        if same_rate(planned, reported) {
            return;
        }
        let used = if overridden.is_some() {
            "the connection's override stays in force"
        } else if reported < planned {
            "using Amazon's rate"
        } else {
            "keeping the default plan; set a quota override on the connection to use Amazon's rate"
        };
        tracing::info!(
            connection_id = %auth.connection_id,
            operation = operation.name(),
            reported_rate = reported,
            planned_rate = planned,
            "Amazon reports a different rate limit; {used}"
        );
    }

    fn lock_observed_rates(&self) -> std::sync::MutexGuard<'_, HashMap<RateKey, f64>> {
        self.observed_rates.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
            // Amazon answers an expired or revoked access token with 403 (sometimes 401): refreshed once.
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => SpApiError::Forbidden { operation: name, message },
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

const RATE_LIMIT_HEADER: &str = "x-amzn-RateLimit-Limit";

/// `x-amzn-RateLimit-Limit`: requests per second as a decimal string (e.g. `0.0056`, `2.0`). Anything
/// else (empty, not a number, zero or negative, absurdly large) is ignored.
fn parse_rate_limit(raw: &str) -> Option<f64> {
    let rate: f64 = raw.trim().parse().ok()?;
    (rate.is_finite() && rate > 0.0 && rate <= 10_000.0).then_some(rate)
}

/// Rates within 1% of each other are the same plan (Amazon rounds, e.g. 0.0056 for 1/180).
fn same_rate(a: f64, b: f64) -> bool {
    (a - b).abs() <= 0.01 * a.abs().max(b.abs())
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

/// How long an empty bucket takes to fill up again (at least a second).
fn full_refill_time(quota: Quota) -> chrono::Duration {
    chrono::Duration::milliseconds((tokens_time(quota, quota.burst).max(1.0) * 1000.0) as i64)
}

/// How long the bucket takes to give one token back.
fn token_refill_time(quota: Quota) -> chrono::Duration {
    chrono::Duration::milliseconds((tokens_time(quota, 1.0) * 1000.0) as i64)
}

fn tokens_time(quota: Quota, tokens: f64) -> f64 {
    if quota.rate_per_second > 0.0 { tokens / quota.rate_per_second } else { 60.0 }
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

mod feeds;
mod fulfillment;

pub use fulfillment::{FulfillmentOrderPage, InventoryPage, InventoryQuery, InventorySummary};

#[cfg(test)]
mod rate_limit_tests {
    use std::collections::VecDeque;

    use super::super::lwa::RefreshToken;

    use axum::Router;
    use axum::extract::State;
    use axum::http::{HeaderName, StatusCode as AxumStatus};
    use axum::response::IntoResponse;
    use axum::routing::post;

    use super::*;
    use crate::domain::clock::SystemClock;
    use crate::spapi::limiter::Unlimited;
    use crate::spapi::lwa::AppCredentials;
    use crate::spapi::models::{ConfirmItem, PackageDetail};

    /// What the stand-in Amazon answers to each confirmShipment, in turn: status and rate header.
    type Script = Arc<Mutex<VecDeque<(u16, Option<&'static str>)>>>;

    async fn confirm(State(script): State<Script>) -> axum::response::Response {
        let (status, rate) = script.lock().unwrap().pop_front().expect("a scripted answer");
        let status = AxumStatus::from_u16(status).unwrap();
        let body = match status {
            AxumStatus::NO_CONTENT => String::new(),
            AxumStatus::TOO_MANY_REQUESTS => {
                r#"{"errors":[{"code":"QuotaExceeded","message":"You exceeded your quota for the requested resource."}]}"#
                    .into()
            }
            _ => r#"{"errors":[{"code":"InvalidInput","message":"Invalid input"}]}"#.into(),
        };
        let mut response = (status, body).into_response();
        if let Some(rate) = rate {
            response.headers_mut().insert(HeaderName::from_static("x-amzn-ratelimit-limit"), rate.parse().unwrap());
        }
        response
    }

    async fn token() -> impl IntoResponse {
        axum::Json(serde_json::json!({"access_token": "Atza|test", "token_type": "bearer", "expires_in": 3600}))
    }

    async fn stand_in(script: Script) -> SpApiClient {
        stand_in_on(script, Arc::new(SystemClock)).await
    }

    async fn stand_in_on(script: Script, clock: crate::domain::clock::SharedClock) -> SpApiClient {
        let app = Router::new()
            .route("/auth/o2/token", post(token))
            .route("/orders/v0/orders/{order_id}/shipmentConfirmation", post(confirm))
            .with_state(script);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base: url::Url = format!("http://{}", listener.local_addr().unwrap()).parse().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let http = reqwest::Client::new();
        let app_credentials = AppCredentials { client_id: "app".into(), client_secret: "secret".into() };
        let lwa = LwaClient::new(http.clone(), base.join("/auth/o2/token").unwrap(), app_credentials, clock);
        let endpoints = Endpoints::all_at(&base);
        SpApiClient::new(http, endpoints, lwa, Arc::new(Unlimited))
    }

    #[tokio::test]
    async fn a_seller_amazon_keeps_refusing_is_paused_not_hammered() {
        let clock = crate::domain::clock::OffsetClock::default();
        // Five 429s for the seller, one answer for another seller, then for the seller (after the pause)
        // one more 429 and finally a success.
        let answers: Vec<(u16, Option<&'static str>)> =
            [vec![(429, None); 5], vec![(204, None), (429, None), (204, None)]].concat();
        let script: Script = Arc::new(Mutex::new(VecDeque::from(answers)));
        let client = stand_in_on(script.clone(), Arc::new(clock.clone())).await;
        let seller = auth("A1SELLER");
        for _ in 0..4 {
            assert!(matches!(send(&client, &seller).await, Err(SpApiError::Throttled { .. })));
        }
        // Paused for two tokens' refill of the seller's confirmShipment bucket (1.9 a second).
        let first = match send(&client, &seller).await {
            Err(SpApiError::Paused { retry_after, refusal: Refusal::Throttled, .. }) => retry_after,
            other => panic!("{other:?}"),
        };
        assert!((1.0..1.1).contains(&first.as_secs_f64()), "{first:?}");
        let left = script.lock().unwrap().len();
        assert!(matches!(send(&client, &seller).await, Err(SpApiError::Paused { .. })));
        assert_eq!(script.lock().unwrap().len(), left, "a paused call never reaches Amazon");
        assert!(matches!(send(&client, &auth("A2OTHER")).await, Ok(())), "other sellers are not paused");

        clock.advance(chrono::Duration::seconds(2));
        let reopened = send(&client, &seller).await;
        assert!(
            matches!(&reopened, Err(SpApiError::Paused { retry_after, .. })
                if *retry_after > first * 2 - std::time::Duration::from_millis(50)),
            "the one call let through was refused: twice as long ({reopened:?})"
        );
        clock.advance(chrono::Duration::seconds(3));
        send(&client, &seller).await.unwrap();
        assert!(
            client
                .paused(&RateKey { seller_id: seller.seller_id.clone(), operation: Operation::ConfirmShipment })
                .is_none()
        );
    }

    fn auth(seller: &str) -> SellerAuth {
        SellerAuth {
            connection_id: ConnectionId::parse("us-main").unwrap(),
            region: Region::NorthAmerica,
            seller_id: SellerId::parse(seller).unwrap(),
            grant: Grant::Seller(RefreshToken::new("Atzr|test")),
            quota_overrides: BTreeMap::new(),
        }
    }

    fn request() -> ConfirmShipmentRequest {
        ConfirmShipmentRequest {
            marketplace_id: "ATVPDKIKX0DER".into(),
            package_detail: PackageDetail {
                package_reference_id: "1".into(),
                carrier_code: "UPS".into(),
                carrier_name: None,
                shipping_method: Some("Ground".into()),
                tracking_number: "1Z999AA10123456784".into(),
                ship_date: "2026-03-01T12:00:00Z".into(),
                order_items: vec![ConfirmItem { order_item_id: "12345678901234".into(), quantity: 1 }],
            },
        }
    }

    async fn send(client: &SpApiClient, auth: &SellerAuth) -> Result<(), SpApiError> {
        let order = AmazonOrderId::parse("902-1106328-1059050").unwrap();
        client.confirm_shipment(auth, &order, &request(), WaitBudget::none()).await
    }

    fn rate(client: &SpApiClient, auth: &SellerAuth) -> f64 {
        let quota = client.quota(auth, Operation::ConfirmShipment);
        assert_eq!(quota.burst, 9.0, "the burst stays the plan's");
        quota.rate_per_second / RATE_HEADROOM
    }

    #[tokio::test]
    async fn a_lower_rate_amazon_reports_is_used_for_later_calls_of_that_seller() {
        let script: Script = Arc::new(Mutex::new(VecDeque::from([
            (204, Some("0.5")),
            (429, None),
            (400, Some("0.5")),
            (204, Some("5.0")),
            (204, None),
        ])));
        let client = stand_in(script.clone()).await;
        let seller = auth("A1SELLER");
        let other_seller = auth("A2SELLER");
        assert_eq!(rate(&client, &seller), 2.0, "Amazon's default plan before any answer");

        send(&client, &seller).await.unwrap();
        assert_eq!(rate(&client, &seller), 0.5, "the reported rate is lower: it is used");
        assert_eq!(rate(&client, &other_seller), 2.0, "rates are per seller");

        assert!(matches!(send(&client, &seller).await, Err(SpApiError::Throttled { .. })));
        assert_eq!(rate(&client, &seller), 0.5, "a 429 without the header changes nothing");

        assert!(matches!(send(&client, &seller).await, Err(SpApiError::Rejected { status: 400, .. })));
        assert_eq!(rate(&client, &seller), 0.5);

        send(&client, &seller).await.unwrap();
        assert_eq!(rate(&client, &seller), 2.0, "a higher reported rate is not taken without an override");

        let mut overridden = auth("A1SELLER");
        overridden.quota_overrides.insert("confirmShipment".into(), Quota::new(0.25, 10.0));
        send(&client, &overridden).await.unwrap();
        assert_eq!(rate(&client, &overridden), 0.25, "the connection's override wins");
        assert!(script.lock().unwrap().is_empty());
    }

    #[test]
    fn the_header_is_read_only_when_it_is_a_sensible_rate() {
        assert_eq!(parse_rate_limit("0.0056"), Some(0.0056));
        assert_eq!(parse_rate_limit(" 2.0 "), Some(2.0));
        assert_eq!(parse_rate_limit("5"), Some(5.0));
        for bad in ["", "fast", "0", "-1", "NaN", "inf", "1e9"] {
            assert_eq!(parse_rate_limit(bad), None, "{bad}");
        }
        assert!(same_rate(0.0056, 0.00556) && !same_rate(0.5, 2.0));
    }
}
