//! The operator's tools against the local stack: redriving dead letters, resetting the import date,
//! looking up an order, moving connection secrets under the stack's prefix.
use std::sync::Arc;
use std::time::Duration;

use indicatif::ProgressBar;
use order_sync::{SyncOutcome, SyncSettings};
use sellerbridge_cli::local::demo::{self, Quiet};
use sellerbridge_cli::local::runner;
use sellerbridge_cli::ops;
use sellerbridge_core::domain::clock::OffsetClock;
use sellerbridge_core::domain::connection::Connection;
use sellerbridge_core::domain::shipment::PackageState;
use sellerbridge_e2e::{Harness, options_for, pii_canaries, sandbox, send_without_backoff};
use serde_json::json;

async fn synced(orders: usize, seed: u64) -> Harness {
    let h = Harness::start(sandbox(orders, seed, 600.0), Arc::new(OffsetClock::default()), options_for(600.0)).await;
    let sync = h.stack.sync_deps(Default::default()).await.unwrap();
    demo::sync_until_current(&sync, 3, &Quiet).await.unwrap();
    h
}

/// Sends whatever the updates queue holds, as the event source mapping would, until it is empty.
async fn drain(h: &Harness, sender: &update_sender::SenderDeps) {
    let poller = h.stack.updates_poller();
    let progress = demo::sandbox_progress(&h.inspector);
    demo::drain_updates(sender, &poller, 1, Duration::from_secs(120), &Quiet, progress).await.unwrap();
}

#[tokio::test]
async fn dead_lettered_updates_can_be_redriven_and_then_go_through() {
    let h = synced(6, 31).await;
    demo::send_shipments(&h.stack.webhook_deps(), &h.stack.signing_key, &h.stack.adapters.store, &Quiet).await.unwrap();
    let store = &h.stack.adapters.store;
    let packages = store.scan_packages().await.unwrap().len();
    let failures = packages * h.stack.sender_settings().max_receives as usize;
    h.sandbox_post("/_sandbox/faults", json!({"operation": "confirmShipment", "status": 500, "count": failures})).await;
    let sender = send_without_backoff(&h).await;
    assert!(store.scan_packages().await.unwrap().iter().all(|p| matches!(p.state, PackageState::DeadLettered { .. })));

    let progress = ProgressBar::hidden();
    let moved = ops::redrive_dead_letters(
        store,
        &h.stack.clients.sqs,
        &h.stack.queues.updates_dlq_url,
        ops::Redrive::Confirmations(&h.stack.queues.updates_url),
        &progress,
    )
    .await
    .unwrap();
    assert_eq!(moved, packages);
    assert_eq!(progress.position(), packages as u64, "the progress bar counts each message moved");
    assert!(runner::depth(&h.stack.clients.sqs, &h.stack.queues.updates_dlq_url).await.unwrap().is_empty());
    drain(&h, &sender).await;
    assert!(store.scan_packages().await.unwrap().iter().all(|p| matches!(p.state, PackageState::Confirmed { .. })));
    assert_eq!(h.inspector.stats().await.unwrap().confirmed_packages as usize, packages);
}

#[tokio::test]
async fn resetting_the_import_date_reads_the_orders_again_without_duplicating_them() {
    let h = synced(20, 33).await;
    let store = &h.stack.adapters.store;
    let held = store.scan_orders().await.unwrap().len();
    let earlier = h.connection.import_from - chrono::Duration::days(1);
    ops::reset_import_date(store, &h.connection.id, earlier).await.unwrap();
    let sync = h.stack.sync_deps(Default::default()).await.unwrap();
    let report = runner::tick_sync(&sync, Duration::from_secs(60)).await.unwrap();
    let connection = &report.connections[0];
    assert_eq!(connection.inserted, 0);
    assert_eq!(connection.unchanged as usize, held, "every held order was read again and left as it was");
    assert_eq!(store.scan_orders().await.unwrap().len(), held);
    assert_eq!(store.get_connection(&h.connection.id).await.unwrap().unwrap().import_from, earlier);
}

#[tokio::test]
async fn an_order_lookup_shows_packages_and_no_pii() {
    let h = synced(8, 35).await;
    demo::send_shipments(&h.stack.webhook_deps(), &h.stack.signing_key, &h.stack.adapters.store, &Quiet).await.unwrap();
    let order = h.stack.adapters.store.scan_orders().await.unwrap().remove(0);
    let summary = ops::order_summary(&h.stack.adapters.store, order.id()).await.unwrap();
    assert_eq!(summary["order_id"], order.id().as_str());
    assert_eq!(summary["packages"][0]["state"]["state"], "queued");
    let text = summary.to_string();
    let source = h
        .inspector
        .orders()
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o["orderId"] == order.id().as_str())
        .collect::<Vec<_>>();
    for canary in pii_canaries(&source) {
        assert!(!text.contains(&canary), "the lookup shows buyer PII");
    }
}

#[tokio::test]
async fn connection_secrets_from_before_the_stack_prefix_move_under_it_within_aws() {
    let h = synced(4, 61).await;
    let store = &h.stack.adapters.store;
    let secrets = &h.stack.clients.secrets;
    // As an earlier version stored it: under the prefix every stack shared.
    let unscoped = format!("sellerbridge/connections/{}", h.stack.name);
    let token = serde_json::json!({"refresh_token": sellerbridge_e2e::REFRESH_TOKEN}).to_string();
    ops::put_secret(secrets, &unscoped, &token).await.unwrap();
    let earlier = Connection { refresh_token_secret_id: unscoped.clone(), ..h.connection.clone() };
    store.put_connection(&earlier).await.unwrap();

    let prefix = h.stack.connection_secrets().unwrap();
    let progress = ProgressBar::hidden();
    let moved = ops::scope_connection_secrets(store, secrets, &prefix, &progress).await.unwrap();
    assert_eq!(moved, std::slice::from_ref(&h.connection.id));
    assert_eq!(progress.position(), 1);
    let connection = store.get_connection(&h.connection.id).await.unwrap().unwrap();
    assert_eq!(connection.refresh_token_secret_id, prefix.secret_id(&h.connection.id));
    let stored = secrets.get_secret_value().secret_id(&connection.refresh_token_secret_id).send().await.unwrap();
    assert_eq!(stored.secret_string(), Some(token.as_str()), "the token itself moved");
    let old = secrets.get_secret_value().secret_id(&unscoped).send().await;
    assert!(old.is_err_and(|e| e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception())));

    // The sync reads it where it is now; a second run finds nothing left to move.
    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    let report = runner::tick_sync(&sync, Duration::from_secs(30)).await.unwrap();
    assert!(matches!(report.connections[0].outcome, SyncOutcome::UpToDate | SyncOutcome::NotDue), "{report:?}");
    let again = ops::scope_connection_secrets(store, secrets, &prefix, &ProgressBar::hidden()).await.unwrap();
    assert!(again.is_empty());
}

#[tokio::test]
async fn packages_amazon_refused_are_sent_again_once_the_cause_is_fixed() {
    let h = synced(6, 37).await;
    demo::send_shipments(&h.stack.webhook_deps(), &h.stack.signing_key, &h.stack.adapters.store, &Quiet).await.unwrap();
    let store = &h.stack.adapters.store;
    let packages = store.scan_packages().await.unwrap();
    // Amazon refuses every confirmation once (a 400: for good, as far as the sender can tell).
    let refusals = json!({"operation": "confirmShipment", "status": 400, "count": packages.len()});
    h.sandbox_post("/_sandbox/faults", refusals).await;
    let sender = send_without_backoff(&h).await;
    let failed = &packages[0];
    let state = store.get_package(&failed.order_id, &failed.package_id).await.unwrap().unwrap().value.state;
    assert!(matches!(state, PackageState::Failed { .. }), "{state:?}");

    // A package that did not fail is refused by name; then the order's failed ones go again.
    let order = &failed.order_id;
    let queue = h.stack.adapters.queue.clone();
    let unknown = sellerbridge_core::domain::ids::PackageId::parse("PKG-NOT-THERE").unwrap();
    let refused = ops::retry_shipments(store, &queue, order, Some(&unknown)).await.unwrap_err();
    assert!(format!("{refused:#}").contains("PKG-NOT-THERE"), "{refused:#}");
    let retried = ops::retry_shipments(store, &queue, order, None).await.unwrap();
    let of_order = packages.iter().filter(|p| p.order_id == *order).count();
    assert_eq!(retried["retried"].as_array().unwrap().len(), of_order, "{retried}");
    drain(&h, &sender).await;
    for package in store.list_packages(order).await.unwrap() {
        assert!(matches!(package.state, PackageState::Confirmed { .. }), "{:?}", package.state);
    }
    let again = ops::retry_shipments(store, &queue, order, None).await.unwrap();
    assert!(again["retried"].as_array().unwrap().is_empty(), "nothing left to retry: {again}");
}
