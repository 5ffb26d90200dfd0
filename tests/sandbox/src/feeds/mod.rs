//! Feeds API 2021-06-30 (`feeds_2021-06-30.json`): feed documents behind presigned URLs, feeds that move
//! IN_QUEUE → IN_PROGRESS → DONE | FATAL over the sandbox clock, and the three XML order feeds
//! (`POST_ORDER_FULFILLMENT_DATA`, `POST_ORDER_ACKNOWLEDGEMENT_DATA`, `POST_PAYMENT_ADJUSTMENT_DATA`) applied
//! to the orders when a feed reaches DONE, each answered by an XML processing report.
//!
//! Timing: a feed is IN_QUEUE from its createdTime, IN_PROGRESS `queueSeconds` later and DONE (or FATAL)
//! `processingSeconds` after that, all on the sandbox clock. The times (and whether the report is gzipped) are
//! fixed when the feed is created, so later settings apply to later feeds. Nothing runs in the background of a request: [`advance`] catches
//! every feed up with the clock, and the sandbox calls it before each request, when the clock is set and on
//! a short real-time tick (so notifications go out without anyone polling).

mod documents;
mod listing;
mod messages;
mod process;
mod report;
mod xml;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

pub use documents::{Compression, Document, DocumentKind, S3Error, Transfer, URL_LIFETIME_SECS};
pub(crate) use documents::{Documents, gunzip};
pub use listing::FeedsQuery;
pub(crate) use process::minor_units;
pub use process::{Finding, MessageOutcome, Outcome, Severity};
pub use report::ResultMessageCode;

use crate::error::ApiError;
use crate::state::Inner;
use crate::time::truncate_to_second;
use crate::tokens::TokenStore;

/// How feeds move on the sandbox clock: `GET|POST /_sandbox/feeds/settings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FeedSettings {
    /// Sandbox seconds a feed stays IN_QUEUE.
    pub queue_seconds: i64,
    /// Sandbox seconds a feed stays IN_PROGRESS before it is DONE or FATAL.
    pub processing_seconds: i64,
    /// Gzip processing reports (getFeedDocument then says `compressionAlgorithm: GZIP`).
    pub compress_reports: bool,
}

impl Default for FeedSettings {
    fn default() -> Self {
        Self { queue_seconds: 60, processing_seconds: 120, compress_reports: false }
    }
}

/// `Feed.processingStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProcessingStatus {
    Cancelled,
    Done,
    Fatal,
    InProgress,
    InQueue,
}

impl ProcessingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cancelled => "CANCELLED",
            Self::Done => "DONE",
            Self::Fatal => "FATAL",
            Self::InProgress => "IN_PROGRESS",
            Self::InQueue => "IN_QUEUE",
        }
    }
}

impl FromStr for ProcessingStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        [Self::Cancelled, Self::Done, Self::Fatal, Self::InProgress, Self::InQueue]
            .into_iter()
            .find(|status| status.as_str() == s.trim())
            .ok_or_else(|| s.to_string())
    }
}

impl fmt::Display for ProcessingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The feed types the sandbox processes; createFeed refuses every other one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FeedType {
    OrderFulfillment,
    OrderAcknowledgement,
    PaymentAdjustment,
}

impl FeedType {
    pub const ALL: [FeedType; 3] = [Self::OrderFulfillment, Self::OrderAcknowledgement, Self::PaymentAdjustment];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderFulfillment => "POST_ORDER_FULFILLMENT_DATA",
            Self::OrderAcknowledgement => "POST_ORDER_ACKNOWLEDGEMENT_DATA",
            Self::PaymentAdjustment => "POST_PAYMENT_ADJUSTMENT_DATA",
        }
    }

    /// The envelope's `MessageType`, which is also the name of each message's payload element.
    pub fn message_type(self) -> &'static str {
        match self {
            Self::OrderFulfillment => "OrderFulfillment",
            Self::OrderAcknowledgement => "OrderAcknowledgement",
            Self::PaymentAdjustment => "OrderAdjustment",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl Serialize for FeedType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One feed, with what the sandbox knows beyond Amazon's `Feed` (its input, its schedule, what processing found).
#[derive(Debug, Clone)]
pub struct Feed {
    pub feed_id: String,
    pub feed_type: FeedType,
    pub marketplace_ids: Vec<String>,
    /// The SP-API region whose host it was created on; the other hosts do not know it.
    pub region: &'static str,
    pub input_feed_document_id: String,
    pub feed_options: BTreeMap<String, String>,
    pub created_time: DateTime<Utc>,
    /// When it leaves IN_QUEUE and when it is DONE or FATAL (fixed at creation).
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Whether its report is gzipped (fixed at creation, like its schedule).
    pub compress_report: bool,
    pub processing_status: ProcessingStatus,
    pub processing_start_time: Option<DateTime<Utc>>,
    pub processing_end_time: Option<DateTime<Utc>>,
    pub result_feed_document_id: Option<String>,
    pub outcome: Option<Outcome>,
}

/// Amazon's `Feed` definition, field for field.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedView {
    pub feed_id: String,
    pub feed_type: &'static str,
    pub marketplace_ids: Vec<String>,
    pub created_time: String,
    pub processing_status: ProcessingStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processing_start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processing_end_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_feed_document_id: Option<String>,
}

/// The Feeds API writes its times with a `+00:00` offset and whole seconds (`2021-06-12T09:34:52+00:00`),
/// unlike the Orders API's `Z`.
pub fn format_feed_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

impl Feed {
    pub fn view(&self) -> FeedView {
        FeedView {
            feed_id: self.feed_id.clone(),
            feed_type: self.feed_type.as_str(),
            marketplace_ids: self.marketplace_ids.clone(),
            created_time: format_feed_time(self.created_time),
            processing_status: self.processing_status,
            processing_start_time: self.processing_start_time.map(format_feed_time),
            processing_end_time: self.processing_end_time.map(format_feed_time),
            result_feed_document_id: self.result_feed_document_id.clone(),
        }
    }
}

/// A feed as `GET /_sandbox/feeds` shows it: Amazon's `Feed`, its input, and how each message fared.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedSummary {
    #[serde(flatten)]
    pub feed: FeedView,
    pub input_feed_document_id: String,
    pub feed_options: BTreeMap<String, String>,
    /// Messages processed; `null` until the feed finished (and for a FATAL or CANCELLED one).
    pub message_count: Option<usize>,
    /// Why the whole feed failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fatal: Option<Finding>,
    pub messages: Vec<MessageSummary>,
}

/// One message's outcome: `Success`, or the report's `Error`/`Warning` with its code and description.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSummary {
    pub message_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    pub result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_message_code: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_description: Option<String>,
}

impl Feed {
    pub fn summary(&self) -> FeedSummary {
        let outcome = self.outcome.as_ref();
        let messages = outcome
            .map(|o| {
                o.messages
                    .iter()
                    .map(|m| MessageSummary {
                        message_id: m.message_id,
                        order_id: m.order_id.clone(),
                        item_id: m.item_id.clone(),
                        result: match m.finding.as_ref().map(|f| f.severity) {
                            None => "Success",
                            Some(Severity::Error) => "Error",
                            Some(Severity::Warning) => "Warning",
                        },
                        result_message_code: m.finding.as_ref().map(|f| f.code.code()),
                        result_description: m.finding.as_ref().map(|f| f.description.clone()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        FeedSummary {
            feed: self.view(),
            input_feed_document_id: self.input_feed_document_id.clone(),
            feed_options: self.feed_options.clone(),
            message_count: outcome.filter(|o| o.fatal.is_none()).map(|o| o.messages.len()),
            fatal: outcome.and_then(|o| o.fatal.clone()),
            messages,
        }
    }
}

/// Why a Feeds API call is refused (all 400 InvalidInput but `FeedNotFound`, a 404).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    #[error("Invalid feed type {0}. The sandbox processes {types}", types = supported_types())]
    UnsupportedFeedType(String),
    #[error("marketplaceIds must contain between 1 and 25 marketplace identifiers")]
    MarketplaceCount,
    #[error("Invalid marketplaceId: {0} is not a marketplace of the selling partner")]
    ForeignMarketplace(String),
    #[error("Invalid inputFeedDocumentId: {0} is not a feed document created with createFeedDocument")]
    UnknownInputDocument(String),
    #[error("Invalid feedDocumentId")]
    UnknownDocument,
    #[error("One or more of the provided FeedSubmissionIds could not be found.")]
    FeedNotFound,
    #[error("Only feeds with processingStatus=IN_QUEUE can be cancelled. Feed {feed_id} is {status}.")]
    NotCancellable { feed_id: String, status: ProcessingStatus },
    #[error("{0}")]
    InvalidQuery(String),
}

fn supported_types() -> String {
    FeedType::ALL.map(FeedType::as_str).join(", ")
}

impl From<FeedError> for ApiError {
    fn from(error: FeedError) -> Self {
        match error {
            // The text Amazon answers an unknown feedId with (amzn/selling-partner-api-docs#2908).
            FeedError::FeedNotFound => ApiError::not_found(error.to_string()),
            _ => ApiError::invalid_input(error.to_string()),
        }
    }
}

/// What createFeed asks for, once its body is read.
#[derive(Debug, Clone)]
pub struct NewFeed {
    pub feed_type: FeedType,
    pub marketplace_ids: Vec<String>,
    pub input_feed_document_id: String,
    pub feed_options: BTreeMap<String, String>,
    pub region: &'static str,
}

/// Feeds, their documents and the Feeds API's tokens.
pub struct FeedStore {
    pub settings: FeedSettings,
    feeds: Vec<Feed>,
    pub(crate) documents: Documents,
    next_tokens: TokenStore<listing::Resume>,
    /// (orderId, MerchantFulfillmentID) → the packageReferenceId a non-numeric MerchantFulfillmentID was given,
    /// so that resending its message updates that package.
    pub(crate) fulfillment_references: HashMap<(String, String), String>,
}

/// Amazon's feed ids are numbers such as `50012019123`; the sandbox counts up from there.
const FIRST_FEED_ID: u64 = 50_012_019_123;
const FEED_ID_STEP: u64 = 1_000;

impl FeedStore {
    pub fn new(settings: FeedSettings) -> Self {
        Self {
            settings,
            feeds: Vec::new(),
            documents: Documents::default(),
            next_tokens: TokenStore::default(),
            fulfillment_references: HashMap::new(),
        }
    }

    /// Every feed, oldest first.
    pub fn feeds(&self) -> &[Feed] {
        &self.feeds
    }

    /// A feed as the host of `region` knows it.
    pub fn feed(&self, feed_id: &str, region: &str) -> Result<&Feed, FeedError> {
        self.feeds.iter().find(|f| f.feed_id == feed_id && f.region == region).ok_or(FeedError::FeedNotFound)
    }

    /// Validates against what the sandbox holds (the document) and queues the feed; the input document's
    /// content is frozen from now on.
    pub fn create_feed(&mut self, new: NewFeed, now: DateTime<Utc>) -> Result<String, FeedError> {
        let document = self
            .documents
            .get_mut(&new.input_feed_document_id)
            .filter(|d| d.kind == DocumentKind::Input && d.region == new.region)
            .ok_or_else(|| FeedError::UnknownInputDocument(new.input_feed_document_id.clone()))?;
        document.locked = true;
        let created_time = truncate_to_second(now);
        let starts_at = created_time + Duration::seconds(self.settings.queue_seconds.max(0));
        let ends_at = starts_at + Duration::seconds(self.settings.processing_seconds.max(0));
        let feed_id = (FIRST_FEED_ID + FEED_ID_STEP * self.feeds.len() as u64).to_string();
        self.feeds.push(Feed {
            feed_id: feed_id.clone(),
            feed_type: new.feed_type,
            marketplace_ids: new.marketplace_ids,
            region: new.region,
            input_feed_document_id: new.input_feed_document_id,
            feed_options: new.feed_options,
            created_time,
            starts_at,
            ends_at,
            compress_report: self.settings.compress_reports,
            processing_status: ProcessingStatus::InQueue,
            processing_start_time: None,
            processing_end_time: None,
            result_feed_document_id: None,
            outcome: None,
        });
        Ok(feed_id)
    }

    /// cancelFeed: only a feed still IN_QUEUE (the caller has advanced the feeds to `now` first).
    pub fn cancel(&mut self, feed_id: &str, region: &str, now: DateTime<Utc>) -> Result<(), FeedError> {
        let feed = self
            .feeds
            .iter_mut()
            .find(|f| f.feed_id == feed_id && f.region == region)
            .ok_or(FeedError::FeedNotFound)?;
        if feed.processing_status != ProcessingStatus::InQueue {
            return Err(FeedError::NotCancellable { feed_id: feed.feed_id.clone(), status: feed.processing_status });
        }
        feed.processing_status = ProcessingStatus::Cancelled;
        // It never started; it ended when it was cancelled.
        feed.processing_end_time = Some(truncate_to_second(now));
        Ok(())
    }

    /// Counts per processing status, for `/_sandbox/stats`.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for feed in &self.feeds {
            *counts.entry(feed.processing_status.to_string()).or_default() += 1;
        }
        counts
    }
}

/// Catches every feed up with the sandbox clock; feeds finish in the order of their end times, each at its
/// own end time (so the orders they change carry that time).
pub(crate) fn advance(inner: &mut Inner) {
    let now = inner.now();
    let mut finishing = Vec::new();
    for (index, feed) in inner.feeds.feeds.iter_mut().enumerate() {
        if feed.processing_status == ProcessingStatus::InQueue && now >= feed.starts_at {
            feed.processing_status = ProcessingStatus::InProgress;
            feed.processing_start_time = Some(feed.starts_at);
        }
        if feed.processing_status == ProcessingStatus::InProgress && now >= feed.ends_at {
            finishing.push((feed.ends_at, index));
        }
    }
    finishing.sort();
    for (_, index) in finishing {
        finish(inner, index);
    }
}

fn finish(inner: &mut Inner, index: usize) {
    let feed = &inner.feeds.feeds[index];
    let job = process::Job {
        feed_id: feed.feed_id.clone(),
        feed_type: feed.feed_type,
        marketplace_ids: feed.marketplace_ids.clone(),
        region: feed.region,
        at: feed.ends_at,
        document: inner.feeds.documents.get(&feed.input_feed_document_id).and_then(|d| d.content.clone()),
    };
    let outcome = process::run(inner, &job);
    let report = report::render(&inner.seller_id, &job.feed_id, &outcome);
    let compression = inner.feeds.feeds[index].compress_report.then_some(Compression::Gzip);
    let report_id = inner.feeds.documents.store_report(report.into_bytes(), compression, job.region);
    let feed = &mut inner.feeds.feeds[index];
    feed.processing_status = if outcome.fatal.is_some() { ProcessingStatus::Fatal } else { ProcessingStatus::Done };
    feed.processing_end_time = Some(job.at);
    feed.result_feed_document_id = Some(report_id);
    feed.outcome = Some(outcome);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_types_use_wire_names() {
        assert_eq!("IN_QUEUE".parse::<ProcessingStatus>(), Ok(ProcessingStatus::InQueue));
        assert!("BAD_VALUE".parse::<ProcessingStatus>().is_err());
        assert_eq!(serde_json::to_value(ProcessingStatus::InProgress).unwrap(), "IN_PROGRESS");
        assert_eq!(FeedType::parse("POST_PAYMENT_ADJUSTMENT_DATA"), Some(FeedType::PaymentAdjustment));
        assert_eq!(FeedType::parse("POST_PRODUCT_DATA"), None);
        assert_eq!(FeedType::PaymentAdjustment.message_type(), "OrderAdjustment");
    }

    #[test]
    fn feed_times_carry_an_offset() {
        let t = crate::time::parse_utc("2026-03-10T12:34:56.789Z").unwrap();
        assert_eq!(format_feed_time(t), "2026-03-10T12:34:56+00:00");
    }

    #[test]
    fn errors_map_to_amazons_codes() {
        let not_found: ApiError = FeedError::FeedNotFound.into();
        assert_eq!((not_found.status.as_u16(), not_found.code), (404, "NotFound"));
        let bad: ApiError = FeedError::UnsupportedFeedType("POST_PRODUCT_DATA".into()).into();
        assert_eq!((bad.status.as_u16(), bad.code), (400, "InvalidInput"));
        assert!(bad.message.starts_with("Invalid feed type POST_PRODUCT_DATA"), "{}", bad.message);
    }
}
