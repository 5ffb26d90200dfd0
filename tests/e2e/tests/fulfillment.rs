//! Multi-Channel Fulfillment and FBA inventory end to end: the webhook handler, the updates queue, the
//! sender, the scheduled sync and the outbound queue, against the sandbox's Fulfillment Outbound and FBA
//! Inventory APIs (their lifecycle moved on by the sandbox's clock), with `fulfillment.updated` and
//! `inventory.updated` received by a merchant endpoint on 127.0.0.1.
use std::sync::Arc;
use std::time::Duration;

use order_sync::SyncSettings;
use sellerbridge_cli::local::runner;
use sellerbridge_cli::ops;
use sellerbridge_core::domain::clock::{Clock, OffsetClock};
use sellerbridge_core::domain::connection::OptionsChange;
use sellerbridge_core::domain::fulfillment::{FulfillmentPolicy, ShippingSpeed};
use sellerbridge_core::domain::ids::{SellerFulfillmentOrderId, Sku, StoreOrderId};
use sellerbridge_e2e::{
    Harness, LogCapture, WebhookReceiver, drain_outbound, options_for, post_event, sandbox, send_without_backoff,
};
use serde_json::{Value, json};

/// A connection whose outbound events go to a receiver, with the sandbox's first SKUs in stock marked
/// Amazon-fulfilled through the CLI's check against Amazon's inventory.
struct Fixture {
    h: Harness,
    clock: OffsetClock,
    receiver: WebhookReceiver,
    /// SKUs Amazon holds units of, marked Amazon-fulfilled.
    in_stock: Vec<String>,
}

impl Fixture {
    async fn start(change: OptionsChange) -> Self {
        Self::start_with(sandbox(5, 61, 600.0), change).await
    }

    async fn start_with(config: spapi_sandbox::SandboxConfig, change: OptionsChange) -> Self {
        let receiver = WebhookReceiver::default();
        let url = receiver.start().await;
        let clock = OffsetClock::default();
        let mut options = options_for(600.0);
        options.outbound_webhook_url = Some(url);
        let h = Harness::start(config, Arc::new(clock.clone()), options).await;
        let inventory = h.sandbox_get("/_sandbox/inventory").await;
        let in_stock: Vec<String> = inventory
            .as_array()
            .expect("the sandbox's inventory")
            .iter()
            .filter(|summary| fulfillable(summary) >= 20)
            .filter_map(|summary| summary["sellerSku"].as_str().map(str::to_owned))
            .take(3)
            .collect();
        assert_eq!(in_stock.len(), 3, "the sandbox holds SKUs in stock");
        let skus: Vec<Sku> = in_stock.iter().map(|sku| Sku::parse(sku.as_str()).unwrap()).collect();
        let store = &h.stack.adapters.store;
        let mut marked = ops::mark_amazon_fulfilled(&h.stack.adapters, &h.stack.settings, &h.connection, &skus)
            .await
            .expect("the SKUs are in Amazon's inventory");
        assert!(marked.mark_amazon_fulfilled.iter().all(|(_, sku)| sku.fnsku.is_some()), "FNSKUs stored");
        marked.shipping_speeds = change.shipping_speeds;
        marked.fulfillment_policy = change.fulfillment_policy;
        marked.fulfillment_preview = change.fulfillment_preview;
        marked.sync_inventory = change.sync_inventory;
        ops::change_connection(store, &h.connection.id, &marked, clock.now()).await.unwrap();
        Self { h, clock, receiver, in_stock }
    }

    fn request(&self, event_id: &str, store_order: &str, items: Value) -> Value {
        json!({"id": event_id, "type": "fulfillment.requested", "created_at": self.clock.now(),
               "data": {"connection_id": "us-main", "store_order_id": store_order, "shipping_rate": "Standard",
                        "comment": "Canary gift note 7QX",
                        "destination": {"name": "Jane Canary", "line1": "77 Canary Wharf Rd", "city": "Seattle",
                                        "state": "WA", "postal_code": "98101", "country_code": "US",
                                        "phone": "+1 206 555 0199"},
                        "items": items}})
    }

    fn cancel(&self, event_id: &str, store_order: &str) -> Value {
        json!({"id": event_id, "type": "fulfillment.cancelled", "created_at": self.clock.now(),
               "data": {"connection_id": "us-main", "store_order_id": store_order}})
    }

    /// Both clocks, ours and Amazon's, move on together.
    async fn advance(&self, seconds: i64) {
        self.clock.advance(chrono::Duration::seconds(seconds));
        self.h.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": seconds})).await;
    }

    async fn sync(&self) -> order_sync::SyncReport {
        let sync = self.h.stack.sync_deps(SyncSettings::default()).await.unwrap();
        runner::tick_sync(&sync, Duration::from_secs(60)).await.unwrap()
    }

    /// Everything queued is sent: creates and cancels to Amazon, events to the merchant.
    async fn send(&self) {
        let sender = send_without_backoff(&self.h).await;
        drain_outbound(&self.h, &sender, 50).await;
    }

    /// The `fulfillment.updated` events the merchant received about a store order, in order.
    fn events_for(&self, store_order: &str) -> Vec<Value> {
        self.receiver
            .received(&self.h.stack.signing_key)
            .into_iter()
            .filter(|event| event["type"] == "fulfillment.updated" && event["data"]["store_order_id"] == store_order)
            .collect()
    }

    fn last_event(&self, store_order: &str) -> Value {
        self.events_for(store_order).pop().unwrap_or_else(|| panic!("no fulfillment.updated for {store_order}"))
    }

    async fn amazon_order(&self, store_order: &str) -> Value {
        let id = fulfillment_id(store_order);
        let orders = self.h.sandbox_get("/_sandbox/fulfillment-orders").await;
        orders
            .as_array()
            .unwrap()
            .iter()
            .find(|order| order["fulfillmentOrder"]["sellerFulfillmentOrderId"] == id.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("Amazon holds no fulfillment order {id}"))
    }

    async fn calls(&self, operation: &str) -> usize {
        let calls = self.h.sandbox_get("/_sandbox/calls").await;
        calls.as_array().unwrap().iter().filter(|call| call["operation"] == operation).count()
    }
}

fn fulfillable(summary: &Value) -> u64 {
    summary.pointer("/inventoryDetails/fulfillableQuantity").and_then(Value::as_u64).unwrap_or_default()
}

fn fulfillment_id(store_order: &str) -> SellerFulfillmentOrderId {
    SellerFulfillmentOrderId::for_store_order(
        &sellerbridge_core::domain::ids::ConnectionId::parse("us-main").unwrap(),
        &StoreOrderId::parse(store_order).unwrap(),
    )
}

/// Past the sandbox's default lifecycle: Processing 30 minutes after creation, Complete after 2 hours.
const PAST_PROCESSING: i64 = 45 * 60;
const PAST_COMPLETE: i64 = 3 * 3600;

#[tokio::test]
async fn a_store_order_is_created_once_at_the_mapped_speed_and_its_tracking_reaches_the_store() {
    let logs = LogCapture::default();
    let _guard = logs.install();
    let change = OptionsChange {
        shipping_speeds: vec![("Next Day Air".into(), Some(ShippingSpeed::Priority))],
        ..OptionsChange::default()
    };
    let f = Fixture::start(change).await;
    let items = json!([{"line_id": "1", "sku": f.in_stock[0], "quantity": 2}, {"line_id": "2", "sku": f.in_stock[1], "quantity": 1}]);
    let mut event = f.request("evt-mcf-1", "#1001", items);
    event["data"]["shipping_rate"] = json!("next day  AIR");
    let (status, answer) = post_event(&f.h, &event).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["state"], "open");
    assert_eq!(answer["shipping_speed"], "Priority", "the connection's speed map");
    // The store sends it again (a retry, and a second event for the same order): one order at Amazon.
    let (status, answer) = post_event(&f.h, &event).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("duplicate")), "{answer}");
    let mut again = event.clone();
    again["id"] = json!("evt-mcf-1-bis");
    assert_eq!(post_event(&f.h, &again).await.0, 200);
    f.send().await;
    assert_eq!(f.calls("createFulfillmentOrder").await, 1, "created once");
    let at_amazon = f.amazon_order("#1001").await;
    assert_eq!(at_amazon["fulfillmentOrder"]["shippingSpeedCategory"], "Priority");
    assert_eq!(at_amazon["fulfillmentOrder"]["displayableOrderId"], "#1001");
    assert_eq!(f.last_event("#1001")["data"]["state"], "open");

    f.advance(PAST_PROCESSING).await;
    f.sync().await;
    f.send().await;
    assert_eq!(f.last_event("#1001")["data"]["state"], "fulfilled", "accepted and shipping: fulfilled");

    f.advance(PAST_COMPLETE).await;
    let report = f.sync().await;
    assert!(report.connections[0].fulfillment.orders_changed >= 1, "{report:?}");
    f.send().await;
    let done = f.last_event("#1001");
    assert_eq!(done["data"]["amazon_status"], "Complete");
    let at_amazon = f.amazon_order("#1001").await;
    let amazon_tracking: Vec<&Value> = at_amazon["fulfillmentShipments"]
        .as_array()
        .expect("shipments")
        .iter()
        .flat_map(|shipment| shipment["fulfillmentShipmentPackage"].as_array().unwrap())
        .map(|package| &package["trackingNumber"])
        .collect();
    let sent_tracking: Vec<&Value> = done["data"]["shipments"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|shipment| shipment["packages"].as_array().unwrap())
        .map(|package| &package["tracking_number"])
        .collect();
    assert!(!amazon_tracking.is_empty());
    assert_eq!(sent_tracking, amazon_tracking, "each package's tracking sent to the store");
    // The read endpoint shows what the store was sent.
    let (api, key) = f.h.stack.api_deps().await.unwrap();
    let headers = [("x-api-key", key)];
    let query = [("connection", "us-main"), ("store_order", "#1001")];
    let (status, shown) = runner::get_api(&api, "/fulfillments", &query, &headers).await.unwrap();
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown, done["data"]);
    let text = serde_json::to_string(&f.receiver.received(&f.h.stack.signing_key)).unwrap();
    for pii in ["Jane Canary", "Canary Wharf", "555 0199", "gift note 7QX"] {
        assert!(!text.contains(pii), "{pii} reached the store's events");
        assert!(!logs.text().contains(pii), "{pii} reached the logs");
    }
}

#[tokio::test]
async fn unfulfillable_partial_cancelled_in_time_and_too_late_reach_the_store() {
    let f = Fixture::start(OptionsChange::default()).await;
    let (a, b) = (f.in_stock[0].clone(), f.in_stock[1].clone());
    // Amazon's stock of A runs out.
    f.h.sandbox_post("/_sandbox/inventory", json!({"sellerSku": a, "fulfillable": 0})).await;

    // FillOrKill (the default): nothing ships.
    assert_eq!(post_event(&f.h, &f.request("evt-u", "#2001", json!([{"sku": a, "quantity": 1}]))).await.0, 202);
    // Cancelled while Amazon still plans it.
    assert_eq!(post_event(&f.h, &f.request("evt-c", "#2003", json!([{"sku": b, "quantity": 1}]))).await.0, 202);
    // Cancelled once Amazon is shipping and we know it; and once Amazon is shipping and we do not yet.
    assert_eq!(post_event(&f.h, &f.request("evt-l", "#2004", json!([{"sku": b, "quantity": 1}]))).await.0, 202);
    assert_eq!(post_event(&f.h, &f.request("evt-m", "#2005", json!([{"sku": b, "quantity": 1}]))).await.0, 202);
    f.send().await;

    let (status, answer) = post_event(&f.h, &f.cancel("evt-c-x", "#2003")).await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("pending")), "{answer}");
    f.send().await;
    assert_eq!(f.amazon_order("#2003").await["fulfillmentOrder"]["fulfillmentOrderStatus"], "Cancelled");
    let cancelled = f.last_event("#2003");
    assert_eq!(cancelled["data"]["state"], "cancelled");
    assert_eq!(cancelled["data"]["cancellation"]["outcome"], "cancelled");

    f.advance(PAST_PROCESSING).await;
    // #2005 is Processing at Amazon, but our copy does not know yet: Amazon refuses the cancellation.
    let (status, answer) = post_event(&f.h, &f.cancel("evt-m-x", "#2005")).await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("pending")), "{answer}");
    f.send().await;
    let refused = f.last_event("#2005");
    assert_eq!(refused["data"]["cancellation"]["outcome"], "too_late");
    assert!(
        refused["data"]["cancellation"]["detail"]
            .as_str()
            .unwrap()
            .contains("too late to cancel: shipment in progress")
    );
    assert_eq!(f.calls("cancelFulfillmentOrder").await, 2, "#2003 and #2005 asked Amazon");

    f.sync().await;
    f.send().await;
    let unfulfillable = f.last_event("#2001");
    assert_eq!(unfulfillable["data"]["state"], "unfulfilled");
    assert!(unfulfillable["data"]["reason"].as_str().unwrap().contains("Unfulfillable"), "{unfulfillable}");
    // Known to be shipping: too late, settled without asking Amazon.
    let (status, answer) = post_event(&f.h, &f.cancel("evt-l-x", "#2004")).await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("too_late")), "{answer}");
    assert_eq!(f.calls("cancelFulfillmentOrder").await, 2);
    f.send().await;
    assert_eq!(f.last_event("#2004")["data"]["cancellation"]["outcome"], "too_late");
    assert_eq!(f.amazon_order("#2004").await["fulfillmentOrder"]["fulfillmentOrderStatus"], "Processing");

    // FillAllAvailable: what is in stock ships, the rest is cancelled.
    let policy = OptionsChange { fulfillment_policy: Some(FulfillmentPolicy::FillAllAvailable), ..Default::default() };
    ops::change_connection(&f.h.stack.adapters.store, &f.h.connection.id, &policy, f.clock.now()).await.unwrap();
    let items = json!([{"line_id": "in", "sku": b, "quantity": 1}, {"line_id": "out", "sku": a, "quantity": 2}]);
    assert_eq!(post_event(&f.h, &f.request("evt-p", "#2002", items)).await.0, 202);
    f.send().await;
    f.advance(PAST_COMPLETE).await;
    f.sync().await;
    f.send().await;
    let partial = f.last_event("#2002");
    assert_eq!(partial["data"]["state"], "partially_fulfilled", "{partial}");
    assert!(partial["data"]["reason"].as_str().unwrap().contains("line out"), "{partial}");
}

#[tokio::test]
async fn bad_requests_are_refused_naming_the_store_order_before_amazon_is_asked() {
    let f = Fixture::start(OptionsChange::default()).await;
    let sku = f.in_stock[0].clone();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "not Amazon-fulfilled",
            json!([{"sku": "MFN-ONLY-1", "quantity": 1}]),
            "SKU MFN-ONLY-1 is not marked Amazon-fulfilled",
        ),
        ("quantity 0", json!([{"sku": sku, "quantity": 0}]), "data.items[0].quantity"),
    ];
    for (case, items, needle) in cases {
        let (status, answer) = post_event(&f.h, &f.request(&format!("evt-{case}"), "#3001", items)).await;
        assert_eq!(status, 422, "{case}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.starts_with("store order #3001:") && error.contains(needle), "{case}: {error}");
    }
    let address_cases = [
        ("/data/destination/postal_code", Value::Null, "data.destination.postal_code", 400),
        (
            "/data/destination/country_code",
            json!("CA"),
            "Amazon fulfils orders of marketplace ATVPDKIKX0DER only within US",
            422,
        ),
        ("/data/shipping_rate", json!("Teleport"), "shipping rate name `Teleport`", 422),
    ];
    for (pointer, value, needle, expected) in address_cases {
        let mut event = f.request("evt-address", "#3002", json!([{"sku": sku, "quantity": 1}]));
        *event.pointer_mut(pointer).unwrap() = value;
        let (status, answer) = post_event(&f.h, &event).await;
        let error = answer["error"].as_str().unwrap();
        assert_eq!(status, expected, "{pointer}: {error}");
        assert!(error.starts_with("store order #3002:") && error.contains(needle), "{pointer}: {error}");
        assert!(!error.contains("Canary"), "no address in errors: {error}");
    }
    let (status, answer) = post_event(&f.h, &f.cancel("evt-nothing", "#3009")).await;
    assert_eq!(status, 422, "{answer}");
    f.send().await;
    for operation in ["createFulfillmentOrder", "getFulfillmentPreview"] {
        assert_eq!(f.calls(operation).await, 0, "{operation}: nothing reached Amazon");
    }
    assert!(f.h.stack.adapters.store.get_fulfillment(&fulfillment_id("#3001")).await.unwrap().is_none());
}

#[tokio::test]
async fn a_preview_that_cannot_ship_is_never_created_and_the_destination_is_redacted_on_schedule() {
    let change = OptionsChange { fulfillment_preview: Some(true), ..OptionsChange::default() };
    let f = Fixture::start(change).await;
    let (a, b) = (f.in_stock[0].clone(), f.in_stock[1].clone());
    f.h.sandbox_post("/_sandbox/inventory", json!({"sellerSku": a, "fulfillable": 0})).await;
    assert_eq!(post_event(&f.h, &f.request("evt-pv-1", "#4001", json!([{"sku": a, "quantity": 1}]))).await.0, 202);
    assert_eq!(post_event(&f.h, &f.request("evt-pv-2", "#4002", json!([{"sku": b, "quantity": 1}]))).await.0, 202);
    f.send().await;
    assert_eq!(f.calls("getFulfillmentPreview").await, 2);
    assert_eq!(f.calls("createFulfillmentOrder").await, 1, "only the one Amazon can ship");
    let refused = f.last_event("#4001");
    assert_eq!(refused["data"]["state"], "unfulfilled");
    assert!(refused["data"]["reason"].as_str().unwrap().contains("preview"), "{refused}");
    let created = f.last_event("#4002");
    let fees = created["data"]["preview"]["fees"].as_array().expect("the preview's fees");
    assert!(!fees.is_empty(), "{created}");

    // One left on the queue (its connection switched off, say) until its address is redacted is never sent.
    assert_eq!(post_event(&f.h, &f.request("evt-pv-3", "#4003", json!([{"sku": b, "quantity": 1}]))).await.0, 202);

    // Refused orders keep the address 14 days at most, like unshipped Amazon orders.
    let store = &f.h.stack.adapters.store;
    let before = store.get_fulfillment(&fulfillment_id("#4001")).await.unwrap().unwrap().value;
    assert_eq!(before.destination.name, "Jane Canary");
    f.clock.advance(chrono::Duration::days(15));
    let redactor = pii_redactor::RedactorDeps { store: store.clone(), clock: f.h.stack.adapters.clock.clone() };
    let report = runner::tick_redaction(&redactor, Duration::from_secs(60), false).await.unwrap();
    assert!(report.redacted >= 3, "{report:?}");
    f.send().await;
    let unsent = f.last_event("#4003");
    assert_eq!(unsent["data"]["state"], "unfulfilled", "{unsent}");
    assert!(unsent["data"]["reason"].as_str().unwrap().contains("redacted"), "{unsent}");
    assert_eq!(f.calls("createFulfillmentOrder").await, 1, "a redacted address never reaches Amazon");
    for store_order in ["#4001", "#4002", "#4003"] {
        let after = store.get_fulfillment(&fulfillment_id(store_order)).await.unwrap().unwrap().value;
        let text = serde_json::to_string(&after).unwrap();
        for pii in ["Jane Canary", "Canary Wharf", "555 0199", "gift note 7QX"] {
            assert!(!text.contains(pii), "{store_order}: {pii} kept");
        }
        assert_eq!(after.destination.city.as_deref(), Some("Seattle"));
    }
}

#[tokio::test]
async fn inventory_is_read_over_pages_through_an_expired_token_and_only_changes_are_sent() {
    let change = OptionsChange { sync_inventory: Some(true), ..OptionsChange::default() };
    let f = Fixture::start(change).await;
    let all = f.h.sandbox_get("/_sandbox/inventory").await.as_array().unwrap().len();
    assert!(all > 100, "more than two pages of 50");
    // Amazon refuses the second page's token, as when it outlived its 30 seconds.
    let fault = json!({"operation": "getInventorySummaries", "status": 400, "count": 1, "every": 2});
    f.h.sandbox_post("/_sandbox/faults", fault).await;
    let report = f.sync().await;
    let activity = &report.connections[0].fulfillment;
    assert_eq!(activity.inventory_restarts, 1, "{report:?}");
    assert_eq!(activity.inventory_changed as usize, all, "the backfill stores every SKU");
    f.send().await;
    let events = |f: &Fixture| -> Vec<Value> {
        f.receiver
            .received(&f.h.stack.signing_key)
            .into_iter()
            .filter(|event| event["type"] == "inventory.updated")
            .collect()
    };
    let backfill = events(&f);
    let sent: usize = backfill.iter().map(|event| event["data"]["items"].as_array().unwrap().len()).sum();
    assert_eq!(sent, all, "each SKU once");
    let store = &f.h.stack.adapters.store;
    let shown = ops::inventory_summary(store, &f.h.connection.id, None).await.unwrap();
    assert_eq!(shown["skus"], all);

    // Two SKUs change at Amazon; a third is touched with the same quantities.
    let (a, b, c) = (&f.in_stock[0], &f.in_stock[1], &f.in_stock[2]);
    f.advance(600).await;
    f.h.sandbox_post("/_sandbox/inventory", json!({"sellerSku": a, "fulfillable": 3})).await;
    f.h.sandbox_post("/_sandbox/inventory", json!({"sellerSku": b, "unfulfillable": 4})).await;
    let unchanged =
        store.get_inventory_level(&f.h.connection.id, &Sku::parse(c.as_str()).unwrap()).await.unwrap().unwrap();
    f.h.sandbox_post("/_sandbox/inventory", json!({"sellerSku": c, "fulfillable": unchanged.quantities.fulfillable}))
        .await;
    f.advance(60).await;
    let report = f.sync().await;
    assert_eq!(report.connections[0].fulfillment.inventory_changed, 2, "{report:?}");
    f.send().await;
    let latest: Vec<Value> = events(&f).into_iter().skip(backfill.len()).collect();
    assert_eq!(latest.len(), 1, "one event for the run");
    let items = latest[0]["data"]["items"].as_array().unwrap();
    let skus: std::collections::BTreeSet<&str> = items.iter().map(|item| item["sku"].as_str().unwrap()).collect();
    assert_eq!(skus, [a.as_str(), b.as_str()].into_iter().collect(), "only the SKUs that changed");
    let a_now = items.iter().find(|item| item["sku"] == a.as_str()).unwrap();
    assert_eq!(a_now["quantities"]["fulfillable"], 3);
    let shown =
        ops::inventory_summary(store, &f.h.connection.id, Some(&Sku::parse(a.as_str()).unwrap())).await.unwrap();
    assert_eq!(shown["items"][0]["quantities"]["fulfillable"], 3, "the CLI shows the same numbers");
    let (api, key) = f.h.stack.api_deps().await.unwrap();
    let query = [("connection", "us-main"), ("sku", a.as_str())];
    let (status, read) = runner::get_api(&api, "/inventory", &query, &[("x-api-key", key)]).await.unwrap();
    assert_eq!(status, 200, "{read}");
    assert_eq!(read, shown, "and the read endpoint too");
}

#[tokio::test]
async fn amazons_fulfillment_api_failing_never_holds_up_the_order_import() {
    let change = OptionsChange { sync_inventory: Some(true), ..OptionsChange::default() };
    let f = Fixture::start(change).await;
    let fault = json!({"operation": "listAllFulfillmentOrders", "status": 503, "count": 20});
    f.h.sandbox_post("/_sandbox/faults", fault).await;
    let report = f.sync().await;
    let connection = &report.connections[0];
    let error = connection.fulfillment.error.as_deref().expect("the failure is reported");
    assert!(error.contains("listAllFulfillmentOrders"), "{error}");
    let actionable = sellerbridge_e2e::actionable(&f.h.inspector.orders().await.unwrap());
    assert!(!actionable.is_empty(), "the sandbox has orders to import");
    assert_eq!(connection.inserted as usize, actionable.len(), "the orders were imported all the same: {report:?}");
    assert!(matches!(connection.outcome, order_sync::SyncOutcome::UpToDate), "{report:?}");
}

#[tokio::test]
async fn amazons_status_notifications_move_a_fulfillment_order_without_waiting_for_the_sync() {
    let mut config = sandbox(5, 61, 600.0);
    config.sqs_endpoint = Some(std::env::var("SELLERBRIDGE_MOTO_ENDPOINT").expect("run with the local stack"));
    let f = Fixture::start_with(config, OptionsChange::default()).await;
    let arn = f.h.stack.queue_arn("NotificationsQueue").await.unwrap();
    let spapi = f.h.stack.adapters.spapi_client(&f.h.stack.settings);
    let subscribed = ops::subscribe_order_changes(&f.h.stack.adapters, &spapi, &f.h.connection.id, &arn).await.unwrap();
    assert!(subscribed.fulfillment_subscription_id.is_some(), "a connection with Amazon-fulfilled SKUs: both types");
    let items = json!([{"sku": f.in_stock[0], "quantity": 1}]);
    assert_eq!(post_event(&f.h, &f.request("evt-n-1", "#6001", items)).await.0, 202);
    f.send().await;
    f.advance(PAST_COMPLETE).await;

    let deps = f.h.stack.notification_deps().await.unwrap();
    let poller =
        runner::SqsPoller::new(f.h.stack.clients.sqs.clone(), f.h.stack.queue_url("NotificationsQueue").unwrap());
    let mut received = 0;
    while !poller.depth().await.unwrap().is_empty() {
        let stats = poller.poll_notifications(&deps, Duration::from_secs(30)).await.unwrap();
        assert_eq!(stats.failed, 0);
        received += stats.received;
    }
    assert!(received >= 4, "Received, Planning, Processing and Complete at least: {received}");
    f.send().await;
    let done = f.last_event("#6001");
    assert_eq!(done["data"]["amazon_status"], "Complete", "{done}");
    assert!(done["data"]["shipments"][0]["packages"][0]["tracking_number"].is_string(), "{done}");
    assert_eq!(f.calls("listAllFulfillmentOrders").await, 0, "no sync was needed");
}

/// SQS refuses the outbound events of a sync run: the fulfillment order's change is kept in the table and
/// the inventory's mark notes what was not announced; the next run sends both, so the store hears of all.
#[tokio::test]
async fn events_sqs_refuses_are_kept_and_sent_by_the_next_sync() {
    let change = OptionsChange { sync_inventory: Some(true), ..OptionsChange::default() };
    let f = Fixture::start(change).await;
    let items = json!([{"sku": f.in_stock[0], "quantity": 1}]);
    assert_eq!(post_event(&f.h, &f.request("evt-q-1", "#7001", items)).await.0, 202);
    f.send().await;
    f.advance(PAST_COMPLETE).await;

    let mut sync = f.h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    let outbound = sync.adapters.outbound.clone();
    let missing_queue = format!("{}/000000000000/no-such-queue", std::env::var("SELLERBRIDGE_MOTO_ENDPOINT").unwrap());
    sync.adapters.outbound =
        sellerbridge_core::queue::SqsUpdateQueue::new(f.h.stack.clients.sqs.clone(), missing_queue);
    let report = runner::tick_sync(&sync, Duration::from_secs(60)).await.unwrap();
    assert!(report.connections[0].fulfillment.inventory_changed > 0, "{report:?}");
    let store = &f.h.stack.adapters.store;
    assert_eq!(store.list_pending_fulfillment_events(&f.h.connection.id).await.unwrap().len(), 1, "kept");

    sync.adapters.outbound = outbound;
    f.advance(600).await;
    runner::tick_sync(&sync, Duration::from_secs(60)).await.unwrap();
    assert!(store.list_pending_fulfillment_events(&f.h.connection.id).await.unwrap().is_empty());
    f.send().await;
    assert_eq!(f.last_event("#7001")["data"]["amazon_status"], "Complete");
    let all = f.h.sandbox_get("/_sandbox/inventory").await.as_array().unwrap().len();
    let announced: std::collections::BTreeSet<String> = f
        .receiver
        .received(&f.h.stack.signing_key)
        .iter()
        .filter(|event| event["type"] == "inventory.updated")
        .flat_map(|event| event["data"]["items"].as_array().unwrap().clone())
        .map(|item| item["sku"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(announced.len(), all, "every SKU of the backfill announced by the next run");
}
