//! Scheduled sync: imports orders changed at Amazon since each connection's cursor.
//!
//! The window `[cursor − overlap, now − 2 min − skew margin)` is read in slices that each fit in one
//! page ([`Slicing`]: immune to however Amazon pages a changing result set); after every page the
//! orders are stored and then the reading position is saved, so a run that meets its deadline or
//! Amazon's tiny quota stops cleanly and the next run resumes the same window. The cursor moves to the
//! window's end only once the whole window is stored. Connections run concurrently, each under a lease
//! so "sync now" never races the schedule, and the cursor is versioned so an operator's reset wins over
//! a running sync. Orders that cannot be read are kept (without PII) and retried by later runs. Before
//! the import, each run moves the connection's order fulfillment feeds on ([`feeds`]).
use std::time::Duration;

use futures::StreamExt;

mod feeds;
mod fulfillment;
pub use feeds::FeedActivity;
pub use fulfillment::FulfillmentActivity;

use lambda_runtime::{Error, LambdaEvent};
use sellerbridge_core::domain::connection::Connection;
use sellerbridge_core::domain::ids::{AmazonOrderId, ConnectionId};
use sellerbridge_core::domain::order::AmazonOrder;
use sellerbridge_core::domain::slicing::Slicing;
use sellerbridge_core::domain::status::{AmazonStatus, FulfilledBy, import_decision};
use sellerbridge_core::domain::view::OrderEvent;
use sellerbridge_core::metrics::{self, Metric, MetricSet};
use sellerbridge_core::queue::{UpdateMessage, UpdateQueue};
use sellerbridge_core::runtime::{Adapters, CredentialsError};
use sellerbridge_core::spapi::{
    Refusal, SearchOrdersQuery, SellerAuth, SpApiClient, SpApiError, UnreadableOrder, WaitBudget,
};
use sellerbridge_core::store::{
    AppCredentialsAlert, CursorRecord, PendingWebhook, StoreError, SyncWindow, UnreadableRecord, UpsertOutcome,
};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tracing::{Instrument, info, info_span, warn};

#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// How far each window reaches back before the cursor, for orders Amazon settles late.
    pub overlap: chrono::Duration,
    /// Amazon refuses an upper bound closer than two minutes to its own now.
    pub settle_delay: chrono::Duration,
    /// Kept on top of `settle_delay`, so a Lambda clock running ahead of Amazon's is not refused.
    pub clock_skew_margin: chrono::Duration,
    pub page_size: u8,
    /// Time kept free before the Lambda deadline to save state and return.
    pub deadline_margin: Duration,
    /// A saved pagination token older than this is not sent: the window is read again instead. Amazon's
    /// tokens live 24 hours, far longer than the schedule's interval, so a backfill paused for quota
    /// still resumes its page; a connection paused for days starts its window over.
    pub pagination_token_lifetime: chrono::Duration,
    /// A slice this short that still holds more than a page is read by following Amazon's tokens
    /// instead of being split ([`Slicing`]); Amazon's timestamps are whole seconds.
    pub min_slice: chrono::Duration,
    /// How many kept unreadable orders one run asks Amazon for again.
    pub unreadable_retries_per_run: usize,
    /// How many connections sync at once.
    pub concurrency: usize,
    /// The least time between two packings of a connection's feed backlog (Amazon asks for one feed of
    /// a type per 20 minutes at most; a backlog larger than one feed is packed into several at once).
    pub feed_interval: chrono::Duration,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            overlap: chrono::Duration::minutes(5),
            settle_delay: chrono::Duration::minutes(2),
            clock_skew_margin: chrono::Duration::minutes(1),
            page_size: 100,
            deadline_margin: Duration::from_secs(10),
            pagination_token_lifetime: chrono::Duration::hours(23),
            min_slice: chrono::Duration::seconds(1),
            unreadable_retries_per_run: 10,
            // Connections mostly wait (on Amazon, on their seller's quota): all of them at once, bounded
            // only to keep a huge deployment's sockets in check.
            concurrency: 64,
            feed_interval: chrono::Duration::minutes(20),
        }
    }
}

pub struct SyncDeps {
    pub adapters: Adapters,
    pub spapi: SpApiClient,
    pub settings: SyncSettings,
}

/// The payload: empty for the schedule, `{"connection_id": "..."}` for "sync now" of one connection.
#[derive(Debug, Default, Deserialize)]
pub struct SyncRequest {
    pub connection_id: Option<ConnectionId>,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct SyncReport {
    pub connections: Vec<ConnectionReport>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConnectionReport {
    pub connection_id: ConnectionId,
    pub outcome: SyncOutcome,
    pub pages: u32,
    pub inserted: u32,
    pub updated: u32,
    pub unchanged: u32,
    pub skipped: u32,
    /// Orders Amazon sent that could not be read (or whose stored copy could not be read); each is
    /// kept without PII for `sellerbridge order` and retried by later runs.
    pub unreadable: u32,
    /// Every order of the connection currently kept as unreadable.
    pub unreadable_orders: Vec<String>,
    /// Kept unreadable orders that a retry read and stored this run.
    pub recovered: u32,
    /// What the connection's order fulfillment feeds did.
    pub feeds: FeedActivity,
    /// Multi-Channel Fulfillment orders and FBA inventory read.
    pub fulfillment: FulfillmentActivity,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SyncOutcome {
    /// The cursor reached the window's end.
    UpToDate,
    /// The connection's sync interval has not passed since its last window: nothing was asked.
    NotDue,
    /// Stopped before the deadline or for quota; the next run resumes the saved page.
    Paused {
        reason: String,
    },
    NeedsReauthorization {
        hint: String,
    },
    /// Login with Amazon rejected the app's own credentials: a stack-wide alert is raised, and every
    /// connection meets the same until the operator stores the app's current secret.
    AppCredentialsRejected {
        hint: String,
    },
    NotActive,
    /// Another run (the schedule, or "sync now") holds the connection.
    Busy,
    Failed {
        error: String,
        retryable: bool,
    },
}

pub async fn handle(deps: &SyncDeps, event: LambdaEvent<serde_json::Value>) -> Result<SyncReport, Error> {
    let request: SyncRequest = if event.payload.get("connection_id").is_some() {
        serde_json::from_value(event.payload)?
    } else {
        SyncRequest::default()
    };
    let remaining = event.context.deadline().duration_since(std::time::SystemTime::now()).unwrap_or_default();
    let stop_at = Instant::now() + remaining.saturating_sub(deps.settings.deadline_margin);
    let span = info_span!("sync", request_id = %event.context.request_id);
    let report = sync(deps, request.connection_id.as_ref(), stop_at).instrument(span).await?;
    let reauthorize =
        report.connections.iter().filter(|c| matches!(c.outcome, SyncOutcome::NeedsReauthorization { .. }));
    metrics::count(Metric::ConnectionsNeedingReauthorization, reauthorize.count() as u64);
    MetricSet::taken("order-sync").emit(deps.adapters.clock.now());
    Ok(report)
}

/// Syncs every active connection (or just `only`) until `stop_at`, several at once, so a connection
/// waiting for its seller's quota never holds up another seller. One failing connection never stops
/// the others.
pub async fn sync(deps: &SyncDeps, only: Option<&ConnectionId>, stop_at: Instant) -> Result<SyncReport, StoreError> {
    let connections: Vec<Connection> = deps
        .adapters
        .store
        .list_connections()
        .await?
        .into_iter()
        .filter(|connection| only.is_none_or(|id| *id == connection.id))
        .collect();
    let mut reports: Vec<ConnectionReport> = futures::stream::iter(connections)
        .map(|connection| async move {
            let span = info_span!("connection", connection_id = %connection.id);
            let result = sync_connection(deps, &connection, only.is_some(), stop_at).instrument(span).await;
            info!(connection_id = %result.connection_id, outcome = ?result.outcome, pages = result.pages,
                  inserted = result.inserted, updated = result.updated, unreadable = result.unreadable, "sync finished");
            result
        })
        .buffer_unordered(deps.settings.concurrency.max(1))
        .collect()
        .await;
    reports.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
    Ok(SyncReport { connections: reports })
}

/// `sync_now`: the operator asked for this connection, so its sync interval does not apply.
async fn sync_connection(
    deps: &SyncDeps,
    connection: &Connection,
    sync_now: bool,
    stop_at: Instant,
) -> ConnectionReport {
    let mut report = ConnectionReport {
        connection_id: connection.id.clone(),
        outcome: SyncOutcome::NotActive,
        pages: 0,
        inserted: 0,
        updated: 0,
        unchanged: 0,
        skipped: 0,
        unreadable: 0,
        unreadable_orders: Vec::new(),
        recovered: 0,
        feeds: FeedActivity::default(),
        fulfillment: FulfillmentActivity::default(),
    };
    if !connection.is_active() {
        return report;
    }
    let store = &deps.adapters.store;
    let holder = uuid::Uuid::new_v4().to_string();
    let now = deps.adapters.clock.now();
    let lease_until = now
        + chrono::Duration::from_std(stop_at.saturating_duration_since(Instant::now())).unwrap_or_default()
        + chrono::Duration::from_std(deps.settings.deadline_margin).unwrap_or_default();
    match store.acquire_sync_lease(&connection.id, &holder, now, lease_until).await {
        Ok(true) => {}
        Ok(false) => {
            info!(connection_id = %connection.id, "another sync of this connection is running; leaving it to that one");
            report.outcome = SyncOutcome::Busy;
            return report;
        }
        Err(e) => {
            report.outcome = SyncOutcome::Failed { retryable: e.is_retryable(), error: e.to_string() };
            return report;
        }
    }
    report.outcome = sync_leased(deps, connection, sync_now, stop_at, &mut report).await;
    if let Err(e) = store.release_sync_lease(&connection.id, &holder).await {
        warn!(error = %e, "could not release the sync lease; it runs out by itself");
    }
    match store.list_unreadable(&connection.id).await {
        Ok(kept) => report.unreadable_orders = kept.into_iter().map(|u| u.order_id).collect(),
        Err(e) => warn!(error = %e, "could not list the unreadable orders"),
    }
    report
}

async fn sync_leased(
    deps: &SyncDeps,
    connection: &Connection,
    sync_now: bool,
    stop_at: Instant,
    report: &mut ConnectionReport,
) -> SyncOutcome {
    let result = async {
        queue_pending_webhooks(&deps.adapters, connection).await?;
        let auth = deps.adapters.seller_auth(connection).await?;
        // Before the import, which may take the rest of the run: confirmations are due sooner.
        report.feeds = feeds::run(deps, connection, &auth, stop_at).await;
        let polled = fulfillment::poll_orders(deps, connection, &auth, stop_at, &mut report.fulfillment).await;
        fulfillment_failure(polled, report)?;
        let outcome = run_windows(deps, connection, &auth, sync_now, stop_at, report).await?;
        if outcome == SyncOutcome::UpToDate {
            retry_unreadable(deps, connection, &auth, stop_at, report).await?;
        }
        if !matches!(outcome, SyncOutcome::Paused { .. }) {
            let read = fulfillment::read_inventory(deps, connection, &auth, stop_at, &mut report.fulfillment).await;
            fulfillment_failure(read, report)?;
        }
        Ok::<_, SyncError>(outcome)
    }
    .await;
    match result {
        Ok(outcome) => outcome,
        Err(SyncError::Amazon(SpApiError::NeedsReauthorization(detail))) => {
            flag_reauthorization(&deps.adapters, connection, detail).await;
            SyncOutcome::NeedsReauthorization { hint: connection.reauthorization_hint() }
        }
        Err(SyncError::Amazon(SpApiError::InvalidClient(detail))) => {
            raise_app_credentials_alert(&deps.adapters, connection, &detail).await;
            SyncOutcome::AppCredentialsRejected { hint: AppCredentialsAlert::HINT.into() }
        }
        Err(SyncError::Amazon(SpApiError::Throttled { operation, retry_after })) => SyncOutcome::Paused {
            reason: format!("{operation} quota exhausted; next token in {}s", retry_after.as_secs()),
        },
        Err(SyncError::Amazon(e @ SpApiError::Paused { refusal: Refusal::Throttled, .. })) => {
            SyncOutcome::Paused { reason: e.to_string() }
        }
        Err(SyncError::Store(StoreError::Conflict { .. })) => SyncOutcome::Paused {
            reason: "the sync cursor was changed meanwhile (import date reset?); the next run starts from it".into(),
        },
        Err(e) => {
            warn!(connection_id = %connection.id, error = %e, "sync failed; the cursor stays where it was");
            SyncOutcome::Failed { retryable: e.is_retryable(), error: e.to_string() }
        }
    }
}

/// A failure reading fulfillment orders or inventory (Amazon's API down) is reported and does not hold up
/// the import; only one that stops every call of the connection is passed on.
fn fulfillment_failure(result: Result<(), SyncError>, report: &mut ConnectionReport) -> Result<(), SyncError> {
    match result {
        Err(e @ SyncError::Amazon(SpApiError::NeedsReauthorization(_) | SpApiError::InvalidClient(_))) => Err(e),
        Err(e) => {
            warn!(error = %e, "fulfillment orders or inventory not read; the next run tries again");
            report.fulfillment.error = Some(e.to_string());
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

/// Amazon refused the connection's refresh token: it stops until the seller re-authorizes the app.
pub async fn flag_reauthorization(adapters: &Adapters, connection: &Connection, detail: String) {
    warn!(connection_id = %connection.id, detail, "Amazon refused the refresh token; connection needs re-authorization");
    let now = adapters.clock.now();
    if let Err(e) =
        adapters.store.flag_needs_reauthorization(&connection.id, connection.credentials_version, now, detail).await
    {
        warn!(error = %e, "could not flag the connection");
    }
}

/// Login with Amazon rejected the app's own credentials: one alert for the whole stack.
pub async fn raise_app_credentials_alert(adapters: &Adapters, connection: &Connection, detail: &str) {
    warn!(connection_id = %connection.id, detail, "Login with Amazon rejected the app's credentials");
    let alert = AppCredentialsAlert::met(adapters.clock.now(), detail, &connection.id);
    if let Err(e) = adapters.store.raise_app_credentials_alert(&alert).await {
        warn!(error = %e, "could not record the app credentials alert");
    }
}

#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error(transparent)]
    Amazon(#[from] SpApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error(transparent)]
    Queue(sellerbridge_core::queue::QueueError),
}

impl SyncError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Amazon(e) => e.is_retryable(),
            Self::Store(e) => e.is_retryable(),
            Self::Credentials(_) => false,
            Self::Queue(_) => true,
        }
    }
}

async fn run_windows(
    deps: &SyncDeps,
    connection: &Connection,
    auth: &SellerAuth,
    sync_now: bool,
    stop_at: Instant,
    report: &mut ConnectionReport,
) -> Result<SyncOutcome, SyncError> {
    let store = &deps.adapters.store;
    let settings = &deps.settings;
    let slicing = Slicing::new(settings.page_size).with_min_span(settings.min_slice);
    let (mut cursor, mut version) = match store.load_cursor(&connection.id).await? {
        Some(stored) => (stored.value, stored.version),
        None => (CursorRecord { committed_until: connection.import_from, window: None }, 0),
    };
    let mut token_refused = false;
    loop {
        let now = deps.adapters.clock.now();
        let window = match cursor.window.clone() {
            Some(window) if window.token_expired(now, settings.pagination_token_lifetime) => {
                info!(
                    pages_read = window.pages_read,
                    "saved pagination token too old to send; reading the slice again"
                );
                let window = window.without_token();
                cursor.window = Some(window.clone());
                version = store.save_cursor(&connection.id, &cursor, version).await?;
                window
            }
            Some(window) => window,
            None => {
                let before = now - settings.settle_delay - settings.clock_skew_margin;
                if before <= cursor.committed_until {
                    return Ok(SyncOutcome::UpToDate);
                }
                if !sync_now && !connection.sync_due(cursor.committed_until, before) {
                    return Ok(SyncOutcome::NotDue);
                }
                let window = SyncWindow::open(cursor.committed_until - settings.overlap, before);
                cursor.window = Some(window.clone());
                version = store.save_cursor(&connection.id, &cursor, version).await?;
                window
            }
        };
        if Instant::now() >= stop_at {
            return Ok(SyncOutcome::Paused { reason: "deadline near; the next run resumes this page".into() });
        }
        let slice_end = window.read_until();
        let query = SearchOrdersQuery {
            marketplace_id: connection.marketplace_id.clone(),
            updated_after: window.updated_after,
            updated_before: slice_end,
            statuses: vec![
                AmazonStatus::Unshipped,
                AmazonStatus::PartiallyShipped,
                AmazonStatus::Shipped,
                AmazonStatus::Cancelled,
            ],
            fulfilled_by: if connection.options.import_amazon_fulfilled {
                vec![FulfilledBy::Merchant, FulfilledBy::Amazon]
            } else {
                vec![FulfilledBy::Merchant]
            },
            page_size: settings.page_size,
            pagination_token: window.pagination_token.clone(),
        };
        let page = match deps.spapi.search_orders(auth, &query, WaitBudget::until(stop_at)).await {
            Ok(page) => page,
            // A resumed token Amazon refuses, whatever its words (expired, undecodable, from before a
            // pause for re-authorization): read the slice again; storing is idempotent.
            Err(SpApiError::Rejected { status: 400, code, .. })
                if window.pagination_token.is_some() && !token_refused =>
            {
                warn!(code, pages_read = window.pages_read, "pagination token refused; reading the slice again");
                token_refused = true;
                cursor.window = Some(window.without_token());
                version = store.save_cursor(&connection.id, &cursor, version).await?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let served = page.orders.len();
        let latest_served =
            page.orders.iter().filter_map(|order| order.as_ref().ok()).map(|order| order.updated_at).max();
        store_page(deps, connection, page.orders, report).await?;
        report.pages += 1;
        let pages_read = window.pages_read + 1;
        let shorter = match &page.next_token {
            // More than a page: a slice not yet followed by token is read shorter instead, so no page
            // is ever taken from a result set that changed since the one before it.
            Some(_) if window.pagination_token.is_none() => {
                slicing.shorter_after_overflow(window.updated_after, slice_end, latest_served)
            }
            _ => None,
        };
        let next = match (page.next_token, shorter) {
            (_, Some(shorter)) => SyncWindow { slice_end: Some(shorter), pages_read, ..window },
            // Too short to split (hundreds of orders in one second): its pages are followed.
            (Some(token), None) => SyncWindow {
                pagination_token: Some(token),
                token_received_at: Some(deps.adapters.clock.now()),
                pages_read,
                ..window
            },
            (None, None) if slice_end >= window.updated_before => {
                // The window reached its end: done until the next scheduled run.
                cursor = CursorRecord { committed_until: window.updated_before, window: None };
                store.save_cursor(&connection.id, &cursor, version).await?;
                return Ok(SyncOutcome::UpToDate);
            }
            (None, None) => SyncWindow {
                slice_end: Some(slicing.next_after_fit(window.updated_after, slice_end, served, window.updated_before)),
                pages_read,
                ..SyncWindow::open(slice_end, window.updated_before)
            },
        };
        cursor.window = Some(next);
        version = store.save_cursor(&connection.id, &cursor, version).await?;
    }
}

async fn store_page(
    deps: &SyncDeps,
    connection: &Connection,
    orders: Vec<Result<AmazonOrder, UnreadableOrder>>,
    report: &mut ConnectionReport,
) -> Result<(), StoreError> {
    for order in orders {
        let stored = match order {
            Ok(order) => store_order(&deps.adapters, connection, order).await?,
            Err(unreadable) => keep_unreadable_order(&deps.adapters, connection, unreadable).await?,
        };
        report.count(stored);
    }
    Ok(())
}

/// What storing one order Amazon sent came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Inserted,
    Updated,
    Unchanged,
    /// Not one the connection keeps (pending, or Amazon-fulfilled without the opt-in).
    Skipped,
    /// It (or our copy of it) could not be read: kept without PII, to retry.
    KeptUnreadable,
}

impl ConnectionReport {
    fn count(&mut self, stored: Stored) {
        let counter = match stored {
            Stored::Inserted => &mut self.inserted,
            Stored::Updated => &mut self.updated,
            Stored::Unchanged => &mut self.unchanged,
            Stored::Skipped => &mut self.skipped,
            Stored::KeptUnreadable => &mut self.unreadable,
        };
        *counter += 1;
    }
}

/// Stores one order Amazon sent, newer copy wins; a stored copy that cannot be read is kept aside.
pub async fn store_order(
    adapters: &Adapters,
    connection: &Connection,
    order: AmazonOrder,
) -> Result<Stored, StoreError> {
    let now = adapters.clock.now();
    let decision = import_decision(order.fulfilled_by, order.amazon_status, connection.options.import_amazon_fulfilled);
    let (order_id, version) = (order.id.clone(), order.updated_at);
    match adapters.store.upsert_from_amazon(connection, order, decision, now).await {
        Ok(UpsertOutcome::Inserted) => {
            info!(order_id = %order_id, "order imported");
            metrics::count(Metric::OrdersImported, 1);
            announce(adapters, connection, &order_id, OrderEvent::Imported, version).await?;
            Ok(Stored::Inserted)
        }
        Ok(UpsertOutcome::Updated { was }) => {
            metrics::count(Metric::OrdersUpdated, 1);
            let now_status = decision.status().unwrap_or(was);
            announce(adapters, connection, &order_id, OrderEvent::for_change(Some(was), now_status), version).await?;
            Ok(Stored::Updated)
        }
        Ok(UpsertOutcome::Unchanged) => Ok(Stored::Unchanged),
        Ok(UpsertOutcome::Skipped) => Ok(Stored::Skipped),
        Err(e @ StoreError::Corrupt { .. }) => {
            warn!(order_id = %order_id, error = %e, "the stored copy of an order cannot be read; keeping it aside");
            keep_unreadable(adapters, connection, order_id.as_str(), format!("stored order unreadable: {e}"), None)
                .await?;
            Ok(Stored::KeptUnreadable)
        }
        Err(e) => Err(e),
    }
}

/// Queues the order event for the merchant's webhook URL, if the connection has one. The order is
/// stored already: an event SQS will not take is kept in the table, and the connection's next sync
/// queues it ([`queue_pending_webhooks`]).
async fn announce(
    adapters: &Adapters,
    connection: &Connection,
    order_id: &AmazonOrderId,
    event: OrderEvent,
    version: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    if connection.options.outbound_webhook_url.is_none() {
        return Ok(());
    }
    let message = UpdateMessage::DeliverWebhook { order_id: order_id.clone(), event, version };
    if let Err(e) = adapters.outbound.send(&message, std::time::Duration::ZERO).await {
        warn!(order_id = %order_id, event = event.name(), error = %e, "could not queue the order event; kept to queue later");
        let pending =
            PendingWebhook { connection_id: connection.id.clone(), order_id: order_id.clone(), event, version };
        adapters.store.put_pending_webhook(&pending).await?;
    }
    Ok(())
}

/// Queues the order and fulfillment events kept because SQS would not take them; each is forgotten once
/// queued.
async fn queue_pending_webhooks(adapters: &Adapters, connection: &Connection) -> Result<(), SyncError> {
    for pending in adapters.store.list_pending_fulfillment_events(&connection.id).await? {
        let message = UpdateMessage::DeliverFulfillmentEvent {
            fulfillment_id: pending.fulfillment_id.clone(),
            revision: pending.revision,
        };
        adapters.outbound.send(&message, std::time::Duration::ZERO).await.map_err(SyncError::Queue)?;
        adapters.store.delete_pending_fulfillment_event(&pending).await?;
        info!(fulfillment_id = %pending.fulfillment_id, "a kept fulfillment event was queued");
    }
    for pending in adapters.store.list_pending_webhooks(&connection.id).await? {
        let message = UpdateMessage::DeliverWebhook {
            order_id: pending.order_id.clone(),
            event: pending.event,
            version: pending.version,
        };
        adapters.outbound.send(&message, std::time::Duration::ZERO).await.map_err(SyncError::Queue)?;
        adapters.store.delete_pending_webhook(&pending).await?;
        info!(order_id = %pending.order_id, event = pending.event.name(), "a kept order event was queued");
    }
    Ok(())
}

/// Keeps an order Amazon sent that could not be read.
pub async fn keep_unreadable_order(
    adapters: &Adapters,
    connection: &Connection,
    unreadable: UnreadableOrder,
) -> Result<Stored, StoreError> {
    let order_id = unreadable.error.order_id().to_owned();
    warn!(order_id, error = %unreadable.error, "an order Amazon sent cannot be read; keeping it to retry");
    keep_unreadable(adapters, connection, &order_id, unreadable.error.to_string(), Some(unreadable.payload)).await?;
    Ok(Stored::KeptUnreadable)
}

/// Records (or updates) an order kept as unreadable: its id, why, and Amazon's JSON without PII.
async fn keep_unreadable(
    adapters: &Adapters,
    connection: &Connection,
    order_id: &str,
    reason: String,
    payload: Option<serde_json::Value>,
) -> Result<(), StoreError> {
    let store = &adapters.store;
    let now = adapters.clock.now();
    let kept = store.get_unreadable(&connection.id, order_id).await?;
    store
        .put_unreadable(&UnreadableRecord {
            connection_id: connection.id.clone(),
            order_id: order_id.to_owned(),
            reason,
            payload: payload.or_else(|| kept.as_ref().and_then(|k| k.payload.clone())),
            first_seen: kept.as_ref().map_or(now, |k| k.first_seen),
            last_attempt: now,
            attempts: kept.map_or(1, |k| k.attempts + 1),
        })
        .await
}

/// Asks Amazon again for a few of the orders kept as unreadable (the oldest attempts first); the ones
/// that now read and store are released.
async fn retry_unreadable(
    deps: &SyncDeps,
    connection: &Connection,
    auth: &SellerAuth,
    stop_at: Instant,
    report: &mut ConnectionReport,
) -> Result<(), SyncError> {
    let store = &deps.adapters.store;
    let mut kept = store.list_unreadable(&connection.id).await?;
    kept.sort_by_key(|k| k.last_attempt);
    // An order without a well-formed id cannot be asked for; it stays listed for the operator.
    kept.retain(|k| AmazonOrderId::parse(k.order_id.as_str()).is_ok());
    for unreadable in kept.into_iter().take(deps.settings.unreadable_retries_per_run) {
        if Instant::now() >= stop_at {
            break;
        }
        let order_id = unreadable.order_id.clone();
        match deps.spapi.fetch_order(auth, &order_id, WaitBudget::until(stop_at)).await {
            Ok(Ok(order)) => {
                let stored = store_order(&deps.adapters, connection, order).await?;
                report.count(stored);
                if stored != Stored::KeptUnreadable {
                    store.delete_unreadable(&connection.id, &order_id).await?;
                    report.recovered += 1;
                    info!(order_id, "an order kept as unreadable was read and stored");
                }
            }
            Ok(Err(still)) => {
                keep_unreadable(&deps.adapters, connection, &order_id, still.error.to_string(), Some(still.payload))
                    .await?;
            }
            Err(SpApiError::Rejected { status: 404, .. }) => {
                let reason = "Amazon no longer knows this order id".into();
                keep_unreadable(&deps.adapters, connection, &order_id, reason, None).await?;
            }
            // Out of quota: the rest waits for the next run; the window itself is done.
            Err(SpApiError::Throttled { .. } | SpApiError::Paused { .. }) => break,
            // Anything else concerns this order: noted on it (so the others come first next time).
            Err(e) => {
                warn!(order_id, error = %e, "asking Amazon again for a kept order failed");
                keep_unreadable(&deps.adapters, connection, &order_id, format!("getOrder failed: {e}"), None).await?;
            }
        }
    }
    Ok(())
}
