//! Cancellations and refunds from the store to Amazon: `order.cancelled` and `order.refunded` are
//! checked against the order and booked on it, the sync sends them in an order acknowledgement and a
//! payment adjustment feed, and Amazon's processing report settles each: done, or failed with Amazon's
//! reason naming the order (what it booked given back).
use std::sync::Arc;
use std::time::Duration;

use order_sync::{ConnectionReport, SyncSettings};
use sellerbridge_cli::local::demo::{self, Quiet};
use sellerbridge_cli::local::runner;
use sellerbridge_core::domain::adjustment::{
    Adjustment, AdjustmentState, Amount, ORDER_ACKNOWLEDGEMENT_FEED, PAYMENT_ADJUSTMENT_FEED,
};
use sellerbridge_core::domain::clock::OffsetClock;
use sellerbridge_core::domain::ids::AmazonOrderId;
use sellerbridge_core::domain::order::Order;
use sellerbridge_core::domain::status::OrderStatus;
use sellerbridge_e2e::{Harness, options_for, post_event, sandbox, ship_whole_order};
use serde_json::{Value, json};

/// One sync run (feeds included, no wait between feeds); the connection's report.
async fn sync_once(h: &Harness) -> ConnectionReport {
    let settings = SyncSettings { feed_interval: chrono::Duration::zero(), ..SyncSettings::default() };
    let sync = h.stack.sync_deps(settings).await.unwrap();
    let report = runner::tick_sync(&sync, Duration::from_secs(60)).await.unwrap();
    report.connections.into_iter().next().expect("one connection")
}

fn cancelled(event_id: &str, order: &AmazonOrderId) -> Value {
    json!({"id": event_id, "type": "order.cancelled", "created_at": chrono::Utc::now().to_rfc3339(),
        "data": {"order_id": order, "reason": "no_inventory"}})
}

/// A refund of `principal` for every unit of the order's first line.
fn refunded(event_id: &str, order: &Order, principal: Amount) -> Value {
    let line = &order.amazon.items[0];
    json!({"id": event_id, "type": "order.refunded", "created_at": chrono::Utc::now().to_rfc3339(),
        "data": {"order_id": order.id(), "reason": "customer_return",
            "items": [{"order_item_id": line.id, "quantity": line.quantity_ordered,
                "amount": {"principal": principal.to_string()}}]}})
}

/// What the order's first line was paid, before shipping and tax.
fn first_line_paid(order: &Order) -> Amount {
    let line = &order.amazon.items[0];
    let unit: Amount = line.unit_price.as_ref().expect("a price").amount.parse().unwrap();
    Amount(unit.0 * u64::from(line.quantity_ordered))
}

fn refunded_through_us(order: &Order) -> Amount {
    Amount(order.local.refunded.values().map(|amount| amount.0).sum())
}

async fn adjustments(h: &Harness, order: &AmazonOrderId) -> Vec<Adjustment> {
    h.stack.adapters.store.list_adjustments(order).await.unwrap()
}

async fn stored(h: &Harness, order: &AmazonOrderId) -> Order {
    h.stack.adapters.store.get_order(order).await.unwrap().unwrap().value
}

/// A stack synced with a sandbox of 12 orders (`seed`), and three of its orders awaiting shipment.
async fn synced(seed: u64) -> (Harness, [Order; 3]) {
    synced_at(seed, OffsetClock::default()).await
}

/// [`synced`], on `clock`.
async fn synced_at(seed: u64, clock: OffsetClock) -> (Harness, [Order; 3]) {
    let h = Harness::start(sandbox(12, seed, 600.0), Arc::new(clock), options_for(600.0)).await;
    let sync = h.stack.sync_deps(Default::default()).await.unwrap();
    demo::sync_until_current(&sync, 3, &Quiet).await.unwrap();
    let orders = h.stack.adapters.store.scan_orders().await.unwrap();
    let awaiting: Vec<Order> = orders.into_iter().filter(|o| o.status == OrderStatus::AwaitingShipment).collect();
    let three: [Order; 3] = awaiting.get(..3).expect("three orders to work on").to_vec().try_into().unwrap();
    (h, three)
}

#[tokio::test]
async fn cancellations_and_refunds_go_through_their_feeds_and_settle_on_the_order() {
    let (h, [to_cancel, to_refund, refunded_elsewhere]) = synced(29).await;
    let (to_cancel, to_refund, refunded_elsewhere) = (&to_cancel, &to_refund, &refunded_elsewhere);

    // The whole of one order cancelled; the same event again is a duplicate, another one refused.
    let (status, answer) = post_event(&h, &cancelled("evt-cancel-1", to_cancel.id())).await;
    assert_eq!((status, answer["kind"].as_str()), (202, Some("cancellation")), "{answer}");
    assert_eq!(answer["feed_type"], ORDER_ACKNOWLEDGEMENT_FEED);
    let (status, answer) = post_event(&h, &cancelled("evt-cancel-1", to_cancel.id())).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("duplicate")), "{answer}");
    let (status, answer) = post_event(&h, &cancelled("evt-cancel-2", to_cancel.id())).await;
    assert_eq!(status, 422, "{answer}");
    let refusal = answer["error"].as_str().unwrap();
    assert!(refusal.contains(to_cancel.id().as_str()) && refusal.contains("already being cancelled"), "{refusal}");
    let unknown = AmazonOrderId::parse("111-1111111-1111111").unwrap();
    let (status, answer) = post_event(&h, &cancelled("evt-cancel-3", &unknown)).await;
    assert_eq!((status, answer["error"].as_str()), (422, Some("unknown order 111-1111111-1111111")));
    // The cancelled lines take no shipment meanwhile.
    let lines = demo::packages_for(to_cancel);
    let (body, signature) = demo::shipment_event(&h.stack.signing_key, to_cancel, 1, &lines[0], chrono::Utc::now());
    let headers = [(sellerbridge_core::webhook::signature::SIGNATURE_HEADER, signature)];
    let (status, answer) =
        runner::post_webhook(&h.stack.webhook_deps(), "/webhooks/shipments", &headers, &body).await.unwrap();
    assert_eq!(status, 422, "a line being cancelled cannot ship: {answer}");

    // Two shipped orders refunded in full on their first line; one of them was refunded in Seller
    // Central already, which Amazon's report will say.
    for order in [to_refund, refunded_elsewhere] {
        ship_whole_order(&h, order).await;
    }
    let paid = first_line_paid(to_refund);
    let (status, answer) = post_event(&h, &refunded("evt-refund-1", to_refund, paid)).await;
    assert_eq!((status, answer["feed_type"].as_str()), (202, Some(PAYMENT_ADJUSTMENT_FEED)), "{answer}");
    let (status, answer) = post_event(&h, &refunded("evt-refund-2", to_refund, Amount(1))).await;
    assert_eq!(status, 422, "{answer}");
    let refusal = answer["error"].as_str().unwrap();
    assert!(refusal.contains(to_refund.id().as_str()) && refusal.contains("paid and not yet refunded"), "{refusal}");
    let elsewhere = first_line_paid(refunded_elsewhere);
    h.sandbox_post(
        "/_sandbox/refunds",
        json!({"orderId": refunded_elsewhere.id(), "orderItemId": refunded_elsewhere.amazon.items[0].id,
            "amount": elsewhere.to_string()}),
    )
    .await;
    let (status, answer) = post_event(&h, &refunded("evt-refund-3", refunded_elsewhere, elsewhere)).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(refunded_through_us(&stored(&h, refunded_elsewhere.id()).await), elsewhere);

    // The sync packs a feed of each type and sends both; Amazon processes them; the next run settles.
    let first = sync_once(&h).await;
    assert_eq!((first.feeds.packed, first.feeds.submitted), (3, 2), "{:?}", first.feeds);
    h.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": 1800})).await;
    let second = sync_once(&h).await;
    assert_eq!((second.feeds.confirmed, second.feeds.failed, second.feeds.open), (2, 1, 0), "{:?}", second.feeds);

    let at_amazon = h.inspector.orders().await.unwrap();
    let amazon = at_amazon.iter().find(|o| o["orderId"] == to_cancel.id().as_str()).unwrap();
    assert_eq!(amazon["fulfillment"]["fulfillmentStatus"], "CANCELLED", "{amazon}");
    for (order, state) in [(to_cancel, "done"), (to_refund, "done"), (refunded_elsewhere, "failed")] {
        let adjustments = adjustments(&h, order.id()).await;
        assert_eq!(adjustments.len(), 1, "{adjustments:?}");
        assert_eq!(adjustments[0].state.name(), state, "{:?}", adjustments[0]);
    }
    let failed = adjustments(&h, refunded_elsewhere.id()).await.remove(0);
    let AdjustmentState::Failed { reason, .. } = &failed.state else { unreachable!() };
    let id = refunded_elsewhere.id().as_str();
    assert!(reason.starts_with(&format!("Amazon rejected the refund of order {id} in feed ")), "{reason}");
    assert!(reason.contains("exceeds") || reason.contains("already fully refunded"), "{reason}");
    assert!(stored(&h, refunded_elsewhere.id()).await.local.refunded.is_empty(), "the refused refund is given back");
    assert_eq!(refunded_through_us(&stored(&h, to_refund.id()).await), paid);
    let refunds = h.sandbox_get("/_sandbox/refunds").await;
    let ours = refunds.as_array().unwrap().iter().find(|r| r["orderId"] == to_refund.id().as_str()).unwrap();
    assert_eq!(ours["refunded"]["amount"].as_str().map(str::to_owned), Some(paid.to_string()), "{refunds}");

    // What the operator sees.
    let shown = sellerbridge_cli::ops::order_summary(&h.stack.adapters.store, refunded_elsewhere.id()).await.unwrap();
    assert_eq!(shown["adjustments"][0]["state"]["state"], "failed", "{shown}");
    let feeds = sellerbridge_cli::ops::feeds_summary(&h.stack.adapters.store, &h.connection.id).await.unwrap();
    assert_eq!(feeds["waiting_for_a_feed"], 0, "{feeds}");
    let settled: Vec<&str> =
        feeds["settled"].as_array().unwrap().iter().filter_map(|f| f["feed_type"].as_str()).collect();
    assert!(settled.contains(&ORDER_ACKNOWLEDGEMENT_FEED) && settled.contains(&PAYMENT_ADJUSTMENT_FEED), "{feeds}");
}

/// Posts a Shopify webhook signed with the stack's Shopify secret.
async fn post_shopify(h: &Harness, topic: &str, webhook_id: &str, payload: &Value) -> (u16, Value) {
    use sellerbridge_core::webhook::shopify::{HMAC_HEADER, TOPIC_HEADER, WEBHOOK_ID_HEADER};
    let secret_id = h.stack.settings.shopify_secret_id.as_ref().expect("the stack takes Shopify's webhooks");
    let key = sellerbridge_core::webhook::signature::SigningKey::new(
        h.stack.adapters.secrets.string(secret_id).await.unwrap(),
    );
    let body = payload.to_string().into_bytes();
    let headers = [
        (HMAC_HEADER, key.sign_base64(&body)),
        (TOPIC_HEADER, topic.to_owned()),
        (WEBHOOK_ID_HEADER, webhook_id.into()),
    ];
    runner::post_webhook(&h.stack.webhook_deps(), "/webhooks/shopify", &headers, &body).await.unwrap()
}

#[tokio::test]
async fn shopify_cancellations_and_refunds_reach_amazon_and_a_feed_amazon_keeps_refusing_ends_them_visibly() {
    let (h, [cancelled_in_shopify, refunded_in_shopify, refused]) = synced(31).await;
    let (cancelled_in_shopify, refunded_in_shopify, refused) = (&cancelled_in_shopify, &refunded_in_shopify, &refused);

    // Shopify's orders/cancelled names its Amazon order itself; refunds/create through the order's link.
    let shopify_order = json!({"id": 1001, "cancel_reason": "customer", "source_identifier": cancelled_in_shopify.id(),
        "email": "buyer@example.com"});
    let (status, answer) = post_shopify(&h, "orders/cancelled", "wh-cancel", &shopify_order).await;
    assert_eq!((status, answer["kind"].as_str()), (202, Some("cancellation")), "{answer}");
    // Shopify refunds the cancelled order too; at Amazon the cancellation refunds it.
    let cancelled_line = &cancelled_in_shopify.amazon.items[0];
    let refund_of_cancelled = json!({"id": 2001, "order_id": 1001,
        "refund_line_items": [{"quantity": cancelled_line.quantity_ordered, "restock_type": "cancel",
            "subtotal": "1.00", "line_item": {"sku": cancelled_line.sku}}]});
    let (status, answer) = post_shopify(&h, "refunds/create", "wh-refund-cancelled", &refund_of_cancelled).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("ignored")), "{answer}");
    ship_whole_order(&h, refunded_in_shopify).await;
    let link = json!({"id": 1002, "source_identifier": refunded_in_shopify.id()});
    assert_eq!(post_shopify(&h, "orders/updated", "wh-link", &link).await.0, 200);
    let line = &refunded_in_shopify.amazon.items[0];
    let refund = json!({"id": 2002, "order_id": 1002, "note": "damaged",
        "refund_line_items": [{"quantity": 1, "restock_type": "return", "subtotal": "1.00", "total_tax": 0.0,
            "line_item": {"sku": line.sku}}], "order_adjustments": [], "refund_shipping_lines": []});
    let (status, answer) = post_shopify(&h, "refunds/create", "wh-refund", &refund).await;
    assert_eq!((status, answer["kind"].as_str()), (202, Some("refund")), "{answer}");

    let first = sync_once(&h).await;
    assert_eq!((first.feeds.packed, first.feeds.submitted), (2, 2), "{:?}", first.feeds);
    h.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": 1800})).await;
    let second = sync_once(&h).await;
    assert_eq!((second.feeds.confirmed, second.feeds.failed), (2, 0), "{:?}", second.feeds);
    let at_amazon = h.inspector.orders().await.unwrap();
    let amazon = at_amazon.iter().find(|o| o["orderId"] == cancelled_in_shopify.id().as_str()).unwrap();
    assert_eq!(amazon["fulfillment"]["fulfillmentStatus"], "CANCELLED", "{amazon}");
    let refunds = h.sandbox_get("/_sandbox/refunds").await;
    let refunded = refunds.as_array().unwrap().iter().find(|r| r["orderId"] == refunded_in_shopify.id().as_str());
    assert_eq!(refunded.map(|r| r["refunded"]["amount"].clone()), Some(json!("1.00")), "{refunds}");

    // A cancellation whose feed Amazon refuses run after run: it ends failed, saying Amazon never got
    // it, and its lines are free again (to ship, or to cancel once more).
    let (status, _) = post_event(&h, &cancelled("evt-refused", refused.id())).await;
    assert_eq!(status, 202);
    h.sandbox_post("/_sandbox/faults", json!({"operation": "createFeed", "status": 400, "count": 100})).await;
    for _ in 0..5 {
        sync_once(&h).await;
    }
    let failed = adjustments(&h, refused.id()).await.remove(0);
    let AdjustmentState::Failed { reason, .. } = &failed.state else { panic!("{failed:?}") };
    let id = refused.id().as_str();
    assert!(
        reason.starts_with(&format!("the cancellation of order {id} could not be settled by its feed")),
        "{reason}"
    );
    assert!(reason.ends_with("Amazon did not receive it: ask again"), "{reason}");
    assert!(stored(&h, refused.id()).await.local.cancelling.is_empty(), "its lines are free again");
    let (status, answer) = post_event(&h, &cancelled("evt-refused-again", refused.id())).await;
    assert_eq!(status, 202, "asked again: {answer}");
}

fn create_feed_calls(calls: &[demo::SandboxCall], status: u16) -> usize {
    calls.iter().filter(|c| c.operation == "createFeed" && c.status == status).count()
}

#[tokio::test]
async fn a_refund_whose_create_feed_answer_was_lost_is_never_sent_again() {
    let clock = OffsetClock::default();
    let (h, [found, not_found, _]) = synced_at(37, clock.clone()).await;
    ship_whole_order(&h, &found).await;

    // Amazon creates the feed and the answer is lost: the feed is found among the seller's feeds, but
    // as it is not known to be ours its report is not trusted; the refund ends failed, saying Amazon
    // may have applied it (it did, once), and its amount stays booked.
    let paid = first_line_paid(&found);
    assert_eq!(post_event(&h, &refunded("evt-found", &found, paid)).await.0, 202);
    h.sandbox_post("/_sandbox/faults", json!({"operation": "createFeed", "status": 504, "afterRunning": true})).await;
    assert!(sync_once(&h).await.feeds.problem.is_some(), "the run says why it stopped");
    assert_eq!(sync_once(&h).await.feeds.open, 1, "the found feed is followed");
    h.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": 1800})).await;
    assert_eq!(sync_once(&h).await.feeds.handed_back, 1);
    let adjustment = adjustments(&h, found.id()).await.remove(0);
    let AdjustmentState::Failed { reason, .. } = &adjustment.state else { panic!("{adjustment:?}") };
    assert!(reason.contains("Amazon may have applied it") && reason.contains("refund there"), "{reason}");
    assert_eq!(refunded_through_us(&stored(&h, found.id()).await), paid, "never risked twice");
    let refunds = h.sandbox_get("/_sandbox/refunds").await;
    assert_eq!(refunds.as_array().unwrap().len(), 1, "applied once: {refunds}");

    // The answer is lost and Amazon's listing shows no feed (it may lag): the refund is not sent again.
    assert_eq!(post_event(&h, &refunded("evt-not-found", &not_found, Amount(1))).await.0, 202);
    h.sandbox_post("/_sandbox/faults", json!({"operation": "createFeed", "status": 504})).await;
    sync_once(&h).await;
    assert_eq!(sync_once(&h).await.feeds.open, 1, "still looked for");
    clock.advance(chrono::Duration::minutes(3));
    assert_eq!(sync_once(&h).await.feeds.handed_back, 1);
    let adjustment = adjustments(&h, not_found.id()).await.remove(0);
    assert_eq!(adjustment.state.name(), "failed", "{adjustment:?}");
    let calls = h.inspector.calls().await.unwrap();
    assert_eq!((create_feed_calls(&calls, 504), create_feed_calls(&calls, 202)), (2, 0), "neither feed sent twice");
}
