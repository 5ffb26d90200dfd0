//! Order fulfillment feeds, run by each sync of a connection: the packages the update sender moved to
//! the connection's feed backlog are packed into one `POST_ORDER_FULFILLMENT_DATA` feed, sent, and
//! settled from Amazon's processing report.
//!
//! Every step is written before the next one starts, so a run that dies anywhere resumes where it
//! stopped: a record lists its packages before any of them is marked; packages are marked before the
//! document is built; the record says "submitting" before createFeed is sent, and a submission whose
//! answer was lost is found again among the seller's feeds instead of being sent twice.
use sellerbridge_core::domain::connection::Connection;
use sellerbridge_core::domain::feed::{
    FeedRecord, FeedStage, MAX_FEED_MESSAGES, MessageOutcome, ProcessingReport, XML_CONTENT_TYPE,
    order_fulfillment_document,
};
use sellerbridge_core::domain::ids::{AmazonOrderId, PackageId};
use sellerbridge_core::domain::shipment::{Package, PackageState, record_confirmed, release_package};
use sellerbridge_core::spapi::models::{Feed, FeedStatus};
use sellerbridge_core::spapi::{SellerAuth, SpApiError};
use sellerbridge_core::store::{DynamoStore, SettledFeed, StoreError, Versioned};
use serde::Serialize;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::{SyncDeps, SyncError};

/// How many packages are read or written at once while packing and settling.
const CONCURRENCY: usize = 16;
/// What one feed's record may spend on its entries: the record stays within a table item's 400 KB.
const RECORD_BUDGET_BYTES: usize = 300_000;
const MAX_SETTLE_TRIES: usize = 3;
/// Feeds one run packs at most: createFeed's burst is 15, and its bucket refills one every two minutes.
const MAX_FEEDS_PER_RUN: usize = 10;

/// What the feeds of a connection did in one sync run.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct FeedActivity {
    /// Packages packed into a new feed.
    pub packed: u32,
    /// Feeds sent to Amazon (createFeed).
    pub submitted: u32,
    /// Packages settled from processing reports.
    pub confirmed: u32,
    pub failed: u32,
    /// Feeds of the connection not settled yet after the run.
    pub open: u32,
    /// Why the feeds stopped short this run (they go on from there next run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Moves every open feed of the connection on, then packs the backlog into new feeds when the last
/// one was packed long enough ago.
pub async fn run(deps: &SyncDeps, connection: &Connection, auth: &SellerAuth, stop_at: Instant) -> FeedActivity {
    let mut activity = FeedActivity::default();
    if let Err(e) = run_steps(deps, connection, auth, stop_at, &mut activity).await {
        warn!(error = %e, "order fulfillment feeds stopped for this run");
        activity.problem = Some(e.to_string());
    }
    activity.open = match deps.adapters.store.open_feeds(&connection.id).await {
        Ok(open) => open.len() as u32,
        Err(_) => activity.open,
    };
    activity
}

async fn run_steps(
    deps: &SyncDeps,
    connection: &Connection,
    auth: &SellerAuth,
    stop_at: Instant,
    activity: &mut FeedActivity,
) -> Result<(), SyncError> {
    let store = &deps.adapters.store;
    let open = store.open_feeds(&connection.id).await?;
    let newest_open = open.last().map(|feed| feed.value.created_at);
    for feed in open {
        advance(deps, connection, auth, feed, stop_at, activity).await?;
    }
    let newest_settled = store.latest_settled_feed(&connection.id).await?.map(|feed| feed.created_at);
    let now = deps.adapters.clock.now();
    if newest_open.max(newest_settled).is_some_and(|last| now - last < deps.settings.feed_interval) {
        return Ok(());
    }
    // The whole backlog at once, a feed per `MAX_FEED_MESSAGES`, within createFeed's burst.
    for _ in 0..MAX_FEEDS_PER_RUN {
        if Instant::now() >= stop_at {
            break;
        }
        let Some(feed) = pack(deps, connection, activity).await? else { break };
        advance(deps, connection, auth, feed, stop_at, activity).await?;
    }
    Ok(())
}

/// Takes one step after another until the feed waits for Amazon, is settled, or time is up.
async fn advance(
    deps: &SyncDeps,
    connection: &Connection,
    auth: &SellerAuth,
    mut feed: Versioned<FeedRecord>,
    stop_at: Instant,
    activity: &mut FeedActivity,
) -> Result<(), SyncError> {
    loop {
        if Instant::now() >= stop_at {
            return Ok(());
        }
        let next = match feed.value.stage.clone() {
            FeedStage::Packing => mark_entries(deps, connection, feed).await?,
            FeedStage::Packed { submitting_since: None } => submit(deps, connection, auth, feed, activity).await?,
            FeedStage::Packed { submitting_since: Some(since) } => {
                find_lost_submission(deps, auth, feed, since).await?
            }
            FeedStage::Submitted { feed_id, .. } => {
                let amazon = deps.spapi.get_feed(auth, &feed_id).await?;
                if !amazon.processing_status.is_final() {
                    return Ok(());
                }
                settle(deps, auth, feed, &amazon, stop_at, activity).await?;
                return Ok(());
            }
        };
        match next {
            Some(moved_on) => feed = moved_on,
            None => return Ok(()),
        }
    }
}

/// A new record for the connection's backlog (oldest first, as much as one feed takes).
async fn pack(
    deps: &SyncDeps,
    connection: &Connection,
    activity: &mut FeedActivity,
) -> Result<Option<Versioned<FeedRecord>>, SyncError> {
    let store = &deps.adapters.store;
    let backlog = store.feed_backlog(&connection.id, Some(MAX_FEED_MESSAGES)).await?;
    if backlog.is_empty() {
        return Ok(None);
    }
    let read = read_packages(store, backlog.iter().map(|entry| (&entry.order_id, &entry.package_id))).await?;
    let mut packages = Vec::new();
    let mut budget = RECORD_BUDGET_BYTES;
    for (entry, package) in backlog.iter().zip(read) {
        match package {
            Some(package) if matches!(package.value.state, PackageState::AwaitingFeed { .. }) => {
                let size = entry.order_id.as_str().len() + entry.package_id.as_str().len() + 60;
                if size > budget {
                    break;
                }
                budget -= size;
                packages.push(package.value);
            }
            // Settled or sent some other way meanwhile: nothing left to pack.
            _ => store.drop_from_feed_backlog(&connection.id, entry).await?,
        }
    }
    if packages.is_empty() {
        return Ok(None);
    }
    let now = deps.adapters.clock.now();
    let record = FeedRecord::packing(connection.id.clone(), &packages.iter().collect::<Vec<_>>(), now);
    let version = store.save_feed(&record, 0).await?;
    activity.packed += record.entries.len() as u32;
    info!(feed = record.id, packages = record.entries.len(), "packed the feed backlog into a feed");
    Ok(Some(Versioned { value: record, version }))
}

/// Marks each listed package as in this feed; those that are not waiting for a feed any more drop out.
async fn mark_entries(
    deps: &SyncDeps,
    connection: &Connection,
    feed: Versioned<FeedRecord>,
) -> Result<Option<Versioned<FeedRecord>>, SyncError> {
    let store = &deps.adapters.store;
    let Versioned { value: mut record, version } = feed;
    let now = deps.adapters.clock.now();
    let read = read_packages(store, record.entries.iter().map(|e| (&e.order_id, &e.package_id))).await?;
    let mut kept = Vec::with_capacity(record.entries.len());
    let mut to_mark = Vec::new();
    for (index, (entry, package)) in record.entries.iter().zip(&read).enumerate() {
        let Some(package) = package else {
            kept.push(false);
            continue;
        };
        kept.push(match &package.value.state {
            PackageState::InFeed { feed, message_id, .. } => *feed == record.id && *message_id == entry.message_id,
            PackageState::AwaitingFeed { .. } => {
                to_mark.push((index, package, entry.message_id));
                false
            }
            _ => false,
        });
    }
    for chunk in to_mark.chunks(CONCURRENCY) {
        let marks = chunk.iter().map(|(_, package, message_id)| {
            store.mark_in_feed(&connection.id, &package.value, package.version, &record.id, *message_id, now)
        });
        for ((index, ..), marked) in chunk.iter().zip(futures::future::join_all(marks).await) {
            kept[*index] = marked?;
        }
    }
    let mut kept = kept.into_iter();
    record.entries.retain(|_| kept.next().unwrap_or(false));
    if record.entries.is_empty() {
        let summary = summary(&record, None, "NOT_SENT", 0, 0, now);
        store.close_feed(&record, version, &summary).await?;
        return Ok(None);
    }
    record.stage = FeedStage::Packed { submitting_since: None };
    let version = store.save_feed(&record, version).await?;
    Ok(Some(Versioned { value: record, version }))
}

/// Builds and uploads the document, then creates the feed, saying so in the record first.
async fn submit(
    deps: &SyncDeps,
    connection: &Connection,
    auth: &SellerAuth,
    feed: Versioned<FeedRecord>,
    activity: &mut FeedActivity,
) -> Result<Option<Versioned<FeedRecord>>, SyncError> {
    let store = &deps.adapters.store;
    let Versioned { value: mut record, version } = feed;
    let packages = read_entries(deps, &record).await?;
    let messages: Vec<(u32, &Package)> = record
        .entries
        .iter()
        .zip(&packages)
        .filter_map(|(entry, package)| package.as_ref().map(|p| (entry.message_id, &p.value)))
        .collect();
    let document = order_fulfillment_document(&connection.seller_id, &messages);
    let upload = deps.spapi.create_feed_document(auth, XML_CONTENT_TYPE).await?;
    deps.spapi.upload_feed_document(&upload, XML_CONTENT_TYPE, document.into_bytes()).await?;

    let now = deps.adapters.clock.now();
    record.stage = FeedStage::Packed { submitting_since: Some(now) };
    let version = store.save_feed(&record, version).await?;
    let created =
        deps.spapi.create_feed(auth, &record.feed_type, &connection.marketplace_id, &upload.feed_document_id).await;
    match created {
        Ok(feed_id) => {
            info!(feed = record.id, feed_id, packages = record.entries.len(), "feed sent to Amazon");
            activity.submitted += 1;
            record.stage = FeedStage::Submitted { feed_id, at: now };
            let version = store.save_feed(&record, version).await?;
            Ok(Some(Versioned { value: record, version }))
        }
        Err(e) if never_created(&e) => {
            // Nothing reached Amazon's feeds: the next run submits again (with a new document).
            record.stage = FeedStage::Packed { submitting_since: None };
            store.save_feed(&record, version).await?;
            Err(e.into())
        }
        // Amazon may have created it: the next run looks for it before sending anything again.
        Err(e) => Err(e.into()),
    }
}

/// Errors after which createFeed surely created nothing.
fn never_created(error: &SpApiError) -> bool {
    matches!(
        error,
        SpApiError::Throttled { .. }
            | SpApiError::Paused { .. }
            | SpApiError::Rejected { .. }
            | SpApiError::NeedsReauthorization(_)
            | SpApiError::InvalidClient(_)
    )
}

/// How long after a createFeed whose answer was lost the seller's feeds are searched for it, and how
/// long until one not found counts as never created.
const LOST_SUBMISSION_WINDOW: chrono::Duration = chrono::Duration::minutes(2);

/// A createFeed was sent and its answer lost: a feed of this type created in the moments after is
/// taken as this record's, unless another record knows it; none after two minutes means none was
/// created, and the record is submitted again.
async fn find_lost_submission(
    deps: &SyncDeps,
    auth: &SellerAuth,
    feed: Versioned<FeedRecord>,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Versioned<FeedRecord>>, SyncError> {
    let store = &deps.adapters.store;
    let Versioned { value: mut record, version } = feed;
    let until = since + LOST_SUBMISSION_WINDOW;
    let slack = chrono::Duration::seconds(5);
    let amazon = deps.spapi.get_feeds(auth, &record.feed_type, since - slack, until).await?;
    let mut known: Vec<String> = store
        .open_feeds(&record.connection_id)
        .await?
        .into_iter()
        .filter_map(|f| f.value.feed_id().map(str::to_owned))
        .collect();
    known.extend(store.settled_feeds(&record.connection_id).await?.into_iter().filter_map(|f| f.feed_id));
    let mut unknown: Vec<&Feed> = amazon.iter().filter(|f| !known.contains(&f.feed_id)).collect();
    unknown.sort_by_key(|f| f.created_time);
    let now = deps.adapters.clock.now();
    if let Some(found) = unknown.first() {
        info!(feed = record.id, feed_id = found.feed_id, "found the feed whose creation was not recorded");
        record.stage = FeedStage::Submitted { feed_id: found.feed_id.clone(), at: found.created_time };
    } else if now > until {
        info!(feed = record.id, "the lost submission created no feed; submitting again");
        record.stage = FeedStage::Packed { submitting_since: None };
    } else {
        return Ok(None);
    }
    let version = store.save_feed(&record, version).await?;
    Ok(Some(Versioned { value: record, version }))
}

/// Settles every package of a feed Amazon is done with, then replaces the record by its summary.
async fn settle(
    deps: &SyncDeps,
    auth: &SellerAuth,
    feed: Versioned<FeedRecord>,
    amazon: &Feed,
    stop_at: Instant,
    activity: &mut FeedActivity,
) -> Result<(), SyncError> {
    let store = &deps.adapters.store;
    let Versioned { value: record, version } = feed;
    let feed_id = amazon.feed_id.as_str();
    let report = match (&amazon.result_feed_document_id, amazon.processing_status) {
        (_, FeedStatus::Cancelled) => None,
        (Some(document), _) => {
            let bytes = deps.spapi.download_feed_document(auth, document).await?;
            let report = ProcessingReport::parse(&bytes)
                .map_err(|e| SyncError::Report { feed_id: feed_id.to_owned(), message: e.to_string() })?;
            Some(report)
        }
        (None, _) => None,
    };
    let now = deps.adapters.clock.now();
    let outcome = |message_id: u32| -> Option<MessageOutcome> {
        match (&report, amazon.processing_status) {
            (Some(report), _) => Some(report.outcome(message_id)),
            // Amazon processed nothing: the packages wait for the next feed.
            (None, FeedStatus::Cancelled) => None,
            (None, status) => Some(MessageOutcome::Rejected {
                reason: format!("Feed rejected: feed {feed_id} ended {} without a processing report", status.as_str()),
            }),
        }
    };
    let packages = read_entries(deps, &record).await?;
    let (mut confirmed, mut failed) = (0, 0);
    for (entry, package) in record.entries.iter().zip(packages) {
        if Instant::now() >= stop_at {
            return Ok(());
        }
        let Some(package) = package else { continue };
        let settled = match outcome(entry.message_id) {
            None => {
                store.divert_to_feed(&record.connection_id, &package.value, package.version, now).await?;
                continue;
            }
            Some(MessageOutcome::Accepted { warnings }) => {
                let mut accepted = package.value.clone().into_confirmed(now);
                accepted.warnings.extend(warnings.into_iter().map(|w| format!("Amazon's feed report: {w}")));
                confirmed += 1;
                accepted
            }
            Some(MessageOutcome::Rejected { reason }) => {
                failed += 1;
                let reason = format!("Amazon rejected the shipment confirmation in feed {feed_id}: {reason}");
                package.value.clone().into_ended(PackageState::Failed { reason, at: now })
            }
        };
        settle_package(deps, settled, package.version).await?;
    }
    activity.confirmed += confirmed;
    activity.failed += failed;
    let status = amazon.processing_status.as_str();
    let summary = summary(&record, Some(feed_id.to_owned()), status, confirmed, failed, now);
    store.close_feed(&record, version, &summary).await?;
    info!(feed = record.id, feed_id, confirmed, failed, "feed settled from its processing report");
    Ok(())
}

/// Writes a package's outcome with its effect on the order; a package changed meanwhile (a delivery
/// time) is settled at its new version.
async fn settle_package(deps: &SyncDeps, mut settled: Package, mut version: u64) -> Result<(), SyncError> {
    let store = &deps.adapters.store;
    for _ in 0..MAX_SETTLE_TRIES {
        let effect =
            if matches!(settled.state, PackageState::Confirmed { .. }) { record_confirmed } else { release_package };
        let written = store
            .settle_package(&settled, version, |order| {
                effect(order, &settled);
                Ok::<(), std::convert::Infallible>(())
            })
            .await;
        match written {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let Some(stored) = store.get_package(&settled.order_id, &settled.package_id).await? else { return Ok(()) };
        if !matches!(stored.value.state, PackageState::InFeed { .. }) {
            return Ok(());
        }
        // Keep what changed meanwhile (a delivery time), with this outcome.
        let (state, warnings, released) = (settled.state, settled.warnings, settled.units_released);
        settled = stored.value;
        settled.state = state;
        settled.warnings = warnings;
        settled.units_released = released;
        version = stored.version;
    }
    Err(StoreError::Conflict { key: format!("package {} of order {}", settled.package_id, settled.order_id) }.into())
}

/// Each entry's package, if it is still in this feed as that entry.
async fn read_entries(deps: &SyncDeps, record: &FeedRecord) -> Result<Vec<Option<Versioned<Package>>>, SyncError> {
    let store = &deps.adapters.store;
    let read = read_packages(store, record.entries.iter().map(|e| (&e.order_id, &e.package_id))).await?;
    Ok(record
        .entries
        .iter()
        .zip(read)
        .map(|(entry, package)| {
            package.filter(|p| {
                matches!(&p.value.state, PackageState::InFeed { feed, message_id, .. }
                    if *feed == record.id && *message_id == entry.message_id)
            })
        })
        .collect())
}

/// The packages at these keys, `CONCURRENCY` reads at a time.
async fn read_packages<'a>(
    store: &DynamoStore,
    keys: impl Iterator<Item = (&'a AmazonOrderId, &'a PackageId)>,
) -> Result<Vec<Option<Versioned<Package>>>, StoreError> {
    let keys: Vec<_> = keys.collect();
    let mut read = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(CONCURRENCY) {
        let reads = chunk.iter().map(|(order_id, package_id)| store.get_package(order_id, package_id));
        for package in futures::future::join_all(reads).await {
            read.push(package?);
        }
    }
    Ok(read)
}

fn summary(
    record: &FeedRecord,
    feed_id: Option<String>,
    status: &str,
    confirmed: u32,
    failed: u32,
    now: chrono::DateTime<chrono::Utc>,
) -> SettledFeed {
    SettledFeed {
        record_id: record.id.clone(),
        connection_id: record.connection_id.clone(),
        feed_id,
        status: status.to_owned(),
        packages: record.entries.len() as u32,
        confirmed,
        failed,
        created_at: record.created_at,
        settled_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_answers_that_created_nothing_resubmit_at_once() {
        let throttled = SpApiError::Throttled { operation: "createFeed", retry_after: std::time::Duration::ZERO };
        assert!(never_created(&throttled));
        let timeout = SpApiError::Transient { operation: "createFeed", message: "timed out".into() };
        assert!(!never_created(&timeout), "a timeout may have created the feed");
    }
}
