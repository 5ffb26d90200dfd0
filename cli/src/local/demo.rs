//! The demo: sync → signed shipment webhooks for every imported order → retries under throttling →
//! redaction with the clock moved forward, all through the real handlers on the local stack. Every
//! number it reports is counted from the sandbox's and the table's own records.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use chrono::{DateTime, Utc};
use order_sync::{SyncDeps, SyncOutcome};
use sellerbridge_core::domain::clock::{Clock, OffsetClock};
use sellerbridge_core::domain::connection::ConnectionOptions;
use sellerbridge_core::domain::ids::{ConnectionId, MarketplaceId, SellerId};
use sellerbridge_core::domain::order::Order;
use sellerbridge_core::domain::pii::RedactionState;
use sellerbridge_core::domain::shipment::PackageState;
use sellerbridge_core::domain::status::OrderStatus;
use sellerbridge_core::spapi::Operation;
use sellerbridge_core::store::DynamoStore;
use sellerbridge_core::webhook::signature::{SIGNATURE_HEADER, SigningKey};
use serde::Deserialize;
use serde_json::json;
use shipment_webhook::WebhookDeps;
use update_sender::SenderDeps;

use super::runner::{self, SqsPoller};
use super::stack::{ConnectionSpec, LocalEndpoints, LocalStack};

const CARRIERS: &[(&str, &str)] = &[
    ("UPS", "Ground"),
    ("FedEx", "Home Delivery"),
    ("US Postal Service", "Priority Mail"),
    ("DHL Express", "Express Worldwide"),
    ("Bob's Courier", "Same Day"),
];

/// Progress lines go here; the final summary line is the caller's.
pub trait Progress: Send + Sync {
    fn line(&self, text: &str);
}

pub struct Stdout;

impl Progress for Stdout {
    fn line(&self, text: &str) {
        println!("{text}");
    }
}

pub struct Quiet;

impl Progress for Quiet {
    fn line(&self, _text: &str) {}
}

/// The sandbox's inspection endpoints, over HTTP like any client.
#[derive(Clone)]
pub struct SandboxInspector {
    http: reqwest::Client,
    base: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxStats {
    pub throttled: u64,
    pub actionable_mfn: u64,
    pub confirmed_packages: u64,
    pub orders: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxCall {
    pub operation: String,
    pub status: u16,
    pub request_body: Option<serde_json::Value>,
    pub order_id: Option<String>,
}

impl SandboxInspector {
    pub fn new(base: impl Into<String>) -> Self {
        Self { http: reqwest::Client::new(), base: base.into().trim_end_matches('/').to_owned() }
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T> {
        let response =
            self.http.get(format!("{}{path}", self.base)).send().await.with_context(|| format!("sandbox {path}"))?;
        ensure!(response.status().is_success(), "sandbox {path} answered {}", response.status());
        Ok(response.json().await?)
    }

    pub async fn stats(&self) -> Result<SandboxStats> {
        self.get("/_sandbox/stats").await
    }

    pub async fn calls(&self) -> Result<Vec<SandboxCall>> {
        self.get("/_sandbox/calls").await
    }

    pub async fn orders(&self) -> Result<Vec<serde_json::Value>> {
        self.get("/_sandbox/orders").await
    }

    /// `(order id, packageReferenceId)` of every confirmShipment Amazon accepted, with repeats.
    pub async fn confirmed_packages(&self) -> Result<Vec<(String, String, serde_json::Value)>> {
        Ok(self
            .calls()
            .await?
            .into_iter()
            .filter(|c| c.operation == "confirmShipment" && c.status == 204)
            .filter_map(|c| {
                let body = c.request_body?;
                let reference = body.pointer("/packageDetail/packageReferenceId")?.as_str()?.to_owned();
                Some((c.order_id?, reference, body))
            })
            .collect())
    }
}

/// Runs the sync until every connection is up to date (or `max_runs` runs have passed).
pub async fn sync_until_current(deps: &SyncDeps, max_runs: usize, progress: &dyn Progress) -> Result<usize> {
    for run in 1..=max_runs {
        let report = runner::tick_sync(deps, Duration::from_secs(60)).await?;
        let mut current = true;
        for c in &report.connections {
            progress.line(&format!(
                "[sync] run {run} {}: pages={} imported={} updated={} skipped={} unreadable={} -> {:?}",
                c.connection_id, c.pages, c.inserted, c.updated, c.skipped, c.unreadable, c.outcome
            ));
            match &c.outcome {
                SyncOutcome::UpToDate | SyncOutcome::NotDue => {}
                SyncOutcome::Paused { .. } => current = false,
                other => bail!("sync of {} ended in {other:?}", c.connection_id),
            }
        }
        if current {
            return Ok(run);
        }
    }
    bail!("the sync was not up to date after {max_runs} runs")
}

/// A shipment the demo sent, and what the webhook answered.
#[derive(Debug, Clone)]
pub struct SentShipment {
    pub order_id: String,
    pub package_id: String,
    pub status: u16,
}

/// Builds a signed `shipment.created` body for a package of `order` holding `lines` (sku, quantity).
pub fn shipment_event(
    key: &SigningKey,
    order: &Order,
    package_number: usize,
    lines: &[(String, u32)],
    now: DateTime<Utc>,
) -> (Vec<u8>, String) {
    let (carrier, method) = CARRIERS[order.id().as_str().bytes().map(usize::from).sum::<usize>() % CARRIERS.len()];
    let order_id = order.id().as_str();
    let body = json!({
        "id": format!("evt-{order_id}-{package_number}"),
        "type": "shipment.created",
        "created_at": now.to_rfc3339(),
        "data": {
            "order_id": order_id,
            "package_id": format!("PKG-{order_id}-{package_number}"),
            "carrier": carrier,
            "shipping_method": method,
            "tracking_number": format!("TRK{}{package_number}", order_id.replace('-', "")),
            "ship_date": now.to_rfc3339(),
            "items": lines.iter().map(|(sku, quantity)| json!({"sku": sku, "quantity": quantity})).collect::<Vec<_>>(),
        }
    })
    .to_string()
    .into_bytes();
    let signature = key.sign(now, &body);
    (body, signature)
}

/// Splits what is left to ship of an order into packages: multi-line orders ship in two packages,
/// to exercise partial shipments.
pub fn packages_for(order: &Order) -> Vec<Vec<(String, u32)>> {
    let lines: Vec<(String, u32)> = order
        .amazon
        .items
        .iter()
        .filter_map(|item| {
            let left = item.quantity_ordered.saturating_sub(item.quantity_shipped);
            Some((item.sku.as_ref()?.to_string(), left)).filter(|_| left > 0)
        })
        .collect();
    match lines.len() {
        0 => vec![],
        1 => vec![lines],
        _ => vec![lines[..1].to_vec(), lines[1..].to_vec()],
    }
}

/// Sends a signed webhook for every package of every order awaiting shipment, plus one repeat of every
/// tenth event to show that repeats are acknowledged and not queued again.
pub async fn send_shipments(
    deps: &WebhookDeps,
    key: &SigningKey,
    store: &DynamoStore,
    progress: &dyn Progress,
) -> Result<Vec<SentShipment>> {
    let orders = store.scan_orders().await?;
    let mut sent = Vec::new();
    let mut repeats = 0;
    for order in orders.iter().filter(|o| o.status == OrderStatus::AwaitingShipment) {
        for (number, lines) in packages_for(order).iter().enumerate() {
            let (body, signature) = shipment_event(key, order, number + 1, lines, deps.clock.now());
            let headers = [(SIGNATURE_HEADER, signature)];
            let (status, answer) = runner::post_webhook(deps, "/webhooks/shipments", &headers, &body).await?;
            ensure!(status == 202, "webhook for order {} answered {status}: {answer}", order.id());
            sent.push(SentShipment {
                order_id: order.id().to_string(),
                package_id: format!("PKG-{}-{}", order.id(), number + 1),
                status,
            });
            if sent.len() % 10 == 0 {
                let (status, answer) = runner::post_webhook(deps, "/webhooks/shipments", &headers, &body).await?;
                ensure!(
                    status == 200 && answer["status"] == "duplicate",
                    "a repeated event answered {status}: {answer}"
                );
                repeats += 1;
            }
        }
    }
    progress.line(&format!(
        "[webhook] {} shipments accepted for {} orders; {repeats} repeated events acknowledged without re-queueing",
        sent.len(),
        orders.len()
    ));
    Ok(sent)
}

/// Runs `concurrency` pollers side by side (like the event source mapping's maximum concurrency) until
/// the queue is empty or `timeout` passes.
pub async fn drain_updates(
    deps: &SenderDeps,
    poller: &SqsPoller,
    concurrency: usize,
    timeout: Duration,
    progress: &dyn Progress,
    on_tick: impl Fn() -> futures::future::BoxFuture<'static, String>,
) -> Result<()> {
    let started = Instant::now();
    // Each consumer polls on its own, as the event source mapping's pollers do: one still waiting for
    // its slots never holds back another.
    let consumer = || async {
        loop {
            ensure!(started.elapsed() < timeout, "the updates queue was not drained within {timeout:?}");
            if poller.poll_once(deps, Duration::from_secs(60)).await?.received == 0 {
                if poller.depth().await?.is_empty() {
                    return Ok(());
                }
                // Only delayed or in-flight messages left: wait as the event source mapping would.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let report = async {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let depth = poller.depth().await?;
            progress.line(&format!(
                "[retries] {:>5.1}s queue visible={} delayed={} in-flight={} | {}",
                started.elapsed().as_secs_f64(),
                depth.visible,
                depth.delayed,
                depth.in_flight,
                on_tick().await
            ));
        }
    };
    let consumers = futures::future::try_join_all((0..concurrency).map(|_| consumer()));
    tokio::select! {
        drained = consumers => drained.map(drop),
        failed = report => failed,
    }
}

/// The demo's closing numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub imported: usize,
    pub confirmed: usize,
    pub throttled: u64,
    pub redacted: usize,
    pub lost: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "demo: imported={} confirmed={} throttled={} redacted={} lost={}",
            self.imported, self.confirmed, self.throttled, self.redacted, self.lost
        )
    }
}

/// Counts from the records: the table (orders, packages) and the sandbox (accepted confirmations).
/// A shipment is lost if the webhook accepted it but Amazon never confirmed it and the table does not
/// show it failed or dead-lettered.
pub async fn summarize(store: &DynamoStore, sandbox: &SandboxInspector, sent: &[SentShipment]) -> Result<Summary> {
    let orders = store.scan_orders().await?;
    let packages = store.scan_packages().await?;
    let confirmed_at_amazon: BTreeSet<(String, String)> =
        sandbox.confirmed_packages().await?.into_iter().map(|(order, reference, _)| (order, reference)).collect();
    let by_id: BTreeMap<(String, String), _> =
        packages.iter().map(|p| ((p.order_id.to_string(), p.package_id.to_string()), p)).collect();
    let lost = sent
        .iter()
        .filter(|s| s.status == 202)
        .filter(|s| match by_id.get(&(s.order_id.clone(), s.package_id.clone())) {
            None => true,
            Some(p) => {
                let confirmed = confirmed_at_amazon.contains(&(p.order_id.to_string(), p.reference.to_string()));
                let visible_failure =
                    matches!(p.state, PackageState::Failed { .. } | PackageState::DeadLettered { .. });
                !confirmed && !visible_failure
            }
        })
        .count();
    Ok(Summary {
        imported: orders.len(),
        confirmed: confirmed_at_amazon.len(),
        throttled: packages.iter().map(|p| u64::from(p.throttle_deferrals)).sum(),
        redacted: orders.iter().filter(|o| matches!(o.local.redaction, RedactionState::Redacted { .. })).count(),
        lost,
    })
}

/// A short progress text: confirmations at Amazon and 429s so far.
pub fn sandbox_progress(sandbox: &SandboxInspector) -> impl Fn() -> futures::future::BoxFuture<'static, String> {
    let sandbox = sandbox.clone();
    move || {
        let sandbox = sandbox.clone();
        Box::pin(async move {
            match sandbox.stats().await {
                Ok(stats) => {
                    format!("confirmed at Amazon={} Amazon 429s={}", stats.confirmed_packages, stats.throttled)
                }
                Err(e) => format!("sandbox stats unavailable: {e}"),
            }
        })
    }
}

/// What the demo needs to know about the sandbox it talks to.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    pub endpoints: LocalEndpoints,
    /// The sandbox's quota time scale: the connection's quota overrides match it, as a seller's
    /// granted quota would.
    pub time_scale: f64,
    pub lwa_client_id: String,
    pub lwa_client_secret: String,
    pub refresh_token: String,
    pub sender_concurrency: usize,
}

/// The whole demo on a fresh local stack; returns the closing numbers.
pub async fn run(config: &DemoConfig, progress: &dyn Progress) -> Result<Summary> {
    let clock = OffsetClock::default();
    let name = format!("demo-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let stack = LocalStack::provision(
        &config.endpoints,
        &name,
        &config.lwa_client_id,
        &config.lwa_client_secret,
        Arc::new(clock.clone()),
    )
    .await?;
    progress.line(&format!(
        "[stack] table {} and queues {} created from infra/template.yaml",
        stack.settings.table, stack.queues.updates_url
    ));

    let sandbox = SandboxInspector::new(&config.endpoints.sandbox);
    let seeded = sandbox.stats().await?;
    progress.line(&format!(
        "[sandbox] {} seeded orders, {} actionable merchant-fulfilled",
        seeded.orders, seeded.actionable_mfn
    ));

    let quota_overrides =
        Operation::ALL.iter().map(|op| (op.name().to_owned(), op.default_quota().scaled(config.time_scale))).collect();
    stack
        .add_connection(ConnectionSpec {
            id: ConnectionId::parse("us-main")?,
            seller_id: SellerId::parse("A1DEMOSELLER")?,
            marketplace_id: MarketplaceId::parse("ATVPDKIKX0DER")?,
            refresh_token: config.refresh_token.clone(),
            options: ConnectionOptions { quota_overrides, ..ConnectionOptions::default() },
            import_from: clock.now() - chrono::Duration::days(30),
        })
        .await?;

    let sync = stack.sync_deps(order_sync::SyncSettings::default()).await?;
    sync_until_current(&sync, 10, progress).await?;

    let webhook = stack.webhook_deps();
    let sent = send_shipments(&webhook, &stack.signing_key, &stack.adapters.store, progress).await?;

    let sender = stack.sender_deps(stack.sender_settings(), None).await?;
    let poller = stack.updates_poller();
    drain_updates(
        &sender,
        &poller,
        config.sender_concurrency,
        Duration::from_secs(600),
        progress,
        sandbox_progress(&sandbox),
    )
    .await?;
    let dlq = runner::depth(&stack.clients.sqs, &stack.queues.updates_dlq_url).await?;
    progress.line(&format!("[retries] queue drained; dead-letter queue holds {} messages", dlq.visible));

    clock.advance(chrono::Duration::days(45));
    let report = runner::tick_redaction(&stack.redactor_deps(), Duration::from_secs(300), false).await?;
    progress.line(&format!("[redaction] clock moved 45 days ahead: {} orders redacted", report.redacted));

    summarize(&stack.adapters.store, &sandbox, &sent).await
}
