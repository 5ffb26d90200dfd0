//! The PII redactor against DynamoDB Local: the sharded due index, a backlog larger than a page, a
//! corrupt order that must not stop the run, the dry run (handler and CLI) listing everything due.
//! Orders are written straight into the table with the store; the clock is moved, never slept on.
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use sellerbridge_cli::local::runner;
use sellerbridge_cli::ops;
use sellerbridge_core::domain::clock::OffsetClock;
use sellerbridge_core::domain::ids::AmazonOrderId;
use sellerbridge_core::domain::order::Order;
use sellerbridge_core::store::keys;
use sellerbridge_e2e::{BUYER, Harness, LogCapture, PHONE, STREET, options_for, sandbox};

async fn stack(clock: Arc<OffsetClock>) -> Harness {
    Harness::start(sandbox(1, 71, 600.0), clock, options_for(600.0)).await
}

fn order_id(n: usize) -> AmazonOrderId {
    sellerbridge_e2e::numbered_order_id(n)
}

fn order(id: &AmazonOrderId, imported_at: DateTime<Utc>) -> Order {
    sellerbridge_e2e::unshipped_order(id, imported_at)
}

/// `count` orders, all past their 14-day unshipped limit once the clock moves 20 days on.
async fn backlog(h: &Harness, count: usize) -> Vec<AmazonOrderId> {
    let store = &h.stack.adapters.store;
    let imported_at = Utc::now();
    let ids: Vec<AmazonOrderId> = (0..count).map(order_id).collect();
    for chunk in ids.chunks(25) {
        let orders: Vec<Order> = chunk.iter().map(|id| order(id, imported_at)).collect();
        futures::future::try_join_all(orders.iter().map(|order| store.save_order(order, 0)))
            .await
            .expect("orders stored");
    }
    ids
}

async fn index_partition(h: &Harness, id: &AmazonOrderId) -> Option<String> {
    let (pk, sk) = keys::order(id);
    let item = h
        .stack
        .clients
        .dynamodb
        .get_item()
        .table_name(h.stack.adapters.store.table())
        .key(keys::PK, AttributeValue::S(pk))
        .key(keys::SK, AttributeValue::S(sk))
        .send()
        .await
        .unwrap()
        .item
        .expect("order stored");
    item.get(keys::REDACTION_PK).and_then(|v| v.as_s().ok()).cloned()
}

#[tokio::test]
async fn due_orders_spread_over_the_shards_and_every_one_is_listed_and_redacted() {
    let clock = Arc::new(OffsetClock::default());
    let h = stack(clock.clone()).await;
    let ids = backlog(&h, 230).await;

    // Each order sits in its own shard partition, and the orders spread over many of them.
    let mut partitions = BTreeSet::new();
    for id in &ids {
        let partition = index_partition(&h, id).await.expect("an order holding PII is in the index");
        assert_eq!(partition, keys::redaction_partition(id));
        partitions.insert(partition);
    }
    assert!(partitions.len() >= 12, "230 orders should reach most of the 16 shards: {partitions:?}");

    // Nothing is due yet.
    let deps = h.stack.redactor_deps();
    let early = runner::tick_redaction(&deps, Duration::from_secs(60), true).await.unwrap();
    assert!(early.would_redact.is_empty() && early.complete, "{early:?}");

    clock.advance(chrono::Duration::days(20));
    let all: BTreeSet<String> = ids.iter().map(ToString::to_string).collect();

    // The dry run lists every due order (more than one page), and only then says complete.
    let dry = runner::tick_redaction(&deps, Duration::from_secs(60), true).await.unwrap();
    assert!(dry.complete && dry.continuation.is_none(), "{:?}", dry.continuation);
    assert_eq!(dry.would_redact.len(), ids.len(), "no order listed twice or left out");
    assert_eq!(dry.would_redact.iter().cloned().collect::<BTreeSet<_>>(), all);

    // Out of time at once: it says so and hands back where to go on; following the continuations
    // lists everything exactly once.
    let mut listed = Vec::new();
    let mut continuation = None;
    let mut rounds = 0;
    loop {
        let part = pii_redactor::list_due(&deps, continuation.as_deref(), tokio::time::Instant::now()).await.unwrap();
        rounds += 1;
        listed.extend(part.would_redact);
        if part.complete {
            assert!(part.continuation.is_none());
            break;
        }
        continuation = Some(part.continuation.expect("an incomplete dry run says where to go on"));
    }
    assert!(rounds > 2, "the deadline stopped the dry run page by page");
    assert_eq!(listed.len(), ids.len());
    assert_eq!(listed.into_iter().collect::<BTreeSet<_>>(), all);

    // The CLI's `redaction-dry-run` shows them all too.
    let cli = ops::redaction_dry_run(&deps).await.unwrap();
    assert!(cli.complete);
    assert_eq!(cli.would_redact.into_iter().collect::<BTreeSet<_>>(), all);

    // A run stopped by its deadline says it is incomplete; the next one carries on and finishes, having
    // found due orders in every shard.
    let stopped = pii_redactor::redact_due(&deps, tokio::time::Instant::now()).await.unwrap();
    assert!(!stopped.complete, "{stopped:?}");
    let report = runner::tick_redaction(&deps, Duration::from_secs(300), false).await.unwrap();
    assert!(report.complete, "{report:?}");
    assert_eq!(report.redacted as usize, ids.len());
    assert_eq!(report.failed, 0);
    let store = &h.stack.adapters.store;
    for id in &ids {
        let stored = store.get_order(id).await.unwrap().unwrap().value;
        assert!(stored.local.redaction.is_redacted(), "order {id}");
        assert!(index_partition(&h, id).await.is_none(), "a redacted order leaves the index");
    }
    let after = runner::tick_redaction(&deps, Duration::from_secs(60), true).await.unwrap();
    assert!(after.would_redact.is_empty() && after.complete);
}

#[tokio::test]
async fn a_corrupt_order_is_reported_by_id_and_the_run_goes_on() {
    let clock = Arc::new(OffsetClock::default());
    let h = stack(clock.clone()).await;
    let ids = backlog(&h, 40).await;

    // One order whose stored body no longer parses (it still holds the buyer's name), in the index.
    let broken = order_id(40);
    let (pk, sk) = keys::order(&broken);
    h.stack
        .clients
        .dynamodb
        .put_item()
        .table_name(h.stack.adapters.store.table())
        .item(keys::PK, AttributeValue::S(pk))
        .item(keys::SK, AttributeValue::S(sk))
        .item("version", AttributeValue::N("1".into()))
        .item("body", AttributeValue::S(format!("{{\"connection_id\": \"us-main\", \"buyer\": \"{BUYER}\"")))
        .item(keys::REDACTION_PK, AttributeValue::S(keys::redaction_partition(&broken)))
        .item(keys::REDACTION_DUE_AT, AttributeValue::S("2000-01-01T00:00:00Z".into()))
        .send()
        .await
        .unwrap();
    clock.advance(chrono::Duration::days(20));

    let logs = LogCapture::default();
    let _guard = logs.install();
    let deps = h.stack.redactor_deps();
    for run in 0..2 {
        let report = runner::tick_redaction(&deps, Duration::from_secs(300), false).await.unwrap();
        assert!(report.complete, "run {run}: {report:?}");
        assert_eq!(report.redacted as usize, if run == 0 { ids.len() } else { 0 }, "run {run}");
        assert_eq!(report.failed, 1, "run {run}");
        assert_eq!(report.failed_orders, vec![broken.to_string()], "run {run}");
        let text = serde_json::to_string(&report).unwrap();
        assert!(!text.contains(BUYER), "the report names orders, not buyers: {text}");
    }
    let store = &h.stack.adapters.store;
    for id in &ids {
        assert!(store.get_order(id).await.unwrap().unwrap().value.local.redaction.is_redacted(), "order {id}");
    }
    let logged = logs.text();
    assert!(logged.contains(broken.as_str()), "the failure is logged by order id");
    for pii in [BUYER, STREET, PHONE] {
        assert!(!logged.contains(pii), "PII in the logs: {pii}");
    }
}

#[tokio::test]
async fn orders_indexed_before_the_shards_existed_are_still_redacted() {
    let clock = Arc::new(OffsetClock::default());
    let h = stack(clock.clone()).await;
    let ids = backlog(&h, 3).await;
    // Written by an earlier version: every order in the one unsharded partition.
    for id in &ids {
        h.tamper(keys::order(id), "SET #p = :legacy", &[("#p", keys::REDACTION_PK)], &[(":legacy", "PII")]).await;
    }
    clock.advance(chrono::Duration::days(20));
    let report = runner::tick_redaction(&h.stack.redactor_deps(), Duration::from_secs(60), false).await.unwrap();
    assert_eq!(report.redacted as usize, ids.len(), "{report:?}");
    for id in &ids {
        assert_eq!(index_partition(&h, id).await, None, "order {id} left the index once redacted");
    }
}

/// Ten thousand orders, every other one past its 14 days: the redactor, run as often as it takes,
/// redacts exactly those, none early, keeps the locality, and reads only through the index.
#[tokio::test]
async fn ten_thousand_orders_exactly_the_due_ones_redacted_with_no_scan() {
    let clock = Arc::new(OffsetClock::default());
    let h = stack(clock.clone()).await;
    let store = &h.stack.adapters.store;
    let now = Utc::now();
    let ids: Vec<AmazonOrderId> = (0..10_000).map(order_id).collect();
    let imported_at = |n: usize| now - chrono::Duration::days(if n.is_multiple_of(2) { 20 } else { 13 });
    for chunk in (0..ids.len()).collect::<Vec<_>>().chunks(50) {
        futures::future::try_join_all(chunk.iter().map(|&n| {
            let order = order(&ids[n], imported_at(n));
            async move { store.save_order(&order, 0).await }
        }))
        .await
        .expect("orders stored");
    }

    let (metered, usage) = sellerbridge_e2e::metering::metered(store);
    let deps = pii_redactor::RedactorDeps { store: metered, clock: clock.clone() };
    for _ in 0..50 {
        if runner::tick_redaction(&deps, Duration::from_secs(60), false).await.unwrap().complete {
            break;
        }
    }
    assert_eq!(usage.requests("Scan"), 0, "the redactor never scans");

    let mut redacted = BTreeSet::new();
    for (n, id) in ids.iter().enumerate() {
        let stored = store.get_order(id).await.unwrap().unwrap().value;
        let address = stored.amazon.ship_to.as_ref().unwrap();
        assert_eq!((address.city.as_deref(), address.postal_code.as_deref()), (Some("Arlington"), Some("22201")));
        if stored.local.redaction.is_redacted() {
            assert_eq!(address.line1.as_deref(), Some(sellerbridge_core::domain::pii::REDACTED));
            redacted.insert(n);
        } else {
            assert_eq!(address.line1.as_deref(), Some(STREET), "order {id} is kept whole until it is due");
        }
    }
    let due: BTreeSet<usize> = (0..ids.len()).filter(|n| n.is_multiple_of(2)).collect();
    assert_eq!(redacted, due, "exactly the due orders, none early");
}
