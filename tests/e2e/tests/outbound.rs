//! Order events posted to the merchant's webhook URL, through the outbound queue and the sender's real
//! handler, to a receiver on 127.0.0.1: signed, one per order version, retried after a 500, never sent
//! twice, and dead-lettered (and recorded for the operator) when the receiver keeps refusing.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use indicatif::ProgressBar;
use order_sync::SyncSettings;
use sellerbridge_cli::local::runner;
use sellerbridge_cli::ops::{self, Redrive};
use sellerbridge_core::domain::clock::OffsetClock;
use sellerbridge_e2e::{Harness, WebhookReceiver, actionable, drain_outbound, options_for, sandbox};
use serde_json::{Value, json};

#[tokio::test]
async fn order_events_are_signed_retried_once_per_version_and_dead_lettered_when_refused() {
    let receiver = WebhookReceiver::default();
    let url = receiver.start().await;
    receiver.script.lock().unwrap().push_back(500);
    let clock = OffsetClock::default();
    let mut options = options_for(600.0);
    options.outbound_webhook_url = Some(url);
    let h = Harness::start(sandbox(20, 59, 600.0), Arc::new(clock.clone()), options).await;
    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    runner::tick_sync(&sync, Duration::from_secs(60)).await.unwrap();
    let settings = update_sender::SenderSettings { transient_backoff: Duration::ZERO, ..h.stack.sender_settings() };
    let sender = h.stack.sender_deps(settings, None).await.unwrap();
    drain_outbound(&h, &sender, 50).await;

    let expected = actionable(&h.inspector.orders().await.unwrap());
    let key = &h.stack.signing_key;
    let received = receiver.received(key);
    assert_eq!(received.len(), expected.len() + 1, "one event per order, and the one refused with 500 again");
    let mut accepted: BTreeMap<String, usize> = BTreeMap::new();
    for body in &received {
        assert_eq!(body["type"], "order.imported");
        *accepted.entry(body["data"]["order_id"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert_eq!(accepted.keys().cloned().collect::<std::collections::BTreeSet<_>>(), expected);
    assert_eq!(accepted.values().filter(|n| **n == 2).count(), 1, "only the refused one came twice");
    let first = &received[1];
    assert_eq!(first["data"]["buyer"]["email_use"], "order_communication_only");
    assert!(first["id"].as_str().unwrap().starts_with("order.imported:"));

    // Another delivery of an accepted event's message sends nothing.
    let (order_id, version) = {
        let order = h.stack.adapters.store.scan_orders().await.unwrap().remove(0);
        (order.id().clone(), order.amazon.updated_at)
    };
    let again = sellerbridge_core::queue::UpdateMessage::DeliverWebhook {
        order_id: order_id.clone(),
        event: sellerbridge_core::domain::view::OrderEvent::Imported,
        version,
    };
    use sellerbridge_core::queue::UpdateQueue;
    h.stack.adapters.outbound.send(&again, Duration::ZERO).await.unwrap();
    drain_outbound(&h, &sender, 50).await;
    assert_eq!(receiver.received(key).len(), received.len(), "never sent twice");

    // Amazon cancels an order: order.cancelled, with the receiver refusing it every time.
    receiver.script.lock().unwrap().extend([503; 10]);
    h.sandbox_post(&format!("/_sandbox/orders/{order_id}/touch"), json!({"fulfillmentStatus": "CANCELLED"})).await;
    clock.advance(chrono::Duration::minutes(10));
    h.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": 600})).await;
    runner::tick_sync(&sync, Duration::from_secs(60)).await.unwrap();
    drain_outbound(&h, &sender, 50).await;
    let cancelled: Vec<Value> = receiver.received(key).into_iter().skip(received.len()).collect();
    assert_eq!(cancelled.len(), 5, "tried as often as the queue's maxReceiveCount");
    assert!(cancelled.iter().all(|b| b["type"] == "order.cancelled" && b["data"]["status"] == "cancelled"));
    let dlq =
        runner::depth(&h.stack.clients.sqs, &h.stack.queue_url("OutboundDeadLetterQueue").unwrap()).await.unwrap();
    assert_eq!(dlq.visible, 1, "dead-lettered after the last attempt");
    let failures = h.stack.adapters.store.list_webhook_failures(&h.connection.id).await.unwrap();
    assert_eq!(failures.len(), 1);
    assert!(failures[0].reason.contains("503"), "{:?}", failures[0]);
    assert_eq!(failures[0].order_id.as_ref(), Some(&order_id));

    // The receiver is fixed; the operator redrives the order event (a confirmations redrive leaves it).
    receiver.script.lock().unwrap().clear();
    let outbound_dlq = h.stack.queue_url("OutboundDeadLetterQueue").unwrap();
    let sqs = &h.stack.clients.sqs;
    let store = &h.stack.adapters.store;
    let wrong = Redrive::Confirmations(&h.stack.queues.updates_url);
    assert_eq!(ops::redrive_dead_letters(store, sqs, &outbound_dlq, wrong, &ProgressBar::hidden()).await.unwrap(), 0);
    let outbound_queue = h.stack.queue_url("OutboundQueue").unwrap();
    let moved = ops::redrive_dead_letters(
        store,
        sqs,
        &outbound_dlq,
        Redrive::OrderEvents(&outbound_queue),
        &ProgressBar::hidden(),
    )
    .await
    .unwrap();
    assert_eq!(moved, 1);
    let before = receiver.received(key).len();
    drain_outbound(&h, &sender, 50).await;
    let delivered = receiver.received(key);
    assert_eq!(delivered.len(), before + 1);
    assert_eq!(delivered[before]["type"], "order.cancelled");
}

/// SQS refuses the order events while the orders are stored: each is kept in the table, and the
/// connection's next sync queues it, so the merchant still gets every one.
#[tokio::test]
async fn order_events_sqs_refused_are_kept_and_queued_by_the_next_sync() {
    let receiver = WebhookReceiver::default();
    let url = receiver.start().await;
    let clock = OffsetClock::default();
    let mut options = options_for(600.0);
    options.outbound_webhook_url = Some(url);
    let h = Harness::start(sandbox(12, 61, 600.0), Arc::new(clock.clone()), options).await;
    let mut sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    let outbound = sync.adapters.outbound.clone();
    let missing_queue = format!("{}/000000000000/no-such-queue", std::env::var("SELLERBRIDGE_MOTO_ENDPOINT").unwrap());
    sync.adapters.outbound = sellerbridge_core::queue::SqsUpdateQueue::new(h.stack.clients.sqs.clone(), missing_queue);
    runner::tick_sync(&sync, Duration::from_secs(60)).await.unwrap();
    let expected = actionable(&h.inspector.orders().await.unwrap());
    let store = &h.stack.adapters.store;
    assert_eq!(store.list_pending_webhooks(&h.connection.id).await.unwrap().len(), expected.len(), "every event kept");

    sync.adapters.outbound = outbound;
    clock.advance(chrono::Duration::minutes(10));
    h.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": 600})).await;
    runner::tick_sync(&sync, Duration::from_secs(60)).await.unwrap();
    assert!(store.list_pending_webhooks(&h.connection.id).await.unwrap().is_empty());
    let settings = update_sender::SenderSettings { transient_backoff: Duration::ZERO, ..h.stack.sender_settings() };
    drain_outbound(&h, &h.stack.sender_deps(settings, None).await.unwrap(), 50).await;
    let delivered: std::collections::BTreeSet<String> = receiver
        .received(&h.stack.signing_key)
        .iter()
        .map(|body| body["data"]["order_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(delivered, expected);
}
