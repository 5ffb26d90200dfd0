//! Shipments that must end right whatever happens on the way: failed packages free their units and can
//! be resent, repeats and changes are told apart, "already confirmed" is believed only for a package we
//! sent, a lost outcome is reconciled with Amazon instead of sent twice, and orders Amazon confirms
//! itself are refused.
use std::sync::Arc;
use std::time::Duration;

use sellerbridge_cli::local::demo::{self, Quiet};
use sellerbridge_cli::local::runner;
use sellerbridge_core::domain::clock::OffsetClock;
use sellerbridge_core::domain::ids::{AmazonOrderId, PackageId};
use sellerbridge_core::domain::order::Order;
use sellerbridge_core::domain::shipment::PackageState;
use sellerbridge_core::domain::status::OrderStatus;
use sellerbridge_core::queue::{UpdateMessage, UpdateQueue};
use sellerbridge_core::webhook::signature::SIGNATURE_HEADER;
use sellerbridge_e2e::{Harness, options_for, sandbox, send_without_backoff};
use serde_json::{Value, json};

struct Fixture {
    h: Harness,
    webhook: shipment_webhook::WebhookDeps,
    order: Order,
    /// The ship date every event of a test carries, so a repeat is the same to the second.
    ship_date: String,
}

/// A synced sandbox and one order awaiting shipment with a single line, so one package ships it all.
async fn fixture() -> Fixture {
    let h = Harness::start(sandbox(16, 31, 600.0), Arc::new(OffsetClock::default()), options_for(600.0)).await;
    let sync = h.stack.sync_deps(Default::default()).await.unwrap();
    demo::sync_until_current(&sync, 3, &Quiet).await.unwrap();
    let order = h
        .stack
        .adapters
        .store
        .scan_orders()
        .await
        .unwrap()
        .into_iter()
        .find(|o| {
            o.status == OrderStatus::AwaitingShipment
                && o.amazon.items.len() == 1
                && o.amazon.items[0].quantity_shipped == 0
                && o.amazon.items[0].sku.is_some()
        })
        .expect("a single-line order awaiting shipment");
    let ship_date = h.stack.adapters.clock.now().to_rfc3339();
    Fixture { webhook: h.stack.webhook_deps(), h, order, ship_date }
}

impl Fixture {
    fn order_id(&self) -> &AmazonOrderId {
        self.order.id()
    }

    /// Ships every unit of the order's line in one package.
    fn event(&self, event_id: &str, package_id: &str, tracking: &str) -> Value {
        let item = &self.order.amazon.items[0];
        let now = self.webhook.clock.now().to_rfc3339();
        json!({"id": event_id, "type": "shipment.created", "created_at": now,
            "data": {"order_id": self.order_id(), "package_id": package_id, "carrier": "UPS", "tracking_number": tracking,
                "ship_date": self.ship_date, "items": [{"sku": item.sku.as_ref().unwrap(), "quantity": item.quantity_ordered}]}})
    }

    async fn post(&self, event: Value) -> (u16, Value) {
        let body = event.to_string().into_bytes();
        let signature = self.h.stack.signing_key.sign(self.webhook.clock.now(), &body);
        runner::post_webhook(&self.webhook, "/webhooks/shipments", &[(SIGNATURE_HEADER, signature)], &body)
            .await
            .unwrap()
    }

    async fn fault(&self, fault: Value) {
        self.h.sandbox_post("/_sandbox/faults", fault).await;
    }

    async fn drain(&self) {
        send_without_backoff(&self.h).await;
    }

    async fn package(&self, package_id: &str) -> sellerbridge_core::domain::shipment::Package {
        let id = PackageId::parse(package_id).unwrap();
        self.h.stack.adapters.store.get_package(self.order_id(), &id).await.unwrap().expect("package stored").value
    }

    async fn stored_order(&self) -> Order {
        self.h.stack.adapters.store.get_order(self.order_id()).await.unwrap().unwrap().value
    }

    /// `confirmShipment` calls the sandbox received for this order, whatever it answered.
    async fn confirm_calls(&self) -> usize {
        let calls = self.h.inspector.calls().await.unwrap();
        calls
            .iter()
            .filter(|c| c.operation == "confirmShipment" && c.order_id.as_deref() == Some(self.order_id().as_str()))
            .count()
    }
}

fn error(answer: &Value) -> &str {
    answer["error"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_package_amazon_refused_frees_its_units_and_can_be_resent_under_its_id() {
    let f = fixture().await;
    f.fault(json!({"operation": "confirmShipment", "status": 400, "count": 1})).await;
    assert_eq!(f.post(f.event("evt-1", "PKG-1", "1Z999AA10123456784")).await.0, 202);
    f.drain().await;
    assert!(matches!(f.package("PKG-1").await.state, PackageState::Failed { .. }));
    assert!(
        f.stored_order().await.local.planned_quantities.values().all(|q| *q == 0),
        "the failed package gave its units back"
    );

    // The same details again (a retried event under a new id) would only fail again: a repeat.
    let (status, answer) = f.post(f.event("evt-1b", "PKG-1", "1Z999AA10123456784")).await;
    assert_eq!((status, answer["package_state"].as_str()), (200, Some("failed")), "{answer}");

    // The merchant corrects the package and sends it again under the same id.
    let (status, answer) = f.post(f.event("evt-2", "PKG-1", "1Z999AA10123456785")).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["package_reference_id"], "1", "the resend updates the same package at Amazon");
    f.drain().await;
    let package = f.package("PKG-1").await;
    assert!(matches!(package.state, PackageState::Confirmed { .. }), "{:?}", package.state);
    assert_eq!(package.tracking_number.as_str(), "1Z999AA10123456785");
    assert_eq!(f.stored_order().await.status, OrderStatus::Shipped);
}

#[tokio::test]
async fn a_dead_lettered_package_frees_its_units_for_a_new_package() {
    let f = fixture().await;
    f.fault(json!({"operation": "confirmShipment", "status": 503, "count": 5})).await;
    assert_eq!(f.post(f.event("evt-1", "PKG-1", "1Z999AA10123456784")).await.0, 202);
    f.drain().await;
    assert!(matches!(f.package("PKG-1").await.state, PackageState::DeadLettered { .. }));

    let (status, answer) = f.post(f.event("evt-2", "PKG-2", "1Z999AA10123456785")).await;
    assert_eq!(status, 202, "the dead-lettered package's units can ship again: {answer}");
    f.drain().await;
    assert!(matches!(f.package("PKG-2").await.state, PackageState::Confirmed { .. }));
    assert_eq!(f.stored_order().await.status, OrderStatus::Shipped);
}

#[tokio::test]
async fn a_repeat_under_a_new_event_id_is_a_duplicate_and_a_changed_package_is_refused() {
    let f = fixture().await;
    assert_eq!(f.post(f.event("evt-1", "PKG-1", "1Z999AA10123456784")).await.0, 202);
    // Every unit is reserved by PKG-1: a repeat must still be recognised as such, not judged by quantity.
    let (status, answer) = f.post(f.event("evt-2", "PKG-1", "1Z999AA10123456784")).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("duplicate")), "{answer}");

    let (status, answer) = f.post(f.event("evt-3", "PKG-1", "1Z999AA10123456785")).await;
    assert_eq!(status, 409, "{answer}");
    assert!(error(&answer).contains("cannot change"), "{answer}");
    assert!(error(&answer).contains(f.order_id().as_str()) && error(&answer).contains("PKG-1"), "{answer}");
    assert_eq!(f.package("PKG-1").await.tracking_number.as_str(), "1Z999AA10123456784", "nothing was overwritten");
}

#[tokio::test]
async fn already_confirmed_for_a_package_never_sent_is_a_failure_not_a_shipment() {
    let f = fixture().await;
    f.fault(json!({"operation": "confirmShipment", "error": "PackageToUpdateNotFound", "count": 1})).await;
    assert_eq!(f.post(f.event("evt-1", "PKG-1", "1Z999AA10123456784")).await.0, 202);
    f.drain().await;
    let PackageState::Failed { reason, .. } = f.package("PKG-1").await.state else { panic!("not failed") };
    assert!(reason.contains("PackageToUpdateNotFound"), "{reason}");
    assert_eq!(f.stored_order().await.status, OrderStatus::AwaitingShipment, "the store is not told shipped");
}

#[tokio::test]
async fn an_attempt_whose_outcome_was_lost_is_reconciled_with_amazon_not_sent_again() {
    let f = fixture().await;
    let store = &f.h.stack.adapters.store;
    assert_eq!(f.post(f.event("evt-1", "PKG-1", "1Z999AA10123456784")).await.0, 202);
    let before_order = store.get_order(f.order_id()).await.unwrap().unwrap();
    let package_id = PackageId::parse("PKG-1").unwrap();
    let before_package = store.get_package(f.order_id(), &package_id).await.unwrap().unwrap();
    f.drain().await;
    assert_eq!(f.confirm_calls().await, 1);

    // Amazon answered 204, then the function died before writing the outcome: the table still holds
    // the order as it was and the package claimed by that attempt, long ago.
    let now = f.h.stack.adapters.clock.now();
    let current_order = store.get_order(f.order_id()).await.unwrap().unwrap();
    store.save_order(&before_order.value, current_order.version).await.unwrap();
    let current_package = store.get_package(f.order_id(), &package_id).await.unwrap().unwrap();
    let mut lost = before_package.value.clone();
    lost.claimed_at = Some(now - chrono::Duration::minutes(10));
    lost.send_attempts = 1;
    store.save_package(&lost, current_package.version).await.unwrap();
    let message = UpdateMessage::ConfirmShipment { order_id: f.order_id().clone(), package_id };
    f.h.stack.adapters.queue.send(&message, Duration::ZERO).await.unwrap();

    f.drain().await;
    assert_eq!(f.confirm_calls().await, 1, "the package was not sent a second time");
    assert!(matches!(f.package("PKG-1").await.state, PackageState::Confirmed { .. }));
    let order = f.stored_order().await;
    assert_eq!(order.status, OrderStatus::Shipped, "the order records the shipment Amazon holds");
    assert_eq!(order.local.shipments.len(), 1, "and the facts the PII schedule needs");
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_and_the_package_confirmed() {
    let f = fixture().await;
    f.fault(json!({"operation": "confirmShipment", "status": 401, "count": 1})).await;
    assert_eq!(f.post(f.event("evt-1", "PKG-1", "1Z999AA10123456784")).await.0, 202);
    f.drain().await;
    assert!(matches!(f.package("PKG-1").await.state, PackageState::Confirmed { .. }));
    assert_eq!(f.confirm_calls().await, 2, "one refused, one after the refresh");
}

#[tokio::test]
async fn orders_amazon_confirms_itself_are_refused_with_the_reason() {
    let f = fixture().await;
    let store = &f.h.stack.adapters.store;
    let stored = store.get_order(f.order_id()).await.unwrap().unwrap();
    let mut easy_ship = stored.value.clone();
    easy_ship.amazon.flags.easy_ship = true;
    store.save_order(&easy_ship, stored.version).await.unwrap();

    let (status, answer) = f.post(f.event("evt-1", "PKG-1", "1Z999AA10123456784")).await;
    assert_eq!(status, 422, "{answer}");
    assert!(error(&answer).contains("Easy Ship") && error(&answer).contains(f.order_id().as_str()), "{answer}");
    assert_eq!(f.confirm_calls().await, 0);
}
