//! The scheduled sync against the sandbox: resuming across runs, orders changing between pages,
//! throttling, and a revoked refresh token.
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use order_sync::{SyncOutcome, SyncSettings};
use sellerbridge_cli::local::runner;
use sellerbridge_cli::ops;
use sellerbridge_core::domain::clock::OffsetClock;
use sellerbridge_core::domain::connection::{Connection, ConnectionState};
use sellerbridge_core::domain::rate::Quota;
use sellerbridge_core::domain::status::OrderStatus;
use sellerbridge_e2e::{Harness, actionable, options_for, sandbox};
use serde_json::json;

#[tokio::test]
async fn a_backfill_resumes_across_runs_without_skipping_or_duplicating_orders_that_change_between_pages() {
    let clock = OffsetClock::default();
    let mut options = options_for(1.0);
    // Amazon's real searchOrders rate with a small burst: one run can read only a couple of pages.
    options.quota_overrides.insert("searchOrders".into(), Quota::new(0.0056, 3.0));
    let h = Harness::start(sandbox(80, 11, 600.0), Arc::new(clock.clone()), options).await;
    let settings = SyncSettings { page_size: 10, ..SyncSettings::default() };
    let sync = h.stack.sync_deps(settings).await.unwrap();
    let seeded = h.inspector.orders().await.unwrap();
    let expected = actionable(&seeded);

    let mut runs = 0;
    let mut inserted = 0;
    let mut touched: Vec<String> = Vec::new();
    loop {
        runs += 1;
        assert!(runs <= 20, "the backfill never finished");
        let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
        let connection = &report.connections[0];
        inserted += connection.inserted;
        match &connection.outcome {
            SyncOutcome::UpToDate => break,
            SyncOutcome::Paused { reason } => assert!(reason.contains("quota"), "{reason}"),
            other => panic!("unexpected outcome {other:?}"),
        }
        // Between runs (and so between pages) Amazon changes orders: one already stored, one not yet read.
        let stored: BTreeSet<String> =
            h.stack.adapters.store.scan_orders().await.unwrap().iter().map(|o| o.id().to_string()).collect();
        let seen = expected.iter().find(|id| stored.contains(*id) && !touched.contains(id)).cloned();
        let unseen = expected.iter().rev().find(|id| !stored.contains(*id) && !touched.contains(id)).cloned();
        for id in [seen, unseen].into_iter().flatten() {
            h.sandbox_post(&format!("/_sandbox/orders/{id}/touch"), json!({})).await;
            touched.push(id);
        }
        // Time passes until the bucket holds tokens again.
        clock.advance(chrono::Duration::minutes(10));
        h.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": 600})).await;
    }
    assert!(runs >= 3, "the backfill spanned several runs ({runs})");
    assert!(!touched.is_empty());

    // Orders changed mid-window moved past its end; the next run picks them up with their newer versions.
    let cancelled = touched[0].clone();
    h.sandbox_post(&format!("/_sandbox/orders/{cancelled}/touch"), json!({"fulfillmentStatus": "CANCELLED"})).await;
    let mut updated = 0;
    for run in 0.. {
        assert!(run < 5, "the window after the backfill never finished");
        clock.advance(chrono::Duration::minutes(10));
        h.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": 600})).await;
        let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
        inserted += report.connections[0].inserted;
        updated += report.connections[0].updated;
        if report.connections[0].outcome == SyncOutcome::UpToDate {
            break;
        }
    }
    assert!(updated >= 1, "the changed orders were read again");

    let stored_ids: BTreeSet<String> =
        h.stack.adapters.store.scan_orders().await.unwrap().iter().map(|o| o.id().to_string()).collect();
    assert_eq!(stored_ids, expected, "no actionable order skipped, nothing else imported");
    assert_eq!(inserted as usize, expected.len(), "every order inserted exactly once");
    let order = h.stack.adapters.store.get_order(&cancelled.parse_id()).await.unwrap().unwrap();
    assert_eq!(order.value.status, OrderStatus::Cancelled, "the newer lastUpdatedTime wins");
}

trait ParseId {
    fn parse_id(&self) -> sellerbridge_core::domain::ids::AmazonOrderId;
}

impl ParseId for String {
    fn parse_id(&self) -> sellerbridge_core::domain::ids::AmazonOrderId {
        sellerbridge_core::domain::ids::AmazonOrderId::parse(self.clone()).unwrap()
    }
}

#[tokio::test]
async fn throttling_during_a_sync_is_retried_within_the_deadline() {
    let h = Harness::start(sandbox(30, 5, 600.0), Arc::new(OffsetClock::default()), options_for(600.0)).await;
    h.sandbox_post("/_sandbox/faults", json!({"operation": "searchOrders", "status": 429, "count": 2})).await;
    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    let report = runner::tick_sync(&sync, Duration::from_secs(60)).await.unwrap();
    assert_eq!(report.connections[0].outcome, SyncOutcome::UpToDate);
    let stats = h.inspector.stats().await.unwrap();
    assert_eq!(stats.throttled, 2, "both 429s were met and retried");
    let stored = h.stack.adapters.store.scan_orders().await.unwrap();
    assert_eq!(stored.len() as u64, stats.actionable_mfn);
}

#[tokio::test]
async fn a_revoked_refresh_token_flags_the_connection_and_stops_calling_amazon() {
    let mut config = sandbox(10, 3, 600.0);
    config.refresh_tokens.push(RENEWED_TOKEN.into());
    let h = Harness::start(config, Arc::new(OffsetClock::default()), options_for(600.0)).await;
    h.sandbox_post("/_sandbox/refresh-tokens/revoke", json!({"refreshToken": sellerbridge_e2e::REFRESH_TOKEN})).await;
    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    let SyncOutcome::NeedsReauthorization { hint } = &report.connections[0].outcome else {
        panic!("expected NeedsReauthorization, got {:?}", report.connections[0].outcome);
    };
    assert!(hint.contains("re-authoriz"), "{hint}");
    let connection = h.stack.adapters.store.get_connection(&h.connection.id).await.unwrap().unwrap();
    assert!(matches!(connection.state, ConnectionState::NeedsReauthorization { .. }));

    let calls_before = h.inspector.calls().await.unwrap().len();
    let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    assert_eq!(report.connections[0].outcome, SyncOutcome::NotActive);
    assert_eq!(h.inspector.calls().await.unwrap().len(), calls_before, "no call to Amazon for a flagged connection");

    // The seller re-authorizes; the operator stores the new token: the same warm function uses it at once.
    // The connection was added before secrets were scoped to their stack: its token moves under the
    // stack's prefix, and the old secret goes.
    let unscoped = format!("sellerbridge/connections/{}", h.stack.name);
    ops::put_secret(&h.stack.clients.secrets, &unscoped, "{}").await.unwrap();
    let added_earlier = Connection { refresh_token_secret_id: unscoped.clone(), ..connection };
    h.stack.adapters.store.put_connection(&added_earlier).await.unwrap();
    let secret = json!({"refresh_token": RENEWED_TOKEN}).to_string();
    let secrets = h.stack.connection_secrets().unwrap();
    let renewed =
        ops::store_new_token(&h.stack.adapters.store, &h.stack.clients.secrets, &secrets, &h.connection.id, &secret)
            .await
            .unwrap();
    assert_eq!(renewed.refresh_token_secret_id, secrets.secret_id(&h.connection.id));
    let old = h.stack.clients.secrets.get_secret_value().secret_id(&unscoped).send().await;
    assert!(old.is_err_and(|e| e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception())));
    let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    assert_eq!(report.connections[0].outcome, SyncOutcome::UpToDate);
    assert!(report.connections[0].inserted > 0);
}

const RENEWED_TOKEN: &str = "Atzr|renewed-after-reauthorization";

#[tokio::test]
async fn a_run_out_of_time_stops_before_reading_and_the_next_run_resumes_the_same_window() {
    let h = Harness::start(sandbox(20, 9, 600.0), Arc::new(OffsetClock::default()), options_for(600.0)).await;
    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    // A Lambda timeout shorter than the margin kept for saving state: nothing may be read.
    let report = runner::tick_sync(&sync, Duration::from_secs(5)).await.unwrap();
    let SyncOutcome::Paused { reason } = &report.connections[0].outcome else {
        panic!("expected a pause, got {:?}", report.connections[0].outcome)
    };
    assert!(reason.contains("deadline"), "{reason}");
    assert_eq!(report.connections[0].pages, 0);
    let cursor = h.stack.adapters.store.load_cursor(&h.connection.id).await.unwrap().unwrap().value;
    let window = cursor.window.expect("the window is saved before the first page");

    let report = runner::tick_sync(&sync, Duration::from_secs(60)).await.unwrap();
    assert_eq!(report.connections[0].outcome, SyncOutcome::UpToDate);
    let cursor = h.stack.adapters.store.load_cursor(&h.connection.id).await.unwrap().unwrap().value;
    assert_eq!(cursor.committed_until, window.updated_before, "the saved window was resumed, not a new one");
    assert_eq!(
        h.stack.adapters.store.scan_orders().await.unwrap().len() as u64,
        h.inspector.stats().await.unwrap().actionable_mfn
    );
}
