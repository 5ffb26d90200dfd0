//! Order fulfillment feeds, run by each sync of a connection: the packages the update sender moved to
//! the connection's feed backlog are packed into `POST_ORDER_FULFILLMENT_DATA` feeds, sent, and
//! settled from Amazon's processing reports.
//!
//! Every step is written before the next one starts, so a run that dies anywhere resumes where it
//! stopped: a record lists its packages before any of them is marked; packages are marked before the
//! document is built; the record says "submitting" before createFeed is sent, and a submission whose
//! answer was lost is found again among the seller's feeds instead of being sent twice. A feed that
//! cannot settle its packages (Amazon keeps refusing it, its report cannot be trusted or read, it
//! never finishes) hands them back to the call path, asking Amazon first wherever it may hold them.
use sellerbridge_core::domain::connection::Connection;
use sellerbridge_core::domain::feed::{
    FeedEntry, FeedRecord, FeedStage, MAX_FEED_MESSAGES, MessageOutcome, ProcessingReport, XML_CONTENT_TYPE,
    order_fulfillment_document,
};
use sellerbridge_core::domain::ids::{AmazonOrderId, PackageId};
use sellerbridge_core::domain::shipment::{Package, PackageState, record_confirmed, release_package};
use sellerbridge_core::queue::{UpdateMessage, UpdateQueue};
use sellerbridge_core::spapi::models::{Feed, FeedStatus};
use sellerbridge_core::spapi::{SellerAuth, SpApiError};
use sellerbridge_core::store::{DynamoStore, FeedEnd, SettledFeed, StoreError, Versioned};
use serde::Serialize;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::{SyncDeps, SyncError};

/// How many packages are read or written at once while packing and settling.
const CONCURRENCY: usize = 16;
/// What one feed's record may spend on its entries: the record stays within a table item's 400 KB.
const RECORD_BUDGET_BYTES: usize = 300_000;
/// Writes of one package tried before the run gives up on it (it goes on next run).
const MAX_SETTLE_TRIES: usize = 3;
/// Feeds one run packs at most: createFeed's burst is 15, and its bucket refills one every two minutes.
const MAX_FEEDS_PER_RUN: usize = 10;
/// createFeed refusals (the feed surely not created) after which the packages go by call instead.
const MAX_REFUSALS: u32 = 5;
/// How long after a createFeed whose answer was lost the seller's feeds are searched for it.
const LOST_SUBMISSION_WINDOW: chrono::Duration = chrono::Duration::minutes(2);
/// Allowance for Amazon's clock and listing lag at both ends of that window.
const LISTING_SLACK: chrono::Duration = chrono::Duration::seconds(30);
/// A feed Amazon has not finished by then never will: its packages are reconciled by call.
const MAX_PROCESSING: chrono::Duration = chrono::Duration::hours(24);

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
    /// Packages handed back to the call path.
    pub handed_back: u32,
    /// Feeds of the connection not settled yet after the run.
    pub open: u32,
    /// Why a feed stopped short this run (it goes on from there next run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Moves every open feed of the connection on, then packs the backlog into new feeds when the last
/// one was packed long enough ago. One feed's trouble never holds up the others.
pub async fn run(deps: &SyncDeps, connection: &Connection, auth: &SellerAuth, stop_at: Instant) -> FeedActivity {
    let mut activity = FeedActivity::default();
    if let Err(e) = run_steps(deps, connection, auth, stop_at, &mut activity).await {
        activity.problem.get_or_insert(e.to_string());
    }
    if let Ok(open) = deps.adapters.store.open_feeds(&connection.id).await {
        activity.open = open.len() as u32;
    }
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
        let record_id = feed.value.id.clone();
        if let Err(e) = advance(deps, connection, auth, feed, stop_at, activity).await {
            warn!(feed = record_id, error = %e, "a feed stopped short; it goes on next run");
            activity.problem.get_or_insert(format!("feed {record_id}: {e}"));
        }
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

/// Takes one step after another until the feed waits for Amazon, is closed, or time is up.
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
            FeedStage::Packed => submit(deps, connection, auth, feed, activity).await?,
            FeedStage::Submitting { since } => find_lost_submission(deps, connection, auth, feed, since).await?,
            FeedStage::Submitted { feed_id, adopted, .. } => {
                let too_old = too_old(deps, &feed.value);
                let hours = MAX_PROCESSING.num_hours();
                match deps.spapi.get_feed(auth, &feed_id).await {
                    Err(e) if too_old => {
                        let reason = format!("feed {feed_id} cannot be read any more ({e})");
                        Some(hand_back(deps, feed, reason, true).await?)
                    }
                    Err(e) => return Err(e.into()),
                    Ok(amazon) if !amazon.processing_status.is_final() && !too_old => None,
                    Ok(amazon) if !amazon.processing_status.is_final() => {
                        let reason = format!("Amazon had not finished feed {feed_id} after {hours} hours");
                        Some(hand_back(deps, feed, reason, true).await?)
                    }
                    Ok(_) if adopted => {
                        let reason = format!("feed {feed_id} was found after its answer was lost and may not be ours");
                        Some(hand_back(deps, feed, reason, true).await?)
                    }
                    Ok(amazon) => settle(deps, connection, auth, feed, &amazon, stop_at, activity).await?,
                }
            }
            FeedStage::HandingBack { reason, reconcile } => {
                return_to_call_path(deps, feed, reason, reconcile, stop_at, activity).await?;
                None
            }
        };
        match next {
            Some(moved_on) => feed = moved_on,
            None => return Ok(()),
        }
    }
}

/// Whether Amazon has had the feed longer than any feed takes: errors reading it, and an unfinished
/// feed, are then given up on (its packages checked with Amazon one by one).
fn too_old(deps: &SyncDeps, record: &FeedRecord) -> bool {
    match record.stage {
        FeedStage::Submitted { at, .. } => deps.adapters.clock.now() - at > MAX_PROCESSING,
        _ => false,
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
        kept.push(record.holds(entry, &package.value));
        if matches!(package.value.state, PackageState::AwaitingFeed { .. }) {
            to_mark.push((index, package, entry.message_id));
        }
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
        store.close_feed(&record, version, &summary(&record, None, FeedEnd::NotSent, None, (0, 0), now)).await?;
        return Ok(None);
    }
    record.stage = FeedStage::Packed;
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
    let uploaded = async {
        let upload = deps.spapi.create_feed_document(auth, XML_CONTENT_TYPE).await?;
        deps.spapi.upload_feed_document(&upload, XML_CONTENT_TYPE, document.into_bytes()).await?;
        Ok::<_, SpApiError>(upload)
    }
    .await;
    let upload = match uploaded {
        Ok(upload) => upload,
        Err(e) => return count_refusal(deps, Versioned { value: record, version }, e).await,
    };

    let now = deps.adapters.clock.now();
    record.stage = FeedStage::Submitting { since: now };
    record.may_be_at_amazon = true;
    let version = store.save_feed(&record, version).await?;
    let created =
        deps.spapi.create_feed(auth, &record.feed_type, &connection.marketplace_id, &upload.feed_document_id).await;
    match created {
        Ok(feed_id) => {
            if !store.claim_amazon_feed(&connection.seller_id, &feed_id, &record.id, now).await? {
                // Another record took it for its own lost one: which packages Amazon holds is unclear.
                let reason = format!("feed {feed_id} was taken by another record as its own");
                return Ok(Some(hand_back(deps, Versioned { value: record, version }, reason, true).await?));
            }
            info!(feed = record.id, feed_id, packages = record.entries.len(), "feed sent to Amazon");
            activity.submitted += 1;
            record.stage = FeedStage::Submitted { feed_id, at: now, adopted: false };
            let version = store.save_feed(&record, version).await?;
            Ok(Some(Versioned { value: record, version }))
        }
        Err(e) if never_created(&e) => {
            record.stage = FeedStage::Packed;
            let version = store.save_feed(&record, version).await?;
            count_refusal(deps, Versioned { value: record, version }, e).await
        }
        // Amazon may have created it: the next run looks for it before sending anything again.
        Err(e) => Err(e.into()),
    }
}

/// Amazon refused a step of sending the feed, surely creating nothing: a refusal that passes (quota,
/// a transient failure) is tried again next run; after a few the packages go by call instead.
async fn count_refusal(
    deps: &SyncDeps,
    feed: Versioned<FeedRecord>,
    error: SpApiError,
) -> Result<Option<Versioned<FeedRecord>>, SyncError> {
    let Versioned { value: mut record, version } = feed;
    if !matches!(error, SpApiError::Rejected { .. }) {
        return Err(error.into());
    }
    record.refusals += 1;
    if record.refusals < MAX_REFUSALS {
        deps.adapters.store.save_feed(&record, version).await?;
        return Err(error.into());
    }
    let reason = format!("Amazon refused the feed {} times, last: {error}", record.refusals);
    let reconcile = record.may_be_at_amazon;
    let version = deps.adapters.store.save_feed(&record, version).await?;
    Ok(Some(hand_back(deps, Versioned { value: record, version }, reason, reconcile).await?))
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

/// A createFeed was sent and its answer lost. A feed of this type and marketplace created in the
/// moments after, that no record of the seller holds, is taken as this record's; whether it really is
/// shows when its report is read ([`settle`] checks the report covers every message, and reconciles
/// the packages by call otherwise). None once the window has passed means none was created, and the
/// record is sent again.
async fn find_lost_submission(
    deps: &SyncDeps,
    connection: &Connection,
    auth: &SellerAuth,
    feed: Versioned<FeedRecord>,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Versioned<FeedRecord>>, SyncError> {
    let store = &deps.adapters.store;
    let Versioned { value: mut record, version } = feed;
    let until = since + LOST_SUBMISSION_WINDOW;
    let marketplace = &connection.marketplace_id;
    let mut candidates: Vec<Feed> = deps
        .spapi
        .get_feeds(auth, &record.feed_type, marketplace, since - LISTING_SLACK, until + LISTING_SLACK)
        .await?
        .into_iter()
        .filter(|f| f.marketplace_ids.is_empty() || f.marketplace_ids.iter().any(|m| m == marketplace.as_str()))
        .collect();
    candidates.sort_by_key(|f| f.created_time);
    let now = deps.adapters.clock.now();
    for candidate in candidates {
        if store.claim_amazon_feed(&connection.seller_id, &candidate.feed_id, &record.id, now).await? {
            info!(feed = record.id, feed_id = candidate.feed_id, "found the feed whose creation was not recorded");
            let (feed_id, at) = (candidate.feed_id, candidate.created_time);
            record.stage = FeedStage::Submitted { feed_id, at, adopted: true };
            let version = store.save_feed(&record, version).await?;
            return Ok(Some(Versioned { value: record, version }));
        }
    }
    if now <= until + LISTING_SLACK {
        return Ok(None);
    }
    info!(feed = record.id, "the lost submission created no feed; sending it again");
    record.stage = FeedStage::Packed;
    let version = store.save_feed(&record, version).await?;
    Ok(Some(Versioned { value: record, version }))
}

/// Settles every package of a feed Amazon is done with from its report, then replaces the record by
/// its summary. A report that does not settle the feed (it cannot be read, or covers fewer messages
/// than were sent) hands the packages back to be reconciled by call.
async fn settle(
    deps: &SyncDeps,
    connection: &Connection,
    auth: &SellerAuth,
    feed: Versioned<FeedRecord>,
    amazon: &Feed,
    stop_at: Instant,
    activity: &mut FeedActivity,
) -> Result<Option<Versioned<FeedRecord>>, SyncError> {
    let store = &deps.adapters.store;
    let feed_id = amazon.feed_id.as_str();
    let too_old = too_old(deps, &feed.value);
    let messages = feed.value.entries.len();
    let report = match (&amazon.result_feed_document_id, amazon.processing_status) {
        (_, FeedStatus::Cancelled) => return back_to_backlog(deps, connection, feed, amazon, stop_at).await,
        (None, status) => {
            let reason = format!("feed {feed_id} ended {} without a processing report", status.as_str());
            return Ok(Some(hand_back(deps, feed, reason, true).await?));
        }
        (Some(document), _) => {
            let bytes = match deps.spapi.download_feed_document(auth, document).await {
                Ok(bytes) => bytes,
                Err(e) if too_old => {
                    let reason = format!("the report of feed {feed_id} cannot be fetched any more ({e})");
                    return Ok(Some(hand_back(deps, feed, reason, true).await?));
                }
                Err(e) => return Err(e.into()),
            };
            match ProcessingReport::parse(&bytes) {
                Ok(report) if report.settles(messages) => report,
                Ok(report) => {
                    let reason = format!(
                        "the report of feed {feed_id} covers {} of its {messages} messages",
                        report.messages_processed
                    );
                    return Ok(Some(hand_back(deps, feed, reason, true).await?));
                }
                Err(e) => {
                    let reason = format!("the report of feed {feed_id} cannot be read ({e})");
                    return Ok(Some(hand_back(deps, feed, reason, true).await?));
                }
            }
        }
    };
    let Versioned { value: record, version } = feed;
    let now = deps.adapters.clock.now();
    let packages = read_entries(deps, &record).await?;
    for (entry, package) in record.entries.iter().zip(packages) {
        if Instant::now() >= stop_at {
            return Ok(None);
        }
        let Some(package) = package else { continue };
        let settled = match report.outcome(entry.message_id) {
            MessageOutcome::Accepted { warnings } => {
                let mut accepted = package.value.clone().into_confirmed(now);
                accepted.warnings.extend(warnings.into_iter().map(|w| format!("Amazon's feed report: {w}")));
                activity.confirmed += 1;
                accepted
            }
            MessageOutcome::Rejected { reason } => {
                activity.failed += 1;
                let reason = format!("Amazon rejected the shipment confirmation in feed {feed_id}: {reason}");
                package.value.clone().into_ended(PackageState::Failed { reason, at: now })
            }
        };
        let refused = matches!(settled.state, PackageState::Failed { .. });
        if let Some(written) = settle_package(store, &record, entry, &settled, package.version).await?
            && refused
        {
            store.release_tracking_claim(&connection.id, &written).await;
        }
    }
    // Counted from the report, so a settlement resumed after a crash sums up the whole feed.
    let failed = record
        .entries
        .iter()
        .filter(|e| matches!(report.outcome(e.message_id), MessageOutcome::Rejected { .. }))
        .count();
    let counts = ((messages - failed) as u32, failed as u32);
    let end = if amazon.processing_status == FeedStatus::Fatal { FeedEnd::Fatal } else { FeedEnd::Done };
    store.close_feed(&record, version, &summary(&record, Some(feed_id.to_owned()), end, None, counts, now)).await?;
    info!(
        feed = record.id,
        feed_id,
        confirmed = counts.0,
        failed = counts.1,
        "feed settled from its processing report"
    );
    Ok(None)
}

/// Amazon cancelled the feed before processing it: its packages wait for the next one.
async fn back_to_backlog(
    deps: &SyncDeps,
    connection: &Connection,
    feed: Versioned<FeedRecord>,
    amazon: &Feed,
    stop_at: Instant,
) -> Result<Option<Versioned<FeedRecord>>, SyncError> {
    let store = &deps.adapters.store;
    let Versioned { value: record, version } = feed;
    let now = deps.adapters.clock.now();
    let to_backlog = |package: Versioned<Package>| async move {
        Ok(store.divert_to_feed(&connection.id, &package.value, package.version, now).await?.is_some())
    };
    if !move_each_package(deps, &record, stop_at, to_backlog).await? {
        return Ok(None);
    }
    let summary = summary(&record, Some(amazon.feed_id.clone()), FeedEnd::Cancelled, None, (0, 0), now);
    store.close_feed(&record, version, &summary).await?;
    info!(feed = record.id, feed_id = amazon.feed_id, "Amazon cancelled the feed; its packages wait for the next one");
    Ok(None)
}

/// Records that the feed gives its packages back to the call path, and why.
async fn hand_back(
    deps: &SyncDeps,
    feed: Versioned<FeedRecord>,
    reason: String,
    reconcile: bool,
) -> Result<Versioned<FeedRecord>, SyncError> {
    let Versioned { value: mut record, version } = feed;
    warn!(feed = record.id, reason, reconcile, "the feed hands its packages back to the call path");
    record.stage = FeedStage::HandingBack { reason, reconcile };
    let version = deps.adapters.store.save_feed(&record, version).await?;
    Ok(Versioned { value: record, version })
}

/// Puts each package still in the feed back on the call path, each with a message on the updates
/// queue, then closes the record. A resumed run sends a message again for every package it finds
/// handed back and still queued (a duplicate message is harmless, a missing one is not).
async fn return_to_call_path(
    deps: &SyncDeps,
    feed: Versioned<FeedRecord>,
    reason: String,
    reconcile: bool,
    stop_at: Instant,
    activity: &mut FeedActivity,
) -> Result<(), SyncError> {
    let store = &deps.adapters.store;
    let Versioned { value: record, version } = feed;
    let handed_back = std::sync::atomic::AtomicU32::new(0);
    let to_call_path = |package: Versioned<Package>| {
        let handed_back = &handed_back;
        async move {
            let saved = store.save_package(&package.value.clone().handed_back(reconcile), package.version).await;
            match saved {
                Ok(_) => {
                    handed_back.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    Ok(true)
                }
                Err(StoreError::Conflict { .. }) => Ok(false),
                Err(e) => Err(e),
            }
        }
    };
    let done = move_each_package(deps, &record, stop_at, to_call_path).await?;
    activity.handed_back += handed_back.into_inner();
    if !done {
        return Ok(());
    }
    let packages = read_packages(store, record.entries.iter().map(|e| (&e.order_id, &e.package_id))).await?;
    for package in packages.into_iter().flatten().filter(|p| p.value.by_call_only && p.value.is_sendable_by_call()) {
        let message =
            UpdateMessage::ConfirmShipment { order_id: package.value.order_id, package_id: package.value.package_id };
        deps.adapters.queue.send(&message, std::time::Duration::ZERO).await.map_err(SyncError::Queue)?;
    }
    let now = deps.adapters.clock.now();
    store.close_feed(&record, version, &summary(&record, None, FeedEnd::HandedBack, Some(reason), (0, 0), now)).await?;
    Ok(())
}

/// Writes a package's outcome with its effect on the order, keeping what changed meanwhile (a
/// delivery time) while the package is still in this feed as this entry: the package as written, or
/// `None` when it no longer was.
async fn settle_package(
    store: &DynamoStore,
    record: &FeedRecord,
    entry: &FeedEntry,
    settled: &Package,
    version: u64,
) -> Result<Option<Package>, SyncError> {
    let effect =
        if matches!(settled.state, PackageState::Confirmed { .. }) { record_confirmed } else { release_package };
    let written = store.settle_package_merging(settled, version, |stored| record.holds(entry, stored), effect).await?;
    Ok(written.map(|_| settled.clone()))
}

/// Moves each package still in the feed on with `change` (retrying a package written meanwhile), until
/// time is up; `false` then. A package the feed cannot let go of is an error, so the record stays.
async fn move_each_package<F, Fut>(
    deps: &SyncDeps,
    record: &FeedRecord,
    stop_at: Instant,
    change: F,
) -> Result<bool, SyncError>
where
    F: Fn(Versioned<Package>) -> Fut,
    Fut: std::future::Future<Output = Result<bool, StoreError>>,
{
    let store = &deps.adapters.store;
    for entry in &record.entries {
        if Instant::now() >= stop_at {
            return Ok(false);
        }
        let mut let_go = false;
        for _ in 0..MAX_SETTLE_TRIES {
            let package = store.get_package(&entry.order_id, &entry.package_id).await?;
            let_go = match package {
                Some(package) if record.holds(entry, &package.value) => change(package).await?,
                // Gone, or no longer this feed's.
                _ => true,
            };
            if let_go {
                break;
            }
        }
        if !let_go {
            let key = format!("package {} of order {}", entry.package_id, entry.order_id);
            return Err(StoreError::Conflict { key }.into());
        }
    }
    Ok(true)
}

/// Each entry's package, if it is still in this feed as that entry.
async fn read_entries(deps: &SyncDeps, record: &FeedRecord) -> Result<Vec<Option<Versioned<Package>>>, SyncError> {
    let store = &deps.adapters.store;
    let read = read_packages(store, record.entries.iter().map(|e| (&e.order_id, &e.package_id))).await?;
    Ok(record
        .entries
        .iter()
        .zip(read)
        .map(|(entry, package)| package.filter(|p| record.holds(entry, &p.value)))
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
    ended: FeedEnd,
    reason: Option<String>,
    (confirmed, failed): (u32, u32),
    now: chrono::DateTime<chrono::Utc>,
) -> SettledFeed {
    SettledFeed {
        record_id: record.id.clone(),
        connection_id: record.connection_id.clone(),
        feed_id,
        ended,
        reason,
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
