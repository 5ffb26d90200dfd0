//! Drives the handler functions the way AWS triggers them: schedule ticks as EventBridge events, HTTP
//! requests as API Gateway v2 events, and an SQS poller that behaves like the event source mapping
//! (batches, visibility timeout, partial batch failures left on the queue, the rest deleted).
use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName};
use base64::Engine as _;
use lambda_runtime::{Context, LambdaEvent};
use order_api::ApiDeps;
use order_notifications::NotificationDeps;
use order_sync::{SyncDeps, SyncReport};
use pii_redactor::{RedactionReport, RedactorDeps};
use serde_json::json;
use shipment_webhook::WebhookDeps;
use update_sender::SenderDeps;

use super::stack::REGION;

/// A Lambda context whose deadline is `timeout` from now, as the runtime would hand it over.
pub fn lambda_context(timeout: Duration) -> Context {
    let deadline = SystemTime::now() + timeout;
    let mut context = Context::default();
    context.request_id = uuid::Uuid::new_v4().to_string();
    context.deadline = deadline.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default();
    context
}

fn scheduled_event(rule: &str) -> serde_json::Value {
    json!({
        "version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "000000000000", "time": chrono::Utc::now().to_rfc3339(), "region": REGION,
        "resources": [format!("arn:aws:events:{REGION}:000000000000:rule/{rule}")], "detail": {}
    })
}

/// One scheduled run of the sync with the given Lambda timeout.
pub async fn tick_sync(deps: &SyncDeps, timeout: Duration) -> Result<SyncReport> {
    let event = LambdaEvent::new(scheduled_event("sellerbridge-sync"), lambda_context(timeout));
    order_sync::handle(deps, event).await.map_err(|e| anyhow::anyhow!(e))
}

/// One scheduled run of the redactor (`dry_run` as the CLI's redaction dry-run sends it).
pub async fn tick_redaction(deps: &RedactorDeps, timeout: Duration, dry_run: bool) -> Result<RedactionReport> {
    let mut payload = scheduled_event("sellerbridge-redaction");
    payload["dry_run"] = json!(dry_run);
    pii_redactor::handle(deps, LambdaEvent::new(payload, lambda_context(timeout))).await.map_err(|e| anyhow::anyhow!(e))
}

/// An HTTP API (payload format 2.0) event, as API Gateway hands a POST to the function.
pub fn api_gateway_event(path: &str, headers: &[(&str, String)], body: &[u8]) -> serde_json::Value {
    http_api_event("POST", path, &[], headers, body)
}

/// An HTTP API (payload format 2.0) event for any method, with query parameters.
pub fn http_api_event(
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, String)],
    body: &[u8],
) -> serde_json::Value {
    let raw_query: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish();
    let parameters: serde_json::Map<String, serde_json::Value> =
        query.iter().map(|(name, value)| ((*name).to_owned(), json!(value))).collect();
    let headers: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(name, value)| (name.to_lowercase(), json!(value)))
        .chain([("content-type".into(), json!("application/json"))])
        .collect();
    let (encoded, is_base64) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };
    let mut event = json!({
        "version": "2.0", "routeKey": format!("{method} {path}"), "rawPath": path, "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {"accountId": "000000000000", "apiId": "local", "domainName": "localhost", "domainPrefix": "localhost",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "sellerbridge-local"},
            "requestId": uuid::Uuid::new_v4().to_string(), "routeKey": format!("{method} {path}"), "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 0},
        "body": encoded, "isBase64Encoded": is_base64
    });
    if !parameters.is_empty() {
        event["queryStringParameters"] = serde_json::Value::Object(parameters);
    }
    event
}

/// Sends a request to the webhook function the way the HTTP API does; returns the status and JSON body.
pub async fn post_webhook(
    deps: &WebhookDeps,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Result<(u16, serde_json::Value)> {
    invoke_http(api_gateway_event(path, headers, body), |request| shipment_webhook::handle(deps, request)).await
}

/// Sends a GET to the read endpoint the way the HTTP API does; returns the status and JSON body.
pub async fn get_api(
    deps: &ApiDeps,
    path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, String)],
) -> Result<(u16, serde_json::Value)> {
    let event = http_api_event("GET", path, query, headers, b"");
    invoke_http(event, |request| order_api::handle(deps, request)).await
}

/// Hands an HTTP API event to a `lambda_http` handler as the runtime would; the status and JSON body.
async fn invoke_http<F, Fut>(event: serde_json::Value, handler: F) -> Result<(u16, serde_json::Value)>
where
    F: FnOnce(lambda_http::Request) -> Fut,
    Fut: Future<Output = Result<lambda_http::Response<lambda_http::Body>, lambda_http::Error>>,
{
    let request: lambda_http::request::LambdaRequest =
        serde_json::from_value(event).context("building the API Gateway v2 event")?;
    let response = handler(request.into()).await.map_err(|e| anyhow::anyhow!(e))?;
    let status = response.status().as_u16();
    let body: &[u8] = response.body().as_ref();
    Ok((status, serde_json::from_slice(body).unwrap_or(serde_json::Value::Null)))
}

/// The SQS event the event source mapping builds from received messages.
pub fn sqs_event(messages: &[aws_sdk_sqs::types::Message]) -> serde_json::Value {
    let records: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, serde_json::Value> =
                m.attributes().map(|a| a.iter().map(|(k, v)| (k.as_str().to_owned(), json!(v))).collect()).unwrap_or_default();
            json!({
                "messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(),
                "attributes": attributes, "messageAttributes": {}, "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs", "eventSourceARN": format!("arn:aws:sqs:{REGION}:000000000000:local"), "awsRegion": REGION
            })
        })
        .collect();
    json!({"Records": records})
}

/// The SQS event of one batch of messages with these bodies, each received for the first time.
pub fn sqs_event_of(bodies: &[String]) -> serde_json::Value {
    let messages: Vec<aws_sdk_sqs::types::Message> = bodies
        .iter()
        .map(|body| {
            aws_sdk_sqs::types::Message::builder()
                .message_id(uuid::Uuid::new_v4().to_string())
                .body(body)
                .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "1")
                .build()
        })
        .collect();
    sqs_event(&messages)
}

/// Hands `bodies` to the sender as one batch, as the event source mapping would, with no queue in
/// between: for benchmarks whose backlogs are larger than the local SQS stand-in receives quickly.
/// Returns how many the sender reported as failed.
pub async fn invoke_sender(deps: &SenderDeps, bodies: &[String], timeout: Duration) -> Result<usize> {
    let event: SqsEvent = serde_json::from_value(sqs_event_of(bodies)).context("building the SQS event")?;
    let response = update_sender::handle(deps, LambdaEvent::new(event, lambda_context(timeout)))
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    Ok(response.batch_item_failures.len())
}

/// What one poll did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollStats {
    pub received: usize,
    pub failed: usize,
}

/// Messages in the queue, as SQS counts them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct QueueDepth {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

impl QueueDepth {
    pub fn is_empty(&self) -> bool {
        self.visible + self.in_flight + self.delayed == 0
    }
}

/// Behaves like Lambda's SQS event source mapping for one function.
#[derive(Clone)]
pub struct SqsPoller {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub batch_size: i32,
    pub visibility_timeout: Duration,
}

impl SqsPoller {
    pub fn new(sqs: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        // The template's SQS event: BatchSize 10.
        Self { sqs, queue_url: queue_url.into(), batch_size: 10, visibility_timeout: Duration::from_secs(30) }
    }

    /// Receives up to one batch, as the event source mapping does.
    pub async fn receive(&self) -> Result<Vec<aws_sdk_sqs::types::Message>> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(self.batch_size)
            .visibility_timeout(self.visibility_timeout.as_secs() as i32)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .wait_time_seconds(0)
            .send()
            .await
            .with_context(|| format!("receiving from {}", self.queue_url))?;
        Ok(received.messages.unwrap_or_default())
    }

    /// Receives one batch, invokes the sender with it, deletes what it did not report as failed.
    pub async fn poll_once(&self, deps: &SenderDeps, timeout: Duration) -> Result<PollStats> {
        self.deliver(timeout, |event| update_sender::handle(deps, event)).await
    }

    /// Receives one batch of Amazon's notifications and hands it to their consumer, likewise.
    pub async fn poll_notifications(&self, deps: &NotificationDeps, timeout: Duration) -> Result<PollStats> {
        self.deliver(timeout, |event| order_notifications::handle(deps, event)).await
    }

    /// Receives one batch, invokes `handler` with it as the event source mapping would, and deletes
    /// what it did not report as failed.
    pub async fn deliver<F, Fut>(&self, timeout: Duration, handler: F) -> Result<PollStats>
    where
        F: FnOnce(LambdaEvent<SqsEvent>) -> Fut,
        Fut: Future<Output = Result<SqsBatchResponse, lambda_runtime::Error>>,
    {
        let messages = self.receive().await?;
        if messages.is_empty() {
            return Ok(PollStats::default());
        }
        let event: SqsEvent = serde_json::from_value(sqs_event(&messages)).context("building the SQS event")?;
        let response =
            handler(LambdaEvent::new(event, lambda_context(timeout))).await.map_err(|e| anyhow::anyhow!(e))?;
        let failed: HashSet<String> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
        let done: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .filter(|m| !failed.contains(m.message_id().unwrap_or_default()))
            .enumerate()
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .build()
            })
            .collect::<Result<_, _>>()?;
        if !done.is_empty() {
            self.sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(done))
                .send()
                .await
                .context("deleting handled messages")?;
        }
        Ok(PollStats { received: messages.len(), failed: failed.len() })
    }

    pub async fn depth(&self) -> Result<QueueDepth> {
        depth(&self.sqs, &self.queue_url).await
    }
}

pub async fn depth(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<QueueDepth> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .context("reading queue attributes")?;
    let count = |name: QueueAttributeName| {
        attributes.attributes().and_then(|a| a.get(&name)).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    Ok(QueueDepth {
        visible: count(QueueAttributeName::ApproximateNumberOfMessages),
        in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        delayed: count(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
    })
}
