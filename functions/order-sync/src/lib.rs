//! Scheduled sync: imports orders changed at Amazon since each connection's cursor.
//!
//! The window `[cursor − overlap, now − 2 min)` is read page by page; after every page the orders are
//! stored and then the pagination token is saved, so a run that meets its deadline or Amazon's tiny
//! quota stops cleanly and the next run resumes the same window. The cursor moves to the window's end
//! only once the whole window is stored.
use std::time::Duration;

use chrono::{DateTime, Utc};
use lambda_runtime::{Error, LambdaEvent};
use sellerbridge_core::domain::connection::Connection;
use sellerbridge_core::domain::ids::ConnectionId;
use sellerbridge_core::domain::order::AmazonOrder;
use sellerbridge_core::domain::status::{AmazonStatus, FulfilledBy, import_decision};
use sellerbridge_core::runtime::Adapters;
use sellerbridge_core::secrets::SecretError;
use sellerbridge_core::spapi::models::OrderMappingError;
use sellerbridge_core::spapi::{SearchOrdersQuery, SpApiClient, SpApiError, WaitBudget};
use sellerbridge_core::store::{CursorRecord, StoreError, SyncWindow, UpsertOutcome};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tracing::{Instrument, info, info_span, warn};

#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// How far each window reaches back before the cursor, for orders Amazon settles late.
    pub overlap: chrono::Duration,
    /// Amazon refuses an upper bound closer than two minutes to now.
    pub settle_delay: chrono::Duration,
    pub page_size: u8,
    /// Time kept free before the Lambda deadline to save state and return.
    pub deadline_margin: Duration,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            overlap: chrono::Duration::minutes(5),
            settle_delay: chrono::Duration::minutes(2),
            page_size: 100,
            deadline_margin: Duration::from_secs(10),
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
    /// Orders Amazon sent that could not be read; each is logged with its id.
    pub unreadable: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SyncOutcome {
    /// The cursor reached the window's end.
    UpToDate,
    /// Stopped before the deadline or for quota; the next run resumes the saved page.
    Paused {
        reason: String,
    },
    NeedsReauthorization {
        hint: String,
    },
    NotActive,
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
    Ok(sync(deps, request.connection_id.as_ref(), stop_at).instrument(span).await?)
}

/// Syncs every active connection (or just `only`) until `stop_at`. One failing connection never stops
/// the others.
pub async fn sync(deps: &SyncDeps, only: Option<&ConnectionId>, stop_at: Instant) -> Result<SyncReport, StoreError> {
    let mut report = SyncReport::default();
    for connection in deps.adapters.store.list_connections().await? {
        if only.is_some_and(|id| *id != connection.id) {
            continue;
        }
        let span = info_span!("connection", connection_id = %connection.id);
        let result = sync_connection(deps, &connection, stop_at).instrument(span).await;
        info!(connection_id = %result.connection_id, outcome = ?result.outcome, pages = result.pages,
              inserted = result.inserted, updated = result.updated, unreadable = result.unreadable, "sync finished");
        report.connections.push(result);
    }
    Ok(report)
}

async fn sync_connection(deps: &SyncDeps, connection: &Connection, stop_at: Instant) -> ConnectionReport {
    let mut report = ConnectionReport {
        connection_id: connection.id.clone(),
        outcome: SyncOutcome::NotActive,
        pages: 0,
        inserted: 0,
        updated: 0,
        unchanged: 0,
        skipped: 0,
        unreadable: 0,
    };
    if !connection.is_active() {
        return report;
    }
    report.outcome = match run_windows(deps, connection, stop_at, &mut report).await {
        Ok(outcome) => outcome,
        Err(SyncError::Amazon(SpApiError::NeedsReauthorization(detail))) => {
            warn!(connection_id = %connection.id, detail, "Amazon refused the refresh token; connection needs re-authorization");
            let hint = connection.reauthorization_hint();
            let flagged = connection.needing_reauthorization(deps.adapters.clock.now(), detail);
            if let Err(e) = deps.adapters.store.put_connection(&flagged).await {
                warn!(error = %e, "could not flag the connection");
            }
            SyncOutcome::NeedsReauthorization { hint }
        }
        Err(SyncError::Amazon(SpApiError::Throttled { retry_after, .. })) => SyncOutcome::Paused {
            reason: format!("searchOrders quota exhausted; next token in {}s", retry_after.as_secs()),
        },
        Err(e) => {
            warn!(connection_id = %connection.id, error = %e, "sync failed; the cursor stays where it was");
            SyncOutcome::Failed { retryable: e.is_retryable(), error: e.to_string() }
        }
    };
    report
}

#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error(transparent)]
    Amazon(#[from] SpApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

impl SyncError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Amazon(e) => e.is_retryable(),
            Self::Store(e) => e.is_retryable(),
            Self::Secret(_) => false,
        }
    }
}

async fn run_windows(
    deps: &SyncDeps,
    connection: &Connection,
    stop_at: Instant,
    report: &mut ConnectionReport,
) -> Result<SyncOutcome, SyncError> {
    let store = &deps.adapters.store;
    let auth = deps.adapters.seller_auth(connection).await?;
    let mut cursor = store
        .load_cursor(&connection.id)
        .await?
        .unwrap_or(CursorRecord { committed_until: connection.import_from, window: None });
    let mut restarted_window = false;
    loop {
        let window = match cursor.window.clone() {
            Some(window) => window,
            None => {
                let before = deps.adapters.clock.now() - deps.settings.settle_delay;
                if before <= cursor.committed_until {
                    return Ok(SyncOutcome::UpToDate);
                }
                let window = open_window(cursor.committed_until - deps.settings.overlap, before);
                cursor.window = Some(window.clone());
                store.save_cursor(&connection.id, &cursor).await?;
                window
            }
        };
        if Instant::now() >= stop_at {
            return Ok(SyncOutcome::Paused { reason: "deadline near; the next run resumes this page".into() });
        }
        let query = SearchOrdersQuery {
            marketplace_id: connection.marketplace_id.clone(),
            updated_after: window.updated_after,
            updated_before: window.updated_before,
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
            page_size: deps.settings.page_size,
            pagination_token: window.pagination_token.clone(),
        };
        let page = match deps.spapi.search_orders(&auth, &query, WaitBudget::until(stop_at)).await {
            Ok(page) => page,
            Err(SpApiError::Rejected { code, message, .. })
                if window.pagination_token.is_some() && !restarted_window && message.contains("paginationToken") =>
            {
                // An expired or undecodable token: read the whole window again (storing is idempotent).
                warn!(code, message, "pagination token refused; restarting the window");
                restarted_window = true;
                cursor.window = Some(open_window(window.updated_after, window.updated_before));
                store.save_cursor(&connection.id, &cursor).await?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        store_page(deps, connection, page.orders, report).await?;
        report.pages += 1;
        match page.next_token {
            Some(token) => {
                let next = SyncWindow { pagination_token: Some(token), pages_read: window.pages_read + 1, ..window };
                cursor.window = Some(next);
                store.save_cursor(&connection.id, &cursor).await?;
            }
            None => {
                // The window reached "now − 2 min": done until the next scheduled run.
                cursor = CursorRecord { committed_until: window.updated_before, window: None };
                store.save_cursor(&connection.id, &cursor).await?;
                return Ok(SyncOutcome::UpToDate);
            }
        }
    }
}

fn open_window(updated_after: DateTime<Utc>, updated_before: DateTime<Utc>) -> SyncWindow {
    SyncWindow { updated_after, updated_before, pagination_token: None, pages_read: 0 }
}

async fn store_page(
    deps: &SyncDeps,
    connection: &Connection,
    orders: Vec<Result<AmazonOrder, OrderMappingError>>,
    report: &mut ConnectionReport,
) -> Result<(), StoreError> {
    let store = &deps.adapters.store;
    let now = deps.adapters.clock.now();
    for order in orders {
        let order = match order {
            Ok(order) => order,
            Err(e) => {
                warn!(order_id = e.order_id(), error = %e, "skipping an order Amazon sent that cannot be read");
                report.unreadable += 1;
                continue;
            }
        };
        let decision =
            import_decision(order.fulfilled_by, order.amazon_status, connection.options.import_amazon_fulfilled);
        let order_id = order.id.clone();
        match store.upsert_from_amazon(&connection.id, order, decision, now).await? {
            UpsertOutcome::Inserted => {
                info!(order_id = %order_id, "order imported");
                report.inserted += 1;
            }
            UpsertOutcome::Updated => report.updated += 1,
            UpsertOutcome::Unchanged => report.unchanged += 1,
            UpsertOutcome::Skipped => report.skipped += 1,
        }
    }
    Ok(())
}
