//! Cold starts of the function binaries, measured side by side with a hello-world `lambda_runtime`
//! function through the local Runtime API: process start to its first `/next` (initialisation), to
//! its first response (an event that makes it read DynamoDB), and its peak resident memory.
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::Harness;
use crate::runtime_api::{Profile, RuntimeApi, binary, spawn_binary};

/// One cold start.
#[derive(Debug, Clone, Copy)]
pub struct ColdStart {
    pub init: Duration,
    pub first_response: Duration,
    pub peak_rss_kb: u64,
}

/// Starts `binary` cold, hands it `event` once it asks for work, and stops it: the timings, and its
/// answer (`Err`: an invocation error).
pub async fn cold_start(
    binary: &Path,
    name: &str,
    env: &[(&str, String)],
    event: Value,
) -> (ColdStart, Result<Value, Value>) {
    let api = RuntimeApi::start().await;
    let started = Instant::now();
    let child = spawn_binary(binary, name, &api, env);
    let init = api.first_next().await - started;
    let answer = api.invoke(event).await;
    let first_response = started.elapsed();
    let peak_rss_kb = child.id().map(peak_rss_kb).unwrap_or_default();
    drop(child);
    (ColdStart { init, first_response, peak_rss_kb }, answer)
}

/// Whether `answer` is the one the event was chosen for: past authentication, to the table (an HTTP
/// function's status; the others answer without an invocation error).
fn answered_as_meant(name: &str, answer: &Result<Value, Value>) -> bool {
    match (name, answer) {
        ("shipment-webhook", Ok(response)) => response["statusCode"] == 422,
        ("order-api", Ok(response)) => response["statusCode"] == 404,
        (_, answer) => answer.is_ok(),
    }
}

/// The process's high-water resident set (`VmHWM`), in kB; 0 where /proc does not say.
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_default()
}

/// The environment the functions read, pointed at the harness's local stack.
pub fn function_env(h: &Harness) -> Vec<(&'static str, String)> {
    let endpoints =
        sellerbridge_cli::local::stack::LocalEndpoints::from_env(&h.sandbox.url).expect("the local stack's endpoints");
    let mut env: Vec<(&str, String)> = h.stack.settings.to_env();
    env.extend(endpoints.aws_env());
    env.extend([
        (order_notifications::DEAD_LETTERS_URL, h.stack.queue_url("NotificationsDeadLetterQueue").unwrap()),
        (order_api::API_KEY_SECRET_ID, format!("{}/read-api-key", h.stack.name)),
    ]);
    env
}

/// For each function, an event whose handling reads DynamoDB (and whatever secret it needs first), so
/// the first response includes the first request to the table.
pub async fn events(h: &Harness) -> Vec<(&'static str, Value)> {
    use sellerbridge_cli::local::runner;
    let (_, api_key) = h.stack.api_deps().await.expect("the read endpoint's key");
    let now = chrono::Utc::now();
    let unknown_order = "111-1111111-1111111";
    let shipment = json!({"id": "evt-cold", "type": "shipment.created", "created_at": now.to_rfc3339(),
        "data": {"order_id": unknown_order, "package_id": "PKG-COLD", "carrier": "UPS", "tracking_number": "1ZCOLD01",
            "ship_date": now.to_rfc3339(), "items": [{"sku": "SKU-A", "quantity": 1}]}})
    .to_string();
    let signature = h.stack.signing_key.sign(now, shipment.as_bytes());
    let headers = [(sellerbridge_core::webhook::signature::SIGNATURE_HEADER, signature)];
    let update = json!({"type": "confirm_shipment", "order_id": unknown_order, "package_id": "PKG-COLD"});
    let notification = json!({"NotificationVersion": "1.0", "NotificationType": "ORDER_CHANGE", "PayloadVersion": "1.0",
        "EventTime": now.to_rfc3339(), "NotificationMetadata": {"NotificationId": "cold-1"},
        "Payload": {"OrderChangeNotification": {"SellerId": "A0UNKNOWNSELLER", "AmazonOrderId": unknown_order}}});
    let sqs = |body: &Value| runner::sqs_event_of(&[body.to_string()]);
    vec![
        ("order-sync", json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})),
        ("shipment-webhook", runner::api_gateway_event("/webhooks/shipments", &headers, shipment.as_bytes())),
        ("update-sender", sqs(&update)),
        (
            "order-api",
            runner::http_api_event(
                "GET",
                &format!("/orders/{unknown_order}"),
                &[],
                &[(order_api::API_KEY_HEADER, api_key)],
                b"",
            ),
        ),
        ("order-notifications", sqs(&notification)),
        ("pii-redactor", json!({"source": "aws.events", "dry_run": true})),
    ]
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 10_000.0).round() / 10.0
}

/// Every function `runs` times, each run right after one of the hello-world function's, so both see the
/// same machine; the figures of `coldstart.json`.
pub async fn measure(h: &Harness, profile: Profile, runs: usize) -> Value {
    let env = function_env(h);
    let hello = binary("hello-lambda", profile);
    let mut functions = serde_json::Map::new();
    let mut hello_all = Vec::new();
    for (name, event) in events(h).await {
        let path = binary(name, profile);
        let (mut ours, mut baseline) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            baseline.push(cold_start(&hello, "hello-lambda", &env, json!({"hello": "world"})).await.0);
            let (measured, answer) = cold_start(&path, name, &env, event.clone()).await;
            assert!(answered_as_meant(name, &answer), "{name} answered {answer:?}");
            ours.push(measured);
        }
        let init = median(ours.iter().map(|c| ms(c.init)).collect());
        let hello_init = median(baseline.iter().map(|c| ms(c.init)).collect());
        functions.insert(
            name.to_owned(),
            json!({
                "bootstrap_bytes": std::fs::metadata(&path).map(|m| m.len()).unwrap_or_default(),
                "init_ms_median": init,
                "first_response_ms_median": median(ours.iter().map(|c| ms(c.first_response)).collect()),
                "hello_init_ms_median": hello_init,
                "ratio": if hello_init > 0.0 { (init / hello_init * 10.0).round() / 10.0 } else { 0.0 },
                "peak_rss_kb": ours.iter().map(|c| c.peak_rss_kb).max().unwrap_or_default(),
            }),
        );
        hello_all.extend(baseline);
    }
    json!({
        "profile": profile.name(),
        "runs_per_function": runs,
        "hello": {
            "bootstrap_bytes": std::fs::metadata(&hello).map(|m| m.len()).unwrap_or_default(),
            "init_ms_median": median(hello_all.iter().map(|c| ms(c.init)).collect()),
            "first_response_ms_median": median(hello_all.iter().map(|c| ms(c.first_response)).collect()),
            "peak_rss_kb": hello_all.iter().map(|c| c.peak_rss_kb).max().unwrap_or_default(),
        },
        "functions": functions,
        "note": "init: process start to the first /next; first response: to the answer of an event that reads \
                 DynamoDB Local (and Secrets Manager on moto first where the function needs a secret)",
    })
}
