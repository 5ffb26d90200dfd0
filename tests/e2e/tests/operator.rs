//! The operator's tools against the local stack: redriving dead letters, resetting the import date,
//! looking up an order.
use std::sync::Arc;
use std::time::Duration;

use sellerbridge_cli::local::demo::{self, Quiet};
use sellerbridge_cli::local::runner;
use sellerbridge_cli::ops;
use sellerbridge_core::domain::clock::OffsetClock;
use sellerbridge_core::domain::shipment::PackageState;
use sellerbridge_e2e::{Harness, options_for, pii_canaries, sandbox, send_without_backoff};
use serde_json::json;

async fn synced(orders: usize, seed: u64) -> Harness {
    let h = Harness::start(sandbox(orders, seed, 600.0), Arc::new(OffsetClock::default()), options_for(600.0)).await;
    let sync = h.stack.sync_deps(Default::default()).await.unwrap();
    demo::sync_until_current(&sync, 3, &Quiet).await.unwrap();
    h
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

    let moved = ops::redrive_dead_letters(
        store,
        &h.stack.clients.sqs,
        &h.stack.queues.updates_dlq_url,
        ops::Redrive::Confirmations(&h.stack.queues.updates_url),
    )
    .await
    .unwrap();
    assert_eq!(moved, packages);
    assert!(runner::depth(&h.stack.clients.sqs, &h.stack.queues.updates_dlq_url).await.unwrap().is_empty());
    demo::drain_updates(
        &sender,
        &h.stack.updates_poller(),
        1,
        Duration::from_secs(120),
        &Quiet,
        demo::sandbox_progress(&h.inspector),
    )
    .await
    .unwrap();
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
