//! Throttled-update sender: SQS batch → `confirmShipment`, spending Amazon's quota from the bucket all
//! concurrent invocations share.
//!
//! Per message: a throttle (our bucket is empty, or Amazon answered 429) re-queues the message with a
//! delay as a *new* message, so waiting for quota never burns a receive; a transient failure stays in
//! the batch failures with a growing visibility timeout and lands in the dead-letter queue after the
//! queue's maxReceiveCount; a permanent rejection marks the package failed with Amazon's message. A
//! confirmation first taken up long after its package was accepted waited behind a backlog: it goes to
//! its connection's feed backlog instead, which the scheduled sync sends as order fulfillment feeds.
//!
//! The same queue carries Multi-Channel Fulfillment's creates and cancels ([`fulfillment`]); the outbound
//! queue, the events for the merchant's endpoint ([`outbound`]).
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use lambda_runtime::{Error, LambdaEvent};
use sellerbridge_core::domain::connection::{Connection, ConnectionState};
use sellerbridge_core::domain::feed::goes_by_feed;
use sellerbridge_core::domain::ids::{AmazonOrderId, PackageId};
use sellerbridge_core::domain::order::Order;
use sellerbridge_core::domain::shipment::{Package, PackageState, record_confirmed, release_package};
use sellerbridge_core::domain::view::OrderEvent;
use sellerbridge_core::metrics::{self, Metric, MetricSet};
use sellerbridge_core::queue::{MAX_DELAY, UpdateMessage, UpdateQueue};
use sellerbridge_core::runtime::Adapters;
use sellerbridge_core::spapi::models::ConfirmShipmentRequest;
use sellerbridge_core::spapi::{Operation, Refusal, Reservation, SellerAuth, SpApiClient, SpApiError, WaitBudget};
use sellerbridge_core::store::{AppCredentialsAlert, StoreError, Versioned};
use sellerbridge_core::webhook::keyring::KeyRing;
use tokio::time::Instant;
use tracing::{Instrument, Span, error, info, info_span, warn};

mod fulfillment;
mod outbound;

/// Amazon's answers meaning "this package is already there": success for a package we sent. Amazon
/// reports them as `InvalidInput` with the name in the message (`errorMetric=PackageToUpdateNotFound`),
/// or under their own code; both are recognised.
const ALREADY_CONFIRMED: &[&str] = &["PackageToUpdateNotFound"];

/// How long asking Amazon whether it holds a package may wait for getOrder's quota in process.
const RECONCILIATION_WAIT: Duration = Duration::from_secs(5);
const MAX_CLAIM_TRIES: usize = 3;

fn already_confirmed(code: &str, message: &str) -> bool {
    ALREADY_CONFIRMED.iter().any(|name| code == *name || message.contains(name))
}

#[derive(Debug, Clone)]
pub struct SenderSettings {
    /// The queue's maxReceiveCount: on this receive a failing message is about to be dead-lettered.
    pub max_receives: u32,
    pub transient_backoff: Duration,
    /// How long a claim on a package protects it from a duplicate delivery: longer than the function's
    /// timeout, so only the claim of an attempt that died can expire, and a package whose claim expired
    /// is checked against Amazon's copy of the order before it is sent again.
    pub claim_lease: chrono::Duration,
    /// How far ahead one invocation reserves its seller's tokens and waits for them in process; a
    /// confirmation whose token comes later goes back to the queue until then. Within the function's
    /// timeout with room for the call itself.
    pub pacing_horizon: Duration,
    /// A confirmation first taken up this long after its package was accepted waited behind a backlog:
    /// it goes into its connection's next order fulfillment feed instead ([`goes_by_feed`]), which the
    /// scheduled sync sends; `None`: always by call.
    pub feed_after: Option<chrono::Duration>,
}

impl Default for SenderSettings {
    fn default() -> Self {
        Self {
            max_receives: 5,
            transient_backoff: Duration::from_secs(10),
            claim_lease: chrono::Duration::seconds(90),
            pacing_horizon: Duration::from_secs(20),
            // At Amazon's 2 confirmations a second, a backlog that keeps a package waiting three
            // minutes is some 360 packages deep: the rest of it goes by feed, not by call.
            feed_after: Some(chrono::Duration::minutes(3)),
        }
    }
}

pub struct SenderDeps {
    pub adapters: Adapters,
    pub queue: Arc<dyn UpdateQueue>,
    pub spapi: SpApiClient,
    pub settings: SenderSettings,
    /// Signs the order events posted to the merchant (the same keys and scheme as the store's webhooks;
    /// during a rotation both keys sign).
    pub signing_keys: Arc<KeyRing>,
}

pub async fn handle(deps: &SenderDeps, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let span = info_span!("update_batch", request_id = %event.context.request_id, size = event.payload.records.len());
    let remaining = event.context.deadline().duration_since(std::time::SystemTime::now()).unwrap_or_default();
    let response = process_batch(deps, event.payload.records, Instant::now() + remaining).instrument(span).await;
    MetricSet::taken("update-sender").emit(deps.adapters.clock.now());
    Ok(response)
}

/// Processes a batch in three steps: every message is read with what it needs; the confirmations
/// ready to go reserve their seller's tokens in one write per seller, paced at Amazon's rate; then each
/// message finishes, a confirmation at its slot. The ones to retry are reported as batch item failures.
pub async fn process_batch(deps: &SenderDeps, records: Vec<SqsMessage>, deadline: Instant) -> SqsBatchResponse {
    let batch_size = records.len();
    let spans: Vec<Span> = records
        .iter()
        .map(|record| {
            let message_id = record.message_id.clone().unwrap_or_default();
            info_span!(
                "update",
                message_id,
                order_id = tracing::field::Empty,
                package_id = tracing::field::Empty,
                fulfillment_id = tracing::field::Empty,
                connection_id = tracing::field::Empty
            )
        })
        .collect();
    let steps = futures::future::join_all(
        records.iter().zip(&spans).map(|(record, span)| first_step(deps, record, batch_size).instrument(span.clone())),
    )
    .await;
    let steps = without_repeats(steps, deps.queue.as_ref());
    // Slots are reserved only as far ahead as the invocation can still wait and then make its calls
    // (a third of its time left: a 60-second function waits up to 20 seconds, its calls time out at 20).
    let left = deadline.saturating_duration_since(Instant::now());
    let mut slots = pace(deps, &steps, deps.settings.pacing_horizon.min(left / 3)).await;
    // The last moment a call may start and still be answered and recorded within the invocation.
    let last_call = deadline - ROOM_FOR_THE_CALL.min(left / 3);
    let outcomes = futures::future::join_all(steps.into_iter().zip(&spans).enumerate().map(|(index, (step, span))| {
        let slot = slots.remove(&index);
        finish(deps, step, slot, last_call).instrument(span.clone())
    }))
    .await;
    let mut response = SqsBatchResponse::default();
    for (record, outcome) in records.iter().zip(outcomes) {
        if outcome == Outcome::Retry {
            response.add_failure(record.message_id.clone().unwrap_or_default());
        }
    }
    response
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Delete the message: done, recorded as failed, or re-queued as a new delayed message.
    Done,
    /// Leave it on the queue to come back after its visibility timeout.
    Retry,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    #[error("message body is not an update message: {0}")]
    Unreadable(String),
    #[error("package {package_id} of order {order_id} is not in the table")]
    UnknownPackage { order_id: String, package_id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Credentials(#[from] sellerbridge_core::runtime::CredentialsError),
    #[error(transparent)]
    Queue(#[from] sellerbridge_core::queue::QueueError),
    #[error(transparent)]
    Secret(#[from] sellerbridge_core::secrets::SecretError),
    /// The merchant's endpoint did not accept an order event (its status, or why the request failed).
    #[error("webhook {event_id} not accepted: {reason}")]
    Webhook { event_id: String, reason: String },
    #[error("fulfillment order {0} is not in the table")]
    UnknownFulfillment(String),
    #[error(transparent)]
    Amazon(SpApiError),
}

/// Where a message stands after it was read.
enum Step<'a> {
    /// Handled already, or failed (`Err`), on `queue`.
    Finished { record: &'a SqsMessage, queue: &'a dyn UpdateQueue, result: Result<Outcome, SendError> },
    /// A confirmation that needs one of its seller's tokens.
    Confirm(Box<Ready<'a>>),
    /// An order event for the merchant's endpoint.
    Deliver {
        record: &'a SqsMessage,
        order_id: AmazonOrderId,
        event: OrderEvent,
        version: DateTime<Utc>,
        receives: u32,
    },
}

/// A confirmation read with everything its send needs.
struct Ready<'a> {
    confirmation: Confirmation<'a>,
    package: Package,
    version: u64,
    order: Versioned<Order>,
    connection: Connection,
    auth: SellerAuth,
}

/// When a confirmation may spend its token.
enum Slot {
    /// Reserved: at this instant.
    At(Instant),
    /// Not within this invocation's pacing horizon: the token is expected after this long.
    Later(Duration),
    /// No tokens for this seller now (paused by Amazon's refusals, or the limiter is unavailable).
    Refused(SpApiError),
}

async fn first_step<'a>(deps: &'a SenderDeps, record: &'a SqsMessage, batch_size: usize) -> Step<'a> {
    let receives = record.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse::<u32>().ok()).unwrap_or(1);
    let body = record.body.as_deref().unwrap_or_default();
    let span = tracing::Span::current();
    let queue = deps.queue.as_ref();
    match serde_json::from_str::<UpdateMessage>(body) {
        Err(e) => {
            let error = SendError::Unreadable(sellerbridge_core::telemetry::without_quoted_values(&e.to_string()));
            Step::Finished { record, queue, result: Err(error) }
        }
        Ok(UpdateMessage::ConfirmShipment { order_id, package_id }) => {
            span.record("order_id", order_id.as_str());
            span.record("package_id", package_id.as_str());
            let confirmation = Confirmation { record, order_id, package_id, receives, batch_size };
            match prepare(deps, confirmation).await {
                Ok(Prepared::Ready(ready)) => Step::Confirm(ready),
                Ok(Prepared::Done(outcome)) => Step::Finished { record, queue, result: Ok(outcome) },
                Err(error) => Step::Finished { record, queue, result: Err(error) },
            }
        }
        Ok(UpdateMessage::DeliverWebhook { order_id, event, version }) => {
            span.record("order_id", order_id.as_str());
            Step::Deliver { record, order_id, event, version, receives }
        }
        Ok(UpdateMessage::CreateFulfillment { fulfillment_id }) => {
            span.record("fulfillment_id", fulfillment_id.as_str());
            Step::Finished { record, queue, result: fulfillment::create(deps, &fulfillment_id, receives).await }
        }
        Ok(UpdateMessage::CancelFulfillment { fulfillment_id }) => {
            span.record("fulfillment_id", fulfillment_id.as_str());
            Step::Finished { record, queue, result: fulfillment::cancel(deps, &fulfillment_id, receives).await }
        }
        Ok(UpdateMessage::DeliverFulfillmentEvent { fulfillment_id, revision }) => {
            span.record("fulfillment_id", fulfillment_id.as_str());
            let delivered = outbound::deliver_fulfillment(deps, &fulfillment_id, revision, receives).await;
            Step::Finished { record, queue: &deps.adapters.outbound, result: delivered }
        }
        Ok(UpdateMessage::DeliverInventoryEvent { connection_id, read_at, part, skus }) => {
            span.record("connection_id", connection_id.as_str());
            let delivered = outbound::deliver_inventory(deps, &connection_id, read_at, part, &skus, receives).await;
            Step::Finished { record, queue: &deps.adapters.outbound, result: delivered }
        }
    }
}

/// The batch with every confirmation of a package it already holds done: SQS may hand over two
/// deliveries of one message together, and only one of them may take a token.
fn without_repeats<'a>(steps: Vec<Step<'a>>, queue: &'a dyn UpdateQueue) -> Vec<Step<'a>> {
    let mut seen = std::collections::HashSet::new();
    steps
        .into_iter()
        .map(|step| match step {
            Step::Confirm(ready)
                if !seen.insert((ready.package.order_id.clone(), ready.package.package_id.clone())) =>
            {
                info!(order_id = %ready.package.order_id, package_id = %ready.package.package_id,
                      "another delivery of this package is in the batch; this one is done");
                Step::Finished { record: ready.confirmation.record, queue, result: Ok(Outcome::Done) }
            }
            other => other,
        })
        .collect()
}

/// Reserves tokens for the batch's confirmations, one reservation per seller.
async fn pace(deps: &SenderDeps, steps: &[Step<'_>], horizon: Duration) -> HashMap<usize, Slot> {
    let mut by_seller: BTreeMap<&str, Vec<(usize, &Ready<'_>)>> = BTreeMap::new();
    for (index, step) in steps.iter().enumerate() {
        if let Step::Confirm(ready) = step {
            by_seller.entry(ready.auth.seller_id.as_str()).or_default().push((index, ready));
        }
    }
    let reservations = futures::future::join_all(by_seller.into_values().map(|group| async move {
        let auth = &group[0].1.auth;
        let reserved = deps.spapi.reserve(auth, Operation::ConfirmShipment, group.len(), horizon).await;
        (group, reserved)
    }))
    .await;
    let mut slots = HashMap::new();
    for (group, reserved) in reservations {
        let indexes = group.into_iter().map(|(index, _)| index);
        match reserved {
            Ok(Reservation { slots: at, unreserved }) => {
                let reserved_at = Instant::now();
                let at = at.into_iter().map(|wait| Slot::At(reserved_at + wait));
                let waits = at.chain(unreserved.into_iter().map(Slot::Later));
                slots.extend(indexes.zip(waits));
            }
            Err(e) => slots.extend(indexes.map(|index| (index, Slot::Refused(refused_again(&e))))),
        }
    }
    slots
}

/// The reservation's refusal, for each confirmation it refused: a pause as it was, anything else as
/// the transient failure it is.
fn refused_again(error: &SpApiError) -> SpApiError {
    match error {
        SpApiError::Paused { operation, retry_after, refusal } => {
            SpApiError::Paused { operation, retry_after: *retry_after, refusal: *refusal }
        }
        other => SpApiError::Transient { operation: Operation::ConfirmShipment.name(), message: other.to_string() },
    }
}

async fn finish(deps: &SenderDeps, step: Step<'_>, slot: Option<Slot>, last_call: Instant) -> Outcome {
    let (record, queue, result, may_hold_claim): (_, &dyn UpdateQueue, _, _) = match step {
        Step::Finished { record, queue, result } => (record, queue, result, false),
        Step::Deliver { record, order_id, event, version, receives } => {
            let delivered = outbound::deliver(deps, &order_id, event, version, receives).await;
            (record, &deps.adapters.outbound, delivered, false)
        }
        Step::Confirm(ready) => {
            let record = ready.confirmation.record;
            let slot = slot.unwrap_or(Slot::Later(Duration::ZERO));
            (record, deps.queue.as_ref(), send(deps, *ready, slot, last_call).await, true)
        }
    };
    match result {
        Ok(outcome) => outcome,
        Err(e) => {
            let receives =
                record.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse::<u32>().ok()).unwrap_or(1);
            error!(error = %e, receives, "update failed; leaving it on the queue");
            // A confirmation that failed after its claim may have left the claim behind: its message
            // comes back once the claim has expired, so it reconciles instead of being taken for a
            // duplicate of a delivery still under way.
            let delay =
                if may_hold_claim { claim_expiry(deps).max(backoff(deps, receives)) } else { backoff(deps, receives) };
            if let Some(handle) = record.receipt_handle.as_deref() {
                let _ = queue.postpone(handle, delay).await;
            }
            Outcome::Retry
        }
    }
}

/// How long until a claim taken now has expired.
fn claim_expiry(deps: &SenderDeps) -> Duration {
    deps.settings.claim_lease.to_std().unwrap_or_default() + Duration::from_secs(1)
}

/// How much of the invocation a call needs after its slot: the SP-API call's own timeout (20 s) and the
/// writes that record its answer.
const ROOM_FOR_THE_CALL: Duration = Duration::from_secs(25);

/// One `confirmShipment` message, as received.
struct Confirmation<'a> {
    record: &'a SqsMessage,
    order_id: AmazonOrderId,
    package_id: PackageId,
    receives: u32,
    batch_size: usize,
}

impl Confirmation<'_> {
    fn message(&self) -> UpdateMessage {
        UpdateMessage::ConfirmShipment { order_id: self.order_id.clone(), package_id: self.package_id.clone() }
    }
}

enum Prepared<'a> {
    Ready(Box<Ready<'a>>),
    Done(Outcome),
}

/// Reads the package, its order and connection: whether there is anything to send, and for whom.
async fn prepare<'a>(deps: &SenderDeps, confirmation: Confirmation<'a>) -> Result<Prepared<'a>, SendError> {
    let store = &deps.adapters.store;
    let now = deps.adapters.clock.now();
    let (order_id, package_id) = (&confirmation.order_id, &confirmation.package_id);
    let unknown = || SendError::UnknownPackage { order_id: order_id.to_string(), package_id: package_id.to_string() };
    let Some(Versioned { value: package, version }) = store.get_package(order_id, package_id).await? else {
        return Err(unknown());
    };
    if package.state.is_final() {
        info!(state = package.state.name(), "package already settled; nothing to send");
        return Ok(Prepared::Done(Outcome::Done));
    }
    if package.state.is_by_feed() {
        info!(state = package.state.name(), "package goes out by feed; nothing to send by call");
        return Ok(Prepared::Done(Outcome::Done));
    }
    if package.claimed_at.is_some_and(|at| now - at < deps.settings.claim_lease) {
        // That delivery's own message stays until it settles the package (or, if it died, comes back
        // and reconciles): this one has nothing to add and must not run into the dead-letter queue.
        info!("another delivery of this package is being sent; this one is done");
        return Ok(Prepared::Done(Outcome::Done));
    }
    let Some(order) = store.get_order(order_id).await? else { return Err(unknown()) };
    let connection = store.get_connection(&order.value.connection_id).await?;
    let Some(connection) = connection.filter(|c| c.state == ConnectionState::Active) else {
        warn!("connection is not active (needs re-authorization?); holding the update");
        deps.queue.send(&confirmation.message(), MAX_DELAY).await?;
        return Ok(Prepared::Done(Outcome::Done));
    };
    if let Some(after) = deps.settings.feed_after
        && goes_by_feed(&package, now, after)
    {
        if store.divert_to_feed(&connection.id, &package, version, now).await?.is_some() {
            info!("waited behind a backlog; goes out in the connection's next feed");
        } else {
            // Changed meanwhile (a delivery time, another delivery): the message comes back to read it again.
            info!("the package changed while it was moved to the feed backlog; re-queued");
            deps.queue.send(&confirmation.message(), Duration::from_secs(1)).await?;
        }
        return Ok(Prepared::Done(Outcome::Done));
    }
    let auth = deps.adapters.seller_auth(&connection).await?;
    // The access token (and, in a new container, the app's credentials) before the slots are reserved:
    // fetching them after would make the first calls late for their slots and bunch them together. A
    // failure shows again, and is handled, when the call itself asks.
    if let Err(e) = deps.spapi.ready_access_token(&auth).await {
        info!(error = %e, "no access token yet; the send asks again");
    }
    Ok(Prepared::Ready(Box::new(Ready { confirmation, package, version, order, connection, auth })))
}

/// Sends one confirmation at its slot, or re-queues it for later.
async fn send(deps: &SenderDeps, ready: Ready<'_>, slot: Slot, last_call: Instant) -> Result<Outcome, SendError> {
    let Ready { confirmation, mut package, version, order, connection, auth } = ready;
    let Confirmation { record, receives, batch_size, .. } = &confirmation;
    let message = confirmation.message();
    let now = deps.adapters.clock.now();
    let attempt = Attempt {
        record,
        message: &message,
        receives: *receives,
        batch_size: *batch_size,
        connection: &connection,
        now,
    };
    let slot = match slot {
        Slot::At(at) => at,
        Slot::Later(expected) => {
            info!(expected_s = expected.as_secs(), "quota reserved beyond this invocation; re-queued for then");
            return defer(deps, &attempt, package, version, expected.clamp(Duration::from_secs(1), MAX_DELAY)).await;
        }
        Slot::Refused(e) => return failed_attempt(deps, &attempt, package, version, e).await,
    };
    let order_id = &confirmation.order_id;

    // Whatever may take a while happens before the slot, so the call reaches Amazon on time.
    // An earlier attempt may have reached Amazon and died before recording the answer: ask Amazon
    // before sending again.
    if package.send_attempts > 0 {
        match amazon_holds(deps, &auth, &package).await {
            Ok(true) => {
                info!(attempts = package.send_attempts, "an earlier attempt reached Amazon; recording it");
                return settle(deps, &attempt, confirmed(package, now), version).await;
            }
            Ok(false) => {}
            Err(e) => return failed_attempt(deps, &attempt, package, version, e).await,
        }
    }
    let Some(version) = claim(deps, &mut package, version, now).await? else {
        // Another delivery claimed it first; its message carries the package from here.
        return Ok(Outcome::Done);
    };
    if let Err(e) = deps.spapi.ready_access_token(&auth).await {
        package.send_attempts -= 1;
        return failed_attempt(deps, &attempt, package, version, e).await;
    }
    tokio::time::sleep_until(slot).await;
    if Instant::now() > last_call {
        warn!("the invocation is out of time for the call; re-queued");
        package.send_attempts -= 1;
        return defer(deps, &attempt, package, version, Duration::from_secs(1)).await;
    }

    let request = ConfirmShipmentRequest::for_package(&order.value.amazon.marketplace_id, &package);
    let result = deps.spapi.confirm_shipment(&auth, order_id, &request, WaitBudget::reserved()).await;
    package.claimed_at = None;
    match result {
        Ok(()) => {
            metrics::count(Metric::ConfirmationsSent, 1);
            settle(deps, &attempt, confirmed(package, now), version).await
        }
        Err(SpApiError::Rejected { code, message: amazon_message, .. })
            if already_confirmed(&code, &amazon_message) =>
        {
            // Only a package an earlier attempt may have delivered can already be there; Amazon's
            // own view decides, so the store is never told "shipped" for a package Amazon lacks.
            let sent_before = package.send_attempts > 1;
            if sent_before {
                match amazon_holds(deps, &auth, &package).await {
                    Ok(true) => {
                        info!(code, "Amazon already holds this package; counting it as confirmed");
                        return settle(deps, &attempt, confirmed(package, now), version).await;
                    }
                    Ok(false) => {}
                    Err(e) => return failed_attempt(deps, &attempt, package, version, e).await,
                }
            }
            let reason = format!("Amazon rejected the shipment confirmation ({code}): {amazon_message}");
            warn!(code, sent_before, "Amazon does not hold the package it calls already confirmed; marking it failed");
            settle(deps, &attempt, ended(package, PackageState::Failed { reason, at: now }), version).await
        }
        Err(e @ SpApiError::Rejected { .. }) => {
            warn!(error = %e, "Amazon rejected the shipment confirmation; marking the package failed");
            let reason = format!("Amazon rejected the shipment confirmation: {e}");
            settle(deps, &attempt, ended(package, PackageState::Failed { reason, at: now }), version).await
        }
        Err(e) => {
            if not_sent(&e) {
                // Nothing reached Amazon, so the attempt does not count for reconciliation.
                package.send_attempts -= 1;
            }
            failed_attempt(deps, &attempt, package, version, e).await
        }
    }
}

/// Claims the package for this delivery (counting the attempt): of two concurrent deliveries only one
/// gets past this write. `None` when another delivery holds it or it is settled. A package changed
/// meanwhile by something else (a delivery time) is claimed at its new version.
async fn claim(
    deps: &SenderDeps,
    package: &mut Package,
    mut version: u64,
    now: DateTime<Utc>,
) -> Result<Option<u64>, SendError> {
    let store = &deps.adapters.store;
    let attempts_read = package.send_attempts;
    for _ in 0..MAX_CLAIM_TRIES {
        package.claimed_at = Some(now);
        package.send_attempts = attempts_read + 1;
        match store.save_package(package, version).await {
            Ok(claimed) => return Ok(Some(claimed)),
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let Some(stored) = store.get_package(&package.order_id, &package.package_id).await? else {
            let (order_id, package_id) = (package.order_id.to_string(), package.package_id.to_string());
            return Err(SendError::UnknownPackage { order_id, package_id });
        };
        let taken = stored.value.claimed_at.is_some_and(|at| now - at < deps.settings.claim_lease);
        if !stored.value.is_sendable_by_call() || taken || stored.value.send_attempts != attempts_read {
            return Ok(None);
        }
        *package = stored.value;
        version = stored.version;
    }
    Err(StoreError::Conflict { key: format!("package {} of order {}", package.package_id, package.order_id) }.into())
}

/// One delivery of an update message, and what handling it needs to know.
struct Attempt<'a> {
    record: &'a SqsMessage,
    message: &'a UpdateMessage,
    receives: u32,
    batch_size: usize,
    connection: &'a Connection,
    now: DateTime<Utc>,
}

impl Attempt<'_> {
    /// Leaves the message on the queue to come back after a backoff that grows with its receives.
    async fn retry_later(&self, deps: &SenderDeps) -> Result<Outcome, SendError> {
        self.retry_after(deps, backoff(deps, self.receives)).await
    }

    async fn retry_after(&self, deps: &SenderDeps, delay: Duration) -> Result<Outcome, SendError> {
        if let Some(handle) = self.record.receipt_handle.as_deref() {
            deps.queue.postpone(handle, delay).await?;
        }
        Ok(Outcome::Retry)
    }
}

/// Whether Amazon's copy of the order holds this package (same reference, tracking number and carrier).
async fn amazon_holds(deps: &SenderDeps, auth: &SellerAuth, package: &Package) -> Result<bool, SpApiError> {
    // A reconciliation waits a moment for getOrder's quota rather than send the message round again.
    let budget = WaitBudget::until(tokio::time::Instant::now() + RECONCILIATION_WAIT);
    let order = deps.spapi.get_order(auth, &package.order_id, budget).await?;
    let reference = package.reference.to_string();
    let carrier = package.carrier.other_name().unwrap_or(package.carrier.code());
    Ok(order.packages.iter().any(|held| {
        held.reference_id == reference
            && held.tracking_number.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(package.tracking_number.as_str()))
            && held.carrier.as_deref().is_none_or(|c| c.eq_ignore_ascii_case(carrier))
    }))
}

/// Errors that mean the request never reached Amazon's order (our quota, Amazon's 429, a paused
/// seller, LWA).
fn not_sent(error: &SpApiError) -> bool {
    matches!(
        error,
        SpApiError::Throttled { .. }
            | SpApiError::Paused { .. }
            | SpApiError::NeedsReauthorization(_)
            | SpApiError::InvalidClient(_)
    )
}

/// A send or reconciliation that did not settle the package: throttles are re-queued with a delay,
/// a revoked refresh token or rejected app credentials hold the update, anything else is retried until the dead-letter queue.
async fn failed_attempt(
    deps: &SenderDeps,
    attempt: &Attempt<'_>,
    mut package: Package,
    version: u64,
    error: SpApiError,
) -> Result<Outcome, SendError> {
    let store = &deps.adapters.store;
    package.claimed_at = None;
    match error {
        SpApiError::Throttled { retry_after, .. }
        | SpApiError::Paused { retry_after, refusal: Refusal::Throttled, .. } => {
            let delay = throttle_delay(retry_after, attempt.batch_size);
            info!(delay_s = delay.as_secs(), "quota exhausted or the seller paused; re-queued with a delay");
            defer(deps, attempt, package, version, delay).await
        }
        SpApiError::NeedsReauthorization(detail) => {
            warn!(detail, "Amazon refused the refresh token; flagging the connection and holding the update");
            let connection = attempt.connection;
            store
                .flag_needs_reauthorization(&connection.id, connection.credentials_version, attempt.now, detail)
                .await?;
            store.save_package(&package, version).await?;
            deps.queue.send(attempt.message, MAX_DELAY).await?;
            Ok(Outcome::Done)
        }
        SpApiError::InvalidClient(detail) => {
            warn!(detail, "Login with Amazon rejected the app's credentials; raising the alert and holding the update");
            store
                .raise_app_credentials_alert(&AppCredentialsAlert::met(attempt.now, &detail, &attempt.connection.id))
                .await?;
            store.save_package(&package, version).await?;
            deps.queue.send(attempt.message, MAX_DELAY).await?;
            Ok(Outcome::Done)
        }
        e if attempt.receives >= deps.settings.max_receives => {
            error!(error = %e, receives = attempt.receives, "giving up; the message goes to the dead-letter queue");
            metrics::count(Metric::DeadLettered, 1);
            let reason = format!("gave up after {} attempts: {e}", attempt.receives);
            let state = PackageState::DeadLettered { reason, at: attempt.now };
            match write_settlement(deps, attempt, ended(package, state), version).await? {
                // Recorded as dead-lettered: the message follows it into the dead-letter queue.
                Settled::Written => attempt.retry_later(deps).await,
                other => Ok(other.outcome()),
            }
        }
        e => {
            warn!(error = %e, receives = attempt.receives, "transient failure; will retry");
            store.save_package(&package, version).await?;
            attempt.retry_later(deps).await
        }
    }
}

/// Sends the message again as a new one after `delay`, counting the deferral on the package: waiting
/// for quota never burns a receive.
async fn defer(
    deps: &SenderDeps,
    attempt: &Attempt<'_>,
    mut package: Package,
    version: u64,
    delay: Duration,
) -> Result<Outcome, SendError> {
    package.claimed_at = None;
    package.throttle_deferrals += 1;
    deps.adapters.store.save_package(&package, version).await?;
    deps.queue.send(attempt.message, delay).await?;
    Ok(Outcome::Done)
}

/// What settling a package does to its order.
enum Settlement {
    Confirmed(Package),
    Ended(Package),
}

fn confirmed(package: Package, now: DateTime<Utc>) -> Settlement {
    Settlement::Confirmed(package.into_confirmed(now))
}

fn ended(package: Package, state: PackageState) -> Settlement {
    Settlement::Ended(package.into_ended(state))
}

/// How writing a package's outcome went.
enum Settled {
    Written,
    /// Another delivery settled the package first.
    ByAnother,
    /// The order kept changing: the message was postponed to try again.
    Retrying,
}

impl Settled {
    fn outcome(self) -> Outcome {
        match self {
            Self::Written | Self::ByAnother => Outcome::Done,
            Self::Retrying => Outcome::Retry,
        }
    }
}

/// Settles the package ([`write_settlement`]); done with the message unless it must come back.
async fn settle(
    deps: &SenderDeps,
    attempt: &Attempt<'_>,
    settlement: Settlement,
    version: u64,
) -> Result<Outcome, SendError> {
    write_settlement(deps, attempt, settlement, version).await.map(Settled::outcome)
}

/// Writes the package's outcome and its effect on the order in one transaction: a confirmation
/// counts on the order, a failure gives its quantities back. If the write loses a race, the stored
/// package decides: settled by another delivery, or still open and retried (its claim then expires
/// and the next delivery asks Amazon before sending anything).
async fn write_settlement(
    deps: &SenderDeps,
    attempt: &Attempt<'_>,
    settlement: Settlement,
    version: u64,
) -> Result<Settled, SendError> {
    let store = &deps.adapters.store;
    let (package, effect): (&Package, fn(&mut Order, &Package)) = match &settlement {
        Settlement::Confirmed(package) => (package, record_confirmed),
        Settlement::Ended(package) => (package, release_package),
    };
    // Still ours while this attempt's claim stands: a delivery time recorded meanwhile is kept.
    let ours = |stored: &Package| stored.claimed_at.is_some() && stored.send_attempts == package.send_attempts;
    let written = store.settle_package_merging(package, version, ours, effect).await;
    match written {
        Ok(Some(_)) => {}
        Ok(None) | Err(StoreError::Conflict { .. }) => {
            let stored = store.get_package(&package.order_id, &package.package_id).await?;
            if stored.is_some_and(|stored| stored.value.state.is_final()) {
                info!("another delivery settled this package first");
                return Ok(Settled::ByAnother);
            }
            warn!("the package kept changing while the outcome was written; retrying once the claim has expired");
            attempt.retry_after(deps, claim_expiry(deps)).await?;
            return Ok(Settled::Retrying);
        }
        Err(e) => return Err(e.into()),
    }
    match &settlement {
        Settlement::Confirmed(package) => {
            info!(package_reference_id = %package.reference, "shipment confirmed at Amazon");
        }
        Settlement::Ended(package) => {
            info!(state = package.state.name(), "package ended; its quantities are free to ship again");
            if matches!(package.state, PackageState::Failed { .. }) {
                store.release_tracking_claim(&attempt.connection.id, package).await;
            }
        }
    }
    Ok(Settled::Written)
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
    fn already_confirmed_answers_are_recognised_by_code_or_by_name_in_the_message() {
        let metric = "Package not found. errorMetric=PackageToUpdateNotFound";
        assert!(already_confirmed("InvalidInput", metric));
        assert!(already_confirmed("PackageToUpdateNotFound", ""));
        assert!(!already_confirmed("InvalidInput", "Invalid carrierCode 'Pony'"));
    }

    #[test]
    fn throttled_updates_are_spread_over_the_batch_and_bounded() {
        let delays: Vec<Duration> = (0..200).map(|_| throttle_delay(Duration::from_millis(500), 20)).collect();
        assert!(delays.iter().all(|d| *d >= Duration::from_secs(1) && *d <= Duration::from_secs(10)));
        assert!(delays.iter().any(|d| *d >= Duration::from_secs(5)), "later slots are used");
        assert_eq!(throttle_delay(Duration::from_secs(3600), 1), MAX_DELAY);
        assert_eq!(throttle_delay(Duration::ZERO, 10), Duration::from_secs(1));
    }
}
