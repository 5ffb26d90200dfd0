//! The buyer data of the sandbox's orders (names, companies, street lines, phones, e-mails, gift
//! messages: each a canary) is searched for everywhere sellerbridge writes, after every flow has run,
//! failures included: the import, the merchant's webhook endpoint refusing every order event (retries,
//! failure records, dead-lettering), shipment webhooks (accepted and refused), confirmations Amazon keeps
//! failing (dead-lettered), redaction, and order events sent after redaction. Zero hits in the log
//! lines, every queue and dead-letter queue body, the webhook answers, every stored record, and the
//! order events sent once the orders were redacted.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use order_sync::SyncSettings;
use sellerbridge_cli::local::demo::{self, Quiet};
use sellerbridge_cli::local::runner::{self, SqsPoller};
use sellerbridge_core::domain::clock::OffsetClock;
use sellerbridge_core::webhook::signature::SIGNATURE_HEADER;
use sellerbridge_e2e::{Harness, LogCapture, drain_outbound, options_for, pii_canaries, sandbox, send_without_backoff};
use serde_json::json;

/// The merchant's endpoint: refuses with 500 until told otherwise, and keeps every body it got.
#[derive(Clone, Default)]
struct Endpoint {
    accepting: Arc<Mutex<bool>>,
    received: Arc<Mutex<Vec<String>>>,
}

async fn receive(State(endpoint): State<Endpoint>, body: Bytes) -> StatusCode {
    endpoint.received.lock().unwrap().push(String::from_utf8_lossy(&body).into_owned());
    if *endpoint.accepting.lock().unwrap() { StatusCode::OK } else { StatusCode::INTERNAL_SERVER_ERROR }
}

impl Endpoint {
    async fn start(&self) -> String {
        let app = Router::new().route("/hooks", post(receive)).with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }
}

/// Every message body in the queue, each once (received and hidden until the test is over).
async fn bodies(h: &Harness, queue: &str) -> Vec<String> {
    let mut poller = SqsPoller::new(h.stack.clients.sqs.clone(), h.stack.queue_url(queue).unwrap());
    poller.visibility_timeout = Duration::from_secs(600);
    let mut bodies = std::collections::BTreeMap::new();
    loop {
        let received = poller.receive().await.unwrap();
        if received.is_empty() {
            return bodies.into_values().collect();
        }
        bodies.extend(received.into_iter().filter_map(|m| Some((m.message_id?, m.body?))));
    }
}

/// Every item of the table, as text (a test-only scan).
async fn stored_items(h: &Harness) -> Vec<String> {
    let items = h
        .stack
        .clients
        .dynamodb
        .scan()
        .table_name(h.stack.adapters.store.table())
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await;
    items.into_iter().map(|item| format!("{:?}", item.unwrap())).collect()
}

#[tokio::test]
async fn no_buyer_data_anywhere_but_the_order_until_it_is_redacted() {
    let logs = LogCapture::default();
    let _logging = logs.install();
    let endpoint = Endpoint::default();
    let mut options = options_for(600.0);
    options.outbound_webhook_url = Some(endpoint.start().await);
    let clock = OffsetClock::default();
    let h = Harness::start(sandbox(24, 61, 600.0), Arc::new(clock.clone()), options).await;
    let canaries = pii_canaries(&h.inspector.orders().await.unwrap());
    assert!(canaries.len() > 50, "buyer data to look for: {}", canaries.len());
    let mut answers = Vec::new();

    // Import; the merchant's endpoint refuses every order event until each is dead-lettered.
    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    demo::sync_until_current(&sync, 3, &Quiet).await.unwrap();
    let settings = update_sender::SenderSettings { transient_backoff: Duration::ZERO, ..h.stack.sender_settings() };
    let sender = h.stack.sender_deps(settings, None).await.unwrap();
    drain_outbound(&h, &sender, 200).await;
    assert!(
        runner::depth(&h.stack.clients.sqs, &h.stack.queue_url("OutboundDeadLetterQueue").unwrap())
            .await
            .unwrap()
            .visible
            > 0,
        "order events dead-lettered"
    );

    // Shipment webhooks: accepted ones, then Amazon failing every confirmation until they are
    // dead-lettered; and refused ones, among them bodies that carry buyer data where they should not.
    h.sandbox_post("/_sandbox/faults", json!({"operation": "confirmShipment", "status": 500, "count": 1000})).await;
    demo::send_shipments(&h.stack.webhook_deps(), &h.stack.signing_key, &h.stack.adapters.store, &Quiet).await.unwrap();
    send_without_backoff(&h).await;
    assert!(
        runner::depth(&h.stack.clients.sqs, &h.stack.queue_url("UpdatesDeadLetterQueue").unwrap())
            .await
            .unwrap()
            .visible
            > 0,
        "confirmations dead-lettered"
    );
    let orders = h.stack.adapters.store.scan_orders().await.unwrap();
    let order_id = orders[0].id().to_string();
    for canary in canaries.iter().take(5) {
        for body in [
            json!({"id": "evt-canary", "type": "shipment.created", "created_at": "2026-03-01T12:00:00Z",
                "data": {"order_id": order_id, "package_id": "PKG-CANARY", "carrier": "UPS",
                    "tracking_number": "1Z999AA10123456784", "ship_date": canary,
                    "items": [{"sku": "SKU-A", "quantity": canary}]}})
            .to_string(),
            format!(r#"{{"id": "evt-canary", "type": "shipment.created", "data": {{"note": "{canary}""#),
            json!({"id": "evt-canary", "type": "order.refunded", "created_at": "2026-03-01T12:00:00Z",
                "data": {"order_id": order_id, "reason": canary, "items": []}})
            .to_string(),
        ] {
            let signature = h.stack.signing_key.sign(chrono::Utc::now(), body.as_bytes());
            let headers = [(SIGNATURE_HEADER, signature)];
            let (status, answer) =
                runner::post_webhook(&h.stack.webhook_deps(), "/webhooks/shipments", &headers, body.as_bytes())
                    .await
                    .unwrap();
            assert!((400..500).contains(&status), "{status} {answer}");
            answers.push(answer.to_string());
        }
    }

    // The orders fall due and are redacted; then they change at Amazon, and the endpoint, accepting now,
    // gets events about redacted orders.
    clock.advance(chrono::Duration::days(60));
    h.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": 60 * 86_400})).await;
    let report = runner::tick_redaction(&h.stack.redactor_deps(), Duration::from_secs(60), false).await.unwrap();
    assert!(report.complete && report.redacted > 0, "{report:?}");
    for order in &orders {
        h.sandbox_post(&format!("/_sandbox/orders/{}/touch", order.id()), json!({})).await;
    }
    clock.advance(chrono::Duration::minutes(5));
    h.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": 300})).await;
    let before_redacted_events = endpoint.received.lock().unwrap().len();
    *endpoint.accepting.lock().unwrap() = true;
    demo::sync_until_current(&sync, 3, &Quiet).await.unwrap();
    drain_outbound(&h, &sender, 200).await;
    let after_redaction: Vec<String> = endpoint.received.lock().unwrap()[before_redacted_events..].to_vec();
    assert!(!after_redaction.is_empty(), "order events sent after the redaction");

    // Where the canaries are looked for.
    let log_text = logs.text();
    assert!(log_text.contains("order imported") && log_text.contains("webhook rejected"), "logs were captured");
    let mut places: Vec<(&str, Vec<String>)> = vec![("a log line", log_text.lines().map(str::to_owned).collect())];
    for queue in [
        "UpdatesQueue",
        "UpdatesDeadLetterQueue",
        "OutboundQueue",
        "OutboundDeadLetterQueue",
        "NotificationsQueue",
        "NotificationsDeadLetterQueue",
    ] {
        places.push((queue, bodies(&h, queue).await));
    }
    places.push(("a webhook answer", answers));
    places.push(("a stored record", stored_items(&h).await));
    places.push(("an order event after redaction", after_redaction));
    let searched: usize = places.iter().map(|(_, texts)| texts.len()).sum();
    assert!(searched > 200, "enough to search: {searched}");
    for (place, texts) in &places {
        for canary in &canaries {
            assert!(!texts.iter().any(|text| text.contains(canary.as_str())), "{place} holds buyer data");
        }
    }
    // The search itself finds what is there: the refused order events held buyer data, as they should.
    let refused = endpoint.received.lock().unwrap()[..before_redacted_events].join("\n");
    assert!(canaries.iter().any(|canary| refused.contains(canary.as_str())), "the search finds a canary");
}
