//! Throttled-update sender: SQS batch → `confirmShipment`, spending Amazon's quota from the bucket all
//! concurrent invocations share.
//!
//! Per message: a throttle (our bucket is empty, or Amazon answered 429) re-queues the message with a
//! delay as a *new* message, so waiting for quota never burns a receive; a transient failure stays in
//! the batch failures with a growing visibility timeout and lands in the dead-letter queue after the
//! queue's maxReceiveCount; a permanent rejection marks the package failed with Amazon's message.
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use lambda_runtime::{Error, LambdaEvent};
use sellerbridge_core::domain::connection::ConnectionState;
use sellerbridge_core::domain::shipment::{Package, PackageState, record_confirmed};
use sellerbridge_core::queue::{MAX_DELAY, UpdateMessage, UpdateQueue};
use sellerbridge_core::runtime::Adapters;
use sellerbridge_core::spapi::models::ConfirmShipmentRequest;
use sellerbridge_core::spapi::{SpApiClient, SpApiError, WaitBudget};
use sellerbridge_core::store::{StoreError, Versioned};
use tracing::{Instrument, error, info, info_span, warn};

/// Amazon's answers meaning "this package is already there": success for a package we sent.
const ALREADY_CONFIRMED_CODES: &[&str] = &["PackageToUpdateNotFound"];

#[derive(Debug, Clone)]
pub struct SenderSettings {
    /// The queue's maxReceiveCount: on this receive a failing message is about to be dead-lettered.
    pub max_receives: u32,
    pub transient_backoff: Duration,
    /// How long a claim on a package protects it from a duplicate delivery.
    pub claim_lease: chrono::Duration,
}

impl Default for SenderSettings {
    fn default() -> Self {
        Self { max_receives: 5, transient_backoff: Duration::from_secs(10), claim_lease: chrono::Duration::seconds(60) }
    }
}

pub struct SenderDeps {
    pub adapters: Adapters,
    pub queue: Arc<dyn UpdateQueue>,
    pub spapi: SpApiClient,
    pub settings: SenderSettings,
}

pub async fn handle(deps: &SenderDeps, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let span = info_span!("update_batch", request_id = %event.context.request_id, size = event.payload.records.len());
    Ok(process_batch(deps, event.payload.records).instrument(span).await)
}

/// Processes every message concurrently; the ones to retry are reported as batch item failures.
pub async fn process_batch(deps: &SenderDeps, records: Vec<SqsMessage>) -> SqsBatchResponse {
    let batch_size = records.len();
    let outcomes = futures::future::join_all(records.iter().map(|record| {
        let message_id = record.message_id.clone().unwrap_or_default();
        let span =
            info_span!("update", message_id, order_id = tracing::field::Empty, package_id = tracing::field::Empty);
        async move { (message_id, process(deps, record, batch_size).await) }.instrument(span)
    }))
    .await;
    let mut response = SqsBatchResponse::default();
    for (message_id, outcome) in outcomes {
        if outcome == Outcome::Retry {
            response.add_failure(message_id);
        }
    }
    response
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Delete the message: done, recorded as failed, or re-queued as a new delayed message.
    Done,
    /// Leave it on the queue to come back after its visibility timeout.
    Retry,
}

#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error("message body is not an update message: {0}")]
    Unreadable(String),
    #[error("package {package_id} of order {order_id} is not in the table")]
    UnknownPackage { order_id: String, package_id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] sellerbridge_core::secrets::SecretError),
    #[error(transparent)]
    Queue(#[from] sellerbridge_core::queue::QueueError),
}

async fn process(deps: &SenderDeps, record: &SqsMessage, batch_size: usize) -> Outcome {
    let receives = record.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse::<u32>().ok()).unwrap_or(1);
    match try_process(deps, record, receives, batch_size).await {
        Ok(outcome) => outcome,
        Err(e) => {
            error!(error = %e, receives, "update failed; leaving it on the queue");
            if let Some(handle) = record.receipt_handle.as_deref() {
                let _ = deps.queue.postpone(handle, backoff(deps, receives)).await;
            }
            Outcome::Retry
        }
    }
}

async fn try_process(
    deps: &SenderDeps,
    record: &SqsMessage,
    receives: u32,
    batch_size: usize,
) -> Result<Outcome, SendError> {
    let body = record.body.as_deref().unwrap_or_default();
    let message: UpdateMessage = serde_json::from_str(body)
        .map_err(|e| SendError::Unreadable(sellerbridge_core::telemetry::without_quoted_values(&e.to_string())))?;
    let UpdateMessage::ConfirmShipment { order_id, package_id } = &message;
    let span = tracing::Span::current();
    span.record("order_id", order_id.as_str());
    span.record("package_id", package_id.as_str());

    let store = &deps.adapters.store;
    let now = deps.adapters.clock.now();
    let Some(Versioned { value: mut package, version }) = store.get_package(order_id, package_id).await? else {
        return Err(SendError::UnknownPackage { order_id: order_id.to_string(), package_id: package_id.to_string() });
    };
    if package.state.is_final() {
        info!(state = package.state.name(), "package already settled; nothing to send");
        return Ok(Outcome::Done);
    }
    if package.claimed_at.is_some_and(|at| now - at < deps.settings.claim_lease) {
        info!("another delivery of this package is being sent; checking back later");
        return Ok(Outcome::Retry);
    }
    let Some(order) = store.get_order(order_id).await? else {
        return Err(SendError::UnknownPackage { order_id: order_id.to_string(), package_id: package_id.to_string() });
    };
    let connection = store.get_connection(&order.value.connection_id).await?;
    let Some(connection) = connection.filter(|c| c.state == ConnectionState::Active) else {
        warn!("connection is not active (needs re-authorization?); holding the update");
        deps.queue.send(&message, MAX_DELAY).await?;
        return Ok(Outcome::Done);
    };

    // Claim the package: of two concurrent deliveries only one gets past this write.
    package.claimed_at = Some(now);
    let version = match store.save_package(&package, version).await {
        Ok(version) => version,
        Err(StoreError::Conflict { .. }) => return Ok(Outcome::Retry),
        Err(e) => return Err(e.into()),
    };

    let auth = deps.adapters.seller_auth(&connection).await?;
    let request = ConfirmShipmentRequest::for_package(&order.value.amazon.marketplace_id, &package);
    let result = deps.spapi.confirm_shipment(&auth, order_id, &request, WaitBudget::none()).await;
    package.claimed_at = None;
    match result {
        Ok(()) => confirmed(deps, package, version, now).await,
        Err(SpApiError::Rejected { code, .. }) if ALREADY_CONFIRMED_CODES.contains(&code.as_str()) => {
            info!(code, "Amazon already holds this package; counting it as confirmed");
            confirmed(deps, package, version, now).await
        }
        Err(SpApiError::Throttled { retry_after, .. }) => {
            package.throttle_deferrals += 1;
            store.save_package(&package, version).await?;
            let delay = throttle_delay(retry_after, batch_size);
            info!(delay_s = delay.as_secs(), "quota exhausted; re-queued with a delay");
            deps.queue.send(&message, delay).await?;
            Ok(Outcome::Done)
        }
        Err(SpApiError::NeedsReauthorization(detail)) => {
            warn!(detail, "Amazon refused the refresh token; flagging the connection and holding the update");
            store.put_connection(&connection.needing_reauthorization(now, detail)).await?;
            store.save_package(&package, version).await?;
            deps.queue.send(&message, MAX_DELAY).await?;
            Ok(Outcome::Done)
        }
        Err(e @ (SpApiError::Rejected { .. } | SpApiError::Decode { .. })) => {
            warn!(error = %e, "Amazon rejected the shipment confirmation; marking the package failed");
            package.state =
                PackageState::Failed { reason: format!("Amazon rejected the shipment confirmation: {e}"), at: now };
            store.save_package(&package, version).await?;
            Ok(Outcome::Done)
        }
        Err(e) => {
            if receives >= deps.settings.max_receives {
                error!(error = %e, receives, "giving up; the message goes to the dead-letter queue");
                package.state =
                    PackageState::DeadLettered { reason: format!("gave up after {receives} attempts: {e}"), at: now };
            } else {
                warn!(error = %e, receives, "transient failure; will retry");
            }
            store.save_package(&package, version).await?;
            if let Some(handle) = record.receipt_handle.as_deref() {
                deps.queue.postpone(handle, backoff(deps, receives)).await?;
            }
            Ok(Outcome::Retry)
        }
    }
}

async fn confirmed(
    deps: &SenderDeps,
    mut package: Package,
    version: u64,
    now: DateTime<Utc>,
) -> Result<Outcome, SendError> {
    let store = &deps.adapters.store;
    package.state = PackageState::Confirmed { at: now };
    store.save_package(&package, version).await?;
    store.update_order(&package.order_id, |order| record_confirmed(order, &package)).await?;
    info!(package_reference_id = %package.reference, "shipment confirmed at Amazon");
    Ok(Outcome::Done)
}

/// When a throttled update comes back. The batch's throttled messages are spread over the time the
/// quota needs to serve them all (about `retry_after` per token), instead of all returning at once to be
/// throttled again together.
fn throttle_delay(retry_after: Duration, batch_size: usize) -> Duration {
    let slot = rand::random_range(0..batch_size.max(1)) as u32;
    retry_after.saturating_mul(1 + slot).clamp(Duration::from_secs(1), MAX_DELAY)
}

fn backoff(deps: &SenderDeps, receives: u32) -> Duration {
    deps.settings.transient_backoff.saturating_mul(1 << receives.saturating_sub(1).min(6)).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_updates_are_spread_over_the_batch_and_bounded() {
        let delays: Vec<Duration> = (0..200).map(|_| throttle_delay(Duration::from_millis(500), 20)).collect();
        assert!(delays.iter().all(|d| *d >= Duration::from_secs(1) && *d <= Duration::from_secs(10)));
        assert!(delays.iter().any(|d| *d >= Duration::from_secs(5)), "later slots are used");
        assert_eq!(throttle_delay(Duration::from_secs(3600), 1), MAX_DELAY);
        assert_eq!(throttle_delay(Duration::ZERO, 10), Duration::from_secs(1));
    }
}
