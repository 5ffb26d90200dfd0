//! `make bench`: webhook ingest and confirmation throughput on the local stack, with the shared
//! DynamoDB token bucket and, side by side, without any limiter. The sandbox's quota is made so large
//! that Amazon never limits either run: the ratio is the price of the shared bucket itself.
//! Absolute numbers depend on the machine (DynamoDB Local and moto are slow stand-ins); the ratio is
//! what to compare between versions.
use std::sync::Arc;
use std::time::{Duration, Instant};

use sellerbridge_cli::local::demo::{self, Quiet};
use sellerbridge_core::domain::clock::OffsetClock;
use sellerbridge_core::spapi::RateLimiter;
use sellerbridge_core::spapi::limiter::Unlimited;
use sellerbridge_e2e::{Harness, options_for, sandbox};

const ORDERS: usize = 200;
const TIME_SCALE: f64 = 1000.0;

struct Run {
    shipments: usize,
    ingest_per_second: f64,
    confirm_per_second: f64,
}

async fn run(limiter: Option<Arc<dyn RateLimiter>>) -> Run {
    let h = Harness::start(sandbox(ORDERS, 42, TIME_SCALE), Arc::new(OffsetClock::default()), options_for(TIME_SCALE))
        .await;
    let sync = h.stack.sync_deps(Default::default()).await.unwrap();
    demo::sync_until_current(&sync, 3, &Quiet).await.unwrap();

    let started = Instant::now();
    let sent = demo::send_shipments(&h.stack.webhook_deps(), &h.stack.signing_key, &h.stack.adapters.store, &Quiet)
        .await
        .unwrap();
    let ingest = started.elapsed();

    let sender = h.stack.sender_deps(h.stack.sender_settings(), limiter).await.unwrap();
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
    let confirm = started.elapsed();
    let stats = h.inspector.stats().await.unwrap();
    assert_eq!(stats.confirmed_packages as usize, sent.len(), "every shipment confirmed");
    assert_eq!(stats.throttled, 0, "the sandbox's quota must not limit the benchmark");
    Run {
        shipments: sent.len(),
        ingest_per_second: sent.len() as f64 / ingest.as_secs_f64(),
        confirm_per_second: sent.len() as f64 / confirm.as_secs_f64(),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // Interleaved, so drift in the machine's load hits both variants alike.
    let mut with_bucket = Vec::new();
    let mut without = Vec::new();
    for _ in 0..2 {
        with_bucket.push(run(None).await);
        without.push(run(Some(Arc::new(Unlimited))).await);
    }
    let mean = |runs: &[Run], f: fn(&Run) -> f64| runs.iter().map(f).sum::<f64>() / runs.len() as f64;
    let bucket_rate = mean(&with_bucket, |r| r.confirm_per_second);
    let free_rate = mean(&without, |r| r.confirm_per_second);
    println!("shipments per run: {}", with_bucket[0].shipments);
    println!("webhook ingest: {:.1} events/s", mean(&with_bucket, |r| r.ingest_per_second));
    println!("confirmations with the shared DynamoDB bucket: {bucket_rate:.1}/s");
    println!("confirmations with no limiter:                 {free_rate:.1}/s");
    println!("ratio (shared bucket / no limiter): {:.2}", bucket_rate / free_rate);
}
