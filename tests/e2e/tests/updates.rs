//! The throttled-update sender: a shared bucket across concurrent invocations, throttles re-queued,
//! transient failures dead-lettered, permanent rejections recorded on the package.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use sellerbridge_cli::local::demo::{self, Quiet};
use sellerbridge_cli::local::runner;
use sellerbridge_core::domain::clock::OffsetClock;
use sellerbridge_core::domain::connection::ConnectionOptions;
use sellerbridge_core::domain::rate::Quota;
use sellerbridge_core::domain::shipment::PackageState;
use sellerbridge_core::queue::{UpdateMessage, UpdateQueue};
use sellerbridge_core::spapi::Operation;
use sellerbridge_core::spapi::limiter::Unlimited;
use sellerbridge_core::store::keys;
use sellerbridge_e2e::{Harness, options_for, post_every_package, recording_webhook, sandbox, send_without_backoff};
use serde_json::json;
use update_sender::SenderSettings;

/// Imports the sandbox's orders and sends a webhook for every package.
async fn with_queued_shipments(orders: usize, time_scale: f64) -> Harness {
    let h = Harness::start(sandbox(orders, 13, time_scale), Arc::new(OffsetClock::default()), options_for(time_scale))
        .await;
    let sync = h.stack.sync_deps(Default::default()).await.unwrap();
    demo::sync_until_current(&sync, 3, &Quiet).await.unwrap();
    demo::send_shipments(&h.stack.webhook_deps(), &h.stack.signing_key, &h.stack.adapters.store, &Quiet).await.unwrap();
    h
}

async fn drain(h: &Harness, limiter: Option<Arc<dyn sellerbridge_core::spapi::RateLimiter>>) {
    drain_with(h, h.stack.sender_settings(), limiter).await;
}

async fn drain_with(
    h: &Harness,
    settings: SenderSettings,
    limiter: Option<Arc<dyn sellerbridge_core::spapi::RateLimiter>>,
) {
    let sender = h.stack.sender_deps(settings, limiter).await.unwrap();
    let poller = h.stack.updates_poller();
    demo::drain_updates(&sender, &poller, 2, Duration::from_secs(240), &Quiet, demo::sandbox_progress(&h.inspector))
        .await
        .unwrap();
}

/// How many times the seller's confirmShipment bucket was written.
async fn bucket_writes(h: &Harness) -> u64 {
    let store = &h.stack.adapters.store;
    let (pk, sk) = keys::rate_bucket(&h.connection.seller_id, "confirmShipment");
    let item = store.client().get_item().table_name(store.table()).key(keys::PK, s(pk)).key(keys::SK, s(sk));
    let item = item.send().await.unwrap().item.expect("the bucket exists");
    item["version"].as_n().unwrap().parse().unwrap()
}

fn s(value: String) -> AttributeValue {
    AttributeValue::S(value)
}

#[tokio::test]
async fn two_concurrent_senders_never_exceed_amazons_bucket() {
    let h = with_queued_shipments(30, 1.5).await;
    drain(&h, None).await;
    let stats = h.inspector.stats().await.unwrap();
    let packages = h.stack.adapters.store.scan_packages().await.unwrap();
    assert!(packages.len() > 20, "enough packages to overrun a burst of 10: {}", packages.len());
    assert_eq!(stats.throttled, 0, "the shared bucket kept both invocations within quota");
    assert_eq!(stats.confirmed_packages as usize, packages.len());
    let deferrals: u32 = packages.iter().map(|p| p.throttle_deferrals).sum();
    assert_eq!(deferrals, 0, "within the pacing horizon every update waited for its slot in process");
    // Each batch reserved its tokens in one write, not one contended write per confirmation.
    let batches = packages.len().div_ceil(10) as u64;
    let writes = bucket_writes(&h).await;
    assert!(writes <= batches + 2, "{writes} bucket writes for {} packages in batches of 10", packages.len());
}

#[tokio::test]
async fn updates_whose_slot_is_beyond_the_horizon_go_back_to_the_queue_and_still_meet_no_429() {
    let h = with_queued_shipments(30, 1.5).await;
    let settings = SenderSettings { pacing_horizon: Duration::from_millis(500), ..h.stack.sender_settings() };
    drain_with(&h, settings, None).await;
    let stats = h.inspector.stats().await.unwrap();
    let packages = h.stack.adapters.store.scan_packages().await.unwrap();
    assert_eq!(stats.throttled, 0);
    assert_eq!(stats.confirmed_packages as usize, packages.len());
    let deferrals: u32 = packages.iter().map(|p| p.throttle_deferrals).sum();
    assert!(deferrals > 0, "slots beyond half a second were re-queued, not waited for");
}

#[tokio::test]
async fn without_the_shared_limiter_the_same_load_is_throttled_and_still_nothing_is_lost() {
    let h = with_queued_shipments(30, 1.5).await;
    drain(&h, Some(Arc::new(Unlimited))).await;
    let stats = h.inspector.stats().await.unwrap();
    assert!(stats.throttled > 0, "bypassing the limiter must show up as 429s, or the test above proves nothing");
    let packages = h.stack.adapters.store.scan_packages().await.unwrap();
    assert_eq!(stats.confirmed_packages as usize, packages.len(), "429s were re-queued, not lost");
    assert!(packages.iter().all(|p| matches!(p.state, PackageState::Confirmed { .. })));
}

#[tokio::test]
async fn transient_failures_end_in_the_dead_letter_queue_and_on_the_package() {
    let h = with_queued_shipments(6, 600.0).await;
    h.sandbox_post("/_sandbox/faults", json!({"operation": "confirmShipment", "status": 503, "count": 1000})).await;
    send_without_backoff(&h).await;
    let packages = h.stack.adapters.store.scan_packages().await.unwrap();
    let dlq = runner::depth(&h.stack.clients.sqs, &h.stack.queues.updates_dlq_url).await.unwrap();
    assert_eq!(dlq.visible as usize, packages.len(), "every message ended in the dead-letter queue");
    for package in &packages {
        let PackageState::DeadLettered { reason, .. } = &package.state else { panic!("{:?}", package.state) };
        assert!(reason.contains("gave up after 5 attempts"), "{reason}");
    }
    assert_eq!(h.inspector.stats().await.unwrap().confirmed_packages, 0);
}

#[tokio::test]
async fn amazons_permanent_rejection_is_recorded_on_the_package_with_its_message() {
    let h = with_queued_shipments(6, 600.0).await;
    let packages = h.stack.adapters.store.scan_packages().await.unwrap();
    let cancelled = packages[0].order_id.to_string();
    h.sandbox_post(&format!("/_sandbox/orders/{cancelled}/touch"), json!({"fulfillmentStatus": "CANCELLED"})).await;
    drain(&h, None).await;
    for package in h.stack.adapters.store.scan_packages().await.unwrap() {
        if package.order_id.as_str() == cancelled {
            let PackageState::Failed { reason, .. } = &package.state else { panic!("{:?}", package.state) };
            assert!(reason.starts_with("Amazon rejected the shipment confirmation"), "{reason}");
            assert!(
                reason.contains(&cancelled) || reason.contains("CANCELLED") || reason.contains("InvalidInput"),
                "{reason}"
            );
        } else {
            assert!(matches!(package.state, PackageState::Confirmed { .. }), "one bad order never stalls the others");
        }
    }
    let dlq = runner::depth(&h.stack.clients.sqs, &h.stack.queues.updates_dlq_url).await.unwrap();
    assert_eq!(dlq.visible, 0);
}

/// Exactly once at scale: over a thousand packages, every webhook delivered three times, queue messages
/// delivered twice (SQS is at-least-once), four consumers at once against Amazon's confirmShipment
/// bucket (sped up 20 times): one confirmation per package at Amazon, none lost, no 429.
#[tokio::test]
async fn a_thousand_packages_delivered_three_times_and_redelivered_are_confirmed_exactly_once() {
    let fast = Quota::new(1000.0, 1000.0);
    let confirm = Operation::ConfirmShipment.default_quota().scaled(20.0);
    let mut config = sandbox(1600, 29, 1.0);
    for (operation, quota) in [
        (spapi_sandbox::Operation::SearchOrders, fast),
        (spapi_sandbox::Operation::GetOrder, fast),
        (spapi_sandbox::Operation::ConfirmShipment, confirm),
    ] {
        config.rate_overrides.insert(operation, (quota.rate_per_second, quota.burst));
    }
    let options = ConnectionOptions {
        quota_overrides: BTreeMap::from([
            ("searchOrders".to_owned(), fast),
            ("getOrder".to_owned(), fast),
            ("confirmShipment".to_owned(), confirm),
        ]),
        ..ConnectionOptions::default()
    };
    let h = Harness::start(config, Arc::new(OffsetClock::default()), options).await;
    let sync = h.stack.sync_deps(Default::default()).await.unwrap();
    demo::sync_until_current(&sync, 3, &Quiet).await.unwrap();

    let (queue, webhook) = recording_webhook(&h.stack);
    let (accepted, _) = post_every_package(&h, &webhook, 3).await;
    assert!(accepted >= 1000, "{accepted} packages");
    // SQS delivers at least once: one message in ten a second time (moto's receive slows with the queue's
    // length, so not every one).
    let messages = queue.bodies();
    assert_eq!(messages.len(), accepted, "the webhook queued each package once");
    for body in messages.iter().step_by(10) {
        let message: UpdateMessage = serde_json::from_str(body).unwrap();
        h.stack.adapters.queue.send(&message, Duration::ZERO).await.unwrap();
    }

    // Every package by call: what is measured here is the call path (feeds: tests/feeds.rs).
    let settings = SenderSettings { feed_after: None, ..h.stack.sender_settings() };
    let sender = h.stack.sender_deps(settings, None).await.unwrap();
    let poller = h.stack.updates_poller();
    demo::drain_updates(&sender, &poller, 4, Duration::from_secs(600), &Quiet, demo::sandbox_progress(&h.inspector))
        .await
        .unwrap();

    let mut sends: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (order, reference, _) in h.inspector.confirmed_packages().await.unwrap() {
        *sends.entry((order, reference)).or_default() += 1;
    }
    assert_eq!(sends.len(), accepted, "every package confirmed at Amazon");
    assert!(sends.values().all(|n| *n == 1), "none sent twice");
    assert_eq!(h.inspector.stats().await.unwrap().throttled, 0, "no 429");
    let packages = h.stack.adapters.store.scan_packages().await.unwrap();
    assert!(packages.iter().all(|p| matches!(p.state, PackageState::Confirmed { .. })), "the table agrees");
    let dead = runner::depth(&h.stack.clients.sqs, &h.stack.queues.updates_dlq_url).await.unwrap();
    assert!(dead.is_empty(), "no duplicate ran into the dead-letter queue");
}

#[tokio::test]
async fn two_deliveries_of_one_package_in_a_batch_take_one_token() {
    // Two tokens to spend (a burst of 3 less the arrival lag), and no more for an hour.
    let mut options = options_for(600.0);
    options.quota_overrides.insert("confirmShipment".into(), Quota::new(1.0 / 3600.0, 3.0));
    let h = Harness::start(sandbox(12, 21, 600.0), Arc::new(OffsetClock::default()), options).await;
    let sync = h.stack.sync_deps(Default::default()).await.unwrap();
    demo::sync_until_current(&sync, 3, &Quiet).await.unwrap();
    let (queue, webhook) = sellerbridge_e2e::recording_only_webhook(&h.stack);
    post_every_package(&h, &webhook, 1).await;
    let bodies = queue.bodies();
    assert!(bodies.len() >= 2, "two packages to send");

    // SQS hands over the first package's message twice in one batch, with the second package's.
    let batch = [bodies[0].clone(), bodies[0].clone(), bodies[1].clone()];
    let sender = h.stack.sender_deps(h.stack.sender_settings(), None).await.unwrap();
    let failed = runner::invoke_sender(&sender, &batch, Duration::from_secs(60)).await.unwrap();
    assert_eq!(failed, 0);
    let confirmed = h.inspector.confirmed_packages().await.unwrap();
    assert_eq!(confirmed.len(), 2, "the repeat took no token: both packages went in this invocation");
}
