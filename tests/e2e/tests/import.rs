//! Order import across regions and however Amazon paginates: a backfill against a sandbox that pages by
//! offset over a result set changing while it is read, with two syncs of the connection started at
//! once; connections in two regions side by side while one is revoked and one meets `invalid_client`.
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use order_sync::{SyncOutcome, SyncSettings};
use sellerbridge_cli::local::runner;
use sellerbridge_cli::local::stack::ConnectionSpec;
use sellerbridge_cli::ops;
use sellerbridge_core::domain::clock::{Clock, OffsetClock};
use sellerbridge_core::domain::ids::{ConnectionId, MarketplaceId, SellerId};
use sellerbridge_e2e::{Harness, actionable, options_for, sandbox};
use serde_json::json;

struct Backfill {
    /// Rounds of two concurrent invocations until the backfill was done.
    rounds: usize,
    missing: usize,
    imported: usize,
    inserted: u32,
    throttled: u64,
    changed: usize,
    busy: usize,
}

/// Runs two syncs at once, round after round, until the backfill is done and the orders changed
/// during it have been read in the next window.
async fn backfill(orders: usize, seed: u64, settings: SyncSettings) -> Backfill {
    let clock = OffsetClock::default();
    let h = Harness::start(sandbox(orders, seed, 600.0), Arc::new(clock.clone()), options_for(600.0)).await;
    // Amazon pages by offset, and two orders change after every searchOrders call.
    h.sandbox_post("/_sandbox/search", json!({"paging": "offset", "churnPerSearch": 2})).await;
    let seeded = h.inspector.orders().await.unwrap();
    // Short invocations, so the backfill spans many of them.
    let settings = SyncSettings { deadline_margin: Duration::from_secs(1), ..settings };
    let syncs = [h.stack.sync_deps(settings.clone()).await.unwrap(), h.stack.sync_deps(settings).await.unwrap()];
    let (mut inserted, mut busy, mut rounds) = (0, 0, 0);
    for round in 0.. {
        assert!(round < 200, "the backfill never finished");
        rounds += 1;
        let reports =
            futures::future::join_all(syncs.iter().map(|sync| runner::tick_sync(sync, Duration::from_secs(4)))).await;
        let mut done = false;
        for report in reports {
            let connection = report.unwrap().connections.remove(0);
            inserted += connection.inserted;
            busy += usize::from(connection.outcome == SyncOutcome::Busy);
            done |= connection.outcome == SyncOutcome::UpToDate;
        }
        if done {
            break;
        }
    }
    // Counted before the next window: moving both clocks ten minutes refills our bucket at once, but the
    // sandbox's bucket refills in real time.
    let throttled = h.inspector.stats().await.unwrap().throttled;
    // The orders changed during the backfill are in the next window.
    h.sandbox_post("/_sandbox/search", json!({"paging": "offset", "churnPerSearch": 0})).await;
    clock.advance(chrono::Duration::minutes(10));
    h.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": 600})).await;
    let report = runner::tick_sync(&syncs[0], Duration::from_secs(120)).await.unwrap();
    assert_eq!(report.connections[0].outcome, SyncOutcome::UpToDate);
    inserted += report.connections[0].inserted;

    let current = h.inspector.orders().await.unwrap();
    let changed =
        current.iter().zip(&seeded).filter(|(now, then)| now["lastUpdatedTime"] != then["lastUpdatedTime"]).count();
    let expected = actionable(&current);
    let imported: BTreeSet<String> =
        h.stack.adapters.store.scan_orders().await.unwrap().iter().map(|o| o.id().to_string()).collect();
    Backfill {
        rounds,
        missing: expected.difference(&imported).count(),
        imported: imported.len(),
        inserted,
        throttled,
        changed,
        busy,
    }
}

#[tokio::test]
async fn a_backfill_misses_nothing_when_amazon_pages_by_offset_over_changing_orders() {
    let result = backfill(5000, 61, SyncSettings::default()).await;
    assert!(result.rounds >= 3, "the backfill spanned many invocations ({} rounds)", result.rounds);
    assert!(result.changed >= 100, "orders changed while the window was read ({})", result.changed);
    assert_eq!(result.missing, 0, "no actionable order skipped");
    assert_eq!(result.inserted as usize, result.imported, "every order inserted exactly once");
    assert_eq!(result.throttled, 0, "Amazon never answered 429 during the backfill");
    assert!(result.busy >= 1, "the second sync started at once found the connection leased");
}

/// The same backfill read by following Amazon's tokens through the whole window (slices never split):
/// the orders that did not change shift past the offset and are skipped. This is what the slicing
/// prevents, and the proof that the scenario above can catch it.
#[tokio::test]
async fn following_tokens_through_a_changing_window_skips_orders() {
    let settings = SyncSettings { min_slice: chrono::Duration::days(365), ..SyncSettings::default() };
    let result = backfill(1500, 67, settings).await;
    assert!(result.missing > 0, "offset paging over a changing set skips orders when tokens are followed");
}

/// One deployment serving US, UK, German and Japanese sellers (three regions) at once: each connection's calls go to its region's
/// host (the sandbox refuses another region's marketplaces), amounts stay in each marketplace's
/// currency, and one connection revoked and one meeting `invalid_client` stop nobody else.
#[tokio::test]
async fn connections_in_two_regions_import_side_by_side_while_others_fail() {
    const US: &str = "ATVPDKIKX0DER";
    const UK: &str = "A1F83G8C2ARO7P";
    const DE: &str = "A1PA6795UKMFR9";
    const JP: &str = "A1VC38T7YXB528";
    let mut config = sandbox(120, 71, 600.0);
    config.marketplace_ids = vec![US.into(), UK.into(), DE.into(), JP.into()];
    let token = |name: &str| format!("Atzr|{name}");
    config.refresh_tokens.extend(["a-fr-app", "b-us-revoked", "de-main", "jp-main", "uk-main"].map(token));
    let clock = OffsetClock::default();
    // The harness adds `us-main`.
    let h = Harness::start(config, Arc::new(clock.clone()), options_for(600.0)).await;
    assert!(h.sandbox.region_urls.contains_key("EU") && h.sandbox.region_urls.contains_key("FE"), "three hosts");
    for (id, marketplace) in
        [("a-fr-app", "A13V1IB3VIYZZH"), ("b-us-revoked", US), ("de-main", DE), ("jp-main", JP), ("uk-main", UK)]
    {
        h.stack
            .add_connection(ConnectionSpec {
                id: ConnectionId::parse(id).unwrap(),
                seller_id: SellerId::parse(format!("A{}", id.to_uppercase().replace('-', ""))).unwrap(),
                marketplace_id: MarketplaceId::parse(marketplace).unwrap(),
                refresh_token: token(id),
                options: options_for(600.0),
                import_from: clock.now() - chrono::Duration::days(30),
            })
            .await
            .unwrap();
    }
    h.sandbox_post("/_sandbox/refresh-tokens/revoke", json!({"refreshToken": token("b-us-revoked")})).await;
    // Connections sync one after another in id order: the first token request meets invalid_client.
    h.sandbox_post("/_sandbox/faults", json!({"operation": "lwaToken", "error": "invalid_client", "count": 1})).await;
    let sync = h.stack.sync_deps(SyncSettings { concurrency: 1, ..SyncSettings::default() }).await.unwrap();
    let report = runner::tick_sync(&sync, Duration::from_secs(120)).await.unwrap();
    let outcome =
        |id: &str| report.connections.iter().find(|c| c.connection_id.as_str() == id).unwrap().outcome.clone();

    assert!(
        matches!(outcome("a-fr-app"), SyncOutcome::AppCredentialsRejected { hint } if hint.contains("set-credentials"))
    );
    assert!(matches!(outcome("b-us-revoked"), SyncOutcome::NeedsReauthorization { .. }));
    for id in ["de-main", "jp-main", "uk-main", "us-main"] {
        assert_eq!(outcome(id), SyncOutcome::UpToDate, "{id}");
    }
    let alert = h.stack.adapters.store.app_credentials_alert().await.unwrap().expect("a stack-wide alert");
    assert!(alert.detail.contains("a-fr-app"), "{}", alert.detail);

    let orders = h.inspector.orders().await.unwrap();
    let expected = actionable(&orders);
    let stored = h.stack.adapters.store.scan_orders().await.unwrap();
    let ids: BTreeSet<String> = stored.iter().map(|o| o.id().to_string()).collect();
    assert_eq!(ids, expected, "every actionable order of the US, UK, DE and JP marketplaces, each imported once");
    let currency = |marketplace: &str| -> BTreeSet<String> {
        stored
            .iter()
            .filter(|o| o.amazon.marketplace_id.as_str() == marketplace)
            .filter_map(|o| o.amazon.total.as_ref().map(|t| t.currency_code.clone()))
            .collect()
    };
    assert_eq!(currency(UK), BTreeSet::from(["GBP".to_owned()]), "never converted");
    assert_eq!(currency(DE), BTreeSet::from(["EUR".to_owned()]));
    assert_eq!(currency(US), BTreeSet::from(["USD".to_owned()]));
    assert_eq!(currency(JP), BTreeSet::from(["JPY".to_owned()]));
    let owners: BTreeSet<&str> = stored.iter().map(|o| o.connection_id.as_str()).collect();
    assert_eq!(owners, BTreeSet::from(["de-main", "jp-main", "uk-main", "us-main"]));

    // The operator stores the app's current secret: the alert is gone and the connection imports.
    ops::set_app_credentials(
        &h.stack.adapters.store,
        &h.stack.clients.secrets,
        &h.stack.settings.lwa_secret_id,
        r#"{"client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret"}"#,
    )
    .await
    .unwrap();
    assert!(h.stack.adapters.store.app_credentials_alert().await.unwrap().is_none());
    let report = runner::tick_sync(&sync, Duration::from_secs(60)).await.unwrap();
    let retried = report.connections.iter().find(|c| c.connection_id.as_str() == "a-fr-app").unwrap();
    assert_eq!(retried.outcome, SyncOutcome::UpToDate);
}

/// A connection opting in to Amazon-fulfilled orders gets them as shipped records holding no buyer PII,
/// even when Amazon sends some; without the opt-in none is stored.
#[tokio::test]
async fn amazon_fulfilled_orders_are_kept_as_shipped_records_without_pii() {
    let clock = OffsetClock::default();
    let mut options = options_for(600.0);
    options.import_amazon_fulfilled = true;
    let h = Harness::start(sandbox(60, 73, 600.0), Arc::new(clock.clone()), options).await;
    let seeded = h.inspector.orders().await.unwrap();
    let fba: BTreeSet<String> = seeded
        .iter()
        .filter(|o| o["fulfillment"]["fulfilledBy"] == "AMAZON" && o["fulfillment"]["fulfillmentStatus"] == "SHIPPED")
        .map(|o| o["orderId"].as_str().unwrap().to_owned())
        .collect();
    let with_pii = fba.iter().next().expect("the sandbox has shipped FBA orders").clone();
    let address = json!({"name": "FBA CANARY NAME", "addressLine1": "1 FBA CANARY ST", "city": "Seattle",
                         "stateOrRegion": "WA", "postalCode": "98101", "countryCode": "US", "phone": "+1-555-0199-0001"});
    h.sandbox_post(
        &format!("/_sandbox/orders/{with_pii}/quirk"),
        json!({"pointer": "/recipient/deliveryAddress", "value": address}),
    )
    .await;
    clock.advance(chrono::Duration::minutes(10));
    h.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": 600})).await;

    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    let report = runner::tick_sync(&sync, Duration::from_secs(60)).await.unwrap();
    assert_eq!(report.connections[0].outcome, SyncOutcome::UpToDate);
    let stored = h.stack.adapters.store.scan_orders().await.unwrap();
    let stored_fba: Vec<_> = stored.iter().filter(|o| fba.contains(o.id().as_str())).collect();
    assert_eq!(stored_fba.len(), fba.len(), "every shipped FBA order is kept");
    for order in &stored_fba {
        assert_eq!(order.status, sellerbridge_core::domain::status::OrderStatus::Shipped);
        assert!(!order.has_pii(), "order {} holds PII", order.id());
        assert_eq!(sellerbridge_core::domain::pii::redaction_due(order), None);
    }
    let canary = stored_fba.iter().find(|o| o.id().as_str() == with_pii).unwrap();
    assert_eq!(
        canary.amazon.ship_to.as_ref().and_then(|a| a.city.as_deref()),
        Some("Seattle"),
        "Amazon's copy was read"
    );
    let text = serde_json::to_string(&stored).unwrap();
    assert!(!text.contains("FBA CANARY"), "the PII Amazon sent was not stored");
}
