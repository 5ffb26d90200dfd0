//! Nothing skipped however Amazon paginates: a backfill against a sandbox that pages by offset over a
//! result set changing while it is read, with two syncs of the connection started at once.
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use order_sync::{SyncOutcome, SyncSettings};
use sellerbridge_cli::local::runner;
use sellerbridge_core::domain::clock::OffsetClock;
use sellerbridge_e2e::{Harness, actionable, options_for, sandbox};
use serde_json::json;

struct Backfill {
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
    let syncs = [h.stack.sync_deps(settings.clone()).await.unwrap(), h.stack.sync_deps(settings).await.unwrap()];
    let (mut inserted, mut busy) = (0, 0);
    for round in 0.. {
        assert!(round < 100, "the backfill never finished");
        let reports =
            futures::future::join_all(syncs.iter().map(|sync| runner::tick_sync(sync, Duration::from_secs(120)))).await;
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
