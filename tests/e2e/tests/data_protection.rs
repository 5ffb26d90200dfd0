//! Data protection on the real stack: a connection's shorter PII periods reaching its orders; redaction
//! on request (`sellerbridge redact`, dry run first); removing a connection (its secret gone at once, its
//! orders' PII redacted); and a sync racing the redactor never writing PII back.
use std::sync::Arc;
use std::time::Duration;

use indicatif::ProgressBar;
use order_sync::SyncSettings;
use sellerbridge_cli::local::demo::{self, Quiet};
use sellerbridge_cli::local::runner;
use sellerbridge_cli::ops::{self, RedactTarget};
use sellerbridge_core::domain::clock::{Clock, OffsetClock};
use sellerbridge_core::domain::connection::OptionsChange;
use sellerbridge_core::domain::order::Order;
use sellerbridge_core::domain::pii::{self, Retention, RetentionRule};
use sellerbridge_core::domain::status::OrderStatus;
use sellerbridge_e2e::{Harness, options_for, sandbox};

/// A stack on `clock` with the sandbox's `orders` imported.
async fn imported(orders: usize, seed: u64, clock: OffsetClock) -> Harness {
    let h = Harness::start(sandbox(orders, seed, 600.0), Arc::new(clock), options_for(600.0)).await;
    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    demo::sync_until_current(&sync, 3, &Quiet).await.unwrap();
    h
}

async fn orders(h: &Harness) -> Vec<Order> {
    h.stack.adapters.store.scan_orders().await.unwrap()
}

fn holding_pii(orders: &[Order]) -> Vec<&Order> {
    orders.iter().filter(|o| !pii::pii_fields(o).is_empty()).collect()
}

#[tokio::test]
async fn shorter_periods_reach_the_connections_orders_and_a_longer_one_is_refused() {
    let clock = OffsetClock::default();
    let h = imported(12, 41, clock.clone()).await;
    let store = &h.stack.adapters.store;
    let unshipped: Vec<Order> =
        orders(&h).await.into_iter().filter(|o| o.status == OrderStatus::AwaitingShipment).collect();
    assert!(!unshipped.is_empty());
    let before = pii::redaction_due(&unshipped[0]).unwrap();
    assert_eq!(before, unshipped[0].local.imported_at + chrono::Duration::days(14), "Amazon's period");

    let refused = RetentionRule::Unshipped.checked(15).unwrap_err().to_string();
    assert_eq!(
        refused,
        "PII retention for unshipped orders of 15 days is longer than Amazon's Data Protection Policy allows (14 days)"
    );
    let shorter = OptionsChange { retention: vec![(RetentionRule::Unshipped, 3)], ..OptionsChange::default() };
    let changed = ops::change_connection(store, &h.connection.id, &shorter, clock.now()).await.unwrap();
    assert_eq!(changed.options.retention, Retention::AMAZON.with(RetentionRule::Unshipped, 3));
    for order in &unshipped {
        let stored = store.get_order(order.id()).await.unwrap().unwrap().value;
        assert_eq!(pii::redaction_due(&stored), Some(stored.local.imported_at + chrono::Duration::days(3)));
    }

    // An order whose copy of the periods went stale gets them again from the sync's next write of it.
    let stale = unshipped[0].id().clone();
    store.update_order(&stale, |order| order.local.retention = Retention::AMAZON).await.unwrap();
    h.sandbox_post(&format!("/_sandbox/orders/{stale}/touch"), serde_json::json!({})).await;
    clock.advance(chrono::Duration::minutes(5));
    h.sandbox_post("/_sandbox/clock", serde_json::json!({"advanceSeconds": 300})).await;
    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    demo::sync_until_current(&sync, 3, &Quiet).await.unwrap();
    let refreshed = store.get_order(&stale).await.unwrap().unwrap().value;
    assert_eq!(refreshed.local.retention, changed.options.retention, "the sync copies the connection's periods");

    // Four days on, the redactor takes them, ten days before Amazon's limit.
    clock.advance(chrono::Duration::days(4));
    let report =
        pii_redactor::redact_due(&h.stack.redactor_deps(), tokio::time::Instant::now() + Duration::from_secs(60))
            .await
            .unwrap();
    assert!(report.redacted as usize >= unshipped.len(), "{report:?}");
    for order in &unshipped {
        assert!(store.get_order(order.id()).await.unwrap().unwrap().value.local.redaction.is_redacted());
    }
}

#[tokio::test]
async fn redaction_on_request_lists_first_then_redacts_an_order_or_a_whole_connection() {
    let h = imported(12, 43, OffsetClock::default()).await;
    let store = &h.stack.adapters.store;
    let now = chrono::Utc::now();
    let before = orders(&h).await;
    let with_pii = holding_pii(&before);
    assert!(with_pii.len() > 3, "orders holding PII to work on");
    let first = with_pii[0].id().clone();

    let listed =
        ops::redact_now(store, &RedactTarget::Order(first.clone()), true, now, &ProgressBar::hidden()).await.unwrap();
    assert_eq!(listed["count"], 1, "{listed}");
    let fields: Vec<&str> =
        listed["would_redact"][0]["fields"].as_array().unwrap().iter().filter_map(|f| f.as_str()).collect();
    assert!(fields.contains(&"ship_to.line1") && fields.contains(&"buyer.name"), "{fields:?}");
    let text = listed.to_string();
    let address = with_pii[0].amazon.ship_to.as_ref().and_then(|a| a.line1.clone()).unwrap();
    assert!(!text.contains(&address), "field names, never values");
    assert!(!pii::pii_fields(&store.get_order(&first).await.unwrap().unwrap().value).is_empty(), "a dry run");

    let redacted =
        ops::redact_now(store, &RedactTarget::Order(first.clone()), false, now, &ProgressBar::hidden()).await.unwrap();
    assert_eq!(redacted["count"], 1, "{redacted}");
    let stored = store.get_order(&first).await.unwrap().unwrap().value;
    assert!(pii::pii_fields(&stored).is_empty() && stored.local.redaction.is_redacted());
    assert_eq!(stored.amazon.ship_to.as_ref().unwrap().city, with_pii[0].amazon.ship_to.as_ref().unwrap().city);

    let progress = ProgressBar::hidden();
    let whole = ops::redact_now(store, &RedactTarget::Connection(h.connection.id.clone()), false, now, &progress)
        .await
        .unwrap();
    assert_eq!(progress.position(), progress.length().unwrap(), "the progress bar went through every order");
    assert!(progress.position() >= whole["count"].as_u64().unwrap());
    assert_eq!(whole["count"].as_u64().unwrap() as usize, with_pii.len() - 1, "{whole}");
    assert!(holding_pii(&orders(&h).await).is_empty());
    let again = ops::redact_now(store, &RedactTarget::Order(first), false, now, &ProgressBar::hidden()).await.unwrap();
    assert_eq!(again["count"], 0, "nothing left: {again}");
}

#[tokio::test]
async fn a_removed_connection_loses_its_secret_at_once_and_its_orders_pii_on_request() {
    let h = imported(12, 47, OffsetClock::default()).await;
    let store = &h.stack.adapters.store;
    let secrets = &h.stack.clients.secrets;
    let secret = h.connection.refresh_token_secret_id.clone();
    assert!(secrets.get_secret_value().secret_id(&secret).send().await.is_ok(), "the token is stored");
    assert!(!holding_pii(&orders(&h).await).is_empty());

    let removed =
        ops::remove_connection(store, secrets, &h.connection.id, true, chrono::Utc::now(), &ProgressBar::hidden())
            .await
            .unwrap();
    assert_eq!(removed["secret_deleted"], secret.as_str(), "{removed}");
    assert!(removed["orders_redacted"].as_u64().unwrap() > 0, "{removed}");
    assert!(secrets.get_secret_value().secret_id(&secret).send().await.is_err(), "the token is gone");
    assert!(store.get_connection(&h.connection.id).await.unwrap().is_none());
    assert!(holding_pii(&orders(&h).await).is_empty(), "no order of it holds PII");
    let report = runner::tick_sync(&h.stack.sync_deps(SyncSettings::default()).await.unwrap(), Duration::from_secs(30))
        .await
        .unwrap();
    assert!(report.connections.is_empty(), "nothing syncs for it: {report:?}");
}

#[tokio::test]
async fn a_sync_racing_the_redactor_never_writes_pii_back() {
    let clock = OffsetClock::default();
    let h = imported(40, 53, clock.clone()).await;
    let before = orders(&h).await;
    assert!(holding_pii(&before).len() > 20);

    // Twenty days on, every order changes at Amazon (the sync will write each again) as its PII falls due.
    clock.advance(chrono::Duration::days(20));
    h.sandbox_post("/_sandbox/clock", serde_json::json!({"advanceSeconds": 20 * 86_400})).await;
    for order in &before {
        h.sandbox_post(&format!("/_sandbox/orders/{}/touch", order.id()), serde_json::json!({})).await;
    }
    // Past the two minutes Amazon's search lags behind.
    clock.advance(chrono::Duration::minutes(5));
    h.sandbox_post("/_sandbox/clock", serde_json::json!({"advanceSeconds": 300})).await;
    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    let redactor = h.stack.redactor_deps();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let (synced, redacted) =
        tokio::join!(demo::sync_until_current(&sync, 3, &Quiet), pii_redactor::redact_due(&redactor, deadline));
    synced.unwrap();
    let redacted = redacted.unwrap();
    assert!(redacted.complete && redacted.failed == 0, "{redacted:?}");
    // A sync write that raced a redaction and won would leave the order pending again, PII and all.
    let still_redacted = orders(&h).await.iter().filter(|o| o.local.redaction.is_redacted()).count();
    assert!(still_redacted >= redacted.redacted as usize, "{still_redacted} of {} redactions stood", redacted.redacted);
    assert!(orders(&h).await.iter().filter(|o| o.local.redaction.is_redacted()).all(|o| pii::pii_fields(o).is_empty()));

    // Whichever wrote last, every order is redacted and holds no PII; one the redactor missed because
    // the sync moved it on is taken by the next run.
    pii_redactor::redact_due(&redactor, tokio::time::Instant::now() + Duration::from_secs(60)).await.unwrap();
    let after = orders(&h).await;
    let leaked: Vec<String> = holding_pii(&after).iter().map(|o| o.id().to_string()).collect();
    assert!(leaked.is_empty(), "PII written back: {leaked:?}");
    let updated = after.iter().filter(|o| {
        let earlier = before.iter().find(|b| b.id() == o.id()).unwrap();
        o.amazon.updated_at > earlier.amazon.updated_at
    });
    assert!(updated.count() > 20, "the sync did bring the changes in");
}
