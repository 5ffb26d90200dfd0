//! Cancellations and refunds in order acknowledgement and payment adjustment feeds: done or failed
//! from the report. Amazon has no call for either, so a feed that cannot settle one ends it failed,
//! saying whether Amazon may have applied it. A cancellation's lines are free again either way (asking
//! Amazon twice to cancel a line does no harm, and an order Amazon cancelled shows so at its next
//! import); a refund's amount only when Amazon surely did not get it (a refund is never risked twice).
use chrono::{DateTime, Utc};
use sellerbridge_core::domain::adjustment::{
    Adjustment, AdjustmentKind, AdjustmentMessage, AdjustmentState, adjustment_document, release_adjustment,
};
use sellerbridge_core::domain::connection::Connection;
use sellerbridge_core::domain::feed::{FeedEntry, FeedRecord, MessageOutcome};
use sellerbridge_core::domain::ids::{AmazonOrderId, EventId, SellerId};
use sellerbridge_core::domain::order::Order;
use sellerbridge_core::store::{DynamoStore, StoreError, Versioned};
use tracing::warn;

use super::Cargo;
use crate::{SyncDeps, SyncError};

pub(crate) struct Adjustments;

/// Amazon applied it, or may have: what it booked on the order stays.
fn keep(_: &mut Order, _: &Adjustment) {}

impl Cargo for Adjustments {
    type Item = Adjustment;
    const NAME: &'static str = "adjustment";
    const RESEND_WHEN_LOST: bool = false;

    async fn read(
        store: &DynamoStore,
        order_id: &AmazonOrderId,
        item: &str,
    ) -> Result<Option<Versioned<Adjustment>>, StoreError> {
        let id = EventId::parse(item.to_owned()).map_err(|e| StoreError::Corrupt {
            key: format!("feed entry of order {order_id}"),
            message: e.to_string(),
        })?;
        store.get_adjustment(order_id, &id).await
    }

    fn in_feed(adjustment: &Adjustment, record: &str, message_id: u32, now: DateTime<Utc>) -> Adjustment {
        let state = AdjustmentState::InFeed { feed: record.to_owned(), message_id, at: now };
        adjustment.clone().into_ended(state)
    }

    fn awaiting(adjustment: &Adjustment, now: DateTime<Utc>) -> Adjustment {
        adjustment.clone().into_ended(AdjustmentState::AwaitingFeed { since: now })
    }

    fn document(seller: &SellerId, messages: &[(u32, &Adjustment)]) -> String {
        let messages: Vec<AdjustmentMessage<'_>> = messages
            .iter()
            .map(|(message_id, adjustment)| AdjustmentMessage {
                message_id: *message_id,
                order_id: &adjustment.order_id,
                kind: &adjustment.kind,
            })
            .collect();
        adjustment_document(seller, &messages)
    }

    async fn settle(
        deps: &SyncDeps,
        _connection: &Connection,
        (_, feed_id): (&FeedRecord, &str),
        _entry: &FeedEntry,
        adjustment: Versioned<Adjustment>,
        outcome: MessageOutcome,
    ) -> Result<(), SyncError> {
        let now = deps.adapters.clock.now();
        let Versioned { value: adjustment, version } = adjustment;
        let (state, effect): (_, fn(&mut Order, &Adjustment)) = match outcome {
            MessageOutcome::Accepted { warnings } => {
                let warnings = warnings.into_iter().map(|w| format!("Amazon's feed report: {w}")).collect();
                (AdjustmentState::Done { feed_id: feed_id.to_owned(), at: now, warnings }, keep)
            }
            MessageOutcome::Rejected { reason } => {
                let (what, order_id) = (adjustment.kind.name(), &adjustment.order_id);
                warn!(order_id = %order_id, adjustment = %adjustment.id, feed_id, "Amazon rejected a {what}");
                let reason = format!("Amazon rejected the {what} of order {order_id} in feed {feed_id}: {reason}");
                (AdjustmentState::Failed { reason, at: now }, release_adjustment)
            }
        };
        deps.adapters.store.settle_adjustment(&adjustment.into_ended(state), version, effect).await?;
        Ok(())
    }

    async fn give_up(
        deps: &SyncDeps,
        adjustment: Versioned<Adjustment>,
        reason: &str,
        reconcile: bool,
    ) -> Result<bool, StoreError> {
        let Versioned { value: adjustment, version } = adjustment;
        let (what, order_id) = (adjustment.kind.name(), adjustment.order_id.clone());
        let is_refund = matches!(adjustment.kind, AdjustmentKind::Refund { .. });
        let (next, effect): (_, fn(&mut Order, &Adjustment)) = match (reconcile, is_refund) {
            (false, _) => ("Amazon did not receive it: ask again", release_adjustment),
            (true, false) => ("Amazon may have applied it: check the order in Seller Central", release_adjustment),
            (true, true) => (
                "Amazon may have applied it: check the order in Seller Central, and refund there what Amazon did \
                 not (asking again here is refused, as it could refund twice)",
                keep,
            ),
        };
        warn!(order_id = %order_id, adjustment = %adjustment.id, reconcile, "a feed gave up a {what}");
        let reason = format!("the {what} of order {order_id} could not be settled by its feed ({reason}); {next}");
        let failed = adjustment.into_ended(AdjustmentState::Failed { reason, at: deps.adapters.clock.now() });
        match deps.adapters.store.settle_adjustment(&failed, version, effect).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn after_giving_up(_deps: &SyncDeps, _record: &FeedRecord) -> Result<(), SyncError> {
        Ok(())
    }
}
