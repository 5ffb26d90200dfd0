//! The webhook API held to its document: real requests through the handler (every documented answer of
//! both paths), each answer validated against `api/webhooks.openapi.yaml` for its status, each accepted
//! request body against the path's request schema, and every status the handler gives is documented.
use std::sync::Arc;
use std::time::Duration;

use jsonschema::Validator;
use sellerbridge_cli::local::demo::{self, Quiet};
use sellerbridge_cli::local::runner;
use sellerbridge_cli::ops;
use sellerbridge_core::domain::clock::{Clock, OffsetClock};
use sellerbridge_core::domain::status::OrderStatus;
use sellerbridge_core::webhook::shopify::{HMAC_HEADER, TOPIC_HEADER, WEBHOOK_ID_HEADER};
use sellerbridge_core::webhook::signature::{SIGNATURE_HEADER, SigningKey};
use sellerbridge_e2e::synced_with_a_line_to_ship;
use serde_json::{Value, json};

const DOCUMENT: &str = include_str!("../../../api/webhooks.openapi.yaml");

struct Contract {
    document: Value,
}

impl Contract {
    fn load() -> Self {
        let yaml: serde_yaml::Value = serde_yaml::from_str(DOCUMENT).expect("the OpenAPI document is YAML");
        let document = serde_json::to_value(yaml).expect("and JSON-compatible");
        assert_eq!(document["openapi"], "3.1.0");
        Self { document }
    }

    fn operation(&self, path: &str) -> &Value {
        let operation = &self.document["paths"][path]["post"];
        assert!(operation.is_object(), "{path} is not documented");
        operation
    }

    /// A validator for `schema`, whose `$ref`s point into this document's components.
    fn validator(&self, schema: &Value) -> Validator {
        let root = json!({"allOf": [schema], "components": self.document["components"]});
        jsonschema::options().should_validate_formats(true).build(&root).expect("a valid JSON Schema")
    }

    /// The answer's schema for `status` on `path` (following a shared response's `$ref`).
    fn response_schema(&self, path: &str, status: u16) -> Value {
        let mut response = &self.operation(path)["responses"][status.to_string()];
        assert!(response.is_object(), "{path} answers {status}, which its document does not list");
        if let Some(reference) = response["$ref"].as_str() {
            let name = reference.rsplit('/').next().unwrap();
            response = &self.document["components"]["responses"][name];
        }
        response["content"]["application/json"]["schema"].clone()
    }

    /// Validates one exchange: the header parameters the document requires, the request body when it was
    /// accepted, and the answer for its status.
    fn check(&self, exchange: &Exchange) {
        let Exchange { path, headers, body, status, answer, .. } = exchange;
        let operation = self.operation(path);
        let accepted = (200..300).contains(status);
        if accepted {
            for parameter in operation["parameters"].as_array().unwrap() {
                let name = parameter["name"].as_str().unwrap().to_ascii_lowercase();
                if parameter["required"] == json!(true) {
                    assert!(headers.iter().any(|(header, _)| *header == name), "{path}: accepted without {name}");
                }
            }
            let request_schema = &operation["requestBody"]["content"]["application/json"]["schema"];
            let body: Value = serde_json::from_slice(body).unwrap();
            let validator = self.validator(request_schema);
            let errors: Vec<String> = validator.iter_errors(&body).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{path}: the accepted request does not match its document: {errors:?}");
        }
        let validator = self.validator(&self.response_schema(path, *status));
        let errors: Vec<String> = validator.iter_errors(answer).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{path} {status}: {answer} does not match its document: {errors:?}");
    }
}

struct Exchange {
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    status: u16,
    answer: Value,
}

#[tokio::test]
async fn every_answer_of_both_paths_matches_the_document() {
    let contract = Contract::load();
    let clock = OffsetClock::default();
    let (h, order_id, sku) = synced_with_a_line_to_ship(Arc::new(clock.clone())).await;
    let deps = h.stack.webhook_deps();
    let key = h.stack.signing_key.clone();
    let shopify_key = SigningKey::new(
        h.stack.adapters.secrets.string(h.stack.settings.shopify_secret_id.as_ref().unwrap()).await.unwrap(),
    );
    let mut exchanges = Vec::new();
    let mut post = async |path: &'static str, headers: Vec<(&'static str, String)>, body: Vec<u8>| {
        let (status, answer) = runner::post_webhook(&deps, path, &headers, &body).await.unwrap();
        exchanges.push(Exchange { path, headers, body, status, answer: answer.clone() });
        status
    };
    let ours = |body: &Value| {
        let body = body.to_string().into_bytes();
        (vec![(SIGNATURE_HEADER, key.sign(clock.now(), &body))], body)
    };
    let shopify = |topic: &str, id: &str, body: &Value| {
        let body = body.to_string().into_bytes();
        let headers = vec![
            (HMAC_HEADER, shopify_key.sign_base64(&body)),
            (TOPIC_HEADER, topic.to_owned()),
            (WEBHOOK_ID_HEADER, id.to_owned()),
        ];
        (headers, body)
    };
    let now = clock.now();
    let created = |event_id: &str, package_id: &str, tracking: &str| {
        json!({"id": event_id, "type": "shipment.created", "created_at": now.to_rfc3339(),
            "data": {"order_id": order_id, "package_id": package_id, "carrier": "UPS", "shipping_method": "Ground",
                "tracking_number": tracking, "ship_date": now.to_rfc3339(), "items": [{"sku": sku, "quantity": 1}]}})
    };
    let shipments = "/webhooks/shipments";

    let (headers, body) = ours(&created("evt-1", "PKG-1", "1Z999AA10123456784"));
    assert_eq!(post(shipments, headers.clone(), body.clone()).await, 202);
    assert_eq!(post(shipments, headers, body).await, 200, "the same event");
    let (headers, body) = ours(&created("evt-2", "PKG-1", "1Z999AA10123456784"));
    assert_eq!(post(shipments, headers, body).await, 200, "the same package");
    let (headers, body) = ours(&created("evt-3", "PKG-1", "1ZOTHER0000000001"));
    assert_eq!(post(shipments, headers, body).await, 409, "a changed package");
    let delivered = |event_id: &str, at: chrono::DateTime<chrono::Utc>| {
        json!({"id": event_id, "type": "shipment.delivered", "created_at": now.to_rfc3339(),
            "data": {"order_id": order_id, "package_id": "PKG-1", "delivered_at": at.to_rfc3339()}})
    };
    let (headers, body) = ours(&delivered("evt-4", now - chrono::Duration::hours(2)));
    assert_eq!(post(shipments, headers.clone(), body.clone()).await, 200, "a delivery");
    assert_eq!(post(shipments, headers, body).await, 200, "the same delivery");
    let (headers, body) = ours(&delivered("evt-5", now + chrono::Duration::days(2)));
    assert_eq!(post(shipments, headers, body).await, 422, "a delivery in the future");
    let (headers, body) = ours(&json!({"id": "evt-6", "type": "shipment.created"}));
    assert_eq!(post(shipments, headers, body).await, 400);
    let (_, body) = ours(&created("evt-7", "PKG-7", "1Z999AA10123456799"));
    assert_eq!(post(shipments, Vec::new(), body).await, 401);
    let (headers, body) = ours(&json!({"id": "evt-8", "padding": "x".repeat(70_000)}));
    assert_eq!(post(shipments, headers, body).await, 413);
    let mut unknown = created("evt-9", "PKG-9", "1Z999AA10123456798");
    unknown["data"]["order_id"] = json!("111-1111111-1111111");
    let (headers, body) = ours(&unknown);
    assert_eq!(post(shipments, headers, body).await, 422);

    let shopify_path = "/webhooks/shopify";
    let order = json!({"id": 820982911946154508u64, "name": "#1001", "source_identifier": order_id});
    let (headers, body) = shopify("orders/create", "wh-1", &order);
    assert_eq!(post(shopify_path, headers, body).await, 200, "linked");
    let fulfillment = json!({"id": 123456, "order_id": 820982911946154508u64, "status": "success",
        "created_at": "2021-12-31T19:00:00-05:00", "tracking_company": "UPS", "tracking_number": "1z827wk74630",
        "tracking_numbers": ["1z827wk74630"], "line_items": [{"sku": sku, "quantity": 1}]});
    let (headers, body) = shopify("fulfillments/create", "wh-2", &fulfillment);
    let status = post(shopify_path, headers.clone(), body.clone()).await;
    assert!(status == 202 || status == 422, "queued, or more than is left to ship: {status}");
    assert_eq!(post(shopify_path, headers, body).await, 200, "the same webhook id");
    let (headers, body) = shopify("products/update", "wh-3", &json!({"id": 1}));
    assert_eq!(post(shopify_path, headers, body).await, 200, "ignored");
    let (mut headers, body) = shopify("orders/create", "wh-4", &order);
    headers[0].1 = SigningKey::new("wrong").sign_base64(&body);
    assert_eq!(post(shopify_path, headers, body).await, 401);
    let mut unlinked = fulfillment.clone();
    unlinked["order_id"] = json!(1);
    let (headers, body) = shopify("fulfillments/create", "wh-5", &unlinked);
    assert_eq!(post(shopify_path, headers, body).await, 422);

    // Cancellations and refunds, ours and Shopify's.
    let orders = h.stack.adapters.store.scan_orders().await.unwrap();
    let mut untouched = orders
        .iter()
        .filter(|o| o.status == OrderStatus::AwaitingShipment && o.id().as_str() != order_id)
        .map(|o| o.id().to_string());
    let (ours_to_cancel, shopifys_to_cancel) = (untouched.next().unwrap(), untouched.next().unwrap());
    let cancelled = |event_id: &str, order: &str| {
        json!({"id": event_id, "type": "order.cancelled", "created_at": now.to_rfc3339(),
            "data": {"order_id": order, "reason": "BuyerCanceled"}})
    };
    let (headers, body) = ours(&cancelled("evt-11", &ours_to_cancel));
    assert_eq!(post(shipments, headers.clone(), body.clone()).await, 202, "a cancellation");
    assert_eq!(post(shipments, headers, body).await, 200, "the same cancellation");
    let (headers, body) = ours(&cancelled("evt-12", &ours_to_cancel));
    assert_eq!(post(shipments, headers, body).await, 422, "nothing left to cancel");
    let refunded = |event_id: &str, principal: &str| {
        json!({"id": event_id, "type": "order.refunded", "created_at": now.to_rfc3339(),
            "data": {"order_id": order_id, "reason": "customer_return",
                "items": [{"sku": sku, "quantity": 1, "amount": {"principal": principal, "tax": 0.5}}]}})
    };
    let (headers, body) = ours(&refunded("evt-13", "0.01"));
    assert_eq!(post(shipments, headers, body).await, 202, "a refund");
    let (headers, body) = ours(&refunded("evt-14", "99999.00"));
    assert_eq!(post(shipments, headers, body).await, 422, "more than was paid");
    let shopify_cancelled = json!({"id": 5, "cancel_reason": "inventory", "source_identifier": shopifys_to_cancel});
    let (headers, body) = shopify("orders/cancelled", "wh-6", &shopify_cancelled);
    assert_eq!(post(shopify_path, headers.clone(), body.clone()).await, 202, "a Shopify cancellation");
    assert_eq!(post(shopify_path, headers, body).await, 200, "the same webhook id");
    let shopify_refund = json!({"id": 890088186047892319u64, "order_id": 820982911946154508u64,
        "refund_line_items": [{"quantity": 1, "restock_type": "return", "subtotal": 0.02, "total_tax": "0.00",
            "line_item": {"sku": sku}}], "order_adjustments": [], "refund_shipping_lines": []});
    let (headers, body) = shopify("refunds/create", "wh-7", &shopify_refund);
    assert_eq!(post(shopify_path, headers, body).await, 202, "a Shopify refund");
    let shipping_only =
        json!({"id": 890088186047892320u64, "order_id": 820982911946154508u64, "refund_line_items": []});
    let (headers, body) = shopify("refunds/create", "wh-8", &shipping_only);
    assert_eq!(post(shopify_path, headers, body).await, 200, "a refund of shipping alone, acknowledged");

    // Multi-Channel Fulfillment: a store order Amazon ships, asked again, asked otherwise, cancelled.
    let inventory = h.sandbox_get("/_sandbox/inventory").await;
    let fba_sku = inventory[0]["sellerSku"].as_str().unwrap().to_owned();
    let fba = [sellerbridge_core::domain::ids::Sku::parse(fba_sku.as_str()).unwrap()];
    let marked = ops::mark_amazon_fulfilled(&h.stack.adapters, &h.stack.settings, &h.connection, &fba).await.unwrap();
    ops::change_connection(&h.stack.adapters.store, &h.connection.id, &marked, now).await.unwrap();
    let requested = |event_id: &str, quantity: u64| {
        json!({"id": event_id, "type": "fulfillment.requested", "created_at": now.to_rfc3339(),
            "data": {"connection_id": h.connection.id, "store_order_id": "#5001", "shipping_rate": "Expedited",
                "destination": {"name": "Jane Buyer", "line1": "1 Main St", "city": "Seattle", "postal_code": "98101",
                                "country_code": "US"},
                "items": [{"sku": fba_sku, "quantity": quantity}]}})
    };
    let (headers, body) = ours(&requested("evt-20", 1));
    assert_eq!(post(shipments, headers.clone(), body.clone()).await, 202, "a fulfillment order");
    assert_eq!(post(shipments, headers, body).await, 200, "the same store order");
    let (headers, body) = ours(&requested("evt-21", 2));
    assert_eq!(post(shipments, headers, body).await, 409, "the same store order, other items");
    let (headers, body) = ours(&requested("evt-22", 0));
    assert_eq!(post(shipments, headers, body).await, 422, "a quantity of 0");
    let fulfillment_cancelled = json!({"id": "evt-23", "type": "fulfillment.cancelled", "created_at": now.to_rfc3339(),
        "data": {"connection_id": h.connection.id, "store_order_id": "#5001"}});
    let (headers, body) = ours(&fulfillment_cancelled);
    assert_eq!(post(shipments, headers.clone(), body.clone()).await, 202, "a fulfillment cancellation");
    assert_eq!(post(shipments, headers, body).await, 200, "the same cancellation");
    let store_order_cancelled = json!({"id": "evt-24", "type": "order.cancelled", "created_at": now.to_rfc3339(),
        "data": {"connection_id": h.connection.id, "store_order_id": "#5001", "reason": "customer"}});
    let (headers, body) = ours(&store_order_cancelled);
    assert_eq!(post(shipments, headers, body).await, 200, "the store order cancelled: its fulfillment, once");

    // The queued package is confirmed, so a delivery reported now lands on a confirmed package too.
    let sender = h.stack.sender_deps(h.stack.sender_settings(), None).await.unwrap();
    demo::drain_updates(&sender, &h.stack.updates_poller(), 1, Duration::from_secs(60), &Quiet, || {
        Box::pin(async { String::new() })
    })
    .await
    .unwrap();
    let (headers, body) = ours(&delivered("evt-10", now - chrono::Duration::hours(3)));
    assert_eq!(post(shipments, headers, body).await, 200);

    for exchange in &exchanges {
        contract.check(exchange);
    }
    let statuses: std::collections::BTreeSet<(&str, u16)> = exchanges.iter().map(|e| (e.path, e.status)).collect();
    for (path, status) in
        [(shipments, 202), (shipments, 409), (shipments, 413), (shopify_path, 202), (shopify_path, 401)]
    {
        assert!(statuses.contains(&(path, status)), "{path} {status} was not exercised");
    }
}
