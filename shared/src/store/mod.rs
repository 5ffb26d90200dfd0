//! The single-table DynamoDB adapter. The key layout lives in [`keys`]; records are stored as a JSON
//! `body` of the domain type plus the few top-level attributes that conditions and the index need.
mod adjustments;
mod dynamo;
mod feeds;
mod fulfillment;
pub mod keys;
mod limiter;

pub use adjustments::PlaceAdjustment;
pub use dynamo::{
    AppCredentialsAlert, AwaitingPage, CursorRecord, DueCursor, DuePage, DynamoStore, EventRecord, PendingWebhook,
    PlacePackage, SyncWindow, TrackingClaim, UnreadableRecord, UpsertOutcome, Versioned, WebhookFailure,
};
pub use feeds::{FeedBacklogEntry, FeedEnd, SettledFeed, StoredFeedItem};
pub use fulfillment::{InventoryReport, PendingFulfillmentEvent, ReadMark};
pub use limiter::DynamoRateLimiter;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    /// Someone else wrote the record first (optimistic locking); read again and retry.
    #[error("concurrent update of {key}")]
    Conflict { key: String },
    /// DynamoDB could not be reached or refused for a transient reason.
    #[error("DynamoDB unavailable: {0}")]
    Unavailable(String),
    /// A record that does not parse: needs an operator, retrying cannot help.
    #[error("record {key} is unreadable: {message}")]
    Corrupt { key: String, message: String },
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::Corrupt { .. })
    }
}
