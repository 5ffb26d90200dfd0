//! Webhook ingest through the API Gateway v2 handler path: every rejection, repeats, the size limit.
use std::sync::Arc;

use chrono::Duration;
use sellerbridge_cli::local::demo::{self, Quiet};
use sellerbridge_cli::local::runner;
use sellerbridge_cli::ops;
use sellerbridge_core::domain::clock::OffsetClock;
use sellerbridge_core::domain::connection::{DuplicateTrackingPolicy, OptionsChange};
use sellerbridge_core::domain::ids::EventId;
use sellerbridge_core::domain::pii;
use sellerbridge_core::domain::status::OrderStatus;
use sellerbridge_core::webhook::signature::{SIGNATURE_HEADER, SigningKey};
use sellerbridge_e2e::{Harness, RecordingQueue, recording_webhook, synced_with_a_line_to_ship};
use serde_json::{Value, json};

struct Fixture {
    h: Harness,
    queue: Arc<RecordingQueue>,
    deps: shipment_webhook::WebhookDeps,
    clock: OffsetClock,
    order_id: String,
    sku: String,
    /// The ship date of every event of a test, so a repeat is the same package to the second.
    ship_date: String,
}

async fn fixture() -> Fixture {
    let clock = OffsetClock::default();
    let (h, order_id, sku) = synced_with_a_line_to_ship(Arc::new(clock.clone())).await;
    let (queue, deps) = recording_webhook(&h.stack);
    let ship_date = deps.clock.now().to_rfc3339();
    Fixture { order_id, sku, h, queue, deps, clock, ship_date }
}

impl Fixture {
    fn event(&self, event_id: &str, package_id: &str) -> Value {
        json!({"id": event_id, "type": "shipment.created", "created_at": self.deps.clock.now().to_rfc3339(),
            "data": {"order_id": self.order_id, "package_id": package_id, "carrier": "UPS", "tracking_number": "1Z999AA10123456784",
                "ship_date": self.ship_date, "items": [{"sku": self.sku, "quantity": 1}]}})
    }

    async fn post_signed(&self, body: &[u8]) -> (u16, Value) {
        let signature = self.h.stack.signing_key.sign(self.deps.clock.now(), body);
        runner::post_webhook(&self.deps, "/webhooks/shipments", &[(SIGNATURE_HEADER, signature)], body).await.unwrap()
    }

    async fn post(&self, headers: &[(&str, String)], body: &[u8]) -> (u16, Value) {
        runner::post_webhook(&self.deps, "/webhooks/shipments", headers, body).await.unwrap()
    }
}

fn error(answer: &Value) -> &str {
    answer["error"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_signed_shipment_is_queued_once_and_repeats_are_acknowledged() {
    let f = fixture().await;
    let body = f.event("evt-1", "PKG-1").to_string();
    let (status, answer) = f.post_signed(body.as_bytes()).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["package_reference_id"], "1");
    assert_eq!(
        f.queue.bodies(),
        vec![format!(r#"{{"type":"confirm_shipment","order_id":"{}","package_id":"PKG-1"}}"#, f.order_id)]
    );

    let (status, answer) = f.post_signed(body.as_bytes()).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("duplicate")));
    let (status, answer) = f.post_signed(f.event("evt-2", "PKG-1").to_string().as_bytes()).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate")),
        "the same package under another event id"
    );
    assert_eq!(f.queue.bodies().len(), 1, "repeats are not queued again");
    let packages = f.h.stack.adapters.store.scan_packages().await.unwrap();
    assert_eq!(packages.len(), 1);
}

#[tokio::test]
async fn bad_signatures_are_refused_with_401() {
    let f = fixture().await;
    let body = f.event("evt-1", "PKG-1").to_string();
    let (status, answer) = f.post(&[], body.as_bytes()).await;
    assert_eq!(status, 401);
    assert!(error(&answer).contains("missing x-sellerbridge-signature"), "{answer}");
    let forged = SigningKey::new("not-the-key").sign(f.deps.clock.now(), body.as_bytes());
    let (status, answer) = f.post(&[(SIGNATURE_HEADER, forged)], body.as_bytes()).await;
    assert_eq!(status, 401);
    assert!(error(&answer).contains("does not match"), "{answer}");
    let (status, _) = f.post(&[(SIGNATURE_HEADER, "t=abc,v1=zz".into())], body.as_bytes()).await;
    assert_eq!(status, 401);
    let stale = f.h.stack.signing_key.sign(f.deps.clock.now() - Duration::minutes(10), body.as_bytes());
    let (status, answer) = f.post(&[(SIGNATURE_HEADER, stale)], body.as_bytes()).await;
    assert_eq!(status, 401);
    assert!(error(&answer).contains("stale timestamp"), "{answer}");
    // The body cut short after it was signed.
    let signature = f.h.stack.signing_key.sign(f.deps.clock.now(), body.as_bytes());
    let (status, _) = f.post(&[(SIGNATURE_HEADER, signature)], &body.as_bytes()[..body.len() - 10]).await;
    assert_eq!(status, 401);
    assert!(f.queue.bodies().is_empty());
    assert!(f.h.stack.adapters.store.get_event(&EventId::parse("evt-1").unwrap()).await.unwrap().is_none());
}

#[tokio::test]
async fn a_rotated_key_and_the_one_it_replaced_are_accepted_and_older_ones_refused() {
    let f = fixture().await;
    let stack = &f.h.stack;
    let rotate = || async {
        SigningKey::new(
            ops::rotate_webhook_key(&stack.clients.secrets, &stack.settings.webhook_secret_id).await.unwrap(),
        )
    };
    let body = f.event("evt-1", "PKG-1").to_string();
    let f = &f;
    let status_signed_by = |key: SigningKey| {
        let body = body.clone();
        async move {
            let signature = key.sign(f.deps.clock.now(), body.as_bytes());
            f.post(&[(SIGNATURE_HEADER, signature)], body.as_bytes()).await.0
        }
    };
    let first = stack.signing_key.clone();
    assert_eq!(status_signed_by(first.clone()).await, 202, "the container has loaded the first key");

    let second = rotate().await;
    f.clock.advance(Duration::seconds(11));
    assert_eq!(status_signed_by(second.clone()).await, 200, "a warm container reads the rotated key at once");
    assert_eq!(status_signed_by(first.clone()).await, 200, "the replaced key stays accepted");

    let third = rotate().await;
    f.clock.advance(Duration::seconds(11));
    assert_eq!(status_signed_by(third).await, 200);
    assert_eq!(status_signed_by(second).await, 200);
    assert_eq!(status_signed_by(first).await, 401, "two rotations later the first key is refused");
    assert_eq!(f.queue.bodies().len(), 1, "one event, queued once");
}

#[tokio::test]
async fn malformed_and_incomplete_events_are_refused_naming_the_problem_and_the_order() {
    let f = fixture().await;
    let (status, answer) = f.post_signed(b"{\"id\": \"evt-1\", ").await;
    assert_eq!(status, 400);
    assert!(error(&answer).starts_with("malformed JSON"), "{answer}");

    for field in ["tracking_number", "carrier", "package_id", "ship_date", "order_id", "items"] {
        let mut event = f.event("evt-x", "PKG-x");
        event["data"].as_object_mut().unwrap().remove(field);
        let (status, answer) = f.post_signed(event.to_string().as_bytes()).await;
        assert_eq!(status, 400, "{field}");
        let named = if field == "order_id" { String::new() } else { format!("order {}: ", f.order_id) };
        assert_eq!(error(&answer), format!("{named}missing field `data.{field}`"), "the order is named when known");
    }
    let mut event = f.event("evt-x", "PKG-x");
    event["data"]["items"][0]["quantity"] = json!(-1);
    let (status, answer) = f.post_signed(event.to_string().as_bytes()).await;
    assert_eq!(status, 422, "a value that is wrong, not a body that cannot be read");
    assert!(error(&answer).starts_with(&format!("order {}: ", f.order_id)), "{answer}");
    assert!(error(&answer).contains("data.items[0].quantity"), "{answer}");
    assert!(f.queue.bodies().is_empty());
    assert!(f.h.stack.adapters.store.scan_packages().await.unwrap().is_empty(), "nothing half-written");
}

#[tokio::test]
async fn unknown_orders_and_items_are_refused_with_422_naming_the_order() {
    let f = fixture().await;
    let mut event = f.event("evt-1", "PKG-1");
    event["data"]["order_id"] = json!("999-9999999-9999999");
    let (status, answer) = f.post_signed(event.to_string().as_bytes()).await;
    assert_eq!(status, 422);
    assert_eq!(error(&answer), "unknown order 999-9999999-9999999");

    let mut event = f.event("evt-2", "PKG-2");
    event["data"]["items"][0]["sku"] = json!("NOT-ON-ORDER");
    let (status, answer) = f.post_signed(event.to_string().as_bytes()).await;
    assert_eq!(status, 422);
    assert_eq!(error(&answer), format!("items[0]: order {} has no item with SKU NOT-ON-ORDER", f.order_id));

    let mut event = f.event("evt-3", "PKG-3");
    event["data"]["items"][0]["quantity"] = json!(99);
    let (status, answer) = f.post_signed(event.to_string().as_bytes()).await;
    assert_eq!(status, 422);
    assert!(error(&answer).contains("left to ship, the shipment sends 99"), "{answer}");
    assert!(f.queue.bodies().is_empty());
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_with_413() {
    let f = fixture().await;
    let mut event = f.event("evt-1", "PKG-1");
    event["padding"] = json!("x".repeat(shipment_webhook::MAX_BODY_BYTES));
    let (status, answer) = f.post_signed(event.to_string().as_bytes()).await;
    assert_eq!(status, 413);
    assert!(error(&answer).contains("limit"), "{answer}");
    assert!(f.queue.bodies().is_empty());
}

#[tokio::test]
async fn a_tracking_number_on_a_second_order_is_warned_about_or_refused_as_the_connection_says() {
    let f = fixture().await;
    let store = &f.h.stack.adapters.store;
    let orders = store.scan_orders().await.unwrap();
    let (other, other_sku) = orders
        .iter()
        .filter(|o| o.id().as_str() != f.order_id && o.status == OrderStatus::AwaitingShipment)
        .find_map(|o| {
            let item = o.amazon.items.iter().find(|i| i.quantity_shipped == 0 && i.quantity_ordered >= 2)?;
            Some((o.id().to_string(), item.sku.as_ref()?.to_string()))
        })
        .expect("a second order with two units left");
    let on_other_order = |event_id: &str, package_id: &str, tracking: &str| {
        let mut event = f.event(event_id, package_id);
        event["data"]["order_id"] = json!(other);
        event["data"]["items"] = json!([{"sku": other_sku, "quantity": 1}]);
        event["data"]["tracking_number"] = json!(tracking);
        event.to_string()
    };
    let (status, _) = f.post_signed(f.event("evt-1", "PKG-1").to_string().as_bytes()).await;
    assert_eq!(status, 202);

    // Warn (the default): accepted, the warning on the package and in the answer.
    let (status, answer) = f.post_signed(on_other_order("evt-2", "PKG-2", "1z999aa10123456784").as_bytes()).await;
    assert_eq!(status, 202, "{answer}");
    let warning = format!("tracking number already used on order {}", f.order_id);
    assert_eq!(answer["warnings"], json!([warning]), "the same number in other letters is the same number");
    let packages = store.list_packages(&other.parse().unwrap()).await.unwrap();
    assert_eq!(packages[0].warnings, std::slice::from_ref(&warning));
    let summary = ops::order_summary(store, &other.parse().unwrap()).await.unwrap();
    assert_eq!(summary["packages"][0]["warnings"], json!([warning]), "the operator sees it: {summary}");

    // Refuse: 422 naming both orders; nothing stored, nothing queued.
    let refuse = OptionsChange { duplicate_tracking: Some(DuplicateTrackingPolicy::Refuse), ..Default::default() };
    ops::change_connection(store, &f.h.connection.id, &refuse, chrono::Utc::now()).await.unwrap();
    let (status, answer) = f.post_signed(on_other_order("evt-3", "PKG-3", "1Z999AA10123456784").as_bytes()).await;
    assert_eq!(status, 422, "{answer}");
    assert!(error(&answer).starts_with(&format!("order {other}: tracking number 1Z999AA10123456784")), "{answer}");
    assert!(error(&answer).contains(&format!("already used on order {}", f.order_id)), "{answer}");
    assert_eq!(store.list_packages(&other.parse().unwrap()).await.unwrap().len(), 1);
    assert_eq!(f.queue.bodies().len(), 2);

    // A number no other order uses is accepted without a warning.
    let (status, answer) = f.post_signed(on_other_order("evt-4", "PKG-4", "1ZNEW0000000000001").as_bytes()).await;
    assert_eq!((status, answer.get("warnings")), (202, None), "{answer}");

    // Amazon refuses the first order's package: the number is on no order there, so it is free again.
    f.h.sandbox_post("/_sandbox/faults", json!({"operation": "confirmShipment", "status": 400, "count": 1})).await;
    let sender = f.h.stack.sender_deps(f.h.stack.sender_settings(), None).await.unwrap();
    let first = f.queue.bodies()[0].clone();
    assert_eq!(runner::invoke_sender(&sender, &[first], std::time::Duration::from_secs(60)).await.unwrap(), 0);
    let order_id: sellerbridge_core::domain::ids::AmazonOrderId = f.order_id.parse().unwrap();
    let refused = store.list_packages(&order_id).await.unwrap();
    assert_eq!(refused[0].state.name(), "failed");
    let more: Vec<(String, String)> = orders
        .iter()
        .filter(|o| ![f.order_id.as_str(), other.as_str()].contains(&o.id().as_str()))
        .filter(|o| o.status == OrderStatus::AwaitingShipment)
        .filter_map(|o| {
            let item = o.amazon.items.iter().find(|i| i.quantity_shipped < i.quantity_ordered)?;
            Some((o.id().to_string(), item.sku.as_ref()?.to_string()))
        })
        .take(2)
        .collect();
    let [(third, third_sku), (fourth, fourth_sku)] = &more[..] else { panic!("two more orders with a unit left") };
    let mut event = f.event("evt-5", "PKG-5");
    event["data"]["order_id"] = json!(third);
    event["data"]["items"] = json!([{"sku": third_sku, "quantity": 1}]);
    let (status, answer) = f.post_signed(event.to_string().as_bytes()).await;
    assert_eq!((status, answer.get("warnings")), (202, None), "the refused package's number is free: {answer}");

    // A claim past its retention counts for nothing, though DynamoDB has not deleted it yet.
    let key = sellerbridge_core::store::keys::tracking(&f.h.connection.id, &"1ZNEW0000000000001".parse().unwrap());
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(key.0))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(key.1))
        .update_expression("SET expires_at = :past")
        .expression_attribute_values(":past", aws_sdk_dynamodb::types::AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();
    let mut event = f.event("evt-6", "PKG-6");
    event["data"]["order_id"] = json!(fourth);
    event["data"]["tracking_number"] = json!("1ZNEW0000000000001");
    event["data"]["items"] = json!([{"sku": fourth_sku, "quantity": 1}]);
    let (status, answer) = f.post_signed(event.to_string().as_bytes()).await;
    assert_eq!(status, 202, "an expired claim of another order refuses nothing: {answer}");
}

#[tokio::test]
async fn a_delivery_moves_the_orders_pii_schedule_and_never_later() {
    let f = fixture().await;
    // One package with every unit left, so the order ships.
    let order_id = f.order_id.parse().unwrap();
    let order = f.h.stack.adapters.store.get_order(&order_id).await.unwrap().unwrap().value;
    let everything: Vec<Value> = order
        .amazon
        .items
        .iter()
        .filter(|item| item.quantity_ordered > item.quantity_shipped)
        .map(|item| json!({"order_item_id": item.id, "quantity": item.quantity_ordered - item.quantity_shipped}))
        .collect();
    let mut event = f.event("evt-1", "PKG-1");
    event["data"]["items"] = json!(everything);
    let (status, answer) = f.post_signed(event.to_string().as_bytes()).await;
    assert_eq!(status, 202, "{answer}");
    let sender = f.h.stack.sender_deps(f.h.stack.sender_settings(), None).await.unwrap();
    let poller = f.h.stack.updates_poller();
    demo::drain_updates(&sender, &poller, 1, std::time::Duration::from_secs(60), &Quiet, || {
        Box::pin(async { String::new() })
    })
    .await
    .unwrap();
    let due = |order: &sellerbridge_core::domain::order::Order| pii::redaction_due(order).unwrap();
    let shipped_due = due(&f.h.stack.adapters.store.get_order(&order_id).await.unwrap().unwrap().value);
    let ship_date: chrono::DateTime<chrono::Utc> = f.ship_date.parse().unwrap();
    assert_eq!(shipped_due, ship_date + Duration::days(30), "tracked and not delivered: ship date + 30");

    // The carrier's scan came before the store's ship date (a manifest date): delivery + 30 is earlier.
    let delivered_at = ship_date - Duration::days(2);
    let delivered = |event_id: &str, at: chrono::DateTime<chrono::Utc>| {
        json!({"id": event_id, "type": "shipment.delivered", "created_at": f.deps.clock.now().to_rfc3339(),
            "data": {"order_id": f.order_id, "package_id": "PKG-1", "delivered_at": at.to_rfc3339()}})
    };
    let (status, answer) = f.post_signed(delivered("evt-2", delivered_at).to_string().as_bytes()).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("recorded")), "{answer}");
    let moved = delivered_at + Duration::days(30);
    assert_eq!(answer["redaction_due"], json!(moved), "{answer}");
    let stored = f.h.stack.adapters.store.get_order(&order_id).await.unwrap().unwrap().value;
    assert_eq!(due(&stored), moved, "the order the redactor reads has the new schedule");
    // The redactor's index has it too: due on that day, not before.
    let f = &f;
    let listed = |at| async move {
        let page = f.h.stack.adapters.store.orders_due_for_redaction(at, None, 100).await.unwrap();
        page.orders.iter().any(|id| id.as_str() == f.order_id)
    };
    assert!(!listed(moved - Duration::minutes(1)).await && listed(moved).await);

    let (status, answer) = f.post_signed(delivered("evt-3", ship_date).to_string().as_bytes()).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("unchanged")), "a later report: {answer}");
    let (status, answer) = f
        .post_signed(
            json!({"id": "evt-4", "type": "shipment.delivered", "created_at": f.deps.clock.now().to_rfc3339(),
            "data": {"order_id": f.order_id, "package_id": "PKG-404", "delivered_at": delivered_at.to_rfc3339()}})
            .to_string()
            .as_bytes(),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(error(&answer), format!("order {} has no package PKG-404", f.order_id));
}

#[tokio::test]
async fn a_delivery_recorded_while_its_package_is_being_sent_is_kept_and_the_package_settles_at_once() {
    let f = fixture().await;
    let (status, answer) = f.post_signed(f.event("evt-1", "PKG-1").to_string().as_bytes()).await;
    assert_eq!(status, 202, "{answer}");
    // Amazon takes its time over the confirmation; the delivery is recorded meanwhile.
    f.h.sandbox_post("/_sandbox/faults", json!({"operation": "confirmShipment", "delayMs": 2500})).await;
    let sender = f.h.stack.sender_deps(f.h.stack.sender_settings(), None).await.unwrap();
    let poller = f.h.stack.updates_poller();
    let delivered_at: chrono::DateTime<chrono::Utc> = f.ship_date.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    let delivery = json!({"id": "evt-2", "type": "shipment.delivered", "created_at": f.deps.clock.now().to_rfc3339(),
        "data": {"order_id": f.order_id, "package_id": "PKG-1", "delivered_at": delivered_at.to_rfc3339()}});
    let (polled, (status, answer)) =
        tokio::join!(poller.poll_once(&sender, std::time::Duration::from_secs(60)), async {
            tokio::time::sleep(std::time::Duration::from_millis(800)).await;
            f.post_signed(delivery.to_string().as_bytes()).await
        });
    assert_eq!((status, answer["status"].as_str()), (200, Some("recorded")), "{answer}");
    assert_eq!(polled.unwrap().failed, 0, "settled in the same invocation, not retried after the claim expires");

    let order_id = sellerbridge_core::domain::ids::AmazonOrderId::parse(f.order_id.clone()).unwrap();
    let packages = f.h.stack.adapters.store.list_packages(&order_id).await.unwrap();
    assert!(matches!(packages[0].state, sellerbridge_core::domain::shipment::PackageState::Confirmed { .. }));
    assert_eq!(packages[0].delivered_at, Some(delivered_at), "the delivery time survived the settlement");
    let order = f.h.stack.adapters.store.get_order(&order_id).await.unwrap().unwrap().value;
    let facts = order.local.shipments.iter().find(|s| s.package_id.as_ref().is_some_and(|p| p.as_str() == "PKG-1"));
    assert_eq!(facts.and_then(|s| s.delivered_at), Some(delivered_at), "the PII schedule reads the delivery");
    assert_eq!(f.h.inspector.confirmed_packages().await.unwrap().len(), 1, "sent once");
}
