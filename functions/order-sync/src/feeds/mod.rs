//! Order feeds, run by each sync of a connection: what waits in the connection's feed backlogs
//! (packages the update sender moved there, cancellations and refunds the store asked for) is packed
//! into feeds of its type, sent, and settled from Amazon's processing reports.
//!
//! Every step is written before the next one starts, so a run that dies anywhere resumes where it
//! stopped: a record lists its items before any of them is marked; items are marked before the
//! document is built; the record says "submitting" before createFeed is sent, and a submission whose
//! answer was lost is found again among the seller's feeds instead of being sent twice. A feed that
//! cannot settle its items (Amazon keeps refusing it, its report cannot be trusted or read, it never
//! finishes) gives them up: packages go back to the call path, asking Amazon first wherever it may
//! hold them; adjustments end failed, saying why.
use std::future::Future;

use sellerbridge_core::domain::adjustment::{ORDER_ACKNOWLEDGEMENT_FEED, PAYMENT_ADJUSTMENT_FEED};
use sellerbridge_core::domain::connection::Connection;
use sellerbridge_core::domain::feed::{
    FeedEntry, FeedItem, FeedRecord, FeedStage, MAX_FEED_MESSAGES, MessageOutcome, ORDER_FULFILLMENT_FEED,
    ProcessingReport, XML_CONTENT_TYPE,
};
use sellerbridge_core::domain::ids::{AmazonOrderId, SellerId};
use sellerbridge_core::spapi::models::{Feed, FeedStatus};
use sellerbridge_core::spapi::{SellerAuth, SpApiError};
use sellerbridge_core::store::{DynamoStore, FeedEnd, SettledFeed, StoreError, StoredFeedItem, Versioned};
use serde::Serialize;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::{SyncDeps, SyncError};

mod adjustments;
mod packages;

use adjustments::Adjustments;
use packages::Packages;

/// Every feed type the sync packs, in the order it packs them: cancellations and refunds (few, and a
/// cancellation must reach Amazon before the order ships) before a backlog of packages.
const FEED_TYPES: [&str; 3] = [ORDER_ACKNOWLEDGEMENT_FEED, PAYMENT_ADJUSTMENT_FEED, ORDER_FULFILLMENT_FEED];

/// What one kind of order feed carries, and what becomes of it at each step.
pub(crate) trait Cargo {
    type Item: StoredFeedItem + Clone;
    /// What the operator reads for one of them ("package", "adjustment").
    const NAME: &'static str;
    /// Whether a feed of them whose createFeed answer was lost, and that Amazon's listing does not show,
    /// is sent again: safe when a second copy does no harm (a package Amazon holds is not shipped twice),
    /// not for a refund.
    const RESEND_WHEN_LOST: bool;

    /// The item an entry names, as stored.
    fn read(
        store: &DynamoStore,
        order_id: &AmazonOrderId,
        item: &str,
    ) -> impl Future<Output = Result<Option<Versioned<Self::Item>>, StoreError>>;

    /// The item as message `message_id` of feed record `record`.
    fn in_feed(item: &Self::Item, record: &str, message_id: u32, now: chrono::DateTime<chrono::Utc>) -> Self::Item;

    /// The item waiting for a feed again.
    fn awaiting(item: &Self::Item, now: chrono::DateTime<chrono::Utc>) -> Self::Item;

    /// The feed's document (a feed holds one kind of message, which its items' kind says).
    fn document(seller: &SellerId, messages: &[(u32, &Self::Item)]) -> String;

    /// Writes what Amazon's report says of the item, still in the feed as `entry` at `item.version`.
    fn settle(
        deps: &SyncDeps,
        connection: &Connection,
        feed: (&FeedRecord, &str),
        entry: &FeedEntry,
        item: Versioned<Self::Item>,
        outcome: MessageOutcome,
    ) -> impl Future<Output = Result<(), SyncError>>;

    /// Writes the item given up by its feed (`reconcile`: Amazon may hold it): whether it was at
    /// `item.version` (a conflict otherwise, read again and retried).
    fn give_up(
        deps: &SyncDeps,
        item: Versioned<Self::Item>,
        reason: &str,
        reconcile: bool,
    ) -> impl Future<Output = Result<bool, StoreError>>;

    /// What else a feed that gave up its items does once all of them are written.
    fn after_giving_up(deps: &SyncDeps, record: &FeedRecord) -> impl Future<Output = Result<(), SyncError>>;
}

/// How many items are read or written at once while packing and settling.
const CONCURRENCY: usize = 16;
/// What one feed's record may spend on its entries: the record stays within a table item's 400 KB.
const RECORD_BUDGET_BYTES: usize = 300_000;
/// Writes of one item tried before the run gives up on it (it goes on next run).
const MAX_SETTLE_TRIES: usize = 3;
/// Feeds one run packs at most: createFeed's burst is 15, and its bucket refills one every two minutes.
const MAX_FEEDS_PER_RUN: usize = 10;
/// createFeed refusals (the feed surely not created) after which the feed gives its items up.
const MAX_REFUSALS: u32 = 5;
/// How long after a createFeed whose answer was lost the seller's feeds are searched for it.
const LOST_SUBMISSION_WINDOW: chrono::Duration = chrono::Duration::minutes(2);
/// Allowance for Amazon's clock and listing lag at both ends of that window.
const LISTING_SLACK: chrono::Duration = chrono::Duration::seconds(30);
/// A feed Amazon has not finished by then never will: its items are given up.
const MAX_PROCESSING: chrono::Duration = chrono::Duration::hours(24);

/// What the feeds of a connection did in one sync run, counted in messages (packages, cancellations
/// and refunds).
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct FeedActivity {
    /// Messages packed into a new feed.
    pub packed: u32,
    /// Feeds sent to Amazon (createFeed).
    pub submitted: u32,
    /// Messages Amazon's processing reports accepted, and rejected.
    pub confirmed: u32,
    pub failed: u32,
    /// Messages given up by feeds that could not settle them: packages handed back to the call path,
    /// adjustments ended failed.
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
    let mut recent: Vec<(String, chrono::DateTime<chrono::Utc>)> =
        open.iter().map(|feed| (feed.value.feed_type.clone(), feed.value.created_at)).collect();
    for feed in open {
        let record_id = feed.value.id.clone();
        if let Err(e) = advance_any(deps, connection, auth, feed, stop_at, activity).await {
            warn!(feed = record_id, error = %e, "a feed stopped short; it goes on next run");
            activity.problem.get_or_insert(format!("feed {record_id}: {e}"));
        }
    }
    let now = deps.adapters.clock.now();
    let interval_start = now - deps.settings.feed_interval;
    let settled = store.settled_feeds_since(&connection.id, interval_start).await?;
    recent.extend(settled.into_iter().map(|feed| (feed.feed_type, feed.created_at)));
    // Each backlog whole, a feed per `MAX_FEED_MESSAGES`, within createFeed's burst (shared by all types).
    let mut packed = 0;
    for feed_type in FEED_TYPES {
        if recent.iter().any(|(recent_type, created)| recent_type == feed_type && *created > interval_start) {
            continue;
        }
        if let Err(e) = pack_backlog(deps, connection, auth, feed_type, &mut packed, stop_at, activity).await {
            warn!(feed_type, error = %e, "packing a feed backlog stopped short; it goes on next run");
            activity.problem.get_or_insert(format!("{feed_type} backlog: {e}"));
        }
    }
    Ok(())
}

/// Packs the backlog of `feed_type` into feeds and sends them, while the run's feeds (`packed`) stay
/// within `MAX_FEEDS_PER_RUN`.
async fn pack_backlog(
    deps: &SyncDeps,
    connection: &Connection,
    auth: &SellerAuth,
    feed_type: &str,
    packed: &mut usize,
    stop_at: Instant,
    activity: &mut FeedActivity,
) -> Result<(), SyncError> {
    while *packed < MAX_FEEDS_PER_RUN && Instant::now() < stop_at {
        let feed = match feed_type {
            ORDER_FULFILLMENT_FEED => pack::<Packages>(deps, connection, feed_type, activity).await?,
            _ => pack::<Adjustments>(deps, connection, feed_type, activity).await?,
        };
        let Some(feed) = feed else { break };
        *packed += 1;
        advance_any(deps, connection, auth, feed, stop_at, activity).await?;
    }
    Ok(())
}

/// Moves a feed on as its type's cargo.
async fn advance_any(
    deps: &SyncDeps,
    connection: &Connection,
    auth: &SellerAuth,
    feed: Versioned<FeedRecord>,
    stop_at: Instant,
    activity: &mut FeedActivity,
) -> Result<(), SyncError> {
    match feed.value.feed_type.as_str() {
        ORDER_FULFILLMENT_FEED => advance::<Packages>(deps, connection, auth, feed, stop_at, activity).await,
        ORDER_ACKNOWLEDGEMENT_FEED | PAYMENT_ADJUSTMENT_FEED => {
            advance::<Adjustments>(deps, connection, auth, feed, stop_at, activity).await
        }
        other => Err(SyncError::Store(StoreError::Corrupt {
            key: format!("feed {}", feed.value.id),
            message: format!("a feed of type {other}, which this version does not know"),
        })),
    }
}

/// Takes one step after another until the feed waits for Amazon, is closed, or time is up.
async fn advance<C: Cargo>(
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
            FeedStage::Packing => mark_entries::<C>(deps, connection, feed).await?,
            FeedStage::Packed => submit::<C>(deps, connection, auth, feed, activity).await?,
            FeedStage::Submitting { since } => find_lost_submission::<C>(deps, connection, auth, feed, since).await?,
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
                    Ok(amazon) => settle::<C>(deps, connection, auth, feed, &amazon, stop_at, activity).await?,
                }
            }
            FeedStage::HandingBack { reason, reconcile } => {
                give_up::<C>(deps, feed, reason, reconcile, stop_at, activity).await?;
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
/// feed, are then given up on (and so are its items, as Amazon may hold them).
fn too_old(deps: &SyncDeps, record: &FeedRecord) -> bool {
    match record.stage {
        FeedStage::Submitted { at, .. } => deps.adapters.clock.now() - at > MAX_PROCESSING,
        _ => false,
    }
}

/// A new record for the connection's backlog of `feed_type` (oldest first, as much as one feed takes).
async fn pack<C: Cargo>(
    deps: &SyncDeps,
    connection: &Connection,
    feed_type: &str,
    activity: &mut FeedActivity,
) -> Result<Option<Versioned<FeedRecord>>, SyncError> {
    let store = &deps.adapters.store;
    let backlog = store.feed_backlog(&connection.id, feed_type, Some(MAX_FEED_MESSAGES)).await?;
    if backlog.is_empty() {
        return Ok(None);
    }
    let read = read_items::<C>(store, backlog.iter().map(|entry| (&entry.order_id, entry.item.as_str()))).await?;
    let mut items = Vec::new();
    let mut budget = RECORD_BUDGET_BYTES;
    for (entry, item) in backlog.iter().zip(read) {
        match item {
            Some(item) if item.value.awaiting_feed().is_some() => {
                let size = entry.order_id.as_str().len() + entry.item.len() + 60;
                if size > budget {
                    break;
                }
                budget -= size;
                items.push(item.value);
            }
            // Settled or sent some other way meanwhile: nothing left to pack.
            _ => store.drop_from_feed_backlog(&connection.id, feed_type, entry).await?,
        }
    }
    if items.is_empty() {
        return Ok(None);
    }
    let now = deps.adapters.clock.now();
    let record = FeedRecord::packing(connection.id.clone(), feed_type, &items.iter().collect::<Vec<_>>(), now);
    let version = store.save_feed(&record, 0).await?;
    activity.packed += record.entries.len() as u32;
    info!(feed = record.id, feed_type, messages = record.entries.len(), "packed a feed backlog into a feed");
    Ok(Some(Versioned { value: record, version }))
}

/// Marks each listed item as in this feed; those that are not waiting for a feed any more drop out.
async fn mark_entries<C: Cargo>(
    deps: &SyncDeps,
    connection: &Connection,
    feed: Versioned<FeedRecord>,
) -> Result<Option<Versioned<FeedRecord>>, SyncError> {
    let store = &deps.adapters.store;
    let Versioned { value: mut record, version } = feed;
    let now = deps.adapters.clock.now();
    let read = read_items::<C>(store, record.entries.iter().map(|e| (&e.order_id, e.item.as_str()))).await?;
    let mut kept = Vec::with_capacity(record.entries.len());
    let mut to_mark = Vec::new();
    for (index, (entry, item)) in record.entries.iter().zip(&read).enumerate() {
        let Some(item) = item else {
            kept.push(false);
            continue;
        };
        kept.push(record.holds(entry, &item.value));
        if let Some(since) = item.value.awaiting_feed() {
            to_mark.push((index, C::in_feed(&item.value, &record.id, entry.message_id, now), item.version, since));
        }
    }
    for chunk in to_mark.chunks(CONCURRENCY) {
        let marks = chunk.iter().map(|(_, marked, version, since)| {
            store.mark_in_feed(&connection.id, &record.feed_type, marked, *version, *since)
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
async fn submit<C: Cargo>(
    deps: &SyncDeps,
    connection: &Connection,
    auth: &SellerAuth,
    feed: Versioned<FeedRecord>,
    activity: &mut FeedActivity,
) -> Result<Option<Versioned<FeedRecord>>, SyncError> {
    let store = &deps.adapters.store;
    let Versioned { value: mut record, version } = feed;
    let items = read_entries::<C>(deps, &record).await?;
    let messages: Vec<(u32, &C::Item)> = record
        .entries
        .iter()
        .zip(&items)
        .filter_map(|(entry, item)| item.as_ref().map(|i| (entry.message_id, &i.value)))
        .collect();
    let document = C::document(&connection.seller_id, &messages);
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
    let lost_before = record.may_be_at_amazon;
    record.stage = FeedStage::Submitting { since: now };
    record.may_be_at_amazon = true;
    let version = store.save_feed(&record, version).await?;
    let created =
        deps.spapi.create_feed(auth, &record.feed_type, &connection.marketplace_id, &upload.feed_document_id).await;
    match created {
        Ok(feed_id) => {
            sellerbridge_core::metrics::count(sellerbridge_core::metrics::Metric::FeedsSubmitted, 1);
            if !store.claim_amazon_feed(&connection.seller_id, &feed_id, &record.id, now).await? {
                // Another record took it for its own lost one: which items Amazon holds is unclear.
                let reason = format!("feed {feed_id} was taken by another record as its own");
                return Ok(Some(hand_back(deps, Versioned { value: record, version }, reason, true).await?));
            }
            info!(feed = record.id, feed_id, messages = record.entries.len(), "feed sent to Amazon");
            activity.submitted += 1;
            record.stage = FeedStage::Submitted { feed_id, at: now, adopted: false };
            let version = store.save_feed(&record, version).await?;
            Ok(Some(Versioned { value: record, version }))
        }
        Err(e) if never_created(&e) => {
            // This createFeed created nothing: only an earlier one whose answer was lost may have.
            record.may_be_at_amazon = lost_before;
            record.stage = FeedStage::Packed;
            let version = store.save_feed(&record, version).await?;
            count_refusal(deps, Versioned { value: record, version }, e).await
        }
        // Amazon may have created it: the next run looks for it before sending anything again.
        Err(e) => Err(e.into()),
    }
}

/// Amazon refused a step of sending the feed, surely creating nothing: a refusal that passes (quota,
/// a transient failure) is tried again next run; after a few the feed gives its items up.
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
/// moments after, that no record of the seller holds, is taken as this record's; as it is not known to
/// be ours, its report is not trusted: once Amazon is done with it, its items are given up as ones
/// Amazon may hold. None once the window has passed means none was created, and the record is sent
/// again if its cargo allows ([`Cargo::RESEND_WHEN_LOST`]); else its items are given up as ones Amazon
/// may hold.
async fn find_lost_submission<C: Cargo>(
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
    if !C::RESEND_WHEN_LOST {
        let reason = "createFeed's answer was lost and Amazon's feed listing does not show the feed".to_owned();
        return Ok(Some(hand_back(deps, Versioned { value: record, version }, reason, true).await?));
    }
    info!(feed = record.id, "the lost submission created no feed; sending it again");
    record.stage = FeedStage::Packed;
    let version = store.save_feed(&record, version).await?;
    Ok(Some(Versioned { value: record, version }))
}

/// Settles every item of a feed Amazon is done with from its report, then replaces the record by its
/// summary. A report that does not settle the feed (it cannot be read, or covers fewer messages than
/// were sent) gives the items up, as Amazon may hold them.
async fn settle<C: Cargo>(
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
        (_, FeedStatus::Cancelled) => return back_to_backlog::<C>(deps, connection, feed, amazon, stop_at).await,
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
    let items = read_entries::<C>(deps, &record).await?;
    for (entry, item) in record.entries.iter().zip(items) {
        if Instant::now() >= stop_at {
            return Ok(None);
        }
        let Some(item) = item else { continue };
        let outcome = report.outcome(entry.message_id);
        match outcome {
            MessageOutcome::Accepted { .. } => activity.confirmed += 1,
            MessageOutcome::Rejected { .. } => activity.failed += 1,
        }
        C::settle(deps, connection, (&record, feed_id), entry, item, outcome).await?;
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
    info!(feed = record.id, feed_id, accepted = counts.0, failed = counts.1, "feed settled from its processing report");
    Ok(None)
}

/// Amazon cancelled the feed before processing it: its items wait for the next one.
async fn back_to_backlog<C: Cargo>(
    deps: &SyncDeps,
    connection: &Connection,
    feed: Versioned<FeedRecord>,
    amazon: &Feed,
    stop_at: Instant,
) -> Result<Option<Versioned<FeedRecord>>, SyncError> {
    let store = &deps.adapters.store;
    let Versioned { value: record, version } = feed;
    let now = deps.adapters.clock.now();
    let feed_type = record.feed_type.as_str();
    let to_backlog = |item: Versioned<C::Item>| async move {
        let waiting = C::awaiting(&item.value, now);
        Ok(store.enter_feed_backlog(&connection.id, feed_type, &waiting, item.version).await?.is_some())
    };
    if !move_each::<C, _, _>(deps, &record, stop_at, to_backlog).await? {
        return Ok(None);
    }
    let summary = summary(&record, Some(amazon.feed_id.clone()), FeedEnd::Cancelled, None, (0, 0), now);
    store.close_feed(&record, version, &summary).await?;
    info!(feed = record.id, feed_id = amazon.feed_id, "Amazon cancelled the feed; its items wait for the next one");
    Ok(None)
}

/// Records that the feed gives its items up, and why.
async fn hand_back(
    deps: &SyncDeps,
    feed: Versioned<FeedRecord>,
    reason: String,
    reconcile: bool,
) -> Result<Versioned<FeedRecord>, SyncError> {
    let Versioned { value: mut record, version } = feed;
    warn!(feed = record.id, reason, reconcile, "the feed gives up its items");
    record.stage = FeedStage::HandingBack { reason, reconcile };
    let version = deps.adapters.store.save_feed(&record, version).await?;
    Ok(Versioned { value: record, version })
}

/// Gives up each item still in the feed ([`Cargo::give_up`]), then closes the record. A resumed run
/// finds the items already given up no longer in the feed, and gives up the rest.
async fn give_up<C: Cargo>(
    deps: &SyncDeps,
    feed: Versioned<FeedRecord>,
    reason: String,
    reconcile: bool,
    stop_at: Instant,
    activity: &mut FeedActivity,
) -> Result<(), SyncError> {
    let store = &deps.adapters.store;
    let Versioned { value: record, version } = feed;
    let given_up = std::sync::atomic::AtomicU32::new(0);
    let give_up_one = |item: Versioned<C::Item>| {
        let (given_up, reason) = (&given_up, reason.as_str());
        async move {
            let written = C::give_up(deps, item, reason, reconcile).await;
            match written {
                Ok(true) => {
                    given_up.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    Ok(true)
                }
                Ok(false) | Err(StoreError::Conflict { .. }) => Ok(false),
                Err(e) => Err(e),
            }
        }
    };
    let done = move_each::<C, _, _>(deps, &record, stop_at, give_up_one).await?;
    activity.handed_back += given_up.into_inner();
    if !done {
        return Ok(());
    }
    C::after_giving_up(deps, &record).await?;
    let now = deps.adapters.clock.now();
    store.close_feed(&record, version, &summary(&record, None, FeedEnd::HandedBack, Some(reason), (0, 0), now)).await?;
    Ok(())
}

/// Moves each item still in the feed on with `change` (retrying an item written meanwhile), until
/// time is up; `false` then. An item the feed cannot let go of is an error, so the record stays.
async fn move_each<C: Cargo, F, Fut>(
    deps: &SyncDeps,
    record: &FeedRecord,
    stop_at: Instant,
    change: F,
) -> Result<bool, SyncError>
where
    F: Fn(Versioned<C::Item>) -> Fut,
    Fut: Future<Output = Result<bool, StoreError>>,
{
    let store = &deps.adapters.store;
    for entry in &record.entries {
        if Instant::now() >= stop_at {
            return Ok(false);
        }
        let mut let_go = false;
        for _ in 0..MAX_SETTLE_TRIES {
            let item = C::read(store, &entry.order_id, &entry.item).await?;
            let_go = match item {
                Some(item) if record.holds(entry, &item.value) => change(item).await?,
                // Gone, or no longer this feed's.
                _ => true,
            };
            if let_go {
                break;
            }
        }
        if !let_go {
            let key = format!("{} {} of order {}", C::NAME, entry.item, entry.order_id);
            return Err(StoreError::Conflict { key }.into());
        }
    }
    Ok(true)
}

/// Each entry's item, if it is still in this feed as that entry.
async fn read_entries<C: Cargo>(
    deps: &SyncDeps,
    record: &FeedRecord,
) -> Result<Vec<Option<Versioned<C::Item>>>, SyncError> {
    let store = &deps.adapters.store;
    let read = read_items::<C>(store, record.entries.iter().map(|e| (&e.order_id, e.item.as_str()))).await?;
    Ok(record.entries.iter().zip(read).map(|(entry, item)| item.filter(|i| record.holds(entry, &i.value))).collect())
}

/// The items at these keys, `CONCURRENCY` reads at a time.
async fn read_items<'a, C: Cargo>(
    store: &DynamoStore,
    keys: impl Iterator<Item = (&'a AmazonOrderId, &'a str)>,
) -> Result<Vec<Option<Versioned<C::Item>>>, StoreError> {
    let keys: Vec<_> = keys.collect();
    let mut read = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(CONCURRENCY) {
        let reads = chunk.iter().map(|(order_id, item)| C::read(store, order_id, item));
        for item in futures::future::join_all(reads).await {
            read.push(item?);
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
        feed_type: record.feed_type.clone(),
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
