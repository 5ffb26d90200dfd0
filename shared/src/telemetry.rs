//! Structured JSON logs. Fields are identifiers and counts, and only the names in [`ALLOWED_FIELDS`]
//! reach the output: a field not listed is withheld (its name kept, its value not), so buyer PII cannot
//! become a log field by mistake. The crates that log raw payloads (the Lambda runtime, the SDKs' HTTP
//! stack) stay at INFO or above whatever `RUST_LOG` asks.
use std::io::Write;

use serde_json::Value;
use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer};

const DEFAULT_FILTER: &str = "info";

/// Ceilings `RUST_LOG` cannot lift: at DEBUG and TRACE these dump requests and responses (events,
/// SP-API answers, DynamoDB items), which carry buyer PII.
const PAYLOAD_CEILINGS: &[(&str, &str)] = &[
    ("lambda_runtime", "info"),
    ("lambda_runtime_api_client", "info"),
    ("lambda_http", "info"),
    ("aws_config", "warn"),
    ("aws_smithy_runtime", "warn"),
    ("aws_smithy_runtime_api", "warn"),
    ("aws_smithy_http", "warn"),
    ("aws_smithy_http_client", "warn"),
    ("hyper", "warn"),
    ("hyper_util", "warn"),
    ("h2", "warn"),
    ("reqwest", "warn"),
    ("rustls", "warn"),
];

/// Every field name a log line may carry (event fields and span fields). Values of other fields are
/// withheld and their names listed under `withheld_fields`, which a test checks never happens in our
/// own flows.
pub const ALLOWED_FIELDS: &[&str] = &[
    // The message, and what the Lambda runtime's own span carries.
    "message",
    "requestId",
    "xrayTraceId",
    // Identifiers.
    "request_id",
    "connection_id",
    "seller_id",
    "order_id",
    "other_order_id",
    "package_id",
    "package_reference_id",
    "event_id",
    "fulfillment_id",
    "store_order_id",
    "sku",
    "skus",
    "notification_id",
    "message_id",
    "feed",
    "feed_id",
    "feed_type",
    "adjustment",
    "refund",
    "key",
    "path",
    "topic",
    "operation",
    // States, outcomes and reasons (ours and Amazon's, never the store's free text).
    "status",
    "state",
    "outcome",
    "kind",
    "reason",
    "detail",
    "code",
    "error",
    "refusal",
    "waiting",
    "event",
    "fulfilled_by",
    "unreadable",
    "report",
    "reconcile",
    "dry_run",
    "changed",
    // Counts, rates and times.
    "accepted",
    "attempt",
    "attempts",
    "delay_s",
    "expected_s",
    "failed",
    "inserted",
    "updated",
    "left_in_page",
    "listed",
    "messages",
    "notifications",
    "pages",
    "pages_read",
    "planned_rate",
    "reported_rate",
    "receives",
    "redacted",
    "sent_before",
    "size",
    "tries",
    "until",
];

/// Installs the JSON subscriber for a Lambda, its filter from `RUST_LOG` under the payload ceilings.
pub fn init() {
    let _ = tracing::subscriber::set_global_default(subscriber(std::io::stdout));
}

/// The same subscriber writing elsewhere, e.g. into a buffer a test inspects.
pub fn subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    subscriber_filtered(writer, std::env::var("RUST_LOG").ok().as_deref())
}

/// [`subscriber`] with the filter `rust_log` would give.
pub fn subscriber_filtered<W>(writer: W, rust_log: Option<&str>) -> impl tracing::Subscriber + Send + Sync + use<W>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .with_writer(AllowedFieldsOnly(writer));
    tracing_subscriber::registry().with(json.with_filter(filter(rust_log)))
}

/// What `RUST_LOG` asks for, and never more than the ceilings allow: the two filters must both let an
/// event through, so no directive (a sub-target, a span) can lift a payload-dumping crate past its
/// ceiling.
fn filter<S>(rust_log: Option<&str>) -> impl tracing_subscriber::layer::Filter<S> + use<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let requested = rust_log.and_then(|directives| EnvFilter::try_new(directives).ok());
    let requested = requested.unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER));
    let unlimited = Targets::new().with_default(LevelFilter::TRACE);
    let ceilings = PAYLOAD_CEILINGS.iter().fold(unlimited, |targets, (target, level)| {
        targets.with_target(*target, level.parse::<LevelFilter>().unwrap_or(LevelFilter::WARN))
    });
    requested.and(ceilings)
}

/// Writes each log line with only the [`ALLOWED_FIELDS`].
struct AllowedFieldsOnly<M>(M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for AllowedFieldsOnly<M> {
    type Writer = LineCheck<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        LineCheck { inner: self.0.make_writer(), line: Vec::new() }
    }
}

/// One event's output, held until it is complete (the formatter writes an event through one writer).
struct LineCheck<W: Write> {
    inner: W,
    line: Vec<u8>,
}

impl<W: Write> Write for LineCheck<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for LineCheck<W> {
    fn drop(&mut self) {
        let mut out = Vec::with_capacity(self.line.len());
        for line in self.line.split(|b| *b == b'\n').filter(|line| !line.is_empty()) {
            out.extend_from_slice(&allowed_only(line));
            out.push(b'\n');
        }
        let _ = self.inner.write_all(&out);
        let _ = self.inner.flush();
    }
}

/// The line with the values of fields outside [`ALLOWED_FIELDS`] withheld. A line that is not a JSON
/// object is withheld whole.
fn allowed_only(line: &[u8]) -> Vec<u8> {
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(line) else {
        return br#"{"level":"WARN","fields":{"message":"a log line that is not JSON was withheld"}}"#.to_vec();
    };
    let mut withheld: Vec<Value> = Vec::new();
    for section in ["fields", "span"] {
        if let Some(Value::Object(fields)) = object.get_mut(section) {
            fields.retain(|name, _| {
                // A span's own name sits among its fields; an event field called `name` is a buyer's.
                let span_name = section == "span" && name == "name";
                let allowed = span_name || ALLOWED_FIELDS.contains(&name.as_str());
                if !allowed {
                    withheld.push(Value::String(name.clone()));
                }
                allowed
            });
        }
    }
    if !withheld.is_empty() {
        object.insert("withheld_fields".into(), Value::Array(withheld));
    }
    serde_json::to_vec(&Value::Object(object)).unwrap_or_default()
}

/// A parser's error message with every quoted string value removed. serde quotes the offending value
/// ("invalid type: string \"1 Main St\", expected ..."), which for an order can be buyer PII; field
/// names (in backticks), types and positions stay.
pub fn without_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    // serde quotes a value Debug-style: `\"` inside it is part of the value, not its end.
    let mut escaped = false;
    for c in message.chars() {
        match (c, quoted) {
            ('"', false) => {
                quoted = true;
                out.push_str("\"…");
            }
            (_, true) if escaped => escaped = false,
            ('\\', true) => escaped = true,
            ('"', true) => {
                quoted = false;
                out.push('"');
            }
            (_, true) => {}
            (c, false) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;

        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    /// The lines logged by `log` under `RUST_LOG=rust_log`.
    fn logged(rust_log: Option<&str>, log: impl FnOnce()) -> Vec<Value> {
        let buffer = Buffer::default();
        tracing::subscriber::with_default(subscriber_filtered(buffer.clone(), rust_log), log);
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
    }

    #[test]
    fn rust_log_never_lifts_the_runtime_and_the_sdks_past_their_ceilings() {
        let directives =
            ["trace", "lambda_runtime::layers=trace,aws_smithy_runtime::client=trace,trace", "[webhook]=trace"];
        for rust_log in directives {
            let lines = logged(Some(rust_log), || {
                let span = tracing::info_span!("webhook");
                let _entered = span.enter();
                tracing::trace!(target: "lambda_runtime::layers", "raw event with the buyer's address");
                tracing::debug!(target: "aws_smithy_runtime::client", "raw response");
                tracing::info!(target: "hyper_util::client", "connection pooled");
                tracing::trace!(target: "order_sync", "ours, at trace");
                tracing::info!(target: "lambda_runtime", "runtime started");
            });
            let messages: Vec<&str> = lines.iter().map(|l| l["fields"]["message"].as_str().unwrap()).collect();
            assert_eq!(messages, ["ours, at trace", "runtime started"], "RUST_LOG={rust_log}");
        }
        let quiet = logged(Some("error"), || tracing::info!(target: "lambda_runtime", "runtime started"));
        assert!(quiet.is_empty(), "a ceiling never raises what RUST_LOG lowered");
        let default = logged(None, || {
            tracing::debug!(target: "order_sync", "ours, at debug");
            tracing::info!(target: "order_sync", "ours, at info");
        });
        assert_eq!(default.len(), 1, "INFO by default: {default:?}");
    }

    #[test]
    fn fields_outside_the_allowlist_are_withheld_by_name() {
        let lines = logged(None, || {
            let span = tracing::info_span!("webhook", request_id = "req-1", buyer_name = "Ada Lovelace");
            let _entered = span.enter();
            tracing::info!(order_id = "902-1106328-1059050", address = "1 Analytical Way", name = "Ada", "order read");
        });
        let line = lines[0].to_string();
        assert!(!line.contains("Analytical") && !line.contains("Ada"), "{line}");
        assert_eq!(lines[0]["fields"]["order_id"], "902-1106328-1059050");
        assert_eq!(lines[0]["span"]["request_id"], "req-1");
        assert_eq!(lines[0]["withheld_fields"], serde_json::json!(["address", "name", "buyer_name"]));
        assert_eq!(lines[0]["span"]["name"], "webhook", "a span's own name is kept");
        assert!(allowed_only(b"not json").starts_with(br#"{"level":"WARN""#));
    }

    #[test]
    fn quoted_values_are_removed_and_field_names_kept() {
        let err = serde_json::from_str::<std::collections::HashMap<String, u32>>(r#"{"qty": "1 Analytical Way"}"#)
            .unwrap_err();
        let safe = without_quoted_values(&err.to_string());
        assert!(!safe.contains("Analytical"), "{safe}");
        assert!(safe.starts_with("invalid type: string \"…\", expected u32"), "{safe}");
        assert_eq!(without_quoted_values("missing field `buyerName`"), "missing field `buyerName`");
    }

    /// Found by `tests/fuzz.rs`: a value with a quote in it (escaped as `\"` in serde's message) ended
    /// the removal early and the rest of the value was kept.
    #[test]
    fn quotes_and_backslashes_inside_a_value_do_not_end_it() {
        let err = serde_json::from_str::<std::collections::HashMap<String, u32>>(
            r#"{"qty": "Ada \"Countess\" Lovelace \\ 1 Infinite Loop\\"}"#,
        )
        .unwrap_err();
        let safe = without_quoted_values(&err.to_string());
        assert!(["Ada", "Countess", "Lovelace", "Infinite"].iter().all(|pii| !safe.contains(pii)), "{safe}");
        assert!(safe.starts_with("invalid type: string \"…\", expected u32"), "{safe}");
    }
}
