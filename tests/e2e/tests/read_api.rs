//! The merchant's read endpoint through the real handler and an HTTP API event: the API key, the list of
//! orders awaiting shipment page by page (earliest ship-by first), one order with its packages, PII
//! until redaction and `REDACTED (Amazon)` after.
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use order_api::API_KEY_HEADER;
use order_sync::SyncSettings;
use sellerbridge_cli::local::demo::{self, Quiet};
use sellerbridge_cli::local::runner;
use sellerbridge_core::domain::clock::OffsetClock;
use sellerbridge_core::domain::pii::REDACTED;
use sellerbridge_e2e::{Harness, actionable, options_for, sandbox};
use serde_json::Value;

#[tokio::test]
async fn the_read_endpoint_lists_orders_awaiting_shipment_and_shows_one_with_its_packages() {
    let clock = OffsetClock::default();
    let h = Harness::start(sandbox(40, 53, 600.0), Arc::new(clock.clone()), options_for(600.0)).await;
    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    runner::tick_sync(&sync, Duration::from_secs(60)).await.unwrap();
    let (api, key) = h.stack.api_deps().await.unwrap();
    let with_key = [(API_KEY_HEADER, key.clone())];
    let connection = h.connection.id.to_string();

    for headers in [vec![], vec![(API_KEY_HEADER, "wrong".to_owned())]] {
        let (status, body) = runner::get_api(&api, "/orders", &[("connection", &connection)], &headers).await.unwrap();
        assert_eq!(status, 401, "{body}");
        assert!(body["error"].as_str().unwrap().contains(API_KEY_HEADER));
    }
    let (status, body) = runner::get_api(&api, "/orders", &[], &with_key).await.unwrap();
    assert_eq!(status, 400, "the connection is required: {body}");

    // Page through the list, five at a time.
    let mut listed: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("connection", connection.as_str()), ("limit", "5")];
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.as_str()));
        }
        let (status, body) = runner::get_api(&api, "/orders", &query, &with_key).await.unwrap();
        assert_eq!(status, 200, "{body}");
        listed.extend(body["orders"].as_array().unwrap().iter().cloned());
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let ids: BTreeSet<String> = listed.iter().map(|o| o["order_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, actionable(&h.inspector.orders().await.unwrap()), "every order awaiting shipment, once");
    assert_eq!(ids.len(), listed.len());
    let ship_by: Vec<&str> = listed.iter().map(|o| o["ship_by"].as_str().unwrap_or_default()).collect();
    assert!(ship_by.windows(2).all(|w| w[0] <= w[1]), "earliest ship-by first");
    let first = &listed[0];
    assert_eq!(first["buyer"]["email_use"], "order_communication_only");
    assert!(first["items"][0]["product_key"].is_string(), "{first}");

    // Ship one order: it leaves the list, and shows its package.
    let store = &h.stack.adapters.store;
    let webhook = h.stack.webhook_deps();
    demo::send_shipments(&webhook, &h.stack.signing_key, store, &Quiet).await.unwrap();
    let shipped_id = first["order_id"].as_str().unwrap();
    let (status, order) = runner::get_api(&api, &format!("/orders/{shipped_id}"), &[], &with_key).await.unwrap();
    assert_eq!(status, 200, "{order}");
    assert!(!order["packages"].as_array().unwrap().is_empty(), "{order}");
    assert_eq!(order["packages"][0]["state"], "queued");
    assert_ne!(order["buyer"]["name"], REDACTED, "PII until the order is redacted");

    let id = sellerbridge_core::domain::ids::AmazonOrderId::parse(shipped_id).unwrap();
    store.update_order(&id, |order| sellerbridge_core::domain::pii::redact(order, chrono::Utc::now())).await.unwrap();
    let (_, order) = runner::get_api(&api, &format!("/orders/{shipped_id}"), &[], &with_key).await.unwrap();
    assert_eq!(order["redacted"], true);
    assert_eq!(order["buyer"]["name"], REDACTED);
    assert_eq!(order["ship_to"]["line1"], REDACTED);

    let (status, _) = runner::get_api(&api, "/orders/111-0000000-0000000", &[], &with_key).await.unwrap();
    assert_eq!(status, 404);
}
