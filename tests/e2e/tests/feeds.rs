//! A backlog of confirmations goes out as one order fulfillment feed: the update sender moves what
//! waited too long for quota to the feed backlog, the scheduled sync packs, sends and settles it from
//! Amazon's processing report; each package reaches Amazon once, by call or by feed.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use order_sync::{ConnectionReport, SyncSettings};
use sellerbridge_cli::local::demo::{self, Quiet};
use sellerbridge_cli::local::runner;
use sellerbridge_core::domain::clock::OffsetClock;
use sellerbridge_core::domain::feed::{FeedStage, ORDER_FULFILLMENT_FEED};
use sellerbridge_core::domain::shipment::{Package, PackageState};
use sellerbridge_core::store::FeedEnd;
use sellerbridge_e2e::{Harness, options_for, sandbox};
use serde_json::json;
use update_sender::SenderSettings;

const TIME_SCALE: f64 = 600.0;

/// Imports the sandbox's orders and queues a webhook for every package.
async fn with_a_backlog(orders: usize) -> Harness {
    with_a_backlog_at(orders, OffsetClock::default()).await
}

/// [`with_a_backlog`], on `clock`.
async fn with_a_backlog_at(orders: usize, clock: OffsetClock) -> Harness {
    let options = options_for(TIME_SCALE);
    let h = Harness::start(sandbox(orders, 17, TIME_SCALE), Arc::new(clock), options).await;
    let sync = h.stack.sync_deps(SyncSettings::default()).await.unwrap();
    demo::sync_until_current(&sync, 3, &Quiet).await.unwrap();
    demo::send_shipments(&h.stack.webhook_deps(), &h.stack.signing_key, &h.stack.adapters.store, &Quiet).await.unwrap();
    h
}

/// Drains the updates queue with a sender for which every package came late: all go to the feed backlog.
async fn drain_into_the_backlog(h: &Harness) {
    let settings = SenderSettings { feed_after: Some(chrono::Duration::zero()), ..h.stack.sender_settings() };
    let sender = h.stack.sender_deps(settings, None).await.unwrap();
    demo::drain_updates(&sender, &h.stack.updates_poller(), 2, Duration::from_secs(120), &Quiet, || {
        Box::pin(async { String::new() })
    })
    .await
    .unwrap();
}

/// One sync run (feeds included, no wait between feeds); the connection's report.
async fn sync_once(h: &Harness) -> ConnectionReport {
    let settings = SyncSettings { feed_interval: chrono::Duration::zero(), ..SyncSettings::default() };
    let sync = h.stack.sync_deps(settings).await.unwrap();
    let report = runner::tick_sync(&sync, Duration::from_secs(60)).await.unwrap();
    report.connections.into_iter().next().expect("one connection")
}

async fn packages(h: &Harness) -> Vec<Package> {
    h.stack.adapters.store.scan_packages().await.unwrap()
}

fn count(packages: &[Package], state: &str) -> usize {
    packages.iter().filter(|p| p.state.name() == state).count()
}

/// Moves the sandbox's clock past any feed's processing.
async fn let_amazon_process(h: &Harness) {
    h.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": 1800})).await;
}

/// Every package Amazon holds, by (order, packageReferenceId): how many copies of each (ours, by call
/// or by feed, and those the seeded orders shipped before).
async fn held_at_amazon(h: &Harness) -> BTreeMap<(String, String), usize> {
    let mut held = BTreeMap::new();
    for order in h.inspector.orders().await.unwrap() {
        let id = order["orderId"].as_str().unwrap().to_owned();
        for package in order["packages"].as_array().into_iter().flatten() {
            let reference = package["packageReferenceId"].as_str().unwrap().to_owned();
            *held.entry((id.clone(), reference)).or_insert(0) += 1;
        }
    }
    held
}

/// Drains the updates queue, then checks every package is confirmed and held once at Amazon.
async fn sent_by_call_each_once(h: &Harness) -> Vec<Package> {
    drain_into_the_backlog(h).await;
    let sent = packages(h).await;
    assert_eq!(count(&sent, "confirmed"), sent.len());
    assert_each_once_at_amazon(h, &sent).await;
    sent
}

/// Checks Amazon holds each of `packages` exactly once.
async fn assert_each_once_at_amazon(h: &Harness, packages: &[Package]) {
    let held = held_at_amazon(h).await;
    for package in packages {
        let copies = held.get(&(package.order_id.to_string(), package.reference.to_string()));
        assert_eq!(copies, Some(&1), "package {} of {} once at Amazon", package.package_id, package.order_id);
    }
}

fn operation_calls(calls: &[demo::SandboxCall], operation: &str, status: u16) -> usize {
    calls.iter().filter(|c| c.operation == operation && c.status == status).count()
}

#[tokio::test]
async fn a_backlog_goes_out_as_one_feed_and_settles_from_the_processing_report() {
    let h = with_a_backlog(30).await;
    drain_into_the_backlog(&h).await;
    let before = packages(&h).await;
    let total = before.len();
    let backlog = count(&before, "awaiting_feed");
    assert!(total > 20, "a backlog worth a feed: {total} packages");
    assert_eq!(backlog, total, "each package went to the backlog, none by call");

    let first = sync_once(&h).await;
    assert_eq!((first.feeds.packed as usize, first.feeds.submitted), (backlog, 1), "{:?}", first.feeds);
    assert_eq!(first.feeds.open, 1);
    let in_feed = packages(&h).await;
    assert_eq!(count(&in_feed, "in_feed"), backlog, "every backlogged package is marked as in the feed");
    let operator = sellerbridge_cli::ops::feeds_summary(&h.stack.adapters.store, &h.connection.id).await.unwrap();
    assert_eq!(operator["waiting_for_a_feed"], 0, "{operator}");
    assert_eq!(operator["open"][0]["messages"], backlog, "{operator}");
    assert_eq!(operator["open"][0]["stage"]["stage"], "submitted", "{operator}");

    // Amazon cancels one of the orders in the feed before processing it: that message fails.
    let cancelled = in_feed.iter().find(|p| p.state.name() == "in_feed").unwrap().order_id.to_string();
    h.sandbox_post(&format!("/_sandbox/orders/{cancelled}/touch"), json!({"fulfillmentStatus": "CANCELLED"})).await;
    let waiting = sync_once(&h).await;
    assert_eq!((waiting.feeds.confirmed, waiting.feeds.open), (0, 1), "still processing: {:?}", waiting.feeds);

    let_amazon_process(&h).await;
    let settled = sync_once(&h).await;
    let of_cancelled = in_feed.iter().filter(|p| p.order_id.as_str() == cancelled).count();
    assert_eq!(settled.feeds.failed as usize, of_cancelled, "{:?}", settled.feeds);
    assert_eq!(settled.feeds.confirmed as usize, backlog - of_cancelled, "{:?}", settled.feeds);
    assert_eq!(settled.feeds.open, 0);

    let after = packages(&h).await;
    for package in &after {
        match &package.state {
            PackageState::Failed { reason, .. } => {
                assert_eq!(package.order_id.as_str(), cancelled);
                assert!(
                    reason.contains("in feed") && reason.contains(&cancelled),
                    "names the feed and order: {reason}"
                );
                assert!(package.units_released, "a failed package gives its units back");
            }
            state => assert!(matches!(state, PackageState::Confirmed { .. }), "{}: {state:?}", package.package_id),
        }
    }
    let held = held_at_amazon(&h).await;
    for package in &after {
        let copies = held.get(&(package.order_id.to_string(), package.reference.to_string())).copied();
        let expected = if package.order_id.as_str() == cancelled { None } else { Some(1) };
        assert_eq!(copies, expected, "package {} of {} at Amazon", package.package_id, package.order_id);
    }
    let calls = h.inspector.calls().await.unwrap();
    assert_eq!(operation_calls(&calls, "confirmShipment", 204), 0, "none went by call as well");
    assert_eq!(operation_calls(&calls, "createFeed", 202), 1, "one feed for the whole backlog");
    let store = &h.stack.adapters.store;
    let summaries = store.settled_feeds(&h.connection.id).await.unwrap();
    assert_eq!(summaries.len(), 1);
    assert_eq!((summaries[0].ended, summaries[0].failed as usize), (FeedEnd::Done, of_cancelled));
    assert!(
        store.feed_backlog(&h.connection.id, ORDER_FULFILLMENT_FEED, None).await.unwrap().is_empty(),
        "the backlog is empty"
    );
}

#[tokio::test]
async fn a_create_feed_whose_answer_was_lost_is_found_again_and_its_packages_checked_not_sent_twice() {
    let h = with_a_backlog(12).await;
    drain_into_the_backlog(&h).await;
    let backlog = count(&packages(&h).await, "awaiting_feed");
    assert!(backlog > 5, "{backlog} packages waiting for a feed");

    // Amazon creates the feed, and its answer is lost on the way back.
    h.sandbox_post("/_sandbox/faults", json!({"operation": "createFeed", "status": 504, "afterRunning": true})).await;
    let lost = sync_once(&h).await;
    assert_eq!(lost.feeds.submitted, 0, "{:?}", lost.feeds);
    assert!(lost.feeds.problem.is_some(), "the run says why it stopped: {:?}", lost.feeds);
    let found = sync_once(&h).await;
    assert!(found.feeds.problem.is_none(), "{:?}", found.feeds);
    assert_eq!(found.feeds.open, 1, "the found feed is followed: {:?}", found.feeds);
    let_amazon_process(&h).await;
    // Found, not known to be ours: its report is not trusted; each package is checked with Amazon.
    let settled = sync_once(&h).await;
    assert_eq!((settled.feeds.confirmed, settled.feeds.handed_back as usize), (0, backlog), "{:?}", settled.feeds);
    let handed_back = packages(&h).await;
    assert!(handed_back.iter().all(|p| p.state.name() == "queued" && p.by_call_only && p.send_attempts >= 1));
    sent_by_call_each_once(&h).await;

    let calls = h.inspector.calls().await.unwrap();
    assert_eq!(operation_calls(&calls, "createFeed", 504), 1);
    assert_eq!(operation_calls(&calls, "createFeed", 202), 0, "the lost feed was adopted, not created again");
    assert_eq!(operation_calls(&calls, "getFeeds", 200), 1, "found among the seller's feeds");
    assert_eq!(operation_calls(&calls, "confirmShipment", 204), 0, "Amazon held every package: none sent again");
    assert!(operation_calls(&calls, "getOrder", 200) >= backlog, "each checked with Amazon");
}

#[tokio::test]
async fn a_feed_amazon_rejects_as_a_whole_fails_each_package_with_its_reason() {
    let h = with_a_backlog(12).await;
    drain_into_the_backlog(&h).await;
    let backlog: Vec<Package> = packages(&h).await.into_iter().filter(|p| p.state.name() == "awaiting_feed").collect();
    assert!(backlog.len() > 5, "{} packages waiting for a feed", backlog.len());
    // The connection names a seller the feed's merchant identifier does not match: Amazon rejects the
    // feed as a whole. Its report comes compressed.
    let store = &h.stack.adapters.store;
    let mut misnamed = h.connection.clone();
    misnamed.seller_id = sellerbridge_core::domain::ids::SellerId::parse("A2OTHERSELLER").unwrap();
    store.put_connection(&misnamed).await.unwrap();
    h.sandbox_post("/_sandbox/feeds/settings", json!({"compressReports": true})).await;

    assert_eq!(sync_once(&h).await.feeds.submitted, 1);
    let_amazon_process(&h).await;
    let settled = sync_once(&h).await;
    assert_eq!((settled.feeds.failed as usize, settled.feeds.confirmed), (backlog.len(), 0), "{:?}", settled.feeds);
    for package in backlog {
        let stored = store.get_package(&package.order_id, &package.package_id).await.unwrap().unwrap().value;
        let PackageState::Failed { reason, .. } = &stored.state else { panic!("{:?}", stored.state) };
        assert!(reason.contains("Feed rejected") && reason.contains("A2OTHERSELLER"), "Amazon's reason: {reason}");
        assert!(stored.units_released, "its units can be shipped again");
        let order = store.get_order(&package.order_id).await.unwrap().unwrap().value;
        assert!(!order.local.confirmed_packages.contains_key(&package.package_id), "not counted as shipped");
    }
    let summary = &store.settled_feeds(&h.connection.id).await.unwrap()[0];
    assert_eq!(summary.ended, FeedEnd::Fatal);
    let calls = h.inspector.calls().await.unwrap();
    let reports = calls.iter().filter(|c| c.operation == "getFeedDocument" && c.status == 200).count();
    assert_eq!(reports, 1, "the compressed report was read once");
}

#[tokio::test]
async fn a_feed_amazon_keeps_refusing_hands_its_packages_back_to_go_by_call() {
    let h = with_a_backlog(12).await;
    drain_into_the_backlog(&h).await;
    let backlog = count(&packages(&h).await, "awaiting_feed");
    assert!(backlog > 5, "{backlog} packages waiting for a feed");

    // createFeed refused, run after run (the app lacks the role for feeds, say).
    h.sandbox_post("/_sandbox/faults", json!({"operation": "createFeed", "status": 400, "count": 100})).await;
    for run in 1..5 {
        let refused = sync_once(&h).await;
        assert_eq!((refused.feeds.submitted, refused.feeds.handed_back, refused.feeds.open), (0, 0, 1), "run {run}");
        assert!(refused.feeds.problem.is_some(), "the run says why: {:?}", refused.feeds);
    }
    let given_up = sync_once(&h).await;
    assert_eq!(given_up.feeds.handed_back as usize, backlog, "{:?}", given_up.feeds);
    assert_eq!(given_up.feeds.open, 0);
    let summary = &h.stack.adapters.store.settled_feeds(&h.connection.id).await.unwrap()[0];
    assert_eq!(summary.ended, FeedEnd::HandedBack);
    assert!(summary.reason.as_deref().is_some_and(|r| r.contains("refused the feed 5 times")), "{summary:?}");
    let waiting = packages(&h).await;
    assert!(waiting.iter().all(|p| p.state.name() == "queued" && p.by_call_only), "back on the call path");

    // The sender takes them by call, though they are older than `feed_after`.
    let sent = sent_by_call_each_once(&h).await;
    let calls = h.inspector.calls().await.unwrap();
    assert_eq!(operation_calls(&calls, "createFeed", 202), 0);
    assert_eq!(operation_calls(&calls, "confirmShipment", 204), sent.len(), "each by call, once");
}

#[tokio::test]
async fn a_feed_amazon_cancels_puts_its_packages_back_in_the_backlog_for_the_next_one() {
    let h = with_a_backlog(12).await;
    drain_into_the_backlog(&h).await;
    let backlog = count(&packages(&h).await, "awaiting_feed");
    assert!(backlog > 5, "{backlog} packages waiting for a feed");
    assert_eq!(sync_once(&h).await.feeds.submitted, 1);

    // The seller cancels the feed while Amazon still has it queued (Seller Central, another tool).
    let store = &h.stack.adapters.store;
    let open = store.open_feeds(&h.connection.id).await.unwrap();
    let FeedStage::Submitted { feed_id, .. } = &open[0].value.stage else { panic!("{:?}", open[0].value.stage) };
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{}/auth/o2/token", h.sandbox.url))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", sellerbridge_e2e::REFRESH_TOKEN),
            ("client_id", "sandbox-client-id"),
            ("client_secret", "sandbox-client-secret"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cancelled = http
        .delete(format!("{}/feeds/2021-06-30/feeds/{feed_id}", h.sandbox.url))
        .header("x-amz-access-token", token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);

    let back = sync_once(&h).await;
    assert_eq!((back.feeds.confirmed, back.feeds.failed, back.feeds.open), (0, 0, 1), "{:?}", back.feeds);
    let summary = &store.settled_feeds(&h.connection.id).await.unwrap()[0];
    assert_eq!((summary.ended, summary.feed_id.as_deref()), (FeedEnd::Cancelled, Some(feed_id.as_str())));
    // Back in the backlog, then packed into the next feed in the same run.
    assert_eq!(back.feeds.packed as usize, backlog, "{:?}", back.feeds);
    assert_eq!(count(&packages(&h).await, "in_feed"), backlog);

    let_amazon_process(&h).await;
    let settled = sync_once(&h).await;
    assert_eq!(settled.feeds.confirmed as usize, backlog, "{:?}", settled.feeds);
    assert_each_once_at_amazon(&h, &packages(&h).await).await;
}

#[tokio::test]
async fn a_feed_amazon_never_finishes_hands_its_packages_back_to_be_checked_with_amazon_first() {
    let clock = OffsetClock::default();
    let h = with_a_backlog_at(12, clock.clone()).await;
    drain_into_the_backlog(&h).await;
    let backlog = count(&packages(&h).await, "awaiting_feed");
    assert!(backlog > 5, "{backlog} packages waiting for a feed");
    h.sandbox_post("/_sandbox/feeds/settings", json!({"processingSeconds": 10_000_000})).await;
    assert_eq!(sync_once(&h).await.feeds.submitted, 1);
    h.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": 1800})).await;
    let processing = sync_once(&h).await;
    assert_eq!((processing.feeds.open, processing.feeds.handed_back), (1, 0), "Amazon is still at it");

    // A day later it is still not done: Amazon may yet apply it, so each package is checked first.
    clock.advance(chrono::Duration::hours(25));
    let given_up = sync_once(&h).await;
    assert_eq!((given_up.feeds.handed_back as usize, given_up.feeds.open), (backlog, 0), "{:?}", given_up.feeds);
    let summary = &h.stack.adapters.store.settled_feeds(&h.connection.id).await.unwrap()[0];
    assert_eq!(summary.ended, FeedEnd::HandedBack);
    let reason = summary.reason.as_deref().unwrap_or_default();
    assert!(reason.starts_with("Amazon had not finished feed ") && reason.ends_with("after 24 hours"), "{reason}");
    let waiting = packages(&h).await;
    assert!(waiting.iter().all(|p| p.state.name() == "queued" && p.by_call_only && p.send_attempts > 0), "{waiting:?}");

    let sent = sent_by_call_each_once(&h).await;
    let calls = h.inspector.calls().await.unwrap();
    assert!(operation_calls(&calls, "getOrder", 200) >= sent.len(), "each checked with Amazon before it was sent");
}
