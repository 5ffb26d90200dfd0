//! Timed PII redaction: reads the orders whose redaction time has come from the sparse
//! `by-redaction-due` index (never a scan) and replaces their buyer PII with `REDACTED (Amazon)`.
use chrono::{DateTime, Utc};
use lambda_runtime::{Error, LambdaEvent};
use sellerbridge_core::domain::clock::SharedClock;
use sellerbridge_core::domain::pii::{redact, redaction_due};
use sellerbridge_core::store::{DynamoStore, StoreError};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tracing::{Instrument, info, info_span, warn};

const PAGE: usize = 100;

pub struct RedactorDeps {
    pub store: DynamoStore,
    pub clock: SharedClock,
}

/// `{"dry_run": true}` lists what would be redacted without changing anything.
#[derive(Debug, Default, Deserialize)]
pub struct RedactionRequest {
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct RedactionReport {
    pub redacted: u32,
    /// Listed by the index but no longer due (e.g. shipped since, which moves the date).
    pub not_yet_due: u32,
    pub would_redact: Vec<String>,
    pub complete: bool,
}

pub async fn handle(deps: &RedactorDeps, event: LambdaEvent<serde_json::Value>) -> Result<RedactionReport, Error> {
    let request: RedactionRequest = serde_json::from_value(event.payload).unwrap_or_default();
    let remaining = event.context.deadline().duration_since(std::time::SystemTime::now()).unwrap_or_default();
    let stop_at = Instant::now() + remaining.saturating_sub(std::time::Duration::from_secs(5));
    let span = info_span!("redaction", request_id = %event.context.request_id, dry_run = request.dry_run);
    Ok(redact_due(deps, request.dry_run, stop_at).instrument(span).await?)
}

pub async fn redact_due(deps: &RedactorDeps, dry_run: bool, stop_at: Instant) -> Result<RedactionReport, StoreError> {
    let now = deps.clock.now();
    let mut report = RedactionReport::default();
    loop {
        let due = deps.store.orders_due_for_redaction(now, PAGE).await?;
        if dry_run {
            report.would_redact = due.iter().map(ToString::to_string).collect();
            report.complete = true;
            return Ok(report);
        }
        let mut progressed = false;
        for order_id in &due {
            if Instant::now() >= stop_at {
                info!(redacted = report.redacted, "deadline near; the next run continues");
                return Ok(report);
            }
            // The index is eventually consistent: the due time is checked again on the order itself.
            let changed = deps.store.update_order(order_id, |order| redact_if_due(order, now)).await?;
            match changed.as_ref().map(|order| order.local.redaction.is_redacted()) {
                Some(true) => {
                    info!(order_id = %order_id, "buyer PII redacted");
                    report.redacted += 1;
                    progressed = true;
                }
                _ => {
                    warn!(order_id = %order_id, "listed as due but not due any more");
                    report.not_yet_due += 1;
                }
            }
        }
        if due.len() < PAGE || !progressed {
            report.complete = true;
            info!(redacted = report.redacted, "redaction run finished");
            return Ok(report);
        }
    }
}

fn redact_if_due(order: &mut sellerbridge_core::domain::order::Order, now: DateTime<Utc>) {
    if redaction_due(order).is_some_and(|due| due <= now) {
        redact(order, now);
    }
}
