//! Multi-Channel Fulfillment calls: creating a fulfillment order at Amazon and cancelling it, from the
//! updates queue and on the seller's shared quota.
//!
//! Creating is claimed first (`Sending`, with a lease), so two deliveries of one message never both
//! call; a claim whose sender died is taken over by asking Amazon whether the order exists before
//! creating it. `sellerFulfillmentOrderId` is Amazon's idempotency key too: a create Amazon refuses
//! because the id is taken is answered by reading the order Amazon holds. With the connection's preview
//! on, Amazon's preview comes first and an order it says cannot ship is never created.
//!
//! Waiting for quota never burns a receive (the message is sent again, delayed); a revoked refresh
//! token holds the message; other failures are retried until the dead-letter queue, where the order is
//! marked refused (a create) or its cancellation failed (a cancel) with the reason, so the store hears of
//! it. Amazon's answers are stored and logged without the buyer's data ([`FulfillmentOrder::scrub`]).
use std::time::Duration;

use chrono::{DateTime, Utc};
use sellerbridge_core::domain::connection::{Connection, ConnectionState};
use sellerbridge_core::domain::fulfillment::{
    AmazonFulfillmentReport, AmazonFulfillmentStatus, CancelOutcome, FulfillmentOrder, Progress, not_reported_yet,
    sending_lease,
};
use sellerbridge_core::domain::ids::SellerFulfillmentOrderId;
use sellerbridge_core::queue::{MAX_DELAY, UpdateMessage, announce_fulfillment};
use sellerbridge_core::spapi::{Refusal, SellerAuth, SpApiError, WaitBudget};
use sellerbridge_core::store::{AppCredentialsAlert, Versioned};
use tracing::{info, warn};

use super::{Outcome, SendError, SenderDeps};

/// How long one MCF call may wait in process for the seller's quota (2 a second, a burst of 30).
const QUOTA_WAIT: Duration = Duration::from_secs(10);

fn budget() -> WaitBudget {
    WaitBudget::until(tokio::time::Instant::now() + QUOTA_WAIT)
}

pub(crate) async fn create(
    deps: &SenderDeps,
    id: &SellerFulfillmentOrderId,
    receives: u32,
) -> Result<Outcome, SendError> {
    let message = UpdateMessage::CreateFulfillment { fulfillment_id: id.clone() };
    let now = deps.adapters.clock.now();
    let Some(Versioned { value: mut order, version }) = deps.adapters.store.get_fulfillment(id).await? else {
        return Err(SendError::UnknownFulfillment(id.to_string()));
    };
    let taken_over = match order.progress {
        Progress::Queued => false,
        Progress::Sending { since } if now - since >= sending_lease() => true,
        Progress::Sending { .. } => {
            info!("another delivery is creating this fulfillment order; this one is done");
            return Ok(Outcome::Done);
        }
        _ => {
            info!("fulfillment order already settled; nothing to create");
            return Ok(Outcome::Done);
        }
    };
    if order.redaction.is_redacted() {
        // Held so long (its connection switched off) that the address is gone: it can never be sent.
        let reason = "the address was redacted before the order reached Amazon; request it again".to_owned();
        return refuse_unsent(deps, id, version, reason, now).await;
    }
    let connection = match usable_connection(deps, &order, &message).await? {
        Usable::Yes(usable) => *usable,
        Usable::Held => return Ok(Outcome::Done),
        Usable::Gone => {
            let reason = format!("connection {} no longer exists", order.connection_id);
            return refuse_unsent(deps, id, version, reason, now).await;
        }
    };
    let (connection, auth) = connection;
    order.progress = Progress::Sending { since: now };
    if deps.adapters.store.save_fulfillment(&order, version).await.is_err() {
        // Changed since it was read (a cancellation, another delivery): read it again shortly.
        deps.queue.send(&message, Duration::from_secs(1)).await?;
        return Ok(Outcome::Done);
    }
    let attempt = Attempt { deps, id, message: &message, connection: &connection, receives, now };
    if taken_over {
        // The sender that died may have created it.
        match deps.spapi.get_fulfillment_order(&auth, id, budget()).await {
            Ok(Some(report)) => {
                return attempt.settle(|order| order.apply_amazon(report.clone(), now).announced()).await;
            }
            Ok(None) => {}
            Err(e) => return attempt.failed(e).await,
        }
    }
    if connection.options.fulfillment.preview {
        match deps.spapi.get_fulfillment_preview(&auth, &order, budget()).await {
            Ok(preview) if !preview.fulfillable => {
                let reasons = order.scrub(&preview.unfulfillable_reasons.join("; "));
                info!(reason = %reasons, "Amazon's preview says the order cannot ship; not created");
                return attempt
                    .settle(|order| {
                        order.preview = Some(preview.clone());
                        order.progress = Progress::Refused {
                            reason: format!("Amazon's fulfillment preview says it cannot be fulfilled: {reasons}"),
                        };
                        order.changed(now);
                        true
                    })
                    .await;
            }
            Ok(preview) => order.preview = Some(preview),
            Err(e) => return attempt.failed(e).await,
        }
    }
    let preview = order.preview.clone();
    match deps.spapi.create_fulfillment_order(&auth, &order, budget()).await {
        Ok(()) => {
            info!("fulfillment order created at Amazon");
            attempt
                .settle(|order| {
                    // A notification may have brought Amazon's own status in already: it stands.
                    if matches!(order.progress, Progress::AtAmazon { .. }) {
                        return false;
                    }
                    order.preview.clone_from(&preview);
                    order.progress =
                        Progress::AtAmazon { status: AmazonFulfillmentStatus::New, updated_at: not_reported_yet() };
                    order.changed(now);
                    true
                })
                .await
        }
        Err(SpApiError::Rejected { message: refusal, .. }) => {
            // Amazon's words about a request that carried the address: without the buyer's data.
            let refusal = order.scrub(&refusal);
            // The id may be taken by an earlier create whose answer was lost: then Amazon holds the order.
            match deps.spapi.get_fulfillment_order(&auth, id, budget()).await {
                Ok(Some(report)) => {
                    info!("Amazon holds the fulfillment order already; taken as created");
                    attempt.settle(|order| order.apply_amazon(report.clone(), now).announced()).await
                }
                Ok(None) => {
                    warn!(reason = %refusal, "Amazon refused the fulfillment order");
                    attempt
                        .settle(|order| {
                            order.preview.clone_from(&preview);
                            order.progress =
                                Progress::Refused { reason: format!("Amazon refused the order: {refusal}") };
                            order.changed(now);
                            true
                        })
                        .await
                }
                Err(e) => attempt.failed(e).await,
            }
        }
        Err(e) => attempt.failed(scrubbed(&order, e)).await,
    }
}

pub(crate) async fn cancel(
    deps: &SenderDeps,
    id: &SellerFulfillmentOrderId,
    receives: u32,
) -> Result<Outcome, SendError> {
    let message = UpdateMessage::CancelFulfillment { fulfillment_id: id.clone() };
    let now = deps.adapters.clock.now();
    let Some(Versioned { value: order, .. }) = deps.adapters.store.get_fulfillment(id).await? else {
        return Err(SendError::UnknownFulfillment(id.to_string()));
    };
    if !order.cancel_pending() {
        info!("no cancellation pending; nothing to send");
        return Ok(Outcome::Done);
    }
    let (connection, auth) = match usable_connection(deps, &order, &message).await? {
        Usable::Yes(usable) => *usable,
        Usable::Held => return Ok(Outcome::Done),
        Usable::Gone => {
            warn!("the connection no longer exists; the cancellation cannot be sent");
            return Ok(Outcome::Done);
        }
    };
    let attempt = Attempt { deps, id, message: &message, connection: &connection, receives, now };
    match order.progress {
        Progress::Sending { since } if now - since < sending_lease() => {
            // Being created right now: ask again once that has settled.
            deps.queue.send(&message, Duration::from_secs(30)).await?;
            return Ok(Outcome::Done);
        }
        Progress::Queued | Progress::Withdrawn { .. } | Progress::Refused { .. } => {
            let mut moved_on = false;
            let outcome = attempt
                .settle(|order| match order.progress {
                    Progress::Queued | Progress::Withdrawn { .. } | Progress::Refused { .. } => order.withdraw(now),
                    // A create claimed it since it was read: ask again once that has settled.
                    _ => {
                        moved_on = true;
                        false
                    }
                })
                .await?;
            if moved_on {
                deps.queue.send(&message, Duration::from_secs(30)).await?;
            }
            return Ok(outcome);
        }
        Progress::AtAmazon { status, updated_at } if !status.cancellable() => {
            // Settled by what we know: Amazon's status never goes back.
            return attempt.settle(|order| order.apply_amazon(report(status, updated_at), now).announced()).await;
        }
        _ => {}
    }
    match deps.spapi.cancel_fulfillment_order(&auth, id, budget()).await {
        Ok(()) => {
            info!("fulfillment order cancelled at Amazon");
            let cancelled = report(AmazonFulfillmentStatus::Cancelled, now);
            attempt.settle(|order| order.apply_amazon(cancelled.clone(), now).announced()).await
        }
        Err(SpApiError::Rejected { status: 404, .. }) => attempt.settle(|order| order.withdraw(now)).await,
        Err(SpApiError::Rejected { code, .. }) => {
            // Amazon would not cancel: it has moved on. Its status says how far.
            match deps.spapi.get_fulfillment_order(&auth, id, budget()).await {
                Ok(Some(held)) => {
                    info!(status = ?held.status, code, "Amazon would not cancel the fulfillment order");
                    attempt.settle(|order| order.apply_amazon(held.clone(), now).announced()).await
                }
                Ok(None) => attempt.settle(|order| order.withdraw(now)).await,
                Err(e) => attempt.failed(e).await,
            }
        }
        Err(e) => attempt.failed(scrubbed(&order, e)).await,
    }
}

/// Amazon's answer to a request that carried the address, without the buyer's data: it is logged and may
/// be stored as a reason.
fn scrubbed(order: &FulfillmentOrder, error: SpApiError) -> SpApiError {
    match error {
        SpApiError::Rejected { operation, status, code, message } => {
            SpApiError::Rejected { operation, status, code, message: order.scrub(&message) }
        }
        SpApiError::Transient { operation, message } => {
            SpApiError::Transient { operation, message: order.scrub(&message) }
        }
        SpApiError::Decode { operation, message } => SpApiError::Decode { operation, message: order.scrub(&message) },
        other => other,
    }
}

/// A report of `status` as of `at`, as an answer of Amazon's that carries no shipments.
fn report(status: AmazonFulfillmentStatus, at: DateTime<Utc>) -> AmazonFulfillmentReport {
    AmazonFulfillmentReport { status, updated_at: at, shipments: None, unshipped: None }
}

/// Marks an order that never reached Amazon, and never can, refused with `reason`, and tells the store.
async fn refuse_unsent(
    deps: &SenderDeps,
    id: &SellerFulfillmentOrderId,
    version: u64,
    reason: String,
    now: DateTime<Utc>,
) -> Result<Outcome, SendError> {
    let store = &deps.adapters.store;
    let Some(Versioned { value: mut order, .. }) = store.get_fulfillment(id).await? else { return Ok(Outcome::Done) };
    warn!(reason = %reason, "the fulfillment order cannot be sent");
    order.progress = Progress::Refused { reason };
    order.changed(now);
    store.save_fulfillment(&order, version).await?;
    if let Some(connection) = store.get_connection(&order.connection_id).await? {
        announce_fulfillment(&deps.adapters.outbound, store, &connection, &order).await;
    }
    Ok(Outcome::Done)
}

/// Whether the order's connection may call Amazon now.
enum Usable {
    Yes(Box<(Connection, SellerAuth)>),
    /// Switched off or waiting for re-authorization: the message is held (sent again, delayed as long
    /// as SQS allows).
    Held,
    /// Removed: nothing of it can be sent any more.
    Gone,
}

async fn usable_connection(
    deps: &SenderDeps,
    order: &FulfillmentOrder,
    message: &UpdateMessage,
) -> Result<Usable, SendError> {
    let Some(connection) = deps.adapters.store.get_connection(&order.connection_id).await? else {
        return Ok(Usable::Gone);
    };
    if connection.state != ConnectionState::Active {
        warn!("connection is not active (needs re-authorization?); holding the fulfillment update");
        deps.queue.send(message, MAX_DELAY).await?;
        return Ok(Usable::Held);
    }
    let auth = deps.adapters.seller_auth(&connection).await?;
    Ok(Usable::Yes(Box::new((connection, auth))))
}

struct Attempt<'a> {
    deps: &'a SenderDeps,
    id: &'a SellerFulfillmentOrderId,
    message: &'a UpdateMessage,
    connection: &'a Connection,
    receives: u32,
    now: DateTime<Utc>,
}

impl Attempt<'_> {
    /// Writes what Amazon answered (on the order as stored now: the sync may have read it meanwhile) and
    /// tells the store if anything it sees changed. A claim the answer did not settle is given back, so
    /// the order's message (sent again by whoever needs it) may send.
    async fn settle(&self, mut change: impl FnMut(&mut FulfillmentOrder) -> bool) -> Result<Outcome, SendError> {
        let updated = self
            .deps
            .adapters
            .store
            .update_fulfillment(self.id, |order| {
                let changed = change(order);
                // The claim ends with the answer, whatever it says: an answer that settled nothing leaves
                // the order for its message to come back to.
                if matches!(order.progress, Progress::Sending { .. }) {
                    order.progress = Progress::Queued;
                    return true;
                }
                changed
            })
            .await?;
        if let Some((order, true)) = updated {
            announce_fulfillment(&self.deps.adapters.outbound, &self.deps.adapters.store, self.connection, &order)
                .await;
        }
        Ok(Outcome::Done)
    }

    /// A call that did not get an answer to act on: the claim is given back, then throttles are sent
    /// again with a delay, a revoked refresh token or rejected app credentials hold the message, and
    /// anything else is retried, until the last receive marks the order refused with the reason.
    async fn failed(&self, error: SpApiError) -> Result<Outcome, SendError> {
        let store = &self.deps.adapters.store;
        match error {
            SpApiError::Throttled { retry_after, .. }
            | SpApiError::Paused { retry_after, refusal: Refusal::Throttled, .. } => {
                self.release().await?;
                let delay = retry_after.clamp(Duration::from_secs(1), MAX_DELAY);
                info!(delay_s = delay.as_secs(), "quota exhausted or the seller paused; re-queued with a delay");
                self.deps.queue.send(self.message, delay).await?;
                Ok(Outcome::Done)
            }
            SpApiError::NeedsReauthorization(detail) => {
                self.release().await?;
                warn!(detail, "Amazon refused the refresh token; flagging the connection and holding the update");
                let connection = self.connection;
                store
                    .flag_needs_reauthorization(&connection.id, connection.credentials_version, self.now, detail)
                    .await?;
                self.deps.queue.send(self.message, MAX_DELAY).await?;
                Ok(Outcome::Done)
            }
            SpApiError::InvalidClient(detail) => {
                self.release().await?;
                warn!(detail, "Login with Amazon rejected the app's credentials; holding the update");
                store
                    .raise_app_credentials_alert(&AppCredentialsAlert::met(self.now, &detail, &self.connection.id))
                    .await?;
                self.deps.queue.send(self.message, MAX_DELAY).await?;
                Ok(Outcome::Done)
            }
            e if self.receives >= self.deps.settings.max_receives => {
                let reason = format!("gave up after {} attempts: {e}", self.receives);
                warn!(reason = %reason, "giving up; the message goes to the dead-letter queue");
                sellerbridge_core::metrics::count(sellerbridge_core::metrics::Metric::DeadLettered, 1);
                let now = self.now;
                // A create that may have reached Amazon is corrected by the sync's poll if it did.
                let give_up = |order: &mut FulfillmentOrder| {
                    if matches!(order.progress, Progress::Sending { .. }) {
                        order.progress = Progress::Refused { reason: reason.clone() };
                    } else if let Some(cancellation) =
                        order.cancellation.as_mut().filter(|c| c.outcome == CancelOutcome::Pending)
                    {
                        cancellation.outcome = CancelOutcome::Failed { reason: reason.clone() };
                    } else {
                        return false;
                    }
                    order.changed(now);
                    true
                };
                self.settle(give_up).await?;
                Err(SendError::Amazon(e))
            }
            e => {
                self.release().await?;
                Err(SendError::Amazon(e))
            }
        }
    }

    /// Gives the claim back so the message's next delivery may send.
    async fn release(&self) -> Result<(), SendError> {
        self.deps
            .adapters
            .store
            .update_fulfillment(self.id, |order| {
                let claimed = matches!(order.progress, Progress::Sending { .. });
                if claimed {
                    order.progress = Progress::Queued;
                }
                claimed
            })
            .await?;
        Ok(())
    }
}
