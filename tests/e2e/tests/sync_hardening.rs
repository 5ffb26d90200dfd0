//! A sync that never stalls: refused or stale pagination tokens restart the window, a corrupt stored
//! order is kept aside, one seller's quota never starves another, Login with Amazon hiccups are
//! retried, a clock ahead of Amazon's is tolerated, and "sync now" or a reset never races a running sync.
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use order_sync::{SyncOutcome, SyncSettings};
use sellerbridge_cli::local::runner;
use sellerbridge_cli::local::stack::ConnectionSpec;
use sellerbridge_cli::ops;
use sellerbridge_core::domain::clock::OffsetClock;
use sellerbridge_core::domain::connection::ConnectionOptions;
use sellerbridge_core::domain::ids::{ConnectionId, MarketplaceId, SellerId};
use sellerbridge_core::domain::rate::Quota;
use sellerbridge_core::store::keys;
use sellerbridge_e2e::{Harness, REFRESH_TOKEN, options_for, sandbox};
use serde_json::{Value, json};

/// Every searchOrders call the sandbox received, in order, as its call log records them.
async fn search_calls(h: &Harness) -> Vec<Value> {
    let calls: Vec<Value> =
        reqwest::get(format!("{}/_sandbox/calls", h.sandbox.url)).await.unwrap().json().await.unwrap();
    calls.into_iter().filter(|c| c["operation"] == "searchOrders").collect()
}

fn sent_a_token(call: &Value) -> bool {
    call["query"].as_str().unwrap_or_default().contains("paginationToken=")
}

/// Amazon's real searchOrders quota with a tiny burst: one run reads two pages and pauses. Slices are
/// never split here, so the window is read by following tokens, as a slice too short to split is.
async fn paused_backfill() -> (Harness, OffsetClock, order_sync::SyncDeps) {
    let clock = OffsetClock::default();
    let mut options = options_for(1.0);
    options.quota_overrides.insert("searchOrders".into(), Quota::new(0.0056, 3.0));
    let h = Harness::start(sandbox(60, 17, 600.0), Arc::new(clock.clone()), options).await;
    let settings = SyncSettings { page_size: 5, min_slice: chrono::Duration::days(365), ..SyncSettings::default() };
    let sync = h.stack.sync_deps(settings).await.unwrap();
    let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    assert!(matches!(report.connections[0].outcome, SyncOutcome::Paused { .. }), "{report:?}");
    let cursor = h.stack.adapters.store.load_cursor(&h.connection.id).await.unwrap().unwrap().value;
    assert!(cursor.window.and_then(|w| w.pagination_token).is_some(), "paused mid-window with a token saved");
    (h, clock, sync)
}

/// A harness whose orders are synced once, on a clock the test moves.
async fn synced(orders: usize, seed: u64) -> (Harness, OffsetClock, order_sync::SyncDeps) {
    let clock = OffsetClock::default();
    let h = Harness::start(sandbox(orders, seed, 600.0), Arc::new(clock.clone()), options_for(600.0)).await;
    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    (h, clock, sync)
}

async fn advance(h: &Harness, clock: &OffsetClock, by: chrono::Duration) {
    clock.advance(by);
    h.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": by.num_seconds()})).await;
}

#[tokio::test]
async fn any_refusal_of_a_resumed_token_restarts_the_window() {
    let (h, clock, sync) = paused_backfill().await;
    // Amazon's words for a dead token vary; a plain 400 must be enough.
    h.sandbox_post("/_sandbox/faults", json!({"operation": "searchOrders", "status": 400, "count": 1})).await;
    advance(&h, &clock, chrono::Duration::minutes(10)).await;
    let before = search_calls(&h).await.len();
    let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    assert!(!matches!(report.connections[0].outcome, SyncOutcome::Failed { .. }), "{report:?}");
    let calls = search_calls(&h).await;
    assert!(sent_a_token(&calls[before]) && calls[before]["status"] == 400);
    assert!(!sent_a_token(&calls[before + 1]), "the window was read again from its first page");
}

#[tokio::test]
async fn a_token_older_than_its_lifetime_is_never_sent() {
    let (h, clock, sync) = paused_backfill().await;
    // The connection waited a day (re-authorization, say): Amazon's token lived 24 hours.
    advance(&h, &clock, chrono::Duration::hours(24)).await;
    let before = search_calls(&h).await.len();
    runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    let calls = search_calls(&h).await;
    assert!(calls.len() > before);
    assert!(calls[before..].iter().all(|c| !sent_a_token(c) || c["status"] != 400), "no dead token was sent");
    assert!(!sent_a_token(&calls[before]), "the stale window was started over without sending its token");
}

#[tokio::test]
async fn a_corrupt_stored_order_is_kept_aside_and_the_sync_goes_on() {
    let (h, clock, sync) = synced(20, 23).await;
    let orders = h.stack.adapters.store.scan_orders().await.unwrap();
    let (broken, other) = (orders[0].id().clone(), orders[1].id().clone());
    h.tamper(keys::order(&broken), "SET body = :garbage", &[], &[(":garbage", "{\"truncated")]).await;
    for id in [&broken, &other] {
        h.sandbox_post(&format!("/_sandbox/orders/{id}/touch"), json!({})).await;
    }
    advance(&h, &clock, chrono::Duration::minutes(10)).await;

    for _ in 0..2 {
        let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
        let connection = &report.connections[0];
        assert_eq!(connection.outcome, SyncOutcome::UpToDate, "one bad record never stalls the connection");
        assert_eq!(connection.unreadable_orders, vec![broken.to_string()]);
        advance(&h, &clock, chrono::Duration::minutes(10)).await;
    }
    let updated = h.stack.adapters.store.get_order(&other).await.unwrap().unwrap();
    assert!(updated.value.amazon.updated_at > orders[1].amazon.updated_at, "the other order was still updated");
    let summary = ops::order_summary(&h.stack.adapters.store, &broken).await.unwrap();
    assert!(summary["unreadable"][0]["reason"].as_str().unwrap().contains("stored order unreadable"), "{summary}");
}

#[tokio::test]
async fn a_seller_waiting_for_quota_never_starves_another() {
    let h = Harness::start(sandbox(30, 29, 600.0), Arc::new(OffsetClock::default()), options_for(600.0)).await;
    // Sorted first, and slow: every page waits about ten seconds for this seller's quota.
    let mut slow = ConnectionOptions::default();
    slow.quota_overrides.insert("searchOrders".into(), Quota::new(0.1, 2.0));
    h.stack
        .add_connection(ConnectionSpec {
            id: ConnectionId::parse("a-slow").unwrap(),
            seller_id: SellerId::parse(format!("A2SLOW{}", Utc::now().timestamp_micros())).unwrap(),
            marketplace_id: MarketplaceId::parse("ATVPDKIKX0DER").unwrap(),
            refresh_token: REFRESH_TOKEN.into(),
            options: slow,
            import_from: Utc::now() - chrono::Duration::days(30),
        })
        .await
        .unwrap();
    let settings = SyncSettings { page_size: 2, deadline_margin: Duration::from_secs(1), ..SyncSettings::default() };
    let sync = h.stack.sync_deps(settings).await.unwrap();
    let report = runner::tick_sync(&sync, Duration::from_secs(20)).await.unwrap();
    let outcome = |id: &str| &report.connections.iter().find(|c| c.connection_id.as_str() == id).unwrap().outcome;
    assert!(matches!(outcome("a-slow"), SyncOutcome::Paused { .. }), "{report:?}");
    assert_eq!(outcome("us-main"), &SyncOutcome::UpToDate, "{report:?}");
}

#[tokio::test]
async fn a_transient_login_with_amazon_failure_is_retried() {
    let h = Harness::start(sandbox(10, 37, 600.0), Arc::new(OffsetClock::default()), options_for(600.0)).await;
    h.sandbox_post("/_sandbox/faults", json!({"operation": "lwaToken", "status": 503, "count": 1})).await;
    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    assert_eq!(report.connections[0].outcome, SyncOutcome::UpToDate, "{report:?}");
    assert!(report.connections[0].inserted > 0);
}

#[tokio::test]
async fn a_lambda_clock_ahead_of_amazons_is_not_refused() {
    let clock = OffsetClock::default();
    clock.advance(chrono::Duration::seconds(45));
    let h = Harness::start(sandbox(10, 41, 600.0), Arc::new(clock), options_for(600.0)).await;
    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    assert_eq!(report.connections[0].outcome, SyncOutcome::UpToDate, "{report:?}");
}

#[tokio::test]
async fn sync_now_leaves_a_connection_another_run_holds() {
    let h = Harness::start(sandbox(10, 43, 600.0), Arc::new(OffsetClock::default()), options_for(600.0)).await;
    let store = &h.stack.adapters.store;
    let now = h.stack.adapters.clock.now();
    assert!(
        store
            .acquire_sync_lease(&h.connection.id, "scheduled-run", now, now + chrono::Duration::minutes(5))
            .await
            .unwrap()
    );
    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    assert_eq!(report.connections[0].outcome, SyncOutcome::Busy);
    assert!(search_calls(&h).await.is_empty(), "nothing was read twice");

    store.release_sync_lease(&h.connection.id, "scheduled-run").await.unwrap();
    let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    assert_eq!(report.connections[0].outcome, SyncOutcome::UpToDate);
}

#[tokio::test]
async fn an_import_date_reset_during_a_sync_is_not_overwritten() {
    let h = Harness::start(sandbox(10, 47, 600.0), Arc::new(OffsetClock::default()), options_for(600.0)).await;
    h.sandbox_post("/_sandbox/faults", json!({"operation": "searchOrders", "delayMs": 5000, "count": 1})).await;
    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    let reset_to = h.stack.adapters.clock.now() - chrono::Duration::days(90);
    let store = &h.stack.adapters.store;
    let (report, _) = tokio::join!(runner::tick_sync(&sync, Duration::from_secs(30)), async {
        // The run has saved its window and is waiting on Amazon's slow answer: the operator resets.
        while store.load_cursor(&h.connection.id).await.unwrap().is_none_or(|c| c.value.window.is_none()) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        ops::reset_import_date(store, &h.connection.id, reset_to).await.unwrap()
    });
    let report = report.unwrap();
    let SyncOutcome::Paused { reason } = &report.connections[0].outcome else { panic!("{report:?}") };
    assert!(reason.contains("changed"), "{reason}");
    let cursor = h.stack.adapters.store.load_cursor(&h.connection.id).await.unwrap().unwrap().value;
    assert_eq!(cursor.committed_until, reset_to, "the operator's reset stands");
    assert_eq!(cursor.window, None);
}

#[tokio::test]
async fn an_order_amazon_sends_unreadable_is_kept_without_pii_and_read_again_later() {
    let clock = OffsetClock::default();
    let h = Harness::start(sandbox(20, 53, 600.0), Arc::new(clock.clone()), options_for(600.0)).await;
    let seeded = h.inspector.orders().await.unwrap();
    let odd = seeded
        .iter()
        .find(|o| o["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED" && o["fulfillment"]["fulfilledBy"] == "MERCHANT")
        .expect("an actionable order");
    let odd_id = odd["orderId"].as_str().unwrap().to_owned();
    // Amazon sends a creation time of 1995 as a number (field lesson 18).
    h.sandbox_post(&format!("/_sandbox/orders/{odd_id}/quirk"), json!({"pointer": "/createdTime", "value": 1995}))
        .await;
    advance(&h, &clock, chrono::Duration::minutes(10)).await;
    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();

    let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    let connection = &report.connections[0];
    assert_eq!(connection.outcome, SyncOutcome::UpToDate, "one bad order never stalls the sync");
    assert_eq!(connection.unreadable_orders, vec![odd_id.clone()]);
    let id = sellerbridge_core::domain::ids::AmazonOrderId::parse(odd_id.clone()).unwrap();
    assert!(h.stack.adapters.store.get_order(&id).await.unwrap().is_none());
    let summary = ops::order_summary(&h.stack.adapters.store, &id).await.unwrap();
    let kept = &summary["unreadable"][0];
    assert!(kept["reason"].as_str().unwrap().contains(&odd_id), "{summary}");
    assert_eq!(kept["payload_without_pii"]["createdTime"], 1995, "the payload shows what Amazon sent");
    let text = summary.to_string();
    for canary in sellerbridge_e2e::pii_canaries(std::slice::from_ref(odd)) {
        assert!(!text.contains(&canary), "PII kept with the unreadable order: {text}");
    }

    // Still unreadable on the next run: kept, attempts counted, never dropped.
    advance(&h, &clock, chrono::Duration::minutes(10)).await;
    let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    assert_eq!(report.connections[0].unreadable_orders, vec![odd_id.clone()], "{report:?}");

    // Amazon's copy reads again (or our mapping was fixed): a later run stores it and lets it go.
    h.sandbox_post(&format!("/_sandbox/orders/{odd_id}/quirk"), json!({})).await;
    advance(&h, &clock, chrono::Duration::minutes(10)).await;
    let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    assert_eq!(report.connections[0].recovered, 1, "{report:?}");
    assert!(report.connections[0].unreadable_orders.is_empty());
    assert!(h.stack.adapters.store.get_order(&id).await.unwrap().is_some());
}

#[tokio::test]
async fn a_cursor_saved_before_cursors_were_versioned_is_taken_over() {
    let (h, clock, sync) = synced(10, 59).await;
    h.tamper(keys::sync_cursor(&h.connection.id), "REMOVE version", &[], &[]).await;
    advance(&h, &clock, chrono::Duration::minutes(10)).await;
    let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    assert_eq!(report.connections[0].outcome, SyncOutcome::UpToDate, "{report:?}");
    let reset_to = h.stack.adapters.clock.now() - chrono::Duration::days(1);
    ops::reset_import_date(&h.stack.adapters.store, &h.connection.id, reset_to).await.unwrap();
}

/// Options set by the operator change what the next run does: a sync interval spaces scheduled runs
/// ("sync now" does not wait for it), and a switched-off connection is not synced at all.
#[tokio::test]
async fn a_sync_interval_and_switching_off_are_honoured_by_the_next_run() {
    use sellerbridge_core::domain::connection::OptionsChange;
    let (h, clock, sync) = synced(20, 31).await;
    let store = &h.stack.adapters.store;
    let every_half_hour = OptionsChange { sync_interval_minutes: Some(Some(30)), ..OptionsChange::default() };
    ops::change_connection(store, &h.connection.id, &every_half_hour, clock_now(&clock)).await.unwrap();

    advance(&h, &clock, chrono::Duration::minutes(10)).await;
    let before = search_calls(&h).await.len();
    let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    assert_eq!(report.connections[0].outcome, SyncOutcome::NotDue);
    assert_eq!(search_calls(&h).await.len(), before, "not due for another twenty minutes");
    let stop_at = tokio::time::Instant::now() + Duration::from_secs(30);
    order_sync::sync(&sync, Some(&h.connection.id), stop_at).await.unwrap();
    assert!(search_calls(&h).await.len() > before, "sync now does not wait for the interval");

    let off = OptionsChange { enabled: Some(false), ..OptionsChange::default() };
    ops::change_connection(store, &h.connection.id, &off, clock_now(&clock)).await.unwrap();
    advance(&h, &clock, chrono::Duration::hours(2)).await;
    let before = search_calls(&h).await.len();
    let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    assert_eq!(report.connections[0].outcome, SyncOutcome::NotActive);
    assert_eq!(search_calls(&h).await.len(), before, "a switched-off connection costs no call");
}

fn clock_now(clock: &OffsetClock) -> chrono::DateTime<Utc> {
    use sellerbridge_core::domain::clock::Clock;
    clock.now()
}

/// Amazon answering 429 to everything (another app spending the seller's quota): after a few refusals
/// the seller's searchOrders calls are paused, and the next run does not call at all until the pause ends.
#[tokio::test]
async fn a_seller_amazon_keeps_throttling_is_paused_not_hammered() {
    let (h, clock, sync) = synced(10, 37).await;
    h.sandbox_post("/_sandbox/faults", json!({"operation": "searchOrders", "status": 429, "count": 1000})).await;
    advance(&h, &clock, chrono::Duration::minutes(10)).await;
    let before = search_calls(&h).await.len();
    let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    let SyncOutcome::Paused { reason } = &report.connections[0].outcome else { panic!("{report:?}") };
    assert!(reason.contains("several times in a row"), "{reason}");
    let refused = search_calls(&h).await.len() - before;
    assert!((1..=5).contains(&refused), "{refused} calls before the pause");

    let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    assert!(matches!(report.connections[0].outcome, SyncOutcome::Paused { .. }));
    assert_eq!(search_calls(&h).await.len() - before, refused, "no call while the seller is paused");
}

/// The app's client secret was rotated at Amazon: the stack-wide alert is raised, and once the operator
/// stores the new secret a warm function reads it again and carries on, without a cold start.
#[tokio::test]
async fn a_rotated_app_secret_is_picked_up_by_warm_functions_once_stored() {
    let clock = OffsetClock::default();
    let mut config = sandbox(15, 41, 600.0);
    config.client_secret = "rotated-client-secret".into();
    let h = Harness::start(config, Arc::new(clock.clone()), options_for(600.0)).await;
    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    assert!(matches!(report.connections[0].outcome, SyncOutcome::AppCredentialsRejected { .. }), "{report:?}");
    let store = &h.stack.adapters.store;
    assert!(store.app_credentials_alert().await.unwrap().is_some());

    let rotated = r#"{"client_id": "sandbox-client-id", "client_secret": "rotated-client-secret"}"#;
    ops::set_app_credentials(store, &h.stack.clients.secrets, &h.stack.settings.lwa_secret_id, rotated).await.unwrap();
    advance(&h, &clock, chrono::Duration::minutes(2)).await;
    let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    assert_eq!(report.connections[0].outcome, SyncOutcome::UpToDate, "the same (warm) deps read the new secret");
    assert!(store.app_credentials_alert().await.unwrap().is_none());
}
