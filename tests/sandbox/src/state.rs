//! Shared sandbox state: orders, tokens, call log, faults, quotas, clock, feeds, FBA inventory and fulfillment orders.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::config::{Operation, SandboxConfig};
use crate::feeds::{Feed, FeedSettings, FeedStore, FeedSummary};
use crate::fulfillment::inventory::InventorySummary;
use crate::fulfillment::outbound::FulfillmentOrderResult;
use crate::fulfillment::{FulfillmentSettings, FulfillmentStore, QuantityUpdate};
use crate::orders::{FulfillmentStatus, Order, generate_orders};
use crate::quota::Quotas;
use crate::search::{Paging, Resume};
use crate::time::{SandboxClock, format_iso_millis, truncate_to_second};
use crate::tokens::{AccessDenied, TokenInfo, TokenStore};

/// One entry of `GET /_sandbox/calls`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CallRecord {
    pub seq: u64,
    pub operation: Operation,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    pub request_body: Value,
    /// The order the path names: an Amazon order id, or a sellerFulfillmentOrderId for Fulfillment Outbound calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Which access token the call presented (its number in `GET /_sandbox/tokens`), if the sandbox issued it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_id: Option<String>,
    pub at: String,
}

impl Serialize for Operation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// `GET /_sandbox/stats`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// operation → HTTP status → count.
    pub calls: BTreeMap<String, BTreeMap<String, u64>>,
    pub throttled: u64,
    pub orders: usize,
    pub actionable_mfn: usize,
    pub confirmed_packages: usize,
    /// Feeds per processing status.
    pub feeds: BTreeMap<String, u64>,
    /// Fulfillment orders per `fulfillmentOrderStatus`.
    pub fulfillment_orders: BTreeMap<String, u64>,
}

/// An injected fault for the next `remaining` calls of one operation: a delay, an error, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Answer with this status instead of running the operation (`None`: run it, only later).
    pub status: Option<StatusCode>,
    /// The error to answer with: an LWA code (`invalid_grant`, ...) for `lwaToken`, one of
    /// `ApiError::for_error`'s names (`PackageToUpdateNotFound`, ...) for SP-API operations.
    pub error: Option<String>,
    /// Real time to wait before answering (a slow Amazon; not scaled).
    pub delay: Duration,
    pub remaining: u32,
    /// The fault strikes one call in `every` (1: every call); the calls between run normally.
    pub every: u32,
    /// Calls let through since the fault last struck.
    pub passed: u32,
    /// Run the operation, then answer with the error anyway: Amazon did the work and the answer was
    /// lost on the way (a gateway's 500 or 504 after the fact).
    pub after_running: bool,
}

/// Why the gate refused a call before it reached its handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Unauthorized(AccessDenied),
    Fault(Fault),
    /// The call runs, and its answer is replaced by the fault's.
    AnswerLost(Fault),
    Throttled,
}

/// `GET /_sandbox/tokens`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedTokens {
    pub access_tokens: Vec<TokenInfo>,
    pub pagination_tokens: Vec<TokenInfo>,
}

/// Normalized content of one confirmShipment package, kept for idempotency checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    pub marketplace_id: String,
    pub package_reference_id: String,
    pub carrier_code: String,
    pub carrier_name: Option<String>,
    pub shipping_method: Option<String>,
    pub tracking_number: String,
    pub ship_date: DateTime<Utc>,
    /// (orderItemId, quantity), duplicates merged, in request order.
    pub items: Vec<(String, u32)>,
}

pub(crate) struct Inner {
    pub seller_id: String,
    pub clock: SandboxClock,
    pub orders: Vec<Order>,
    index: HashMap<String, usize>,
    pub actionable_mfn: usize,
    pub access_tokens: TokenStore<()>,
    pub pagination_tokens: TokenStore<Resume>,
    pub refresh_tokens: HashSet<String>,
    pub calls: Vec<CallRecord>,
    pub faults: HashMap<Operation, VecDeque<Fault>>,
    pub quotas: Quotas,
    /// (orderId, packageReferenceId) → what was confirmed.
    pub confirmations: HashMap<(String, String), Confirmation>,
    /// orderId → (JSON pointer, value) written over the order wherever it is served: Amazon sending
    /// what its model does not promise (a 1995 ship date, an enum value added later).
    pub quirks: HashMap<String, Vec<(String, Value)>>,
    pub search: SearchBehaviour,
    /// Access tokens from the client-credentials grant: good for grantless operations only.
    pub grantless_tokens: HashSet<String>,
    pub destinations: Vec<Destination>,
    /// notificationType → the subscription to it.
    pub subscriptions: BTreeMap<String, Subscription>,
    /// Notifications raised by changes (of any type), waiting to be sent after the request that made them.
    pub outbox: Vec<Value>,
    /// Every notification sent (or, without an SQS endpoint, that would have been).
    pub notifications: Vec<Value>,
    pub feeds: FeedStore,
    /// (orderId, orderItemId) → what payment adjustment feeds refunded, in the currency's minor unit.
    pub refunds: BTreeMap<(String, String), u64>,
    /// FBA inventory and Multi-Channel Fulfillment orders.
    pub fulfillment: FulfillmentStore,
}

/// A notifications destination (`createDestination`): an SQS queue by its ARN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    pub destination_id: String,
    pub name: String,
    pub arn: String,
}

/// A subscription (`createSubscription`) and the marketplaces its event filter keeps (all if empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub subscription_id: String,
    pub destination_id: String,
    pub payload_version: String,
    pub marketplace_ids: Vec<String>,
}

/// How searchOrders behaves while it is read: `POST /_sandbox/search`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SearchBehaviour {
    pub paging: Paging,
    /// After every searchOrders call, this many of the orders the search matches first change on
    /// Amazon's side (their lastUpdatedTime becomes now, so they leave the window being read).
    pub churn_per_search: usize,
}

impl Inner {
    /// A (projected) order as served, with any quirk written over it.
    pub fn served(&self, order: &Order) -> Value {
        let mut value = serde_json::to_value(order).unwrap_or(Value::Null);
        for (pointer, quirk) in self.quirks.get(&order.order_id).into_iter().flatten() {
            if let Some(slot) = value.pointer_mut(pointer) {
                *slot = quirk.clone();
            }
        }
        value
    }

    pub fn order(&self, id: &str) -> Option<&Order> {
        self.index.get(id).map(|&i| &self.orders[i])
    }

    pub fn order_mut(&mut self, id: &str) -> Option<&mut Order> {
        self.index.get(id).map(|&i| &mut self.orders[i])
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A change on Amazon's side: optional new status, lastUpdatedTime = now, and an ORDER_CHANGE
    /// notification for a subscription to it.
    pub fn touch(&mut self, id: &str, status: Option<FulfillmentStatus>) -> Option<Order> {
        let now = self.now();
        self.touch_at(id, status, now)
    }

    /// [`Inner::touch`] for a change that happened at `at` (a feed finishing between two requests).
    pub fn touch_at(&mut self, id: &str, status: Option<FulfillmentStatus>, at: DateTime<Utc>) -> Option<Order> {
        let now = truncate_to_second(at);
        let order = self.order_mut(id)?;
        if let (Some(status), Some(fulfillment)) = (status, order.fulfillment.as_mut()) {
            fulfillment.fulfillment_status = status;
        }
        order.last_updated_time = now;
        let order = order.clone();
        self.raise_order_change(&order);
        Some(order)
    }

    /// Queues the ORDER_CHANGE notification Amazon sends when an order changes, if it is subscribed to
    /// (and its event filter keeps the order's marketplace).
    pub fn raise_order_change(&mut self, order: &Order) {
        let Some(subscription) = self.subscriptions.get(crate::notifications::ORDER_CHANGE) else { return };
        if !subscription.marketplace_ids.is_empty()
            && !subscription.marketplace_ids.iter().any(|m| m == order.marketplace_id())
        {
            return;
        }
        let now = format_iso_millis(self.now());
        let notification =
            crate::notifications::order_change(order, &self.seller_id, &subscription.subscription_id, &now);
        self.outbox.push(notification);
    }

    /// Queues a FULFILLMENT_ORDER_STATUS notification for every change to a fulfillment order since the last call,
    /// each at the time it happened, if the seller is subscribed to them; without a subscription they are dropped
    /// (a later subscription does not bring back what happened before it).
    pub fn raise_fulfillment_changes(&mut self) {
        let changes = self.fulfillment.take_changes();
        let Some(subscription) = self.subscriptions.get(crate::notifications::FULFILLMENT_ORDER_STATUS) else {
            return;
        };
        for change in &changes {
            let notification =
                crate::notifications::fulfillment_order_status(change, &self.seller_id, &subscription.subscription_id);
            self.outbox.push(notification);
        }
    }

    /// Where a notification of `notification_type` goes: the SQS queue of its subscription's destination.
    fn queue_url(&self, notification_type: &str, sqs_endpoint: Option<&str>) -> Option<String> {
        let subscription = self.subscriptions.get(notification_type)?;
        let destination = self.destinations.iter().find(|d| d.destination_id == subscription.destination_id)?;
        crate::notifications::queue_url(sqs_endpoint?, &destination.arn)
    }

    fn take_fault(&mut self, op: Operation) -> Option<Fault> {
        let queue = self.faults.get_mut(&op)?;
        let front = queue.front_mut()?;
        if front.passed + 1 < front.every {
            front.passed += 1;
            return None;
        }
        front.passed = 0;
        let fault = front.clone();
        front.remaining = front.remaining.saturating_sub(1);
        if front.remaining == 0 {
            queue.pop_front();
        }
        Some(fault)
    }
}

/// The whole sandbox. All mutable data sits behind one mutex that is never held across `.await`.
pub struct SandboxState {
    config: SandboxConfig,
    inner: Mutex<Inner>,
}

impl SandboxState {
    pub fn new(config: SandboxConfig) -> Self {
        let clock = SandboxClock::starting_at(config.start_time);
        let start = clock.now();
        let generated = generate_orders(config.seed, config.order_count, &config.sites(), start);
        let index = generated.orders.iter().enumerate().map(|(i, o)| (o.order_id.clone(), i)).collect();
        let inner = Inner {
            seller_id: config.seller_id.clone(),
            clock,
            orders: generated.orders,
            index,
            actionable_mfn: generated.actionable_mfn,
            access_tokens: TokenStore::default(),
            pagination_tokens: TokenStore::default(),
            refresh_tokens: config.refresh_tokens.iter().cloned().collect(),
            calls: Vec::new(),
            faults: HashMap::new(),
            quotas: Quotas::new(&config),
            confirmations: HashMap::new(),
            quirks: HashMap::new(),
            search: SearchBehaviour { paging: config.paging, churn_per_search: 0 },
            grantless_tokens: HashSet::new(),
            destinations: Vec::new(),
            subscriptions: BTreeMap::new(),
            outbox: Vec::new(),
            notifications: Vec::new(),
            feeds: FeedStore::new(config.feeds),
            refunds: BTreeMap::new(),
            fulfillment: FulfillmentStore::new(&config, start),
        };
        Self { config, inner: Mutex::new(inner) }
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere must not wedge every later request of a test.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Current sandbox time.
    pub fn now(&self) -> DateTime<Utc> {
        self.lock().now()
    }

    /// Sets the clock; feeds and fulfillment orders catch up with it at once.
    pub fn set_now(&self, now: DateTime<Utc>) {
        let mut inner = self.lock();
        inner.clock.set_now(now);
        Self::catch_up(&mut inner);
    }

    /// Moves every feed on to where the clock is (IN_QUEUE → IN_PROGRESS → DONE | FATAL), applying the
    /// feeds that finish to the orders.
    pub fn advance_feeds(&self) {
        crate::feeds::advance(&mut self.lock());
    }

    /// Moves feeds and fulfillment orders on to where the clock is: before every request, when the clock is set
    /// and on the sandbox's tick.
    pub fn advance(&self) {
        Self::catch_up(&mut self.lock());
    }

    fn catch_up(inner: &mut Inner) {
        crate::feeds::advance(inner);
        let now = inner.now();
        crate::fulfillment::advance(&mut inner.fulfillment, now);
        inner.raise_fulfillment_changes();
    }

    pub fn fulfillment_settings(&self) -> FulfillmentSettings {
        self.lock().fulfillment.settings
    }

    /// Applies to fulfillment orders created from now on.
    pub fn set_fulfillment_settings(&self, settings: FulfillmentSettings) {
        self.lock().fulfillment.settings = settings;
    }

    /// Every SKU of the FBA inventory with all its quantities, in seller SKU order.
    pub fn inventory(&self) -> Vec<InventorySummary> {
        self.lock().fulfillment.inventory.items().map(|item| item.summary(true)).collect()
    }

    /// Sets quantities of a SKU (creating it if new), as a change on Amazon's side now.
    pub fn update_inventory(&self, update: &QuantityUpdate) -> InventorySummary {
        let mut inner = self.lock();
        let now = inner.now();
        inner.fulfillment.inventory.update(update, now).summary(true)
    }

    /// Every fulfillment order as getFulfillmentOrder shows it, in creation order.
    pub fn fulfillment_orders(&self) -> Vec<FulfillmentOrderResult> {
        self.lock().fulfillment.orders.iter().map(|order| order.result()).collect()
    }

    pub fn feed_settings(&self) -> FeedSettings {
        self.lock().feeds.settings
    }

    /// Applies to feeds created from now on.
    pub fn set_feed_settings(&self, settings: FeedSettings) {
        self.lock().feeds.settings = settings;
    }

    /// Every feed, oldest first.
    pub fn feeds(&self) -> Vec<FeedSummary> {
        self.lock().feeds.feeds().iter().map(Feed::summary).collect()
    }

    /// One feed with its input document and its processing report as text (`null` while there is none).
    pub fn feed_detail(&self, feed_id: &str) -> Option<Value> {
        let inner = self.lock();
        let feed = inner.feeds.feeds().iter().find(|f| f.feed_id == feed_id)?;
        let text = |id: &str| inner.feeds.documents.get(id).and_then(crate::feeds::gunzip);
        let mut detail = serde_json::to_value(feed.summary()).ok()?;
        detail["inputDocument"] = Value::from(text(&feed.input_feed_document_id));
        detail["report"] = Value::from(feed.result_feed_document_id.as_deref().and_then(text));
        Some(detail)
    }

    /// A refund the seller made in Seller Central, outside any feed: later feeds' refunds of the item
    /// count it as refunded. `amount` as Money writes it for the order's site.
    pub fn refund_outside_feeds(&self, order_id: &str, item_id: &str, amount: &str) -> Result<(), String> {
        let mut inner = self.lock();
        let order = inner.order(order_id).ok_or_else(|| format!("Order {order_id} not found"))?;
        if order.item(item_id).is_none() {
            return Err(format!("Order {order_id} has no item {item_id}"));
        }
        let site = crate::sites::Site::find(order.marketplace_id()).ok_or("the order's site is unknown")?;
        let minor = crate::feeds::minor_units(amount, site).ok_or_else(|| format!("{amount} is not an amount"))?;
        *inner.refunds.entry((order_id.to_owned(), item_id.to_owned())).or_default() += minor;
        Ok(())
    }

    /// What payment adjustment feeds refunded, per order item.
    pub fn refunds(&self) -> Vec<Value> {
        let inner = self.lock();
        inner
            .refunds
            .iter()
            .map(|((order_id, item_id), minor)| {
                let site = inner.order(order_id).and_then(|o| crate::sites::Site::find(o.marketplace_id()));
                let refunded = site.map(|site| crate::orders::Money::in_currency(*minor, site));
                serde_json::json!({"orderId": order_id, "orderItemId": item_id, "refunded": refunded})
            })
            .collect()
    }

    /// All orders with every dataset, in seeded order.
    pub fn orders(&self) -> Vec<Order> {
        self.lock().orders.clone()
    }

    pub fn order(&self, id: &str) -> Option<Order> {
        self.lock().order(id).cloned()
    }

    /// Simulates a change on Amazon's side: optional new status, lastUpdatedTime = now.
    pub fn touch_order(&self, id: &str, status: Option<FulfillmentStatus>) -> Option<Order> {
        self.lock().touch(id, status)
    }

    pub fn search_behaviour(&self) -> SearchBehaviour {
        self.lock().search
    }

    pub fn set_search_behaviour(&self, behaviour: SearchBehaviour) {
        self.lock().search = behaviour;
    }

    /// Serves the order with `value` at `pointer` from now on (`None`: as the model says again), as a
    /// change on Amazon's side.
    pub fn set_quirk(&self, id: &str, quirk: Option<(String, Value)>) -> Option<Order> {
        let mut inner = self.lock();
        let now = truncate_to_second(inner.now());
        let order = inner.order_mut(id)?;
        order.last_updated_time = now;
        let order = order.clone();
        inner.raise_order_change(&order);
        match quirk {
            Some(quirk) => inner.quirks.entry(id.to_owned()).or_default().push(quirk),
            None => drop(inner.quirks.remove(id)),
        }
        Some(order)
    }

    pub fn calls(&self) -> Vec<CallRecord> {
        self.lock().calls.clone()
    }

    pub fn stats(&self) -> Stats {
        let inner = self.lock();
        let mut calls: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for call in &inner.calls {
            *calls
                .entry(call.operation.as_str().to_string())
                .or_default()
                .entry(call.status.to_string())
                .or_default() += 1;
        }
        Stats {
            calls,
            throttled: inner.calls.iter().filter(|c| c.status == 429).count() as u64,
            orders: inner.orders.len(),
            actionable_mfn: inner.actionable_mfn,
            confirmed_packages: inner.confirmations.len(),
            feeds: inner.feeds.counts(),
            fulfillment_orders: inner.fulfillment.counts(),
        }
    }

    /// Queues a fault; it applies after auth, before the quota check.
    pub fn inject_fault(&self, op: Operation, fault: Fault) {
        if fault.remaining > 0 {
            self.lock().faults.entry(op).or_default().push_back(fault);
        }
    }

    /// Later token requests with this refresh token get `invalid_grant`.
    pub fn revoke_refresh_token(&self, token: &str) -> bool {
        self.lock().refresh_tokens.remove(token)
    }

    pub fn is_refresh_token_valid(&self, token: &str) -> bool {
        self.lock().refresh_tokens.contains(token)
    }

    /// Issues a fresh access token living `access_token_lifetime` of sandbox time.
    pub fn issue_access_token(&self) -> String {
        let mut inner = self.lock();
        let now = inner.now();
        inner.access_tokens.issue_access_token(now, self.config.access_token_lifetime)
    }

    /// Every access token dies now, as when Amazon's hour runs out early; returns how many were alive.
    pub fn expire_access_tokens(&self) -> usize {
        let mut inner = self.lock();
        let now = inner.now();
        inner.access_tokens.expire_all(now)
    }

    /// Every pagination token dies now (searchOrders', getInventorySummaries' and listAllFulfillmentOrders'
    /// nextTokens); returns how many were alive.
    pub fn expire_pagination_tokens(&self) -> usize {
        let mut inner = self.lock();
        let now = inner.now();
        inner.pagination_tokens.expire_all(now) + inner.fulfillment.expire_tokens(now)
    }

    pub fn tokens(&self) -> IssuedTokens {
        let inner = self.lock();
        IssuedTokens { access_tokens: inner.access_tokens.list(), pagination_tokens: inner.pagination_tokens.list() }
    }

    /// The number of an access token the sandbox issued.
    pub fn access_token_id(&self, token: &str) -> Option<String> {
        self.lock().access_tokens.info(token).map(|i| i.id.clone())
    }

    /// Advertised rate for `x-amzn-RateLimit-Limit`.
    pub fn rate_limit(&self, op: Operation) -> Option<f64> {
        self.lock().quotas.rate(op)
    }

    /// Gatekeeping before a handler runs, in Amazon's order: auth, (injected fault), quota.
    /// Returns how long to hold the answer back (an injected delay) along with the verdict.
    pub(crate) fn admit(&self, op: Operation, access_token: Option<&str>) -> (Duration, Result<(), Rejection>) {
        let mut inner = self.lock();
        if op.is_sp_api() {
            let now = inner.now();
            if let Err(reason) = inner.access_tokens.check_access(access_token, now) {
                return (Duration::ZERO, Err(Rejection::Unauthorized(reason)));
            }
        }
        let fault = inner.take_fault(op);
        let delay = fault.as_ref().map_or(Duration::ZERO, |f| f.delay);
        let fault = fault.filter(|f| f.status.is_some() || f.error.is_some());
        if let Some(fault) = fault.clone().filter(|f| !f.after_running) {
            return (delay, Err(Rejection::Fault(fault)));
        }
        if op.is_sp_api() && !inner.quotas.try_acquire(op) {
            return (delay, Err(Rejection::Throttled));
        }
        match fault {
            Some(fault) => (delay, Err(Rejection::AnswerLost(fault))),
            None => (delay, Ok(())),
        }
    }

    /// Sends the notifications the last request raised, each to the queue of the destination its own type's
    /// subscription names, in the order they were raised.
    pub async fn deliver_notifications(&self) {
        let (outbox, queue_urls) = {
            let mut inner = self.lock();
            // Changes a request made are raised where it made them; this only catches one that was not.
            inner.raise_fulfillment_changes();
            if inner.outbox.is_empty() {
                return;
            }
            let endpoint = self.config.sqs_endpoint.as_deref();
            let queue_urls: BTreeMap<&'static str, Option<String>> = crate::notifications::SUPPORTED_TYPES
                .into_iter()
                .map(|notification_type| (notification_type, inner.queue_url(notification_type, endpoint)))
                .collect();
            (std::mem::take(&mut inner.outbox), queue_urls)
        };
        for notification in &outbox {
            let queue_url = crate::notifications::notification_type(notification)
                .and_then(|notification_type| queue_urls.get(notification_type))
                .and_then(Option::as_ref);
            if let Some(queue_url) = queue_url {
                crate::notifications::send_to_sqs(queue_url, notification).await;
            }
        }
        self.lock().notifications.extend(outbox);
    }

    /// Every notification sent so far.
    pub fn notifications(&self) -> Vec<Value> {
        self.lock().notifications.clone()
    }

    pub(crate) fn record_call(&self, mut record: CallRecord) {
        let mut inner = self.lock();
        record.seq = inner.calls.len() as u64 + 1;
        record.at = format_iso_millis(inner.now());
        inner.calls.push(record);
    }
}
