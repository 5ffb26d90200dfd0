//! Shared sandbox state: orders, tokens, call log, faults, quotas, clock.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Serialize;
use serde_json::Value;

use crate::config::{Operation, SandboxConfig};
use crate::orders::{FulfillmentStatus, Order, generate_orders};
use crate::quota::Quotas;
use crate::time::{SandboxClock, format_iso_millis, truncate_to_second};

/// Lifetime of an LWA access token.
pub const ACCESS_TOKEN_TTL_SECS: i64 = 3600;

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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
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
}

/// An injected failure for the next `remaining` calls of one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub status: StatusCode,
    /// LWA error code (`invalid_grant`, ...) for `lwaToken` faults.
    pub lwa_error: Option<String>,
    pub remaining: u32,
}

/// Why the gate refused a call before it reached its handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Unauthorized,
    Fault(Fault),
    Throttled,
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
    pub clock: SandboxClock,
    pub orders: Vec<Order>,
    index: HashMap<String, usize>,
    pub actionable_mfn: usize,
    pub access_tokens: HashMap<String, DateTime<Utc>>,
    pub refresh_tokens: HashSet<String>,
    pub calls: Vec<CallRecord>,
    pub faults: HashMap<Operation, VecDeque<Fault>>,
    pub quotas: Quotas,
    /// (orderId, packageReferenceId) → what was confirmed.
    pub confirmations: HashMap<(String, String), Confirmation>,
}

impl Inner {
    pub fn order(&self, id: &str) -> Option<&Order> {
        self.index.get(id).map(|&i| &self.orders[i])
    }

    pub fn order_mut(&mut self, id: &str) -> Option<&mut Order> {
        self.index.get(id).map(|&i| &mut self.orders[i])
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn take_fault(&mut self, op: Operation) -> Option<Fault> {
        let queue = self.faults.get_mut(&op)?;
        let front = queue.front_mut()?;
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
        let generated = generate_orders(config.seed, config.order_count, &config.marketplace_id, clock.now());
        let index = generated.orders.iter().enumerate().map(|(i, o)| (o.order_id.clone(), i)).collect();
        let inner = Inner {
            clock,
            orders: generated.orders,
            index,
            actionable_mfn: generated.actionable_mfn,
            access_tokens: HashMap::new(),
            refresh_tokens: config.refresh_tokens.iter().cloned().collect(),
            calls: Vec::new(),
            faults: HashMap::new(),
            quotas: Quotas::new(&config),
            confirmations: HashMap::new(),
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

    pub fn set_now(&self, now: DateTime<Utc>) {
        self.lock().clock.set_now(now);
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
        let mut inner = self.lock();
        let now = truncate_to_second(inner.now());
        let order = inner.order_mut(id)?;
        if let (Some(status), Some(fulfillment)) = (status, order.fulfillment.as_mut()) {
            fulfillment.fulfillment_status = status;
        }
        order.last_updated_time = now;
        Some(order.clone())
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

    /// Issues a fresh access token valid for an hour of sandbox time.
    pub fn issue_access_token(&self) -> String {
        let suffix: String = rand::rng().sample_iter(&Alphanumeric).take(64).map(char::from).collect();
        let token = format!("Atza|{suffix}");
        let mut inner = self.lock();
        let expiry = inner.now() + Duration::seconds(ACCESS_TOKEN_TTL_SECS);
        inner.access_tokens.insert(token.clone(), expiry);
        token
    }

    /// Advertised rate for `x-amzn-RateLimit-Limit`.
    pub fn rate_limit(&self, op: Operation) -> Option<f64> {
        self.lock().quotas.rate(op)
    }

    /// Gatekeeping before a handler runs, in Amazon's order: auth, (injected fault), quota.
    pub(crate) fn admit(&self, op: Operation, access_token: Option<&str>) -> Result<(), Rejection> {
        let mut inner = self.lock();
        if op.is_sp_api() {
            let now = inner.now();
            let valid = access_token.and_then(|t| inner.access_tokens.get(t)).is_some_and(|expiry| *expiry > now);
            if !valid {
                return Err(Rejection::Unauthorized);
            }
        }
        if let Some(fault) = inner.take_fault(op) {
            return Err(Rejection::Fault(fault));
        }
        if op.is_sp_api() && !inner.quotas.try_acquire(op) {
            return Err(Rejection::Throttled);
        }
        Ok(())
    }

    pub(crate) fn record_call(&self, mut record: CallRecord) {
        let mut inner = self.lock();
        record.seq = inner.calls.len() as u64 + 1;
        record.at = format_iso_millis(inner.now());
        inner.calls.push(record);
    }
}
