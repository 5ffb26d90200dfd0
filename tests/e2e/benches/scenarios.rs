//! `make bench`: every scenario on the local stack (DynamoDB Local, moto, the SP-API sandbox), each
//! written as one JSON file to `target/bench/`. `--short` runs the same scenarios small, as CI does, so
//! the harness cannot rot; `--only import,cost` runs some of them (`pii` searches what the scenarios that
//! ran produced). Measurements, not tests: a scenario fails only when it cannot run at all.
//!
//! Absolute rates describe the local stand-ins on this machine; compare ratios and counts between
//! versions. Amazon's quotas run `time_scale` times faster in the sandbox, and the figures that depend
//! on them are converted back to Amazon time.
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;
use order_sync::{SyncOutcome, SyncSettings};
use sellerbridge_cli::local::demo::{self, Quiet};
use sellerbridge_cli::local::runner;
use sellerbridge_core::domain::carrier::CarrierRules;
use sellerbridge_core::domain::clock::OffsetClock;
use sellerbridge_core::domain::pii::redaction_due;
use sellerbridge_core::domain::rate::Quota;
use sellerbridge_core::domain::shipment::{PackageState, plan_package};
use sellerbridge_core::spapi::limiter::Unlimited;
use sellerbridge_core::spapi::{Operation, RateLimiter};
use sellerbridge_core::webhook::events::parse_shipment_created;
use sellerbridge_core::webhook::signature::SIGNATURE_HEADER;
use sellerbridge_e2e::metering::{self, MeterDynamo, Usage};
use sellerbridge_e2e::runtime_api::Profile;
use sellerbridge_e2e::{
    Harness, LogCapture, options_for, pii_canaries, post_every_package, recording_webhook, sandbox,
};
use serde_json::{Value, json};
use update_sender::SenderSettings;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let short = std::env::args().any(|arg| arg == "--short");
    let out = bench_dir();
    std::fs::create_dir_all(&out).expect("target/bench");
    let out = out.canonicalize().expect("target/bench exists");
    // Every handler log line of every scenario, searched for the buyers' PII at the end.
    let logs = LogCapture::default();
    let _capture = logs.install();
    let mut evidence = Evidence::default();

    // Each file is written as soon as its scenario ends, so a long full run shows its progress.
    // `--only NAME[,NAME]` runs some of them.
    let only: Option<Vec<String>> = std::env::args()
        .skip_while(|arg| arg != "--only")
        .nth(1)
        .map(|names| names.split(',').map(str::to_owned).collect());
    let wanted = |name: &str| only.as_ref().is_none_or(|names| names.iter().any(|n| n == name));
    let mut results = Vec::new();
    let mut record = |name: &'static str, result: Value| {
        write(&out, name, &result);
        println!("{name:>10}: {result}");
        results.push(name);
    };
    if wanted("import") {
        record("import", import(short, &mut evidence).await);
    }
    if wanted("confirm") {
        record("confirm", confirm(short, &mut evidence).await);
    }
    if wanted("feeds") {
        record("feeds", feeds(short).await);
    }
    if wanted("faults") {
        record("faults", faults(short, &mut evidence).await);
    }
    if wanted("redaction") {
        record("redaction", redaction(short).await);
    }
    if wanted("webhook") {
        record("webhook", webhook(short).await);
    }
    if wanted("coldstart") {
        record("coldstart", coldstart(short).await);
    }
    if wanted("cost") {
        record("cost", cost(short).await);
    }
    if wanted("pii") {
        record("pii", evidence.search(&logs.text()));
    }
    println!("bench ({}): {} written to {}", if short { "short" } else { "full" }, results.join(", "), out.display());
}

fn bench_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("bench")
}

fn write(dir: &std::path::Path, name: &str, value: &Value) {
    let mut value = value.clone();
    value["measured_at"] = json!(Utc::now().to_rfc3339());
    std::fs::write(dir.join(format!("{name}.json")), serde_json::to_string_pretty(&value).unwrap() + "\n")
        .expect("bench file written");
}

/// The sender's settings with every package sent by call: the scenarios that measure the call path
/// (`feeds` measures the other one).
fn by_call_only(stack: &sellerbridge_cli::local::stack::LocalStack) -> SenderSettings {
    SenderSettings { feed_after: None, ..stack.sender_settings() }
}

fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { (part / whole * 1000.0).round() / 1000.0 } else { 0.0 }
}

/// Where buyer PII could leak besides the logs: everything the scenarios saw leave the handlers.
#[derive(Default)]
struct Evidence {
    canaries: BTreeSet<String>,
    outputs: Vec<String>,
}

impl Evidence {
    fn search(&self, logs: &str) -> Value {
        // One pass over everything for all canaries at once: a few megabytes against tens of thousands
        // of names would take minutes one canary at a time.
        let canaries: Vec<&String> = self.canaries.iter().collect();
        let matcher = aho_corasick::AhoCorasick::new(&canaries).expect("canaries form a matcher");
        let found: BTreeSet<usize> = std::iter::once(logs)
            .chain(self.outputs.iter().map(String::as_str))
            .flat_map(|text| matcher.find_overlapping_iter(text).map(|m| m.pattern().as_usize()).collect::<Vec<_>>())
            .collect();
        // The search itself is checked: a planted canary is found.
        let planted = canaries.first().is_none_or(|canary| matcher.is_match(&format!("log line with {canary} in it")));
        json!({
            "canaries": canaries.len(),
            "found": found.len(),
            "search_finds_a_planted_canary": planted,
            "searched": ["handler logs", "sync reports", "webhook answers", "queue message bodies", "dead-letter bodies"],
            "log_bytes": logs.len(),
        })
    }
}

// ---- import ----

/// A backfill read by four concurrent sync invocations under Amazon's searchOrders quota (sped up),
/// with orders changing at Amazon between runs and while a window is read, Amazon paging by offset
/// (the harder of the two ways it may page).
async fn import(short: bool, evidence: &mut Evidence) -> Value {
    // Short invocations, so the backfill spans several rounds and Amazon changes orders in between.
    let (orders, time_scale, page_size, invocation) =
        if short { (300, 200.0, 10u8, 3) } else { (5000, 200.0, 100u8, 5) };
    let clock = OffsetClock::default();
    let mut config = sandbox(orders, 101, time_scale);
    // Amazon's ORDER_CHANGE notifications go to the stack's notifications queue once subscribed.
    config.sqs_endpoint = std::env::var("SELLERBRIDGE_MOTO_ENDPOINT").ok();
    let h = Harness::start(config, Arc::new(clock.clone()), options_for(time_scale)).await;
    let seeded = h.inspector.orders().await.unwrap();
    evidence.canaries.extend(pii_canaries(&seeded));
    h.sandbox_post("/_sandbox/search", json!({"paging": "offset", "churnPerSearch": 2})).await;
    let invocations: Vec<_> = futures::future::join_all((0..4).map(|_| {
        h.stack.sync_deps(SyncSettings {
            page_size,
            deadline_margin: Duration::from_secs(1),
            ..SyncSettings::default()
        })
    }))
    .await
    .into_iter()
    .map(Result::unwrap)
    .collect();

    let started = Instant::now();
    let (mut inserted, mut read, mut touched) = (0u64, 0u64, 0usize);
    for round in 0.. {
        assert!(round < 200, "the backfill never finished");
        let reports = futures::future::join_all(
            invocations.iter().map(|deps| runner::tick_sync(deps, Duration::from_secs(invocation))),
        )
        .await;
        let mut done = false;
        for report in reports {
            let report = report.unwrap();
            evidence.outputs.push(serde_json::to_string(&report).unwrap());
            for connection in &report.connections {
                inserted += u64::from(connection.inserted);
                read += u64::from(connection.inserted + connection.updated + connection.unchanged + connection.skipped);
                done |= connection.outcome == SyncOutcome::UpToDate;
            }
        }
        if done {
            break;
        }
        // Amazon changes two orders between runs.
        for order in seeded.iter().skip(touched).take(2) {
            h.sandbox_post(&format!("/_sandbox/orders/{}/touch", order["orderId"].as_str().unwrap()), json!({})).await;
        }
        touched += 2;
    }
    let elapsed = started.elapsed();
    let backfill_calls = h.inspector.calls().await.unwrap();
    let search_calls_during_backfill =
        backfill_calls.iter().filter(|c| c.operation == "searchOrders" && c.status == 200).count();
    // Before the next run: moving both clocks refills our bucket at once, the sandbox's only in real time.
    let throttled_during_backfill = backfill_calls.iter().filter(|c| c.status == 429).count();

    // The changes made during the backfill settle into the next window: one more scheduled run.
    h.sandbox_post("/_sandbox/search", json!({"paging": "offset", "churnPerSearch": 0})).await;
    clock.advance(chrono::Duration::minutes(10));
    h.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": 600})).await;
    runner::tick_sync(&invocations[0], Duration::from_secs(60)).await.unwrap();
    let current = h.inspector.orders().await.unwrap();
    let store = &h.stack.adapters.store;
    let mut changes_picked_up = 0;
    for order in current.iter().filter(|o| seeded.iter().take(touched).any(|s| s["orderId"] == o["orderId"])) {
        let id = sellerbridge_core::domain::ids::AmazonOrderId::parse(order["orderId"].as_str().unwrap()).unwrap();
        let amazon_time = order["lastUpdatedTime"].as_str().and_then(|t| t.parse::<chrono::DateTime<Utc>>().ok());
        let stored = store.get_order(&id).await.unwrap();
        if stored.is_none_or(|stored| Some(stored.value.amazon.updated_at) == amazon_time) {
            changes_picked_up += 1;
        }
    }

    let expected = sellerbridge_e2e::actionable(&current);
    let imported: BTreeSet<String> =
        h.stack.adapters.store.scan_orders().await.unwrap().iter().map(|o| o.id().to_string()).collect();
    let calls = h.inspector.calls().await.unwrap();
    // Measured after the polling path's calls are counted.
    let order_change_path = order_change_path(&h, if short { 20 } else { 200 }, evidence).await;
    let spapi_calls = calls.iter().filter(|c| c.operation == "searchOrders" || c.operation == "getOrder").count();
    let pages = search_calls_during_backfill as f64;

    // The quota in Amazon time: the burst plus the refill over the run, each token one page.
    let quota = Operation::SearchOrders.default_quota();
    let amazon_seconds = elapsed.as_secs_f64() * time_scale;
    let pages_available = quota.burst + quota.rate_per_second * amazon_seconds;
    let amazon_hours = amazon_seconds / 3600.0;
    json!({
        "orders_expected": expected.len(),
        "orders_imported": imported.len(),
        "missing": expected.difference(&imported).count(),
        // Orders inserted more than once: 0 unless the keyed, conditional insert is broken.
        "duplicates": inserted.saturating_sub(imported.len() as u64),
        "spapi_calls": spapi_calls,
        "calls_per_order": ratio(spapi_calls as f64, imported.len() as f64),
        "http_429": throttled_during_backfill,
        // Over this run, the burst included; Amazon's sustained rate alone allows the second figure.
        "quota_ceiling_orders_per_hour": (pages_available * f64::from(page_size) / amazon_hours).round(),
        "sustained_ceiling_orders_per_hour": (quota.rate_per_second * 3600.0 * f64::from(page_size)).round(),
        "achieved_orders_per_hour": (read as f64 / amazon_hours).round(),
        "quota_efficiency": ratio(pages, pages_available),
        "concurrent_invocations": invocations.len(),
        "orders_changed_during_run": touched + 2 * search_calls_during_backfill,
        "paging": "offset",
        // Changed orders whose newest copy from Amazon is stored after the next scheduled run (a
        // changed order not holding anything is one the sync does not keep).
        "changes_picked_up": changes_picked_up,
        "time_scale": time_scale,
        "page_size": page_size,
        "elapsed_s": elapsed.as_secs_f64(),
        "order_change_path": order_change_path,
    })
}

/// The near-real-time path after the backfill: the connection subscribed to ORDER_CHANGE, `changes`
/// orders cancelled at Amazon (each notified three times, as Amazon may deliver one more than once),
/// the notifications consumer draining the queue; SP-API calls per order it brought in.
async fn order_change_path(h: &Harness, changes: usize, evidence: &mut Evidence) -> Value {
    let sqs = &h.stack.clients.sqs;
    let queue = h.stack.queue_url("NotificationsQueue").unwrap();
    let arn = h.stack.queue_arn("NotificationsQueue").await.unwrap();
    let spapi = h.stack.adapters.spapi_client(&h.stack.settings);
    sellerbridge_cli::ops::subscribe_order_changes(&h.stack.adapters, &spapi, &h.connection.id, &arn).await.unwrap();
    let store = &h.stack.adapters.store;
    let held: Vec<String> = store.scan_orders().await.unwrap().iter().map(|o| o.id().to_string()).collect();
    let calls_before = h.inspector.calls().await.unwrap().len();
    for order_id in held.iter().take(changes) {
        for _ in 0..3 {
            h.sandbox_post(&format!("/_sandbox/orders/{order_id}/touch"), json!({"fulfillmentStatus": "CANCELLED"}))
                .await;
        }
    }
    let deps = h.stack.notification_deps().await.unwrap();
    let poller = runner::SqsPoller::new(sqs.clone(), &queue);
    let started = Instant::now();
    let mut notifications = 0;
    loop {
        let stats = poller.poll_notifications(&deps, Duration::from_secs(30)).await.unwrap();
        if stats.received == 0 {
            break;
        }
        notifications += stats.received;
    }
    let elapsed = started.elapsed();
    let calls: Vec<_> = h.inspector.calls().await.unwrap().into_iter().skip(calls_before).collect();
    let get_order = calls.iter().filter(|c| c.operation == "getOrder").count();
    let mut brought_in = 0;
    for order_id in held.iter().take(changes) {
        let id = sellerbridge_core::domain::ids::AmazonOrderId::parse(order_id.as_str()).unwrap();
        let order = store.get_order(&id).await.unwrap().unwrap();
        brought_in += usize::from(order.value.status == sellerbridge_core::domain::status::OrderStatus::Cancelled);
    }
    evidence.outputs.push(format!("{notifications} notifications"));
    json!({
        "orders_changed": changes,
        "notifications_delivered": notifications,
        "changes_brought_in": brought_in,
        "get_order_calls": get_order,
        "search_orders_calls": calls.iter().filter(|c| c.operation == "searchOrders").count(),
        "calls_per_order": ratio(get_order as f64, brought_in as f64),
        "drain_s": elapsed.as_secs_f64(),
    })
}

// ---- confirm ----

/// Every webhook delivered three times, four concurrent consumers, Amazon's confirmShipment quota
/// (sped up); then the price of the shared bucket against no limiter, side by side.
async fn confirm(short: bool, evidence: &mut Evidence) -> Value {
    let (orders, confirm_scale) = if short { (100, 20.0) } else { (2200, 3.0) };
    let confirm_quota = Operation::ConfirmShipment.default_quota().scaled(confirm_scale);
    let h = stack_with_confirm_quota(orders, confirm_quota).await;
    evidence.canaries.extend(pii_canaries(&h.inspector.orders().await.unwrap()));

    let (queue, webhook) = recording_webhook(&h.stack);
    let (accepted, answers) = post_every_package(&h, &webhook, 3).await;
    evidence.outputs.extend(answers.iter().map(Value::to_string));

    let sender = h.stack.sender_deps(by_call_only(&h.stack), None).await.unwrap();
    let consumers = 4;
    let started = Instant::now();
    demo::drain_updates(
        &sender,
        &h.stack.updates_poller(),
        consumers,
        Duration::from_secs(1800),
        &Quiet,
        demo::sandbox_progress(&h.inspector),
    )
    .await
    .unwrap();
    let elapsed = started.elapsed();
    evidence.outputs.extend(queue.bodies());
    let dlq = h.stack.queues.updates_dlq_url.clone();
    let dead: Vec<String> = h
        .stack
        .clients
        .sqs
        .receive_message()
        .queue_url(&dlq)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.body)
        .collect();
    evidence.outputs.extend(dead);

    let stats = h.inspector.stats().await.unwrap();
    // Per package as the store holds it: whatever is neither confirmed nor visibly ended is lost.
    let Settled { sends, confirmed: store_confirmed, ended } = settled(&h).await;
    let confirmed = sends.len();
    let tokens_available = confirm_quota.burst + confirm_quota.rate_per_second * elapsed.as_secs_f64();
    let (bucket, unlimited) = bucket_against_no_limiter(short).await;
    let at_amazon_rate = if short { None } else { Some(efficiency_at_amazon_rate(evidence).await) };
    json!({
        "packages": accepted,
        "confirmed": confirmed,
        "sent_twice": sends.values().filter(|n| **n > 1).count(),
        "lost": accepted.saturating_sub(store_confirmed + ended),
        "confirmed_in_store": store_confirmed,
        "failed_or_dead_lettered": ended,
        "webhook_deliveries_per_package": 3,
        "http_429": stats.throttled,
        "quota_efficiency": ratio(confirmed as f64, tokens_available),
        "quota_efficiency_at_amazon_rate": at_amazon_rate,
        "consumers": consumers,
        "feeds_created": 0,
        "confirmations_per_second_bucket": bucket,
        "confirmations_per_second_unlimited": unlimited,
        "bucket_vs_unlimited_throughput_ratio": ratio(bucket, unlimited),
        "confirm_quota_per_second": confirm_quota.rate_per_second,
        "elapsed_s": elapsed.as_secs_f64(),
    })
}

/// What became of a scenario's packages: how often Amazon took each (by order and reference), and how
/// many the table holds as confirmed, and as failed or dead-lettered.
struct Settled {
    sends: BTreeMap<(String, String), usize>,
    confirmed: usize,
    ended: usize,
}

async fn settled(h: &Harness) -> Settled {
    let mut sends: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (order, reference, _) in h.inspector.confirmed_packages().await.unwrap() {
        *sends.entry((order, reference)).or_default() += 1;
    }
    let packages = h.stack.adapters.store.scan_packages().await.unwrap();
    let confirmed = packages.iter().filter(|p| matches!(p.state, PackageState::Confirmed { .. })).count();
    let ended = packages
        .iter()
        .filter(|p| matches!(p.state, PackageState::Failed { .. } | PackageState::DeadLettered { .. }))
        .count();
    Settled { sends, confirmed, ended }
}

/// The same drain at Amazon's own confirmShipment rate (2/s, burst 10), smaller: the share of the
/// quota four consumers use, with the 429s it drew.
async fn efficiency_at_amazon_rate(evidence: &mut Evidence) -> Value {
    let quota = Operation::ConfirmShipment.default_quota();
    let h = stack_with_confirm_quota(150, quota).await;
    let sent = demo::send_shipments(&h.stack.webhook_deps(), &h.stack.signing_key, &h.stack.adapters.store, &Quiet)
        .await
        .unwrap();
    let sender = h.stack.sender_deps(by_call_only(&h.stack), None).await.unwrap();
    let started = Instant::now();
    demo::drain_updates(
        &sender,
        &h.stack.updates_poller(),
        4,
        Duration::from_secs(1800),
        &Quiet,
        demo::sandbox_progress(&h.inspector),
    )
    .await
    .unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    let stats = h.inspector.stats().await.unwrap();
    evidence.outputs.push(format!("{stats:?}"));
    json!({
        "packages": sent.len(),
        "confirmed": stats.confirmed_packages,
        "http_429": stats.throttled,
        "elapsed_s": elapsed,
        "quota_efficiency": ratio(stats.confirmed_packages as f64, quota.burst + quota.rate_per_second * elapsed),
    })
}

/// A synced sandbox whose only binding quota is confirmShipment's (`confirm_quota`), with the
/// connection told the same.
async fn stack_with_confirm_quota(orders: usize, confirm_quota: Quota) -> Harness {
    stack_with_confirm_quota_on(orders, confirm_quota, OffsetClock::default(), None).await
}

/// [`stack_with_confirm_quota`] on a clock the scenario moves.
async fn stack_with_confirm_quota_on(
    orders: usize,
    confirm_quota: Quota,
    clock: OffsetClock,
    dynamodb: Option<&str>,
) -> Harness {
    let fast = Quota::new(1000.0, 1000.0);
    let mut config = sandbox(orders, 103, 1.0);
    for (op, quota) in [
        (spapi_sandbox::Operation::SearchOrders, fast),
        (spapi_sandbox::Operation::GetOrder, fast),
        (spapi_sandbox::Operation::ConfirmShipment, confirm_quota),
    ] {
        config.rate_overrides.insert(op, (quota.rate_per_second, quota.burst));
    }
    let mut options = options_for(1.0);
    options.quota_overrides = BTreeMap::from([
        ("searchOrders".to_owned(), fast),
        ("getOrder".to_owned(), fast),
        ("confirmShipment".to_owned(), confirm_quota),
    ]);
    let h = Harness::start_with_dynamodb(config, Arc::new(clock), options, dynamodb).await;
    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    demo::sync_until_current(&sync, 3, &Quiet).await.unwrap();
    h
}

/// Confirmations per second through the shared DynamoDB bucket and with no limiter at all, against
/// an Amazon whose quota never limits either: the price of the bucket itself. Interleaved, twice each.
async fn bucket_against_no_limiter(short: bool) -> (f64, f64) {
    let orders = if short { 40 } else { 200 };
    let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..2 {
        for (slot, limiter) in [None, Some(Arc::new(Unlimited) as Arc<dyn RateLimiter>)].into_iter().enumerate() {
            let h = stack_with_confirm_quota(orders, Quota::new(10_000.0, 10_000.0)).await;
            let sent =
                demo::send_shipments(&h.stack.webhook_deps(), &h.stack.signing_key, &h.stack.adapters.store, &Quiet)
                    .await
                    .unwrap();
            let sender = h.stack.sender_deps(by_call_only(&h.stack), limiter).await.unwrap();
            let started = Instant::now();
            demo::drain_updates(
                &sender,
                &h.stack.updates_poller(),
                2,
                Duration::from_secs(600),
                &Quiet,
                demo::sandbox_progress(&h.inspector),
            )
            .await
            .unwrap();
            rates[slot].push(sent.len() as f64 / started.elapsed().as_secs_f64());
        }
    }
    let mean = |rates: &[f64]| (rates.iter().sum::<f64>() / rates.len() as f64 * 10.0).round() / 10.0;
    (mean(&rates[0]), mean(&rates[1]))
}

// ---- feeds ----

/// A backlog far beyond what confirmShipment drains in minutes, at Amazon's own rate (2/s, burst 10):
/// one package per webhook (10,000 in the full run), all arrived more than three minutes ago. Four
/// consumers send what their tokens allow and move the rest to the feed backlog; one sync run packs
/// and sends the feeds, and once Amazon has processed them the next settles every package from the
/// processing reports. Counts createFeed calls against the confirmShipment calls the backlog would
/// have cost, and checks that each package reached Amazon once.
async fn feeds(short: bool) -> Value {
    let orders = if short { 330 } else { 11_000 };
    let clock = OffsetClock::default();
    let confirm_quota = Operation::ConfirmShipment.default_quota();
    let h = stack_with_confirm_quota_on(orders, confirm_quota, clock.clone(), None).await;
    let (queue, webhook) = sellerbridge_e2e::recording_only_webhook(&h.stack);
    let (accepted, _) = post_every_package(&h, &webhook, 1).await;
    clock.advance(chrono::Duration::minutes(4));

    let sender = h.stack.sender_deps(h.stack.sender_settings(), None).await.unwrap();
    let started = Instant::now();
    let bodies = queue.bodies();
    let failed: usize = futures::stream::iter(bodies.chunks(10))
        .map(|batch| runner::invoke_sender(&sender, batch, Duration::from_secs(60)))
        .buffer_unordered(4)
        .map(Result::unwrap)
        .collect::<Vec<usize>>()
        .await
        .into_iter()
        .sum();
    // Whatever the sender put back on the queue (none is expected) is drained the usual way.
    demo::drain_updates(&sender, &h.stack.updates_poller(), 4, Duration::from_secs(600), &Quiet, || {
        Box::pin(async { String::new() })
    })
    .await
    .unwrap();
    let diverting_s = started.elapsed().as_secs_f64();

    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    let started = Instant::now();
    let packed = runner::tick_sync(&sync, Duration::from_secs(900)).await.unwrap().connections.remove(0).feeds;
    let packing_s = started.elapsed().as_secs_f64();
    h.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": 3600})).await;
    let started = Instant::now();
    let mut settled = order_sync::FeedActivity::default();
    for _ in 0..5 {
        let run = runner::tick_sync(&sync, Duration::from_secs(900)).await.unwrap().connections.remove(0).feeds;
        settled.confirmed += run.confirmed;
        settled.failed += run.failed;
        settled.open = run.open;
        if run.open == 0 {
            break;
        }
    }
    let settling_s = started.elapsed().as_secs_f64();

    let calls = h.inspector.calls().await.unwrap();
    let count =
        |operation: &str, status: u16| calls.iter().filter(|c| c.operation == operation && c.status == status).count();
    let mut held: BTreeMap<(String, String), usize> = BTreeMap::new();
    for order in h.inspector.orders().await.unwrap() {
        for package in order["packages"].as_array().into_iter().flatten() {
            let reference = package["packageReferenceId"].as_str().unwrap_or_default().to_owned();
            *held.entry((order["orderId"].as_str().unwrap_or_default().to_owned(), reference)).or_default() += 1;
        }
    }
    let packages = h.stack.adapters.store.scan_packages().await.unwrap();
    // Ours only: the seeded orders hold packages shipped before.
    let copies: Vec<usize> = packages
        .iter()
        .map(|p| held.get(&(p.order_id.to_string(), p.reference.to_string())).copied().unwrap_or(0))
        .collect();
    let confirmed_in_store = packages.iter().filter(|p| matches!(p.state, PackageState::Confirmed { .. })).count();
    let ended = packages
        .iter()
        .filter(|p| matches!(p.state, PackageState::Failed { .. } | PackageState::DeadLettered { .. }))
        .count();
    let by_call = count("confirmShipment", 204);
    let feeds_created = count("createFeed", 202);
    json!({
        "packages": accepted,
        "sender_failures": failed,
        "confirmed_by_call": by_call,
        "packed_into_feeds": packed.packed,
        "feeds_created": feeds_created,
        "packages_per_feed": ratio(packed.packed as f64, feeds_created as f64),
        "confirmed_by_feed": settled.confirmed,
        "failed_by_feed": settled.failed,
        "feeds_still_open": settled.open,
        "confirmed_in_store": confirmed_in_store,
        "failed_or_dead_lettered": ended,
        "lost": accepted.saturating_sub(confirmed_in_store + ended),
        "sent_twice": copies.iter().filter(|n| **n > 1).count(),
        "confirmed_but_not_at_amazon": packages
            .iter()
            .zip(&copies)
            .filter(|(p, n)| matches!(p.state, PackageState::Confirmed { .. }) && **n == 0)
            .count(),
        "http_429": h.inspector.stats().await.unwrap().throttled,
        // What the same backlog costs by call at Amazon's rate, against the feeds' quota.
        "confirm_shipment_calls_saved": packed.packed,
        "by_call_drain_at_amazon_rate_s": (accepted as f64 - confirm_quota.burst).max(0.0) / confirm_quota.rate_per_second,
        "create_feed_burst_used": ratio(feeds_created as f64, Operation::CreateFeed.default_quota().burst),
        "diverting_s": diverting_s,
        "packing_and_sending_s": packing_s,
        "settling_s": settling_s,
    })
}

// ---- faults ----

/// The import and confirm scenarios again against an unreliable Amazon and unreliable invocations.
/// Not covered yet: DynamoDB Local restarted mid-run.
async fn faults(short: bool, evidence: &mut Evidence) -> Value {
    let import = import_under_faults(short, evidence).await;
    let confirm = confirm_under_faults(short, evidence).await;
    let restart = confirm_across_a_dynamodb_restart(short).await;
    let count = |value: &Value, field: &str| value[field].as_u64().unwrap_or(0);
    json!({
        "missing": import["missing"], "duplicates": import["duplicates"],
        "sent_twice": count(&confirm, "sent_twice") + count(&restart, "sent_twice"),
        "lost": count(&confirm, "lost") + count(&restart, "lost"),
        "panics": count(&import, "panics") + count(&confirm, "panics") + count(&restart, "panics"),
        "import": import, "confirm": confirm, "dynamodb_restart": restart,
    })
}

/// Packages confirmed by four consumers while DynamoDB goes away for a few seconds and comes back with
/// its data (a DynamoDB Local of the scenario's own, killed and started again on its files, a third of
/// the way through the drain): failed writes are retried through the queue, nothing is sent twice or lost.
async fn confirm_across_a_dynamodb_restart(short: bool) -> Value {
    let orders = if short { 60 } else { 400 };
    let mut dynamodb = sellerbridge_e2e::OwnDynamoDb::start().await;
    let quota = Operation::ConfirmShipment.default_quota().scaled(20.0);
    let h = stack_with_confirm_quota_on(orders, quota, OffsetClock::default(), Some(&dynamodb.endpoint)).await;
    let sent = demo::send_shipments(&h.stack.webhook_deps(), &h.stack.signing_key, &h.stack.adapters.store, &Quiet)
        .await
        .unwrap();
    let settings = SenderSettings { transient_backoff: Duration::from_millis(500), ..by_call_only(&h.stack) };
    let sender = Arc::new(h.stack.sender_deps(settings, None).await.unwrap());
    let mut poller = h.stack.updates_poller();
    poller.visibility_timeout = Duration::from_secs(3);
    let poller = Arc::new(poller);
    let outage = Duration::from_secs(3);
    let (mut panics, mut restarted) = (0, false);
    // Messages a consumer handed back to the queue: what the outage cost.
    let retried = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(900) {
        if poller.depth().await.unwrap().is_empty() {
            break;
        }
        let consumers = (0..4).map(|_| {
            let (sender, poller, retried) = (sender.clone(), poller.clone(), retried.clone());
            invocation(
                async move {
                    let polled = poller.poll_once(&sender, Duration::from_secs(60)).await.unwrap();
                    retried.fetch_add(polled.failed as u64, Ordering::Relaxed);
                },
                None,
            )
        });
        let confirmed = h.inspector.stats().await.unwrap().confirmed_packages;
        if !restarted && confirmed as usize * 3 >= sent.len() {
            restarted = true;
            // The consumers run on while DynamoDB is down and while it starts again.
            let (polled, ()) = tokio::join!(futures::future::join_all(consumers), dynamodb.restart_after(outage));
            panics += polled.into_iter().filter(|panicked| *panicked).count();
        } else {
            panics += futures::future::join_all(consumers).await.into_iter().filter(|panicked| *panicked).count();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let Settled { sends, confirmed, ended } = settled(&h).await;
    json!({
        "packages": sent.len(),
        "dynamodb_restarted": restarted,
        "outage_s": outage.as_secs(),
        "messages_retried": retried.load(Ordering::Relaxed),
        "confirmed_at_amazon": sends.len(),
        "sent_twice": sends.values().filter(|n| **n > 1).count(),
        "confirmed_in_store": confirmed,
        "failed_or_dead_lettered": ended,
        "lost": sent.len().saturating_sub(confirmed + ended),
        "panics": panics,
        "elapsed_s": started.elapsed().as_secs_f64(),
    })
}

/// Runs `work` as its own task, as a Lambda invocation would run: `Some(kill_after)` aborts it then
/// (killed mid-page or mid-send). Returns whether it panicked.
async fn invocation(
    work: impl std::future::Future<Output = ()> + Send + 'static,
    kill_after: Option<Duration>,
) -> bool {
    let task = tokio::spawn(work);
    let abort = task.abort_handle();
    let joined = match kill_after {
        Some(limit) => match tokio::time::timeout(limit, task).await {
            Ok(joined) => joined,
            Err(_) => {
                abort.abort();
                return false;
            }
        },
        None => task.await,
    };
    joined.is_err_and(|e| e.is_panic())
}

/// A backfill with one searchOrders in seven answered 429 (another app spending the seller's quota), one
/// getOrder in ten 503, every pagination token expired between scheduled runs (15 minutes apart), orders
/// changing throughout, and one sync invocation in three killed after a random few hundred milliseconds.
async fn import_under_faults(short: bool, evidence: &mut Evidence) -> Value {
    let (orders, time_scale) = if short { (200, 200.0) } else { (2000, 200.0) };
    let clock = OffsetClock::default();
    let h = Harness::start(sandbox(orders, 107, time_scale), Arc::new(clock.clone()), options_for(time_scale)).await;
    h.sandbox_post("/_sandbox/search", json!({"paging": "offset", "churnPerSearch": 1})).await;
    let forever = 1_000_000;
    h.sandbox_post(
        "/_sandbox/faults",
        json!({"operation": "searchOrders", "status": 429, "every": 7, "count": forever}),
    )
    .await;
    h.sandbox_post("/_sandbox/faults", json!({"operation": "getOrder", "status": 503, "every": 10, "count": forever}))
        .await;
    let settings = SyncSettings { page_size: 20, deadline_margin: Duration::from_secs(1), ..SyncSettings::default() };
    let deps = Arc::new(h.stack.sync_deps(settings).await.unwrap());
    let (inserted, reports) = (Arc::new(AtomicU64::new(0)), Arc::new(Mutex::new(Vec::new())));
    let (mut panics, mut killed) = (0, 0);
    let started = Instant::now();
    for round in 0..400 {
        let kill = (round % 3 == 2).then(|| Duration::from_millis(rand::random_range(50..600)));
        killed += usize::from(kill.is_some());
        let (deps, inserted, kept) = (deps.clone(), inserted.clone(), reports.clone());
        let work = async move {
            let report = runner::tick_sync(&deps, Duration::from_secs(4)).await.unwrap();
            let new: u32 = report.connections.iter().map(|c| c.inserted).sum();
            inserted.fetch_add(u64::from(new), Ordering::Relaxed);
            kept.lock().unwrap().push(report);
        };
        panics += usize::from(invocation(work, kill).await);
        h.sandbox_post("/_sandbox/pagination-tokens/expire", json!({})).await;
        // The next scheduled run, 15 minutes on: a killed invocation's lease has run out by then.
        clock.advance(chrono::Duration::minutes(15));
        h.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": 900})).await;
        let done = reports.lock().unwrap().last().is_some_and(|report: &order_sync::SyncReport| {
            report.connections.iter().all(|c| c.outcome == SyncOutcome::UpToDate)
        });
        if done {
            break;
        }
    }
    evidence.outputs.extend(reports.lock().unwrap().iter().map(|r| serde_json::to_string(r).unwrap()));
    let current = h.inspector.orders().await.unwrap();
    let expected = sellerbridge_e2e::actionable(&current);
    let imported: BTreeSet<String> =
        h.stack.adapters.store.scan_orders().await.unwrap().iter().map(|o| o.id().to_string()).collect();
    let stats = h.inspector.stats().await.unwrap();
    json!({
        "orders_expected": expected.len(),
        "missing": expected.difference(&imported).count(),
        "duplicates": inserted.load(Ordering::Relaxed).saturating_sub(imported.len() as u64),
        "http_429": stats.throttled,
        "invocations": reports.lock().unwrap().len() + killed,
        "invocations_killed": killed,
        "panics": panics,
        "elapsed_s": started.elapsed().as_secs_f64(),
    })
}

/// Packages confirmed with one confirmShipment in five answered 429 for a while (another app spending
/// the quota), then one in ten 503; every queue message delivered twice; one sender invocation in four
/// killed mid-send (its messages come back after a short visibility timeout, its claims after a shorter
/// lease, so a package Amazon took before the kill is reconciled, not sent again).
async fn confirm_under_faults(short: bool, evidence: &mut Evidence) -> Value {
    let orders = if short { 60 } else { 600 };
    let h = stack_with_confirm_quota(orders, Operation::ConfirmShipment.default_quota().scaled(20.0)).await;
    let (queue, webhook) = recording_webhook(&h.stack);
    let sent = demo::send_shipments(&webhook, &h.stack.signing_key, &h.stack.adapters.store, &Quiet).await.unwrap();
    for body in queue.bodies() {
        let message: sellerbridge_core::queue::UpdateMessage = serde_json::from_str(&body).unwrap();
        sellerbridge_core::queue::UpdateQueue::send(&h.stack.adapters.queue, &message, Duration::ZERO).await.unwrap();
    }
    h.sandbox_post("/_sandbox/faults", json!({"operation": "confirmShipment", "status": 429, "every": 5, "count": 40}))
        .await;
    h.sandbox_post(
        "/_sandbox/faults",
        json!({"operation": "confirmShipment", "status": 503, "every": 10, "count": 1_000_000}),
    )
    .await;
    let settings = SenderSettings {
        transient_backoff: Duration::from_millis(500),
        claim_lease: chrono::Duration::seconds(2),
        ..by_call_only(&h.stack)
    };
    let sender = Arc::new(h.stack.sender_deps(settings, None).await.unwrap());
    let mut poller = h.stack.updates_poller();
    poller.visibility_timeout = Duration::from_secs(3);
    let poller = Arc::new(poller);
    let (mut panics, mut killed, mut polls) = (0, 0, 0);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(900) {
        if poller.depth().await.unwrap().is_empty() {
            break;
        }
        let rounds = (0..4).map(|_| {
            polls += 1;
            let kill = (polls % 4 == 0).then(|| Duration::from_millis(rand::random_range(20..300)));
            killed += usize::from(kill.is_some());
            let (sender, poller) = (sender.clone(), poller.clone());
            invocation(
                async move {
                    poller.poll_once(&sender, Duration::from_secs(60)).await.unwrap();
                },
                kill,
            )
        });
        panics += futures::future::join_all(rounds).await.into_iter().filter(|panicked| *panicked).count();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    evidence.outputs.extend(queue.bodies());
    let Settled { sends, confirmed, ended } = settled(&h).await;
    let stats = h.inspector.stats().await.unwrap();
    json!({
        "packages": sent.len(),
        "confirmed_at_amazon": sends.len(),
        "sent_twice": sends.values().filter(|n| **n > 1).count(),
        "confirmed_in_store": confirmed,
        "failed_or_dead_lettered": ended,
        "lost": sent.len().saturating_sub(confirmed + ended),
        "http_429": stats.throttled,
        "queue_deliveries_per_message": 2,
        "invocations": polls,
        "invocations_killed": killed,
        "panics": panics,
        "elapsed_s": started.elapsed().as_secs_f64(),
    })
}

// ---- redaction ----

/// A backlog written straight into the table, half of it due, redacted by as many runs as it takes.
async fn redaction(short: bool) -> Value {
    let orders = if short { 300 } else { 10_000 };
    let clock = Arc::new(OffsetClock::default());
    let h = Harness::start(sandbox(1, 107, 600.0), clock.clone(), options_for(600.0)).await;
    let store = &h.stack.adapters.store;
    let now = Utc::now();
    let ids: Vec<_> = (0..orders).map(sellerbridge_e2e::numbered_order_id).collect();
    // Every other order imported 20 days ago (past its 14 days), the rest yesterday.
    let imported_at = |n: usize| now - chrono::Duration::days(if n.is_multiple_of(2) { 20 } else { 1 });
    for chunk in (0..orders).collect::<Vec<_>>().chunks(50) {
        futures::future::try_join_all(chunk.iter().map(|&n| {
            let order = sellerbridge_e2e::unshipped_order(&ids[n], imported_at(n));
            async move { store.save_order(&order, 0).await }
        }))
        .await
        .expect("orders stored");
    }
    let due = (0..orders).filter(|n| n.is_multiple_of(2)).count();

    let (counted, usage) = metering::metered(store);
    let deps = pii_redactor::RedactorDeps { store: counted, clock: clock.clone() };
    let started = Instant::now();
    let mut runs = 0;
    loop {
        runs += 1;
        let report = runner::tick_redaction(&deps, Duration::from_secs(60), false).await.unwrap();
        if report.complete || runs > 50 {
            break;
        }
    }
    let elapsed = started.elapsed();

    let stored = store.scan_orders().await.unwrap();
    let redacted = stored.iter().filter(|o| o.local.redaction.is_redacted()).count();
    let redacted_early = stored
        .iter()
        .filter(|o| o.local.redaction.is_redacted() && o.local.imported_at > now - chrono::Duration::days(14))
        .count();
    let still_due = stored.iter().filter(|o| redaction_due(o).is_some_and(|at| at <= Utc::now())).count();
    let reads = usage.requests("Query") + usage.requests("GetItem");
    json!({
        "orders": orders,
        "due": due,
        "redacted": redacted,
        "redacted_early": redacted_early,
        "left_due": still_due,
        "scans": usage.requests("Scan"),
        "queries": usage.requests("Query"),
        "reads_per_redacted": ratio(reads as f64, redacted as f64),
        "runs": runs,
        "redacted_per_second": (redacted as f64 / elapsed.as_secs_f64()).round(),
    })
}

// ---- webhook ----

/// The webhook's own work per event, no I/O: signature check, parsing, and the shipment rules against
/// the order. Two in ten events are refused: one with a bad signature, one truncated.
async fn webhook(short: bool) -> Value {
    let events = if short { 2_000 } else { 100_000 };
    let key = sellerbridge_core::webhook::signature::SigningKey::new("whsec_bench_secret");
    let now = Utc::now();
    let order = sellerbridge_e2e::unshipped_order(&sellerbridge_e2e::numbered_order_id(1), now);
    let carriers = CarrierRules::default();
    let mut times = Vec::with_capacity(events);
    let (mut accepted, mut rejected) = (0u64, 0u64);
    for n in 0..events {
        let body = json!({"id": format!("evt-{n}"), "type": "shipment.created", "created_at": now.to_rfc3339(),
            "data": {"order_id": order.id(), "package_id": format!("PKG-{n}"), "carrier": "United Parcel Service",
                "shipping_method": "Ground", "tracking_number": format!("1Z999AA1{n:010}"), "ship_date": now.to_rfc3339(),
                "items": [{"sku": "SKU-A", "quantity": 1}]}})
        .to_string()
        .into_bytes();
        let mut body = body;
        if n % 10 == 7 {
            // Signed as sent, so the parser, not the signature, refuses it.
            body.truncate(body.len() / 2);
        }
        let mut signature = key.sign(now, &body);
        if n % 10 == 3 {
            signature = signature.replace("v1=", "v1=00");
        }
        let started = Instant::now();
        let outcome = key
            .verify(Some(&signature), &body, now)
            .ok()
            .and_then(|()| parse_shipment_created(&body).ok())
            .and_then(|event| plan_package(&order, &event.shipment, &carriers, now).ok());
        times.push(started.elapsed());
        if outcome.is_some() { accepted += 1 } else { rejected += 1 }
    }
    times.sort();
    let micros = |d: Duration| (d.as_secs_f64() * 1e6 * 10.0).round() / 10.0;
    json!({
        "events": events,
        "cpu_us_per_event_median": micros(times[times.len() / 2]),
        "p99_us": micros(times[times.len() * 99 / 100]),
        "accepted": accepted,
        "rejected": rejected,
        "http_load": http_load(short).await,
    })
}

/// Each function's cold start beside a hello-world function's: release builds in the full run, debug
/// ones in the short run (so the harness cannot rot without a quarter-hour build).
async fn coldstart(short: bool) -> Value {
    let h = Harness::start(sandbox(5, 109, 600.0), Arc::new(OffsetClock::default()), options_for(600.0)).await;
    // Switched off, the connection is read and skipped: the scheduled sync's first response is its
    // read of the table, not a sync at Amazon.
    let off = sellerbridge_core::domain::connection::OptionsChange { enabled: Some(false), ..Default::default() };
    sellerbridge_cli::ops::change_connection(&h.stack.adapters.store, &h.connection.id, &off, Utc::now())
        .await
        .expect("connection switched off");
    let profile = if short { Profile::Debug } else { Profile::Release };
    sellerbridge_e2e::coldstart::measure(&h, profile, if short { 2 } else { 7 }).await
}

/// autocannon against the webhook handler behind a local HTTP server (`http_front`), with DynamoDB
/// Local behind it and the queue left out (it only records): requests per second and latency of
/// signed, accepted shipments, each a new package of one of 50 orders.
async fn http_load(short: bool) -> Value {
    let (seconds, connections) = if short { (3, 8) } else { (20, 16) };
    let h = Harness::start(sandbox(1, 113, 600.0), Arc::new(OffsetClock::default()), options_for(600.0)).await;
    let store = &h.stack.adapters.store;
    let mut orders = Vec::new();
    for n in 0..50 {
        let id = sellerbridge_e2e::numbered_order_id(n);
        let mut order = sellerbridge_e2e::unshipped_order(&id, Utc::now());
        order.connection_id = h.connection.id.clone();
        order.amazon.items[0].quantity_ordered = 1_000_000;
        store.save_order(&order, 0).await.expect("order stored");
        orders.push(json!({"order_id": id, "sku": "SKU-A"}));
    }
    let work = bench_dir().join("http-load");
    std::fs::create_dir_all(&work).expect("a working folder");
    let key = h.stack.adapters.secrets.string(&h.stack.settings.webhook_secret_id).await.expect("the signing key");
    std::fs::write(work.join("key"), key).expect("key file");
    std::fs::write(work.join("orders.json"), Value::from(orders).to_string()).expect("orders file");
    let (_, deps) = sellerbridge_e2e::recording_only_webhook(&h.stack);
    let (url, server) = sellerbridge_e2e::http_front::serve_webhook(deps).await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra/local/webhook-load.mjs");
    let output = tokio::process::Command::new("node")
        .arg(&script)
        .arg(format!("{url}/webhooks/shipments"))
        .arg(work.join("key"))
        .arg(work.join("orders.json"))
        .arg(seconds.to_string())
        .arg(connections.to_string())
        .output()
        .await;
    server.abort();
    let output = match output {
        Ok(output) if output.status.success() => output,
        Ok(output) => panic!("the webhook load failed: {}", String::from_utf8_lossy(&output.stderr)),
        Err(e) => panic!("node could not run the webhook load: {e}"),
    };
    let mut result: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| json!({"error": "no figures"}));
    // Short or full, a load that was refused or never ran is a broken harness, not a figure.
    assert!(
        result["status_2xx"].as_u64().is_some_and(|n| n > 0) && result["non_2xx"] == 0,
        "the webhook load did not run as meant: {result}"
    );
    // What the table holds: every request answered 202, and those still in flight when the run ended
    // (stored, not counted by the tool).
    let mut packages = 0;
    for n in 0..50 {
        packages += store.list_packages(&sellerbridge_e2e::numbered_order_id(n)).await.map_or(0, |p| p.len());
    }
    result["packages_stored"] = json!(packages);
    result["tool"] = json!("autocannon 8.0.0");
    result["connections"] = json!(connections);
    result["seconds"] = json!(seconds);
    result
}

// ---- cost ----

#[derive(Debug, Clone)]
struct MeterSqs(Arc<Usage>);

impl aws_sdk_sqs::config::Intercept for MeterSqs {
    fn name(&self) -> &'static str {
        "MeterSqs"
    }

    fn read_before_execution(
        &self,
        _context: &aws_sdk_sqs::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut aws_sdk_sqs::config::ConfigBag,
    ) -> Result<(), aws_sdk_sqs::error::BoxError> {
        self.0.sqs_requests.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Lambda invocations and their billed milliseconds (each rounded up to a whole millisecond).
#[derive(Default)]
struct Invocations {
    count: u64,
    billed_ms: u64,
}

impl Invocations {
    async fn time<T>(&mut self, call: impl std::future::Future<Output = T>) -> T {
        let started = Instant::now();
        let result = call.await;
        self.count += 1;
        self.billed_ms += started.elapsed().as_micros().div_ceil(1000) as u64;
        result
    }
}

/// Published on-demand prices, us-east-1, as of 2024-11 (after DynamoDB's on-demand price cut); free
/// tiers left out.
const USD_PER_MILLION_READ_UNITS: f64 = 0.125;
const USD_PER_MILLION_WRITE_UNITS: f64 = 0.625;
const USD_PER_MILLION_SQS_REQUESTS: f64 = 0.40;
const USD_PER_MILLION_LAMBDA_REQUESTS: f64 = 0.20;
const USD_PER_GB_SECOND_ARM64: f64 = 0.000_013_333_4;
/// The template's function memory.
const LAMBDA_MEMORY_GB: f64 = 256.0 / 1024.0;

/// An order's whole life, metered: imported by the sync, one webhook per package, each confirmed
/// through the queue, its PII redacted 45 days later. Lambda time is measured on the local stand-ins,
/// so it is an upper bound: DynamoDB and SQS answer faster in AWS than DynamoDB Local and moto here.
async fn cost(short: bool) -> Value {
    let orders = if short { 60 } else { 1000 };
    let usage = Arc::new(Usage::default());
    let clock = OffsetClock::default();
    let mut h = Harness::start(sandbox(orders, 109, 1000.0), Arc::new(clock.clone()), options_for(1000.0)).await;
    let dynamodb = h.stack.clients.dynamodb.config().to_builder().interceptor(MeterDynamo(usage.clone())).build();
    h.stack.clients.dynamodb = aws_sdk_dynamodb::Client::from_conf(dynamodb);
    let sqs = h.stack.clients.sqs.config().to_builder().interceptor(MeterSqs(usage.clone())).build();
    h.stack.clients.sqs = aws_sdk_sqs::Client::from_conf(sqs);
    h.stack.adapters = sellerbridge_core::runtime::Adapters::from_clients(
        h.stack.clients.clone(),
        &h.stack.settings,
        h.stack.adapters.clock.clone(),
    );

    let mut lambda = Invocations::default();
    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    loop {
        let report = lambda.time(runner::tick_sync(&sync, Duration::from_secs(60))).await.unwrap();
        if report.connections.iter().all(|c| c.outcome == SyncOutcome::UpToDate) {
            break;
        }
    }
    let imported = h.stack.adapters.store.scan_orders().await.unwrap();
    let webhook = h.stack.webhook_deps();
    for order in &imported {
        for (number, lines) in demo::packages_for(order).iter().enumerate() {
            let (body, signature) =
                demo::shipment_event(&h.stack.signing_key, order, number + 1, lines, webhook.clock.now());
            let headers = [(SIGNATURE_HEADER, signature)];
            lambda.time(runner::post_webhook(&webhook, "/webhooks/shipments", &headers, &body)).await.unwrap();
        }
    }
    let sender = h.stack.sender_deps(by_call_only(&h.stack), None).await.unwrap();
    let poller = h.stack.updates_poller();
    for _ in 0..10_000 {
        if poller.depth().await.unwrap().is_empty() {
            break;
        }
        // One poll is one batch, one invocation (the receive and deletes are the event source mapping's).
        let stats = lambda.time(poller.poll_once(&sender, Duration::from_secs(30))).await.unwrap();
        if stats.received == 0 {
            lambda.count -= 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    clock.advance(chrono::Duration::days(45));
    loop {
        let report = lambda
            .time(runner::tick_redaction(&h.stack.redactor_deps(), Duration::from_secs(60), false))
            .await
            .unwrap();
        if report.complete {
            break;
        }
    }

    let per_thousand = |n: f64| (n * 1000.0 / imported.len() as f64 * 10.0).round() / 10.0;
    let read_units = *usage.read_units.lock().unwrap();
    let failed_writes = usage.failed_writes.load(Ordering::Relaxed) as f64;
    let write_units = *usage.write_units.lock().unwrap() + failed_writes;
    let sqs = usage.sqs_requests.load(Ordering::Relaxed) as f64;
    let gb_seconds = lambda.billed_ms as f64 / 1000.0 * LAMBDA_MEMORY_GB;
    let usd = read_units * USD_PER_MILLION_READ_UNITS / 1e6
        + write_units * USD_PER_MILLION_WRITE_UNITS / 1e6
        + sqs * USD_PER_MILLION_SQS_REQUESTS / 1e6
        + lambda.count as f64 * USD_PER_MILLION_LAMBDA_REQUESTS / 1e6
        + gb_seconds * USD_PER_GB_SECOND_ARM64;
    let usd_per_million_orders = usd / imported.len() as f64 * 1e6;
    json!({
        "orders": imported.len(),
        "dynamodb_read_units_per_1000_orders": per_thousand(read_units),
        "dynamodb_write_units_per_1000_orders": per_thousand(write_units),
        "dynamodb_failed_conditional_writes_per_1000_orders": per_thousand(failed_writes),
        "sqs_requests_per_1000_orders": per_thousand(sqs),
        "lambda_invocations_per_1000_orders": per_thousand(lambda.count as f64),
        "lambda_billed_ms_per_1000_orders": per_thousand(lambda.billed_ms as f64),
        "usd_per_million_orders": (usd_per_million_orders * 100.0).round() / 100.0,
        "prices": {"as_of": "2024-11 (us-east-1, on-demand, no free tier)",
            "dynamodb_usd_per_million_read_units": USD_PER_MILLION_READ_UNITS,
            "dynamodb_usd_per_million_write_units": USD_PER_MILLION_WRITE_UNITS,
            "sqs_usd_per_million_requests": USD_PER_MILLION_SQS_REQUESTS,
            "lambda_usd_per_million_requests": USD_PER_MILLION_LAMBDA_REQUESTS,
            "lambda_usd_per_gb_second_arm64": USD_PER_GB_SECOND_ARM64, "lambda_memory_mb": 256},
        "lambda_time_note": "measured against DynamoDB Local and moto: an upper bound",
    })
}
