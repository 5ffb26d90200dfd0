//! The six function binaries, exactly as deployed (`main.rs`: settings from the environment, clients and
//! secrets at cold start, `lambda_runtime::run` / `lambda_http::run`), served events through a local
//! Lambda Runtime API and talking to DynamoDB Local, moto and the sandbox through the standard
//! `AWS_ENDPOINT_URL_*` variables.
use std::sync::Arc;

use sellerbridge_cli::local::runner;
use sellerbridge_core::domain::clock::OffsetClock;
use sellerbridge_core::webhook::signature::SIGNATURE_HEADER;
use sellerbridge_e2e::runtime_api::{RuntimeApi, spawn_function};
use sellerbridge_e2e::{Harness, options_for, sandbox};
use serde_json::json;

#[tokio::test]
async fn each_binary_serves_its_event_through_the_lambda_runtime_api() {
    let h = Harness::start(sandbox(20, 17, 600.0), Arc::new(OffsetClock::default()), options_for(600.0)).await;
    let env = sellerbridge_e2e::coldstart::function_env(&h);
    let (_, api_key) = h.stack.api_deps().await.unwrap();
    let store = &h.stack.adapters.store;

    // Scheduled sync.
    let api = RuntimeApi::start().await;
    let _sync = spawn_function("order-sync", &api, &env);
    let report =
        api.invoke(json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})).await.unwrap();
    assert_eq!(report["connections"][0]["outcome"]["outcome"], "up_to_date", "{report}");
    let orders = store.scan_orders().await.unwrap();
    assert_eq!(orders.len() as u64, h.inspector.stats().await.unwrap().actionable_mfn);

    // Webhook through the HTTP API event.
    let order = &orders[0];
    let item = &order.amazon.items[0];
    let now = chrono::Utc::now();
    let body = json!({"id": "evt-bin-1", "type": "shipment.created", "created_at": now.to_rfc3339(),
        "data": {"order_id": order.id(), "package_id": "PKG-BIN-1", "carrier": "UPS", "tracking_number": "1ZBIN0001",
            "ship_date": now.to_rfc3339(), "items": [{"order_item_id": item.id, "quantity": 1}]}})
    .to_string();
    let signature = h.stack.signing_key.sign(now, body.as_bytes());
    let api = RuntimeApi::start().await;
    let _webhook = spawn_function("shipment-webhook", &api, &env);
    let response = api
        .invoke(runner::api_gateway_event("/webhooks/shipments", &[(SIGNATURE_HEADER, signature)], body.as_bytes()))
        .await
        .unwrap();
    assert_eq!(response["statusCode"], 202, "{response}");
    let unsigned = api.invoke(runner::api_gateway_event("/webhooks/shipments", &[], body.as_bytes())).await.unwrap();
    assert_eq!(unsigned["statusCode"], 401, "{unsigned}");

    // The sender with the SQS event built from the queued message.
    let poller = h.stack.updates_poller();
    let messages = poller.receive().await.unwrap();
    assert_eq!(messages.len(), 1);
    let api = RuntimeApi::start().await;
    let _sender = spawn_function("update-sender", &api, &env);
    let response = api.invoke(runner::sqs_event(&messages)).await.unwrap();
    assert_eq!(response, json!({"batchItemFailures": []}));
    let confirmed = h.inspector.confirmed_packages().await.unwrap();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0].0, order.id().as_str());

    // Amazon's ORDER_CHANGE notification for the order, with the SQS event built from the queued message.
    let changed = &orders[1];
    h.sandbox_post(&format!("/_sandbox/orders/{}/touch", changed.id()), json!({"fulfillmentStatus": "CANCELLED"}))
        .await;
    let notification = json!({"NotificationVersion": "1.0", "NotificationType": "ORDER_CHANGE", "PayloadVersion": "1.0",
        "EventTime": now.to_rfc3339(), "NotificationMetadata": {"NotificationId": "bin-notification-1"},
        "Payload": {"OrderChangeNotification": {"SellerId": h.connection.seller_id, "AmazonOrderId": changed.id(),
            "Summary": {"MarketplaceId": "ATVPDKIKX0DER"}}}});
    let notifications = h.stack.queue_url("NotificationsQueue").unwrap();
    let sqs = &h.stack.clients.sqs;
    sqs.send_message().queue_url(&notifications).message_body(notification.to_string()).send().await.unwrap();
    let messages = runner::SqsPoller::new(sqs.clone(), &notifications).receive().await.unwrap();
    let api = RuntimeApi::start().await;
    let _notifications = spawn_function("order-notifications", &api, &env);
    let response = api.invoke(runner::sqs_event(&messages)).await.unwrap();
    assert_eq!(response, json!({"batchItemFailures": []}));
    let stored = store.get_order(changed.id()).await.unwrap().unwrap();
    assert_eq!(stored.value.status, sellerbridge_core::domain::status::OrderStatus::Cancelled);

    // The read endpoint through the HTTP API event, with the stack's API key.
    let api = RuntimeApi::start().await;
    let _api = spawn_function("order-api", &api, &env);
    let connection = h.connection.id.to_string();
    let event = runner::http_api_event(
        "GET",
        "/orders",
        &[("connection", connection.as_str())],
        &[(order_api::API_KEY_HEADER, api_key)],
        b"",
    );
    let response = api.invoke(event).await.unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    let listed: serde_json::Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert!(!listed["orders"].as_array().unwrap().is_empty(), "{listed}");

    // The redactor: only the cancelled order is due yet on the real clock (nothing will ship).
    let api = RuntimeApi::start().await;
    let _redactor = spawn_function("pii-redactor", &api, &env);
    let report = api.invoke(json!({"source": "aws.events", "dry_run": true})).await.unwrap();
    assert_eq!(report["would_redact"], json!([changed.id()]), "{report}");
    assert_eq!(report["complete"], true);
}
