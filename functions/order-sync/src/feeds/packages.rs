//! Packages in order fulfillment feeds: confirmed or failed from the report, and handed back to the
//! call path (with a message on the updates queue) when their feed cannot settle them.
use chrono::{DateTime, Utc};
use sellerbridge_core::domain::connection::Connection;
use sellerbridge_core::domain::feed::{FeedEntry, FeedRecord, MessageOutcome, order_fulfillment_document};
use sellerbridge_core::domain::ids::{AmazonOrderId, PackageId, SellerId};
use sellerbridge_core::domain::shipment::{Package, PackageState, record_confirmed, release_package};
use sellerbridge_core::queue::{UpdateMessage, UpdateQueue};
use sellerbridge_core::store::{DynamoStore, StoreError, Versioned};

use super::{Cargo, read_items};
use crate::{SyncDeps, SyncError};

pub(crate) struct Packages;

impl Cargo for Packages {
    type Item = Package;
    const NAME: &'static str = "package";
    const RESEND_WHEN_LOST: bool = true;

    async fn read(
        store: &DynamoStore,
        order_id: &AmazonOrderId,
        item: &str,
    ) -> Result<Option<Versioned<Package>>, StoreError> {
        let package_id = PackageId::parse(item.to_owned()).map_err(|e| StoreError::Corrupt {
            key: format!("feed entry of order {order_id}"),
            message: e.to_string(),
        })?;
        store.get_package(order_id, &package_id).await
    }

    fn in_feed(package: &Package, record: &str, message_id: u32, now: DateTime<Utc>) -> Package {
        let mut marked = package.clone();
        marked.state = PackageState::InFeed { feed: record.to_owned(), message_id, at: now };
        marked
    }

    fn awaiting(package: &Package, now: DateTime<Utc>) -> Package {
        let mut waiting = package.clone();
        waiting.claimed_at = None;
        waiting.state = PackageState::AwaitingFeed { since: now };
        waiting
    }

    fn document(seller: &SellerId, messages: &[(u32, &Package)]) -> String {
        order_fulfillment_document(seller, messages)
    }

    /// Writes the package's outcome with its effect on the order, keeping what changed meanwhile (a
    /// delivery time) while it is still in this feed as this entry; a refused package's tracking
    /// number is free again.
    async fn settle(
        deps: &SyncDeps,
        connection: &Connection,
        (record, feed_id): (&FeedRecord, &str),
        entry: &FeedEntry,
        package: Versioned<Package>,
        outcome: MessageOutcome,
    ) -> Result<(), SyncError> {
        let store = &deps.adapters.store;
        let now = deps.adapters.clock.now();
        let settled = match outcome {
            MessageOutcome::Accepted { warnings } => {
                let mut accepted = package.value.into_confirmed(now);
                accepted.warnings.extend(warnings.into_iter().map(|w| format!("Amazon's feed report: {w}")));
                accepted
            }
            MessageOutcome::Rejected { reason } => {
                let reason = format!("Amazon rejected the shipment confirmation in feed {feed_id}: {reason}");
                package.value.into_ended(PackageState::Failed { reason, at: now })
            }
        };
        let refused = matches!(settled.state, PackageState::Failed { .. });
        let effect = if refused { release_package } else { record_confirmed };
        let written = store
            .settle_package_merging(&settled, package.version, |stored| record.holds(entry, stored), effect)
            .await?;
        if written.is_some() && refused {
            store.release_tracking_claim(&connection.id, &settled).await;
        }
        Ok(())
    }

    async fn give_up(
        deps: &SyncDeps,
        package: Versioned<Package>,
        _reason: &str,
        reconcile: bool,
    ) -> Result<bool, StoreError> {
        match deps.adapters.store.save_package(&package.value.handed_back(reconcile), package.version).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A message on the updates queue for every package handed back and still queued. A resumed run
    /// sends them again (a duplicate message is harmless, a missing one is not).
    async fn after_giving_up(deps: &SyncDeps, record: &FeedRecord) -> Result<(), SyncError> {
        let store = &deps.adapters.store;
        let keys = record.entries.iter().map(|e| (&e.order_id, e.item.as_str()));
        let packages = read_items::<Self>(store, keys).await?;
        for package in packages.into_iter().flatten().filter(|p| p.value.by_call_only && p.value.is_sendable_by_call())
        {
            let message = UpdateMessage::ConfirmShipment {
                order_id: package.value.order_id,
                package_id: package.value.package_id,
            };
            deps.adapters.queue.send(&message, std::time::Duration::ZERO).await.map_err(SyncError::Queue)?;
        }
        Ok(())
    }
}
