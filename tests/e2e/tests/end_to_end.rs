//! The whole flow through all four handlers on the real local servers: sync → signed webhooks →
//! throttled confirmations → redaction; then what Amazon received, what the table holds, and that no
//! buyer PII reached a log line or a queue message.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use sellerbridge_cli::local::demo::{self, Quiet};
use sellerbridge_cli::local::runner;
use sellerbridge_core::domain::clock::OffsetClock;
use sellerbridge_core::domain::pii::REDACTED;
use sellerbridge_core::domain::shipment::PackageState;
use sellerbridge_e2e::{Harness, LogCapture, options_for, pii_canaries, recording_webhook, sandbox};

const TIME_SCALE: f64 = 2.0;

#[tokio::test]
async fn every_shipment_is_confirmed_once_and_pii_is_redacted_and_never_logged() {
    let logs = LogCapture::default();
    let _capture = logs.install();
    let clock = OffsetClock::default();
    let h = Harness::start(sandbox(60, 7, TIME_SCALE), Arc::new(clock.clone()), options_for(TIME_SCALE)).await;
    let seeded = h.inspector.stats().await.unwrap();

    // Sync imports exactly the actionable merchant-fulfilled orders.
    let sync = h.stack.sync_deps(Default::default()).await.unwrap();
    demo::sync_until_current(&sync, 3, &Quiet).await.unwrap();
    let store = &h.stack.adapters.store;
    let imported = store.scan_orders().await.unwrap();
    let sandbox_orders = h.inspector.orders().await.unwrap();
    let actionable = sellerbridge_e2e::actionable(&sandbox_orders);
    assert_eq!(imported.len() as u64, seeded.actionable_mfn);
    assert_eq!(imported.iter().map(|o| o.id().to_string()).collect::<BTreeSet<_>>(), actionable);

    // Webhooks for every package, and the sender draining the queue under Amazon's quota.
    let (queue, webhook) = recording_webhook(&h.stack);
    let sent = demo::send_shipments(&webhook, &h.stack.signing_key, store, &Quiet).await.unwrap();
    assert!(sent.len() > imported.len(), "multi-item orders ship in two packages");
    let mut sender = h.stack.sender_deps(h.stack.sender_settings(), None).await.unwrap();
    sender.queue = queue.clone();
    let poller = h.stack.updates_poller();
    demo::drain_updates(&sender, &poller, 2, Duration::from_secs(300), &Quiet, demo::sandbox_progress(&h.inspector))
        .await
        .unwrap();

    // Amazon saw exactly one confirmShipment per package, with the package's carrier, tracking and items.
    let packages = store.scan_packages().await.unwrap();
    assert_eq!(packages.len(), sent.len());
    let calls = h.inspector.calls().await.unwrap();
    let mut confirm_calls: BTreeMap<(String, String), Vec<serde_json::Value>> = BTreeMap::new();
    for call in calls.iter().filter(|c| c.operation == "confirmShipment") {
        let body = call.request_body.clone().unwrap();
        let reference = body["packageDetail"]["packageReferenceId"].as_str().unwrap().to_owned();
        confirm_calls.entry((call.order_id.clone().unwrap(), reference)).or_default().push(body);
    }
    let throttled: Vec<&str> = calls.iter().filter(|c| c.status == 429).map(|c| c.operation.as_str()).collect();
    assert!(throttled.is_empty(), "the shared limiter keeps every call within quota; throttled: {throttled:?}");
    for package in &packages {
        assert!(
            matches!(package.state, PackageState::Confirmed { .. }),
            "{} {}: {:?}",
            package.order_id,
            package.package_id,
            package.state
        );
        let key = (package.order_id.to_string(), package.reference.to_string());
        let bodies = confirm_calls.get(&key).unwrap_or_else(|| panic!("no confirmShipment for {key:?}"));
        assert_eq!(bodies.len(), 1, "package {key:?} was sent {} times", bodies.len());
        let detail = &bodies[0]["packageDetail"];
        assert_eq!(detail["carrierCode"], package.carrier.code());
        assert_eq!(detail["carrierName"].as_str(), package.carrier.other_name());
        assert_eq!(detail["trackingNumber"], package.tracking_number.as_str());
        let items: Vec<(String, u64)> = detail["orderItems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["orderItemId"].as_str().unwrap().to_owned(), i["quantity"].as_u64().unwrap()))
            .collect();
        let expected: Vec<(String, u64)> =
            package.lines.iter().map(|l| (l.order_item_id.to_string(), u64::from(l.quantity))).collect();
        assert_eq!(items, expected);
    }
    assert_eq!(confirm_calls.len(), packages.len());
    let carriers: BTreeSet<&str> = packages.iter().map(|p| p.carrier.code()).collect();
    assert!(
        carriers.contains("Other") && carriers.contains("UPS") && carriers.contains("USPS"),
        "carrier mapping exercised: {carriers:?}"
    );
    let stats = h.inspector.stats().await.unwrap();
    assert_eq!(stats.confirmed_packages as usize, packages.len());

    // Redaction after the clock moves past every deadline: PII gone, locality kept.
    let dry_run = runner::tick_redaction(&h.stack.redactor_deps(), Duration::from_secs(60), true).await.unwrap();
    assert!(dry_run.would_redact.is_empty(), "nothing is due yet: {:?}", dry_run.would_redact);
    clock.advance(chrono::Duration::days(45));
    let report = runner::tick_redaction(&h.stack.redactor_deps(), Duration::from_secs(60), false).await.unwrap();
    assert_eq!(report.redacted as usize, imported.len());
    for order in store.scan_orders().await.unwrap() {
        let source = sandbox_orders.iter().find(|o| o["orderId"] == order.id().as_str()).unwrap();
        let address = order.amazon.ship_to.as_ref().unwrap();
        assert_eq!(address.name.as_deref(), Some(REDACTED));
        assert_eq!(address.line1.as_deref(), Some(REDACTED));
        assert_eq!(address.phone.as_deref(), Some(REDACTED));
        assert_eq!(order.amazon.buyer.as_ref().unwrap().name.as_deref(), Some(REDACTED));
        assert_eq!(address.city.as_deref(), source.pointer("/recipient/deliveryAddress/city").and_then(|v| v.as_str()));
        assert_eq!(
            address.postal_code.as_deref(),
            source.pointer("/recipient/deliveryAddress/postalCode").and_then(|v| v.as_str())
        );
        let stored = serde_json::to_string(&order).unwrap();
        for canary in pii_canaries(std::slice::from_ref(source)) {
            assert!(!stored.contains(&canary), "order {} still holds PII after redaction", order.id());
        }
    }
    let summary = demo::summarize(store, &h.inspector, &sent).await.unwrap();
    assert_eq!(summary.lost, 0);
    assert_eq!(summary.redacted, imported.len());

    // PII canaries: nothing of the buyers' data in any log line or queue message we produced.
    let log_text = logs.text();
    let bodies = queue.bodies();
    assert!(
        log_text.contains("shipment confirmed at Amazon") && log_text.contains("order imported"),
        "logs were captured"
    );
    assert!(bodies.len() >= sent.len());
    let withheld: Vec<&str> = log_text.lines().filter(|line| line.contains("withheld_fields")).collect();
    assert!(withheld.is_empty(), "every field our flows log is on the allowlist: {withheld:?}");
    let canaries = pii_canaries(&sandbox_orders);
    assert!(canaries.len() > 100, "the sandbox's orders carry PII to look for");
    for canary in &canaries {
        assert!(!log_text.contains(canary.as_str()), "a log line carries buyer PII");
        assert!(!bodies.iter().any(|b| b.contains(canary.as_str())), "a queue message carries buyer PII");
    }
    for body in &bodies {
        let message: serde_json::Value = serde_json::from_str(body).unwrap();
        let keys: BTreeSet<&str> = message.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["type", "order_id", "package_id"]), "queue messages carry identifiers only");
    }
}
