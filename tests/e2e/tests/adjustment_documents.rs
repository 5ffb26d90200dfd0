//! The cancellation and refund documents (`domain::adjustment`) as Amazon reads them: sent through the
//! SP-API client's feed operations to the sandbox, processed, and read back from the processing report.
//! (`adjustments.rs` takes the whole path: webhook events, the sync's feeds, the outcome on the order.)
use std::sync::Arc;

use sellerbridge_cli::local::demo::{self, Quiet};
use sellerbridge_core::domain::adjustment::{
    AdjustmentKind, AdjustmentMessage, Amount, CancelReason, CancellationRequest, RefundLine, RefundReason,
    RefundRequest, adjustment_document, plan_cancellation, plan_refund,
};
use sellerbridge_core::domain::clock::OffsetClock;
use sellerbridge_core::domain::feed::{MessageOutcome, ProcessingReport, XML_CONTENT_TYPE};
use sellerbridge_core::domain::order::Order;
use sellerbridge_core::domain::shipment::ItemRef;
use sellerbridge_core::domain::status::OrderStatus;
use sellerbridge_core::spapi::SellerAuth;
use sellerbridge_e2e::{Harness, options_for, sandbox, ship_whole_order};
use serde_json::json;

/// Sends one feed of `kind`'s type holding `kind` for `order`, lets the sandbox process it, and
/// returns message 1's outcome.
async fn through_amazon(
    h: &Harness,
    spapi: &sellerbridge_core::spapi::SpApiClient,
    auth: &SellerAuth,
    order: &Order,
    kind: &AdjustmentKind,
) -> MessageOutcome {
    let document = adjustment_document(
        &h.connection.seller_id,
        &[AdjustmentMessage { message_id: 1, order_id: order.id(), kind }],
    );
    let upload = spapi.create_feed_document(auth, XML_CONTENT_TYPE).await.unwrap();
    spapi.upload_feed_document(&upload, XML_CONTENT_TYPE, document.into_bytes()).await.unwrap();
    let feed_id = spapi
        .create_feed(auth, kind.feed_type(), &h.connection.marketplace_id, &upload.feed_document_id)
        .await
        .unwrap();
    h.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": 600})).await;
    let feed = spapi.get_feed(auth, &feed_id).await.unwrap();
    let document = feed.result_feed_document_id.expect("a processing report");
    let report = ProcessingReport::parse(&spapi.download_feed_document(auth, &document).await.unwrap()).unwrap();
    assert!(report.settles(1), "{report:?}");
    report.outcome(1)
}

fn amazon_order<'a>(orders: &'a [serde_json::Value], id: &str) -> &'a serde_json::Value {
    orders.iter().find(|o| o["orderId"] == id).expect("the order at Amazon")
}

#[tokio::test]
async fn amazon_takes_the_cancellation_and_refund_documents_and_refuses_a_second_full_refund() {
    let h = Harness::start(sandbox(12, 29, 600.0), Arc::new(OffsetClock::default()), options_for(600.0)).await;
    let sync = h.stack.sync_deps(Default::default()).await.unwrap();
    demo::sync_until_current(&sync, 3, &Quiet).await.unwrap();
    let auth = h.stack.adapters.seller_auth(&h.connection).await.unwrap();
    let store = &h.stack.adapters.store;
    let orders = store.scan_orders().await.unwrap();
    let awaiting: Vec<&Order> = orders.iter().filter(|o| o.status == OrderStatus::AwaitingShipment).collect();
    assert!(awaiting.len() >= 2, "two orders to work on");

    // Cancel the first order as a whole.
    let cancelled = awaiting[0];
    let request =
        CancellationRequest { order_id: cancelled.id().clone(), reason: CancelReason::NoInventory, lines: vec![] };
    let kind = plan_cancellation(cancelled, &request).unwrap();
    assert_eq!(
        through_amazon(&h, &sync.spapi, &auth, cancelled, &kind).await,
        MessageOutcome::Accepted { warnings: vec![] }
    );
    let at_amazon = h.inspector.orders().await.unwrap();
    assert_eq!(amazon_order(&at_amazon, cancelled.id().as_str())["fulfillment"]["fulfillmentStatus"], "CANCELLED");

    // Ship the second order through the usual path, then refund its first line in full.
    let shipped_id = awaiting[1].id().clone();
    ship_whole_order(&h, awaiting[1]).await;
    let shipped = store.get_order(&shipped_id).await.unwrap().unwrap().value;
    let item = &shipped.amazon.items[0];
    let price: Amount = item.unit_price.as_ref().expect("a price").amount.parse().unwrap();
    let paid = Amount(price.0 * u64::from(item.quantity_ordered));
    let line = RefundLine {
        item: ItemRef::OrderItem(item.id.clone()),
        quantity: item.quantity_ordered,
        principal: paid,
        shipping: Default::default(),
        tax: Default::default(),
    };
    let request =
        RefundRequest { order_id: shipped_id.clone(), reason: RefundReason::CustomerReturn, lines: vec![line] };
    let kind = plan_refund(&shipped, &request).unwrap();
    assert_eq!(
        through_amazon(&h, &sync.spapi, &auth, &shipped, &kind).await,
        MessageOutcome::Accepted { warnings: vec![] }
    );

    // The same refund again, as if ours had been forgotten (or Seller Central refunded first): Amazon
    // refuses it, naming the order.
    let MessageOutcome::Rejected { reason } = through_amazon(&h, &sync.spapi, &auth, &shipped, &kind).await else {
        panic!("a second full refund was accepted")
    };
    assert!(reason.contains(shipped_id.as_str()) || reason.contains(item.id.as_str()), "{reason}");
}
