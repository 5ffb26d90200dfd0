//! Metrics in CloudWatch's Embedded Metric Format: one JSON line per invocation on standard output,
//! which CloudWatch Logs turns into metrics in the `sellerbridge` namespace, by function. Counts only:
//! a metric line carries metric names, the function's name and numbers, never an identifier or PII.
//!
//! Whatever counts something calls [`count`] as it happens (the SP-API client its 429s and quota waits,
//! the sync its imports, the sender its confirmations); each Lambda handler takes the counts at the end
//! of its invocation ([`MetricSet::taken`]) and emits them as one line. A container runs one invocation
//! at a time, so the counts are that invocation's.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

pub const NAMESPACE: &str = "sellerbridge";
pub const FUNCTION_DIMENSION: &str = "Function";
/// Set by the Lambda runtime environment.
const LAMBDA_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";

/// Every metric sellerbridge emits; the alarms and the dashboard name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    OrdersImported,
    OrdersUpdated,
    ConfirmationsSent,
    FeedsSubmitted,
    /// Amazon answered 429 QuotaExceeded.
    AmazonThrottled,
    /// A call waited for the seller's quota (our bucket) before it was sent.
    QuotaWaits,
    Redactions,
    /// Orders past their redaction time that a run could not redact (failed, or left for lack of time).
    RedactionOverdue,
    /// Messages given up on: recorded for the operator, the message in a dead-letter queue.
    DeadLettered,
    WebhookFailures,
    ConnectionsNeedingReauthorization,
    FulfillmentOrdersChanged,
    InventoryChanged,
}

impl Metric {
    pub const ALL: [Metric; 13] = [
        Self::OrdersImported,
        Self::OrdersUpdated,
        Self::ConfirmationsSent,
        Self::FeedsSubmitted,
        Self::AmazonThrottled,
        Self::QuotaWaits,
        Self::Redactions,
        Self::RedactionOverdue,
        Self::DeadLettered,
        Self::WebhookFailures,
        Self::ConnectionsNeedingReauthorization,
        Self::FulfillmentOrdersChanged,
        Self::InventoryChanged,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::OrdersImported => "OrdersImported",
            Self::OrdersUpdated => "OrdersUpdated",
            Self::ConfirmationsSent => "ConfirmationsSent",
            Self::FeedsSubmitted => "FeedsSubmitted",
            Self::AmazonThrottled => "AmazonThrottled",
            Self::QuotaWaits => "QuotaWaits",
            Self::Redactions => "Redactions",
            Self::RedactionOverdue => "RedactionOverdue",
            Self::DeadLettered => "DeadLettered",
            Self::WebhookFailures => "WebhookFailures",
            Self::ConnectionsNeedingReauthorization => "ConnectionsNeedingReauthorization",
            Self::FulfillmentOrdersChanged => "FulfillmentOrdersChanged",
            Self::InventoryChanged => "InventoryChanged",
        }
    }
}

/// Counts since they were last taken, one per [`Metric`] (in [`Metric::ALL`]'s order).
static COUNTS: [AtomicU64; Metric::ALL.len()] = [const { AtomicU64::new(0) }; Metric::ALL.len()];

/// Adds `n` to `metric` for the current invocation.
pub fn count(metric: Metric, n: u64) {
    COUNTS[metric as usize].fetch_add(n, Ordering::Relaxed);
}

/// What one invocation of a function did, in counts.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSet {
    function: &'static str,
    counts: BTreeMap<Metric, u64>,
}

impl MetricSet {
    pub fn new(function: &'static str) -> Self {
        Self { function, counts: BTreeMap::new() }
    }

    /// Every metric counted since the last take, reset. Zeros are left out: CloudWatch bills a custom
    /// metric for each hour it receives data, so a quiet stack costs next to nothing, and every alarm
    /// treats missing data as not breaching.
    pub fn taken(function: &'static str) -> Self {
        let counts = Metric::ALL
            .into_iter()
            .map(|metric| (metric, COUNTS[metric as usize].swap(0, Ordering::Relaxed)))
            .filter(|(_, count)| *count > 0);
        Self { function, counts: counts.collect() }
    }

    pub fn add(&mut self, metric: Metric, count: u64) -> &mut Self {
        *self.counts.entry(metric).or_default() += count;
        self
    }

    pub fn count(&self, metric: Metric) -> u64 {
        self.counts.get(&metric).copied().unwrap_or_default()
    }

    /// The EMF line: every metric of the set, by function.
    pub fn line(&self, now: DateTime<Utc>) -> String {
        let metrics: Vec<Value> =
            self.counts.keys().map(|metric| json!({"Name": metric.name(), "Unit": "Count"})).collect();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({"Timestamp": now.timestamp_millis(), "CloudWatchMetrics": [{
                "Namespace": NAMESPACE, "Dimensions": [[FUNCTION_DIMENSION]], "Metrics": metrics}]}),
        );
        root.insert(FUNCTION_DIMENSION.into(), Value::from(self.function));
        for (metric, count) in &self.counts {
            root.insert(metric.name().into(), Value::from(*count));
        }
        Value::Object(root).to_string()
    }

    /// Writes the line to standard output, where the Lambda runtime hands it to CloudWatch Logs. Not a
    /// tracing event: the log format would wrap it, and EMF must be the whole line. Outside Lambda (the
    /// local runner, the demo, the CLI) nothing reads it, so nothing is written.
    pub fn emit(&self, now: DateTime<Utc>) {
        if !self.counts.is_empty() && std::env::var_os(LAMBDA_FUNCTION_NAME).is_some() {
            println!("{}", self.line(now));
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_line_is_embedded_metric_format_with_counts_and_the_function_only() {
        let mut set = MetricSet::new("order-sync");
        set.add(Metric::OrdersImported, 3).add(Metric::OrdersImported, 2).add(Metric::AmazonThrottled, 0);
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
        let line: Value = serde_json::from_str(&set.line(at)).unwrap();
        assert_eq!(line["OrdersImported"], 5);
        assert_eq!(line["AmazonThrottled"], 0, "a count added as zero is written as such");
        assert_eq!(line["Function"], "order-sync");
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(line["_aws"]["Timestamp"], at.timestamp_millis());
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        let names: Vec<&str> =
            directive["Metrics"].as_array().unwrap().iter().map(|m| m["Name"].as_str().unwrap()).collect();
        assert_eq!(names, ["OrdersImported", "AmazonThrottled"]);
        // Nothing but the directive, the dimension and the metrics: no identifier can ride along.
        let keys: Vec<&String> = line.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 2 + names.len(), "{keys:?}");
    }

    #[test]
    fn counts_are_taken_once_and_only_those_that_happened() {
        // No unit test counts inventory changes, so nothing else in this process moves it.
        count(Metric::InventoryChanged, 2);
        count(Metric::InventoryChanged, 1);
        let set = MetricSet::taken("order-sync");
        assert_eq!(set.count(Metric::InventoryChanged), 3);
        assert!(set.counts.values().all(|count| *count > 0), "no zeros: {set:?}");
        let again = MetricSet::taken("order-sync");
        assert!(!again.counts.contains_key(&Metric::InventoryChanged), "reset by the take");
        for (index, metric) in Metric::ALL.into_iter().enumerate() {
            assert_eq!(metric as usize, index, "ALL is in declaration order");
        }
    }
}
