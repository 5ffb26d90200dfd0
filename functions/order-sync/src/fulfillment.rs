//! Multi-Channel Fulfillment status and FBA inventory, read on each sync of a connection that uses them.
//!
//! Fulfillment orders: `listAllFulfillmentOrders` since the connection's mark (less an overlap), each of
//! ours whose status moved read in full with `getFulfillmentOrder` (shipments, tracking, what will not
//! ship), stored, and `fulfillment.updated` sent to the store. Orders that are not ours (created in
//! Seller Central, or by another connection of the seller) are left alone.
//!
//! Inventory: `getInventorySummaries` for the marketplace, changed since the mark (every SKU the first
//! time), page after page at once: a `nextToken` lives 30 seconds, so none is kept across a pause, and
//! one Amazon refuses (expired) restarts the read from its first page; storing is idempotent, and only
//! SKUs whose quantities changed are sent to the store in `inventory.updated`. A run whose events SQS
//! would not take leaves a note on its mark, and the next run sends the changes since then.
use std::time::Duration;

use chrono::{DateTime, Utc};
use sellerbridge_core::domain::connection::Connection;
use sellerbridge_core::domain::fulfillment::{InventoryLevel, not_reported_yet};
use sellerbridge_core::domain::ids::{SellerFulfillmentOrderId, Sku};
use sellerbridge_core::metrics::{self, Metric};
use sellerbridge_core::queue::{UpdateMessage, UpdateQueue, record_amazon_report};
use sellerbridge_core::spapi::{InventoryQuery, SellerAuth, SpApiError, WaitBudget};
use sellerbridge_core::store::{ReadMark, keys};
use serde::Serialize;
use tokio::time::Instant;
use tracing::{info, warn};

use super::{SyncDeps, SyncError};

/// How far each read reaches back before its mark, for changes Amazon records late.
const OVERLAP: chrono::Duration = chrono::Duration::minutes(5);
/// A connection's first read of its fulfillment orders looks this far back (Amazon's default is 36 hours).
const FIRST_LOOK_BACK: chrono::Duration = chrono::Duration::days(7);
/// Reads of the inventory started over because Amazon refused a page's token.
const MAX_RESTARTS: u32 = 3;
/// SKUs per `inventory.updated` event.
const SKUS_PER_EVENT: usize = 100;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct FulfillmentActivity {
    /// Fulfillment orders whose state the store was told of.
    pub orders_changed: u32,
    pub inventory_read: u32,
    pub inventory_changed: u32,
    /// Inventory reads started over after Amazon refused an expired page token.
    pub inventory_restarts: u32,
    /// Why fulfillment orders or inventory could not be read this run (the import went on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Reads the connection's fulfillment orders that moved at Amazon: while it has Amazon-fulfilled SKUs,
/// and afterwards for as long as it has been reading them (orders requested before the last SKU was
/// unmarked still move).
pub(crate) async fn poll_orders(
    deps: &SyncDeps,
    connection: &Connection,
    auth: &SellerAuth,
    stop_at: Instant,
    activity: &mut FulfillmentActivity,
) -> Result<(), SyncError> {
    let mark_key = keys::fulfillment_cursor(&connection.id);
    let mark = deps.adapters.store.read_mark(&mark_key).await?;
    if connection.options.fulfillment.amazon_fulfilled.is_empty() && mark.is_none() {
        return Ok(());
    }
    read_orders(deps, connection, auth, stop_at, mark, activity).await
}

async fn read_orders(
    deps: &SyncDeps,
    connection: &Connection,
    auth: &SellerAuth,
    stop_at: Instant,
    mark: Option<ReadMark>,
    activity: &mut FulfillmentActivity,
) -> Result<(), SyncError> {
    let store = &deps.adapters.store;
    let mark_key = keys::fulfillment_cursor(&connection.id);
    let started = deps.adapters.clock.now();
    let since = mark.map_or(started - FIRST_LOOK_BACK, |mark| mark.since - OVERLAP);
    let mut token: Option<String> = None;
    loop {
        let page =
            deps.spapi.list_fulfillment_orders(auth, since, token.as_deref(), WaitBudget::until(stop_at)).await?;
        for (id, listed) in page.orders {
            let Ok(id) = SellerFulfillmentOrderId::parse(id) else { continue };
            let Some(held) = store.get_fulfillment(&id).await? else { continue };
            let held = held.value;
            if held.connection_id != connection.id {
                continue;
            }
            if held.amazon_status() == Some(listed.status) && !listed_newer(&held, listed.updated_at) {
                continue;
            }
            // The list says the status moved: the order in full has its shipments and what will not ship.
            let report = deps.spapi.get_fulfillment_order(auth, &id, WaitBudget::until(stop_at)).await?;
            let report = report.unwrap_or(listed);
            let now = deps.adapters.clock.now();
            if record_amazon_report(&deps.adapters.outbound, store, connection, &id, &report, now).await? {
                activity.orders_changed += 1;
                metrics::count(Metric::FulfillmentOrdersChanged, 1);
            }
        }
        match page.next_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    store.save_read_mark(&mark_key, ReadMark { since: started, unannounced_from: None }).await?;
    Ok(())
}

fn listed_newer(held: &sellerbridge_core::domain::fulfillment::FulfillmentOrder, listed: DateTime<Utc>) -> bool {
    match held.progress {
        sellerbridge_core::domain::fulfillment::Progress::AtAmazon { updated_at, .. } => listed > updated_at,
        _ => true,
    }
}

/// Reads the FBA inventory when the connection asks for it. Runs after the order import, with the time
/// the import left: a large catalog never holds orders up.
pub(crate) async fn read_inventory(
    deps: &SyncDeps,
    connection: &Connection,
    auth: &SellerAuth,
    stop_at: Instant,
    activity: &mut FulfillmentActivity,
) -> Result<(), SyncError> {
    if !connection.options.fulfillment.sync_inventory {
        return Ok(());
    }
    let store = &deps.adapters.store;
    let mark_key = keys::inventory_cursor(&connection.id);
    let mark = store.read_mark(&mark_key).await?;
    let started = deps.adapters.clock.now();
    // Noted before the first level is stored: a run that stops after storing some (deadline, an error)
    // leaves them to the next run to announce, since they will not look changed to it.
    let mut noted = mark.is_some_and(|mark| mark.unannounced_from.is_some());
    let changed_since =
        mark.map(|mark| mark.since).filter(|since| *since > not_reported_yet()).map(|since| since - OVERLAP);
    let mut query = InventoryQuery { changed_since, ..InventoryQuery::default() };
    let mut changed: Vec<Sku> = Vec::new();
    loop {
        // A page's token dies 30 seconds after it was made: the next page is asked for at once, and a
        // call that would have to wait longer for quota is not worth making with it.
        let budget = if query.next_token.is_some() {
            WaitBudget::until(stop_at.min(Instant::now() + Duration::from_secs(20)))
        } else {
            WaitBudget::until(stop_at)
        };
        let page = match deps.spapi.get_inventory_summaries(auth, &connection.marketplace_id, &query, budget).await {
            Ok(page) => page,
            Err(SpApiError::Rejected { status: 400, code, .. })
                if query.next_token.is_some() && activity.inventory_restarts < MAX_RESTARTS =>
            {
                warn!(code, "Amazon refused the inventory page token (expired?); reading from the first page again");
                activity.inventory_restarts += 1;
                query.next_token = None;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let now = deps.adapters.clock.now();
        for summary in page.summaries {
            activity.inventory_read += 1;
            let held = store.get_inventory_level(&connection.id, &summary.sku).await?;
            let moved =
                held.as_ref().is_none_or(|held| held.quantities != summary.quantities || held.fnsku != summary.fnsku);
            if !moved {
                continue;
            }
            if !noted {
                // A backfill stopped halfway is read whole again: no `since` before the first one ends.
                let since = mark.map_or(not_reported_yet(), |mark| mark.since);
                store.save_read_mark(&mark_key, ReadMark { since, unannounced_from: Some(started) }).await?;
                noted = true;
            }
            let level = InventoryLevel {
                connection_id: connection.id.clone(),
                sku: summary.sku.clone(),
                fnsku: summary.fnsku,
                asin: summary.asin,
                quantities: summary.quantities,
                amazon_updated_at: summary.updated_at,
                changed_at: now,
            };
            store.put_inventory_level(&level).await?;
            if !changed.contains(&summary.sku) {
                changed.push(summary.sku);
            }
        }
        match page.next_token {
            Some(next) => query.next_token = Some(next),
            None => break,
        }
    }
    activity.inventory_changed += changed.len() as u32;
    metrics::count(Metric::InventoryChanged, changed.len() as u64);
    // Changes an earlier run stored but could not announce.
    if let Some(from) = mark.and_then(|mark| mark.unannounced_from) {
        for level in store.list_inventory(&connection.id).await? {
            if level.changed_at >= from && !changed.contains(&level.sku) {
                changed.push(level.sku);
            }
        }
    }
    let announced = announce_inventory(deps, connection, started, &changed).await;
    let unannounced_from = match announced {
        Ok(()) => None,
        Err(e) => {
            warn!(error = %e, "could not queue inventory.updated; the next run sends these changes");
            Some(mark.and_then(|m| m.unannounced_from).map_or(started, |from| from.min(started)))
        }
    };
    store.save_read_mark(&mark_key, ReadMark { since: started, unannounced_from }).await?;
    info!(connection_id = %connection.id, listed = activity.inventory_read, changed = changed.len(), "FBA inventory read");
    Ok(())
}

async fn announce_inventory(
    deps: &SyncDeps,
    connection: &Connection,
    read_at: DateTime<Utc>,
    changed: &[Sku],
) -> Result<(), sellerbridge_core::queue::QueueError> {
    if connection.options.outbound_webhook_url.is_none() {
        return Ok(());
    }
    for (part, skus) in changed.chunks(SKUS_PER_EVENT).enumerate() {
        let message = UpdateMessage::DeliverInventoryEvent {
            connection_id: connection.id.clone(),
            read_at,
            part: part as u32,
            skus: skus.to_vec(),
        };
        deps.adapters.outbound.send(&message, Duration::ZERO).await?;
    }
    Ok(())
}
