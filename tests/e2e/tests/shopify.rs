//! Shopify's webhook format on `POST /webhooks/shopify`, through the API Gateway v2 handler path, with
//! the payload examples of Shopify's webhook documentation: the order link, a fulfillment confirmed at
//! Amazon once, every signature case, deduplication by webhook id, and what is refused.
use std::sync::Arc;
use std::time::Duration;

use sellerbridge_cli::local::demo::{self, Quiet};
use sellerbridge_cli::local::runner;
use sellerbridge_cli::ops;
use sellerbridge_core::domain::clock::OffsetClock;
use sellerbridge_core::webhook::shopify::{HMAC_HEADER, TOPIC_HEADER, WEBHOOK_ID_HEADER};
use sellerbridge_core::webhook::signature::SigningKey;
use sellerbridge_e2e::{Harness, RecordingQueue, recording_webhook, synced_with_a_line_to_ship};
use serde_json::{Value, json};

const PATH: &str = "/webhooks/shopify";
/// The order id of Shopify's documented examples.
const SHOPIFY_ORDER: u64 = 820982911946154508;

struct Fixture {
    h: Harness,
    queue: Arc<RecordingQueue>,
    deps: shipment_webhook::WebhookDeps,
    clock: OffsetClock,
    key: SigningKey,
    order_id: String,
    sku: String,
}

async fn fixture() -> Fixture {
    let clock = OffsetClock::default();
    let (h, order_id, sku) = synced_with_a_line_to_ship(Arc::new(clock.clone())).await;
    let (queue, deps) = recording_webhook(&h.stack);
    let secret_id = h.stack.settings.shopify_secret_id.clone().unwrap();
    let key = SigningKey::new(h.stack.adapters.secrets.string(&secret_id).await.unwrap());
    Fixture { h, queue, deps, clock, key, order_id, sku }
}

/// Shopify's documented `orders/create` example, as an order that came from Amazon names it.
fn documented_order(amazon_order_id: &str) -> Value {
    json!({
        "id": SHOPIFY_ORDER, "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
        "order_number": 1001, "name": "#1001", "email": "jon@doe.ca", "phone": null, "currency": "USD",
        "total_price": "109.98", "financial_status": "paid", "fulfillment_status": null,
        "created_at": "2026-05-24T10:11:12-04:00", "updated_at": "2026-05-24T10:11:12-04:00",
        "customer": {"id": 115310627314723954u64, "email": "jon@doe.ca", "first_name": "John", "last_name": "Smith"},
        "shipping_address": {"first_name": "Bob", "last_name": "Norman", "address1": "Chestnut Street 92",
            "city": "Louisville", "country": "United States", "country_code": "US", "phone": "555-625-1199",
            "province": "Kentucky", "province_code": "KY", "zip": "40202", "name": "Bob Norman"},
        "line_items": [{"id": 466157049, "variant_id": 39072856, "title": "T-Shirt", "quantity": 1,
            "sku": "TSHIRT-001", "price": "19.99", "fulfillment_status": null}],
        "source_name": "amazon", "source_identifier": amazon_order_id, "source_url": null,
    })
}

/// Shopify's documented `fulfillments/create` example, for `sku`.
fn documented_fulfillment(sku: &str) -> Value {
    json!({
        "id": 123456, "admin_graphql_api_id": "gid://shopify/Fulfillment/123456", "order_id": SHOPIFY_ORDER,
        "status": "pending", "created_at": "2021-12-31T19:00:00-05:00", "service": null,
        "updated_at": "2021-12-31T19:00:00-05:00", "tracking_company": "UPS", "shipment_status": null,
        "location_id": null, "origin_address": null, "email": "jon@example.com",
        "destination": {"first_name": "Steve", "address1": "123 Shipping Street", "phone": "555-555-SHIP",
            "city": "Shippington", "zip": "40003", "province": "Kentucky", "country": "United States",
            "last_name": "Shipper", "address2": null, "company": "Shipping Company", "latitude": null,
            "longitude": null, "name": "Steve Shipper", "country_code": "US", "province_code": "KY"},
        "line_items": [{"id": 487817672276298554u64, "variant_id": null, "title": "Aviator sunglasses",
            "quantity": 1, "sku": sku, "variant_title": null, "vendor": null, "fulfillment_service": "manual",
            "product_id": 788032119674292922u64, "requires_shipping": true, "taxable": true, "gift_card": false,
            "name": "Aviator sunglasses", "properties": [], "product_exists": true, "fulfillable_quantity": 1,
            "grams": 100, "price": "89.99", "total_discount": "0.00", "fulfillment_status": null}],
        "tracking_number": "1z827wk74630", "tracking_numbers": ["1z827wk74630"],
        "tracking_url": "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1z827wk74630",
        "tracking_urls": ["https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1z827wk74630"],
        "receipt": {}, "name": "#9999.1"
    })
}

impl Fixture {
    async fn post(&self, topic: &str, webhook_id: &str, body: &[u8], hmac: Option<String>) -> (u16, Value) {
        let mut headers = vec![(TOPIC_HEADER, topic.to_owned()), (WEBHOOK_ID_HEADER, webhook_id.to_owned())];
        headers.extend(hmac.map(|hmac| (HMAC_HEADER, hmac)));
        runner::post_webhook(&self.deps, PATH, &headers, body).await.unwrap()
    }

    async fn post_signed(&self, topic: &str, webhook_id: &str, body: &Value) -> (u16, Value) {
        let body = body.to_string();
        self.post(topic, webhook_id, body.as_bytes(), Some(self.key.sign_base64(body.as_bytes()))).await
    }
}

fn error(answer: &Value) -> &str {
    answer["error"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_documented_fulfillment_of_a_linked_order_is_confirmed_at_amazon_once() {
    let f = fixture().await;
    // Shopify's example is `pending`: a fulfillment service has not shipped it yet.
    let pending = documented_fulfillment(&f.sku);
    let (status, answer) = f.post_signed("fulfillments/create", "wh-0", &pending).await;
    assert_eq!((status, answer["detail"].as_str()), (200, Some("not_shipped")), "{answer}");
    let mut fulfillment = pending.clone();
    fulfillment["status"] = json!("success");
    let (status, answer) = f.post_signed("fulfillments/update", "wh-1", &fulfillment).await;
    assert_eq!(status, 422, "not linked yet: {answer}");
    assert!(error(&answer).starts_with(&format!("Shopify order {SHOPIFY_ORDER} is not linked")), "{answer}");

    let (status, answer) = f.post_signed("orders/create", "wh-2", &documented_order(&f.order_id)).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("linked")), "{answer}");
    let (status, answer) = f.post_signed("orders/create", "wh-3", &documented_order("not-amazon")).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("ignored")), "{answer}");

    // Shopify retries the refused delivery under the same webhook id; now it goes through.
    let (status, answer) = f.post_signed("fulfillments/update", "wh-1", &fulfillment).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["package_id"], "shopify-fulfillment-123456");
    assert_eq!(answer["carrier_code"], "UPS");
    let (status, answer) = f.post_signed("fulfillments/update", "wh-1", &fulfillment).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("duplicate")), "the same webhook id: {answer}");
    let (status, answer) = f.post_signed("fulfillments/create", "wh-9", &fulfillment).await;
    assert_eq!((status, answer["package_state"].as_str()), (200, Some("queued")), "same fulfillment: {answer}");
    assert_eq!(f.queue.bodies().len(), 1);

    let sender = f.h.stack.sender_deps(f.h.stack.sender_settings(), None).await.unwrap();
    let poller = f.h.stack.updates_poller();
    demo::drain_updates(&sender, &poller, 1, Duration::from_secs(60), &Quiet, demo::sandbox_progress(&f.h.inspector))
        .await
        .unwrap();
    let confirmed = f.h.inspector.confirmed_packages().await.unwrap();
    assert_eq!(confirmed.len(), 1, "exactly one confirmation");
    let (order, _, request) = &confirmed[0];
    assert_eq!(order, &f.order_id);
    assert_eq!(request["packageDetail"]["trackingNumber"], "1z827wk74630");
    assert_eq!(request["packageDetail"]["shipDate"], "2022-01-01T00:00:00Z", "the fulfillment's own time, in UTC");

    // Nothing of the buyer's data from Shopify's payloads was kept.
    let packages = f.h.stack.adapters.store.scan_packages().await.unwrap();
    let stored = serde_json::to_string(&packages).unwrap();
    for pii in ["Steve", "Shipping Street", "555-555-SHIP", "jon@example.com"] {
        assert!(!stored.contains(pii), "{pii} was stored");
    }
}

#[tokio::test]
async fn every_signature_case_is_refused_with_401_and_a_rotated_secret_is_accepted() {
    let f = fixture().await;
    let body = documented_order(&f.order_id).to_string();
    let bytes = body.as_bytes();
    let (status, answer) = f.post("orders/create", "wh-1", bytes, None).await;
    assert_eq!(status, 401);
    assert!(error(&answer).contains("missing x-shopify-hmac-sha256"), "{answer}");
    let wrong = SigningKey::new("not-the-secret").sign_base64(bytes);
    assert_eq!(f.post("orders/create", "wh-1", bytes, Some(wrong)).await.0, 401);
    assert_eq!(f.post("orders/create", "wh-1", bytes, Some("%%%".into())).await.0, 401, "not base64");
    let signed = f.key.sign_base64(bytes);
    assert_eq!(f.post("orders/create", "wh-1", &bytes[..bytes.len() - 3], Some(signed.clone())).await.0, 401);
    // Our own scheme's header is no Shopify signature.
    let ours = f.h.stack.signing_key.sign(f.deps.clock.now(), bytes);
    let headers = [("x-sellerbridge-signature", ours), (TOPIC_HEADER, "orders/create".to_owned())];
    assert_eq!(runner::post_webhook(&f.deps, PATH, &headers, bytes).await.unwrap().0, 401);
    assert!(f.h.stack.adapters.store.shopify_order(SHOPIFY_ORDER).await.unwrap().is_none(), "nothing stored");

    // The Shopify app's secret rotated: the new one and the one it replaced are both accepted.
    let secret_id = f.h.stack.settings.shopify_secret_id.clone().unwrap();
    ops::put_secret(&f.h.stack.clients.secrets, &secret_id, "the-rotated-shopify-secret").await.unwrap();
    f.clock.advance(chrono::Duration::seconds(11));
    let rotated = SigningKey::new("the-rotated-shopify-secret").sign_base64(bytes);
    let (status, answer) = f.post("orders/create", "wh-2", bytes, Some(rotated)).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("linked")), "{answer}");
    let (status, _) = f.post("orders/create", "wh-3", bytes, Some(signed)).await;
    assert_eq!(status, 200, "the previous secret still verifies");
}

#[tokio::test]
async fn what_amazon_cannot_take_is_refused_naming_the_field_and_the_order() {
    let f = fixture().await;
    let (status, _) = f.post_signed("orders/create", "wh-1", &documented_order(&f.order_id)).await;
    assert_eq!(status, 200);
    let shipped = |sku: &str| {
        let mut fulfillment = documented_fulfillment(sku);
        fulfillment["status"] = json!("success");
        fulfillment
    };
    let mut fulfillment = shipped(&f.sku);
    fulfillment["tracking_company"] = json!(null);
    let (status, answer) = f.post_signed("fulfillments/create", "wh-2", &fulfillment).await;
    assert_eq!((status, answer["detail"].as_str()), (200, Some("awaiting_tracking")), "its update brings it: {answer}");

    let mut fulfillment = shipped(&f.sku);
    fulfillment["line_items"][0]["quantity"] = json!(-2);
    let (status, answer) = f.post_signed("fulfillments/create", "wh-3", &fulfillment).await;
    assert_eq!(status, 422);
    assert_eq!(
        error(&answer),
        format!(
            "Shopify order {SHOPIFY_ORDER}: field `line_items[0].quantity`: must be a whole number from 1 to 10000"
        )
    );

    let (status, answer) = f.post_signed("fulfillments/create", "wh-4", &shipped("NOT-ON-THE-ORDER")).await;
    assert_eq!(status, 422);
    assert!(error(&answer).contains(&f.order_id), "{answer}");

    let (status, answer) = f.post_signed("products/update", "wh-5", &json!({"id": 1})).await;
    assert_eq!((status, answer["topic"].as_str()), (200, Some("products/update")), "acknowledged, not acted on");
    let (status, _) = f.post_signed("fulfillments/create", "", &shipped(&f.sku)).await;
    assert_eq!(status, 400, "no webhook id to deduplicate by");
    let body = shipped(&f.sku).to_string();
    let headers = [(HMAC_HEADER, f.key.sign_base64(body.as_bytes())), (WEBHOOK_ID_HEADER, "wh-6".to_owned())];
    let (status, answer) = runner::post_webhook(&f.deps, PATH, &headers, body.as_bytes()).await.unwrap();
    assert_eq!((status, error(&answer)), (400, "missing x-shopify-topic header"));
    assert!(f.queue.bodies().is_empty());
    assert!(f.h.stack.adapters.store.scan_packages().await.unwrap().is_empty(), "nothing half-written");
}
