//! Near-real-time import: Amazon's ORDER_CHANGE notifications, from the SQS queue Amazon delivers them
//! to. Each names an order that changed; the order is read with one `getOrder` and stored with the
//! same newer-wins rule as the scheduled sync, which stays as the backstop. FULFILLMENT_ORDER_STATUS
//! notifications do the same for our fulfillment orders ([`fulfillment`]).
//!
//! Its own function rather than a second trigger of the sync: the sync runs one at a time for up to
//! five minutes, and a notification must not wait behind it; and a batch of notifications fails per
//! message (partial batch responses, a dead-letter queue), where a sync run fails per connection.
//!
//! A batch is deduplicated on `NotificationId` (Amazon may deliver one more than once) and coalesced
//! per order, so ten notifications for one order cost one `getOrder`. A notification that cannot be
//! read, or names a seller no connection is for, goes to the notifications dead-letter queue with the
//! reason; one whose order cannot be read now (quota, Amazon down) is retried by SQS.
use std::collections::{BTreeMap, BTreeSet};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;
use lambda_runtime::{Error, LambdaEvent};
use order_sync::{Stored, flag_reauthorization, keep_unreadable_order, raise_app_credentials_alert, store_order};
use sellerbridge_core::domain::connection::Connection;
use sellerbridge_core::domain::ids::AmazonOrderId;
use sellerbridge_core::metrics::{self, Metric, MetricSet};
use sellerbridge_core::queue::SqsDeadLetters;
use sellerbridge_core::runtime::Adapters;
use sellerbridge_core::spapi::notification::{FulfillmentStatusChange, Notification, OrderChange};
use sellerbridge_core::spapi::{SpApiClient, SpApiError, WaitBudget};
use serde::Serialize;
use tokio::time::Instant;
use tracing::{Instrument, info, info_span, warn};

/// The environment variable naming the notifications dead-letter queue.
pub const DEAD_LETTERS_URL: &str = "SELLERBRIDGE_NOTIFICATIONS_DLQ_URL";

mod fulfillment;

/// Orders read at once within a batch.
const CONCURRENT_ORDERS: usize = 4;

pub struct NotificationDeps {
    pub adapters: Adapters,
    pub spapi: SpApiClient,
    pub dead_letters: SqsDeadLetters,
}

/// What one batch came to.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationReport {
    pub received: usize,
    /// Notifications handled before (another delivery of one, in this batch or earlier).
    pub duplicates: usize,
    /// `getOrder` calls made: one per order however many notifications named it.
    pub orders_read: usize,
    /// Fulfillment orders read (`getFulfillmentOrder`) and brought up to date.
    pub fulfillments_read: usize,
    pub inserted: usize,
    pub updated: usize,
    /// Parked in the dead-letter queue with their reason.
    pub dead_lettered: usize,
    /// Left on the queue to be delivered again.
    pub retried: usize,
}

pub async fn handle(deps: &NotificationDeps, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let remaining = event.context.deadline().duration_since(std::time::SystemTime::now()).unwrap_or_default();
    // Time kept to answer: a throttled read is better retried by SQS than waited for to the end.
    let stop_at = Instant::now() + remaining.saturating_sub(std::time::Duration::from_secs(5));
    let span =
        info_span!("notification_batch", request_id = %event.context.request_id, size = event.payload.records.len());
    let (response, report) = process_batch(deps, event.payload.records, stop_at).instrument(span).await;
    info!(?report, "notification batch done");
    MetricSet::taken("order-notifications").emit(deps.adapters.clock.now());
    Ok(response)
}

/// A record's fate, decided once for every record naming the same order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fate {
    Done,
    DeadLetter(String),
    Retry,
}

pub async fn process_batch(
    deps: &NotificationDeps,
    records: Vec<SqsMessage>,
    stop_at: Instant,
) -> (SqsBatchResponse, NotificationReport) {
    let mut report = NotificationReport { received: records.len(), ..NotificationReport::default() };
    let mut fates: Vec<(SqsMessage, Fate)> = Vec::new();
    let mut by_order: BTreeMap<AmazonOrderId, Vec<(SqsMessage, OrderChange)>> = BTreeMap::new();
    let mut by_fulfillment: BTreeMap<String, Vec<(SqsMessage, FulfillmentStatusChange)>> = BTreeMap::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for record in records {
        let body = record.body.as_deref().unwrap_or_default();
        let notification = match Notification::parse(body) {
            Ok(notification) => notification,
            Err(e) => {
                warn!(message_id = record.message_id.as_deref().unwrap_or_default(), error = %e, "unreadable notification");
                fates.push((record, Fate::DeadLetter(e.to_string())));
                continue;
            }
        };
        let notification_id = notification.notification_id().to_owned();
        let duplicate = match deps.adapters.store.notification_handled(&notification_id).await {
            Ok(handled) => handled || !seen.insert(notification_id.clone()),
            Err(e) => {
                warn!(error = %e, "could not check the notification; it comes again");
                fates.push((record, Fate::Retry));
                continue;
            }
        };
        if duplicate {
            info!(notification_id, "notification already handled");
            report.duplicates += 1;
            fates.push((record, Fate::Done));
            continue;
        }
        match notification {
            Notification::OrderChange(change) => {
                by_order.entry(change.order_id.clone()).or_default().push((record, change))
            }
            Notification::FulfillmentStatus(change) => {
                by_fulfillment.entry(change.fulfillment_id.clone()).or_default().push((record, change));
            }
        }
    }

    let connections = match deps.adapters.store.list_connections().await {
        Ok(connections) => connections,
        Err(e) => {
            warn!(error = %e, "could not list the connections; the batch comes again");
            fates.extend(by_order.into_values().flatten().map(|(record, _)| (record, Fate::Retry)));
            fates.extend(by_fulfillment.into_values().flatten().map(|(record, _)| (record, Fate::Retry)));
            return finish(deps, fates, report).await;
        }
    };
    for (fulfillment_id, group) in by_fulfillment {
        let span = info_span!("fulfillment_status", fulfillment_id, notifications = group.len());
        let fate = fulfillment::refresh(deps, &connections, &group[0].1, stop_at).instrument(span).await;
        report.fulfillments_read += usize::from(fate == Fate::Done);
        if fate == Fate::Done {
            record_handled(deps, group.iter().map(|(_, change)| change.notification_id.as_str())).await;
        }
        fates.extend(group.into_iter().map(|(record, _)| (record, fate.clone())));
    }
    let groups: Vec<(Vec<(SqsMessage, OrderChange)>, Imported)> =
        futures::stream::iter(by_order.into_iter().map(|(order_id, group)| {
            let connections = &connections;
            let span = info_span!("order_change", order_id = %order_id, notifications = group.len());
            async move {
                let imported = import_order(deps, connections, &order_id, &group[0].1, stop_at).await;
                if imported.fate == Fate::Done {
                    record_handled(deps, group.iter().map(|(_, change)| change.notification_id.as_str())).await;
                }
                (group, imported)
            }
            .instrument(span)
        }))
        .buffer_unordered(CONCURRENT_ORDERS)
        .collect()
        .await;
    for (group, imported) in groups {
        report.orders_read += usize::from(imported.read);
        match imported.stored {
            Some(Stored::Inserted) => report.inserted += 1,
            Some(Stored::Updated) => report.updated += 1,
            _ => {}
        }
        fates.extend(group.into_iter().map(|(record, _)| (record, imported.fate.clone())));
    }
    finish(deps, fates, report).await
}

/// Remembers the notifications as handled, so another delivery of one is not acted on again.
async fn record_handled(deps: &NotificationDeps, ids: impl Iterator<Item = &str>) {
    for id in ids {
        let now = deps.adapters.clock.now();
        if let Err(e) = deps.adapters.store.record_notification(id, now).await {
            warn!(error = %e, "could not record the notification as handled");
        }
    }
}

/// Parks the records to dead-letter (a record that cannot be parked is retried instead) and reports
/// the ones to retry as batch item failures.
async fn finish(
    deps: &NotificationDeps,
    fates: Vec<(SqsMessage, Fate)>,
    mut report: NotificationReport,
) -> (SqsBatchResponse, NotificationReport) {
    let mut response = SqsBatchResponse::default();
    for (record, fate) in fates {
        let retry = match fate {
            Fate::Done => false,
            Fate::Retry => true,
            Fate::DeadLetter(reason) => {
                match deps.dead_letters.park(record.body.as_deref().unwrap_or_default(), &reason).await {
                    Ok(()) => {
                        report.dead_lettered += 1;
                        metrics::count(Metric::DeadLettered, 1);
                        false
                    }
                    Err(e) => {
                        warn!(error = %e, "could not park the notification; it comes again");
                        true
                    }
                }
            }
        };
        if retry {
            report.retried += 1;
            response.add_failure(record.message_id.unwrap_or_default());
        }
    }
    (response, report)
}

/// The connection a notification is for: the seller's in the notification's marketplace (or the
/// seller's only one, when the notification names none).
fn connection_for<'a>(connections: &'a [Connection], change: &OrderChange) -> Result<&'a Connection, String> {
    let sellers: Vec<&Connection> = connections.iter().filter(|c| c.seller_id == change.seller_id).collect();
    let found = match &change.marketplace_id {
        Some(marketplace) => sellers.into_iter().find(|c| &c.marketplace_id == marketplace),
        None if sellers.len() == 1 => sellers.into_iter().next(),
        None => None,
    };
    found.ok_or_else(|| {
        let marketplace = change.marketplace_id.as_ref().map_or("(none named)".to_owned(), ToString::to_string);
        format!(
            "no connection for seller {} in marketplace {marketplace} (order {}, notification {})",
            change.seller_id, change.order_id, change.notification_id
        )
    })
}

/// What reading and storing one order came to.
struct Imported {
    fate: Fate,
    /// Whether Amazon was asked for the order.
    read: bool,
    stored: Option<Stored>,
}

impl Imported {
    fn without_reading(fate: Fate) -> Self {
        Self { fate, read: false, stored: None }
    }

    fn after_reading(fate: Fate) -> Self {
        Self { fate, read: true, stored: None }
    }
}

/// Reads the order once and stores it; what happened decides every notification naming it.
async fn import_order(
    deps: &NotificationDeps,
    connections: &[Connection],
    order_id: &AmazonOrderId,
    change: &OrderChange,
    stop_at: Instant,
) -> Imported {
    let connection = match connection_for(connections, change) {
        Ok(connection) => connection,
        Err(reason) => return Imported::without_reading(Fate::DeadLetter(reason)),
    };
    if !connection.is_active() {
        // The poll reads it when the connection is active again: its cursor waits where it stopped.
        info!(connection_id = %connection.id, "connection not active; its next sync picks the order up");
        return Imported::without_reading(Fate::Done);
    }
    let adapters = &deps.adapters;
    let auth = match adapters.seller_auth(connection).await {
        Ok(auth) => auth,
        Err(e) => return Imported::without_reading(Fate::DeadLetter(format!("connection {}: {e}", connection.id))),
    };
    let stored = match deps.spapi.fetch_order(&auth, order_id.as_str(), WaitBudget::until(stop_at)).await {
        Ok(Ok(order)) => store_order(adapters, connection, order).await,
        Ok(Err(unreadable)) => keep_unreadable_order(adapters, connection, unreadable).await,
        Err(SpApiError::NeedsReauthorization(detail)) => {
            flag_reauthorization(adapters, connection, detail).await;
            return Imported::after_reading(Fate::Done);
        }
        Err(SpApiError::InvalidClient(detail)) => {
            raise_app_credentials_alert(adapters, connection, &detail).await;
            return Imported::after_reading(Fate::Retry);
        }
        Err(e) if e.is_retryable() => {
            info!(error = %e, "the order cannot be read now; the notification comes again");
            return Imported::after_reading(Fate::Retry);
        }
        Err(e) => return Imported::after_reading(Fate::DeadLetter(format!("order {order_id}: {e}"))),
    };
    match stored {
        Ok(stored) => Imported { fate: Fate::Done, read: true, stored: Some(stored) },
        Err(e) if e.is_retryable() => {
            warn!(error = %e, "could not store the order; the notification comes again");
            Imported::after_reading(Fate::Retry)
        }
        Err(e) => Imported::after_reading(Fate::DeadLetter(format!("order {order_id}: {e}"))),
    }
}
