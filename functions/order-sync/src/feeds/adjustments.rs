//! Cancellations and refunds in order acknowledgement and payment adjustment feeds: done or failed
//! from the report. Amazon has no call for either, so a feed that cannot settle one ends it failed,
//! saying whether Amazon may have applied it; what it booked on its order is given back only when
//! Amazon surely did not get it (a refund is never risked twice).
use chrono::{DateTime, Utc};
use sellerbridge_core::domain::adjustment::{
    Adjustment, AdjustmentMessage, AdjustmentState, adjustment_document, release_adjustment,
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

    fn document(_feed_type: &str, seller: &SellerId, messages: &[(u32, &Adjustment)]) -> String {
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
        let (next, effect): (_, fn(&mut Order, &Adjustment)) = if reconcile {
            ("Amazon may have applied it: check the order in Seller Central before asking again", keep)
        } else {
            ("Amazon did not receive it: ask again", release_adjustment)
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
