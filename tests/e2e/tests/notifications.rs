//! Near-real-time import from Amazon's ORDER_CHANGE notifications, through the local notifications
//! queue and the consumer's real handler: one getOrder per order however many notifications name it,
//! deliveries deduplicated, broken notifications parked with their reason, throttled reads retried.
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::{MessageSystemAttributeName, SendMessageBatchRequestEntry};
use order_sync::{SyncOutcome, SyncSettings};
use sellerbridge_cli::local::runner::{self, SqsPoller};
use sellerbridge_cli::ops;
use sellerbridge_core::domain::clock::OffsetClock;
use sellerbridge_core::domain::ids::AmazonOrderId;
use sellerbridge_core::domain::status::OrderStatus;
use sellerbridge_core::queue::SqsDeadLetters;
use sellerbridge_e2e::{Harness, actionable, options_for, sandbox};
use serde_json::{Value, json};

/// An ORDER_CHANGE notification as Amazon's SQS destination delivers it.
fn order_change(notification_id: &str, seller_id: &str, order_id: &str) -> Value {
    json!({
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": chrono::Utc::now().to_rfc3339(),
        "Payload": {"OrderChangeNotification": {
            "NotificationLevel": "OrderLevel",
            "SellerId": seller_id,
            "AmazonOrderId": order_id,
            "OrderChangeType": "OrderStatusChange",
            "OrderChangeTrigger": {"TimeOfOrderChange": chrono::Utc::now().to_rfc3339(), "ChangeReason": "Order status changed"},
            "Summary": {"MarketplaceId": "ATVPDKIKX0DER", "OrderStatus": "Canceled", "FulfillmentType": "MFN"}
        }},
        "NotificationMetadata": {
            "ApplicationId": "amzn1.sp.solution.sandbox",
            "SubscriptionId": "subscription-sandbox",
            "PublishTime": chrono::Utc::now().to_rfc3339(),
            "NotificationId": notification_id
        }
    })
}

struct Notifications {
    h: Harness,
    queue: String,
    poller: SqsPoller,
    deps: order_notifications::NotificationDeps,
}

impl Notifications {
    /// A synced stack: the cursor has passed every order the sandbox holds.
    async fn start(orders: usize, seed: u64) -> Self {
        let clock = OffsetClock::default();
        let h = Harness::start(sandbox(orders, seed, 600.0), Arc::new(clock), options_for(600.0)).await;
        let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
        let report = runner::tick_sync(&sync, Duration::from_secs(60)).await.unwrap();
        assert_eq!(report.connections[0].outcome, SyncOutcome::UpToDate);
        let queue = h.stack.queue_url("NotificationsQueue").unwrap();
        let poller = SqsPoller::new(h.stack.clients.sqs.clone(), &queue);
        let deps = h.stack.notification_deps().await.unwrap();
        Self { h, queue, poller, deps }
    }

    async fn send(&self, bodies: &[String]) {
        for chunk in bodies.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, body)| {
                    SendMessageBatchRequestEntry::builder().id(i.to_string()).message_body(body).build().unwrap()
                })
                .collect();
            let sent = self
                .h
                .stack
                .clients
                .sqs
                .send_message_batch()
                .queue_url(&self.queue)
                .set_entries(Some(entries))
                .send()
                .await
                .unwrap();
            assert!(sent.failed.is_empty(), "{:?}", sent.failed);
        }
    }

    async fn get_order_calls(&self) -> usize {
        self.h.inspector.calls().await.unwrap().iter().filter(|c| c.operation == "getOrder").count()
    }

    async fn dead_letters(&self) -> Vec<(String, String)> {
        let dlq = self.h.stack.queue_url("NotificationsDeadLetterQueue").unwrap();
        let received = self
            .h
            .stack
            .clients
            .sqs
            .receive_message()
            .queue_url(dlq)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        received
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let reason = m
                    .message_attributes()
                    .and_then(|a| a.get(SqsDeadLetters::REASON_ATTRIBUTE))
                    .and_then(|v| v.string_value())
                    .unwrap_or_default()
                    .to_owned();
                (m.body.unwrap_or_default(), reason)
            })
            .collect()
    }
}

#[tokio::test]
async fn ten_notifications_for_one_changed_order_cost_one_get_order_and_bring_the_change_at_once() {
    let n = Notifications::start(30, 41).await;
    let seeded = n.h.inspector.orders().await.unwrap();
    let order_id = actionable(&seeded).into_iter().next().unwrap();
    let seller = n.h.connection.seller_id.to_string();
    // The order changes at Amazon after the cursor passed it; the poll would see it only next window.
    n.h.sandbox_post(&format!("/_sandbox/orders/{order_id}/touch"), json!({"fulfillmentStatus": "CANCELLED"})).await;
    let bodies: Vec<String> =
        (0..10).map(|i| order_change(&format!("notification-{i}"), &seller, &order_id).to_string()).collect();
    n.send(&bodies).await;

    let calls_before = n.get_order_calls().await;
    let stats = n.poller.poll_notifications(&n.deps, Duration::from_secs(30)).await.unwrap();
    assert_eq!((stats.received, stats.failed), (10, 0), "one batch, every notification done");
    assert_eq!(n.get_order_calls().await - calls_before, 1, "coalesced: one getOrder for ten notifications");
    let stored = n.h.stack.adapters.store.get_order(&AmazonOrderId::parse(order_id.clone()).unwrap()).await.unwrap();
    assert_eq!(stored.unwrap().value.status, OrderStatus::Cancelled, "the change arrived before any sync");

    // Amazon delivers one of them again: recognised, no call.
    n.send(&bodies[3..4]).await;
    let stats = n.poller.poll_notifications(&n.deps, Duration::from_secs(30)).await.unwrap();
    assert_eq!((stats.received, stats.failed), (1, 0));
    assert_eq!(n.get_order_calls().await - calls_before, 1, "a repeated NotificationId is not read again");
}

#[tokio::test]
async fn broken_notifications_are_parked_with_their_reason_and_throttled_reads_come_again() {
    let n = Notifications::start(20, 43).await;
    let seller = n.h.connection.seller_id.to_string();
    let order_id = actionable(&n.h.inspector.orders().await.unwrap()).into_iter().next().unwrap();
    let mut no_order = order_change("broken-1", &seller, &order_id);
    no_order["Payload"]["OrderChangeNotification"].as_object_mut().unwrap().remove("AmazonOrderId");
    let stranger = order_change("stranger-1", "A9NOBODYKNOWN", &order_id);
    n.send(&[no_order.to_string(), "not json at all".into(), stranger.to_string()]).await;
    let stats = n.poller.poll_notifications(&n.deps, Duration::from_secs(30)).await.unwrap();
    assert_eq!((stats.received, stats.failed), (3, 0), "parked, not retried");
    let mut parked = n.dead_letters().await;
    parked.sort();
    assert_eq!(parked.len(), 3, "{parked:?}");
    let reasons: Vec<&str> = parked.iter().map(|(_, reason)| reason.as_str()).collect();
    assert!(reasons.iter().any(|r| r.contains("AmazonOrderId") && r.contains("broken-1")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("not a JSON notification")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("no connection for seller A9NOBODYKNOWN")), "{reasons:?}");

    // Amazon's getOrder quota is spent: the notification stays on the queue for another delivery.
    n.h.sandbox_post("/_sandbox/faults", json!({"operation": "getOrder", "status": 429, "count": 20})).await;
    n.send(&[order_change("throttled-1", &seller, &order_id).to_string()]).await;
    let stats = n.poller.poll_notifications(&n.deps, Duration::from_secs(7)).await.unwrap();
    assert_eq!((stats.received, stats.failed), (1, 1), "reported as a batch item failure");
    assert!(!n.h.stack.adapters.store.notification_handled("throttled-1").await.unwrap(), "not marked handled");
}

/// The whole loop: the operator subscribes the connection (the sandbox's Notifications API, a grantless
/// token for the destination), an order changes at Amazon, the sandbox delivers ORDER_CHANGE to the
/// local notifications queue, and the consumer brings the change in.
#[tokio::test]
async fn a_subscribed_connection_gets_amazons_notifications_on_its_queue() {
    let mut config = sandbox(30, 47, 600.0);
    config.sqs_endpoint = Some(std::env::var("SELLERBRIDGE_MOTO_ENDPOINT").expect("run with the local stack"));
    let h = Harness::start(config, Arc::new(OffsetClock::default()), options_for(600.0)).await;
    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    runner::tick_sync(&sync, Duration::from_secs(60)).await.unwrap();
    let queue = h.stack.queue_url("NotificationsQueue").unwrap();
    let arn = h.stack.queue_arn("NotificationsQueue").await.unwrap();

    let spapi = h.stack.adapters.spapi_client(&h.stack.settings);
    let subscribed = ops::subscribe_order_changes(&h.stack.adapters, &spapi, &h.connection.id, &arn).await.unwrap();
    assert!(subscribed.created);
    let again = ops::subscribe_order_changes(&h.stack.adapters, &spapi, &h.connection.id, &arn).await.unwrap();
    assert_eq!(
        (again.subscription_id.as_str(), again.created),
        (subscribed.subscription_id.as_str(), false),
        "idempotent"
    );
    let tokens: Value = reqwest::get(format!("{}/_sandbox/calls", h.sandbox.url)).await.unwrap().json().await.unwrap();
    let destination_calls = tokens.as_array().unwrap().iter().filter(|c| c["operation"] == "createDestination").count();
    assert_eq!(destination_calls, 1, "the destination is registered once");

    let order_id = actionable(&h.inspector.orders().await.unwrap()).into_iter().next().unwrap();
    h.sandbox_post(&format!("/_sandbox/orders/{order_id}/touch"), json!({"fulfillmentStatus": "CANCELLED"})).await;
    let deps = h.stack.notification_deps().await.unwrap();
    let stats = SqsPoller::new(h.stack.clients.sqs.clone(), &queue)
        .poll_notifications(&deps, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!((stats.received, stats.failed), (1, 0), "Amazon's notification arrived on the queue");
    let stored = h.stack.adapters.store.get_order(&AmazonOrderId::parse(order_id).unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.value.status, OrderStatus::Cancelled);
}
