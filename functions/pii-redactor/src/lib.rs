//! Timed PII redaction: reads the orders whose redaction time has come from the sparse, sharded
//! `by-redaction-due` index (never a scan) and replaces their buyer PII with `REDACTED (Amazon)`.
//!
//! One order that cannot be redacted (an unreadable record, a write that keeps failing) is counted and
//! listed by id, and the run goes on; it stays in the index, so the next run tries it again. A run that
//! reaches its deadline says so (`complete: false`): redacted orders leave the index, so the next
//! scheduled run simply carries on with the rest. The dry run changes nothing, so it hands back a
//! `continuation` to pass as `continue_from` instead.
use chrono::{DateTime, Utc};
use lambda_runtime::{Error, LambdaEvent};
use sellerbridge_core::domain::clock::SharedClock;
use sellerbridge_core::domain::fulfillment::FulfillmentOrder;
use sellerbridge_core::domain::ids::{AmazonOrderId, SellerFulfillmentOrderId};
use sellerbridge_core::domain::order::Order;
use sellerbridge_core::domain::pii::{redact, redaction_due};
use sellerbridge_core::metrics::{self, Metric, MetricSet};
use sellerbridge_core::store::{DueCursor, DynamoStore, StoreError};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::time::Instant;
use tracing::{Instrument, error, info, info_span, warn};

const PAGE: usize = 100;

pub struct RedactorDeps {
    pub store: DynamoStore,
    pub clock: SharedClock,
}

/// `{"dry_run": true}` lists what would be redacted without changing anything; `continue_from` (a dry
/// run's `continuation`) resumes a dry run that ran out of time.
#[derive(Debug, Default, Deserialize)]
pub struct RedactionRequest {
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub continue_from: Option<String>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RedactionReport {
    pub redacted: u32,
    /// Listed by the index but no longer due (e.g. shipped since, which moves the date).
    pub not_yet_due: u32,
    /// Orders that could not be redacted in this run (ids only); they are tried again next run.
    pub failed: u32,
    pub failed_orders: Vec<String>,
    pub would_redact: Vec<String>,
    /// Every due order was read (and, unless a dry run, redacted or listed as failed).
    pub complete: bool,
    /// When a dry run is not complete: pass as `continue_from` to list the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation: Option<String>,
}

#[derive(Debug, Error)]
pub enum RedactionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("continue_from is not a continuation this function handed out")]
    BadContinuation,
}

pub async fn handle(deps: &RedactorDeps, event: LambdaEvent<serde_json::Value>) -> Result<RedactionReport, Error> {
    let request: RedactionRequest = serde_json::from_value(event.payload).unwrap_or_default();
    let remaining = event.context.deadline().duration_since(std::time::SystemTime::now()).unwrap_or_default();
    let stop_at = Instant::now() + remaining.saturating_sub(std::time::Duration::from_secs(5));
    let span = info_span!("redaction", request_id = %event.context.request_id, dry_run = request.dry_run);
    let run = async {
        if request.dry_run {
            list_due(deps, request.continue_from.as_deref(), stop_at).await
        } else {
            redact_due(deps, stop_at).await
        }
    };
    let report = run.instrument(span).await?;
    if !request.dry_run {
        metrics::count(Metric::Redactions, report.redacted as u64);
        // Due and still holding PII after this run: failed, or left for the next run.
        metrics::count(Metric::RedactionOverdue, report.failed as u64 + u64::from(!report.complete));
        MetricSet::taken("pii-redactor").emit(deps.clock.now());
    }
    Ok(report)
}

/// One run over every due order, until they are all redacted or `stop_at` comes.
pub async fn redact_due(deps: &RedactorDeps, stop_at: Instant) -> Result<RedactionReport, RedactionError> {
    let now = deps.clock.now();
    let mut report = RedactionReport::default();
    let mut cursor: Option<DueCursor> = None;
    loop {
        if Instant::now() >= stop_at {
            info!(redacted = report.redacted, failed = report.failed, "deadline near; the next run continues");
            return Ok(report);
        }
        let page = deps.store.orders_due_for_redaction(now, cursor.as_ref(), PAGE).await?;
        for (index, order_id) in page.orders.iter().enumerate() {
            if Instant::now() >= stop_at {
                info!(
                    redacted = report.redacted,
                    failed = report.failed,
                    left_in_page = page.orders.len() - index,
                    "deadline near; the next run continues"
                );
                return Ok(report);
            }
            redact_one(deps, order_id, now, &mut report).await;
        }
        for id in &page.fulfillments {
            redact_destination(deps, id, now, &mut report).await;
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => {
                report.complete = true;
                info!(redacted = report.redacted, failed = report.failed, "redaction run finished");
                return Ok(report);
            }
        }
    }
}

/// Redacts one order if it is still due; a failure is recorded in the report (by id) and not returned.
async fn redact_one(deps: &RedactorDeps, order_id: &AmazonOrderId, now: DateTime<Utc>, report: &mut RedactionReport) {
    // The index is eventually consistent: the due time is checked again on the order itself.
    match deps.store.update_order(order_id, |order| redact_if_due(order, now)).await {
        Ok(Some(order)) if order.local.redaction.is_redacted() => {
            info!(order_id = %order_id, "buyer PII redacted");
            report.redacted += 1;
        }
        Ok(_) => {
            warn!(order_id = %order_id, "listed as due but not due any more");
            report.not_yet_due += 1;
        }
        Err(e) => {
            // StoreError names the record and the field, never a value.
            error!(order_id = %order_id, error = %e, "could not redact the order; the next run tries again");
            report.failed += 1;
            report.failed_orders.push(order_id.to_string());
        }
    }
}

/// Redacts a fulfillment order's destination if it is still due, like [`redact_one`] an order's PII.
async fn redact_destination(
    deps: &RedactorDeps,
    id: &SellerFulfillmentOrderId,
    now: DateTime<Utc>,
    report: &mut RedactionReport,
) {
    let due = |order: &FulfillmentOrder| order.redaction_due().is_some_and(|due| due <= now);
    let redacted = deps.store.update_fulfillment(id, |order| due(order).then(|| order.redact(now)).is_some()).await;
    match redacted {
        Ok(Some((_, true))) => {
            info!(fulfillment_id = %id, "fulfillment destination redacted");
            report.redacted += 1;
        }
        Ok(_) => {
            warn!(fulfillment_id = %id, "listed as due but not due any more");
            report.not_yet_due += 1;
        }
        Err(e) => {
            error!(fulfillment_id = %id, error = %e, "could not redact the fulfillment order; the next run tries again");
            report.failed += 1;
            report.failed_orders.push(id.to_string());
        }
    }
}

/// The dry run: every order due now, page after page, from `continue_from` (a previous dry run's
/// `continuation`) until the end of the index or the deadline.
pub async fn list_due(
    deps: &RedactorDeps,
    continue_from: Option<&str>,
    stop_at: Instant,
) -> Result<RedactionReport, RedactionError> {
    let now = deps.clock.now();
    let mut report = RedactionReport::default();
    let mut cursor = continue_from
        .map(|token| serde_json::from_str::<DueCursor>(token).map_err(|_| RedactionError::BadContinuation))
        .transpose()?;
    loop {
        let page = deps.store.orders_due_for_redaction(now, cursor.as_ref(), PAGE).await?;
        report.would_redact.extend(page.orders.iter().map(ToString::to_string));
        report.would_redact.extend(page.fulfillments.iter().map(ToString::to_string));
        match page.next {
            None => {
                report.complete = true;
                return Ok(report);
            }
            Some(next) if Instant::now() >= stop_at => {
                report.continuation = Some(serde_json::to_string(&next).expect("a cursor serializes"));
                info!(listed = report.would_redact.len(), "deadline near; the dry run hands back a continuation");
                return Ok(report);
            }
            Some(next) => cursor = Some(next),
        }
    }
}

fn redact_if_due(order: &mut Order, now: DateTime<Utc>) {
    if redaction_due(order).is_some_and(|due| due <= now) {
        redact(order, now);
    }
}
