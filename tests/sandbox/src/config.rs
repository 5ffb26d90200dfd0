//! Sandbox configuration and the list of emulated operations.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};

use crate::feeds::FeedSettings;
use crate::fulfillment::FulfillmentSettings;
use crate::search::Paging;
use crate::sites::Site;

/// US marketplace, the only one the seeded data uses by default.
pub const DEFAULT_MARKETPLACE_ID: &str = "ATVPDKIKX0DER";

/// The selling partner the sandbox's refresh tokens belong to, unless configured otherwise.
pub const DEFAULT_SELLER_ID: &str = "A1SANDBOXSELLER";

/// What Amazon's token endpoint answers in `expires_in`.
pub const ACCESS_TOKEN_EXPIRES_IN_SECS: i64 = 3600;

/// An emulated endpoint. Used for rate limits, fault injection and the call log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    LwaToken,
    SearchOrders,
    GetOrder,
    ConfirmShipment,
    CreateDestination,
    GetDestinations,
    CreateSubscription,
    GetSubscription,
    CreateFeedDocument,
    CreateFeed,
    GetFeed,
    GetFeeds,
    CancelFeed,
    GetFeedDocument,
    /// A PUT or GET on a feed document's presigned URL: S3's part, not an SP-API call.
    DocumentTransfer,
    GetFulfillmentPreview,
    CreateFulfillmentOrder,
    ListAllFulfillmentOrders,
    GetFulfillmentOrder,
    CancelFulfillmentOrder,
    /// Amazon's sandbox-only operation moving a fulfillment order to a status now.
    SubmitFulfillmentOrderStatusUpdate,
    GetInventorySummaries,
    Unknown,
}

impl Operation {
    pub const ALL: [Operation; 23] = [
        Operation::LwaToken,
        Operation::SearchOrders,
        Operation::GetOrder,
        Operation::ConfirmShipment,
        Operation::CreateDestination,
        Operation::GetDestinations,
        Operation::CreateSubscription,
        Operation::GetSubscription,
        Operation::CreateFeedDocument,
        Operation::CreateFeed,
        Operation::GetFeed,
        Operation::GetFeeds,
        Operation::CancelFeed,
        Operation::GetFeedDocument,
        Operation::DocumentTransfer,
        Operation::GetFulfillmentPreview,
        Operation::CreateFulfillmentOrder,
        Operation::ListAllFulfillmentOrders,
        Operation::GetFulfillmentOrder,
        Operation::CancelFulfillmentOrder,
        Operation::SubmitFulfillmentOrderStatusUpdate,
        Operation::GetInventorySummaries,
        Operation::Unknown,
    ];

    /// The camelCase name used on the wire (call log, stats, faults, `--rate`).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::LwaToken => "lwaToken",
            Operation::SearchOrders => "searchOrders",
            Operation::GetOrder => "getOrder",
            Operation::ConfirmShipment => "confirmShipment",
            Operation::CreateDestination => "createDestination",
            Operation::GetDestinations => "getDestinations",
            Operation::CreateSubscription => "createSubscription",
            Operation::GetSubscription => "getSubscription",
            Operation::CreateFeedDocument => "createFeedDocument",
            Operation::CreateFeed => "createFeed",
            Operation::GetFeed => "getFeed",
            Operation::GetFeeds => "getFeeds",
            Operation::CancelFeed => "cancelFeed",
            Operation::GetFeedDocument => "getFeedDocument",
            Operation::DocumentTransfer => "documentTransfer",
            Operation::GetFulfillmentPreview => "getFulfillmentPreview",
            Operation::CreateFulfillmentOrder => "createFulfillmentOrder",
            Operation::ListAllFulfillmentOrders => "listAllFulfillmentOrders",
            Operation::GetFulfillmentOrder => "getFulfillmentOrder",
            Operation::CancelFulfillmentOrder => "cancelFulfillmentOrder",
            Operation::SubmitFulfillmentOrderStatusUpdate => "submitFulfillmentOrderStatusUpdate",
            Operation::GetInventorySummaries => "getInventorySummaries",
            Operation::Unknown => "unknown",
        }
    }

    /// SP-API operations need an access token and are rate limited; LWA, document transfers (S3 presigned
    /// URLs) and unknown routes are not.
    pub fn is_sp_api(self) -> bool {
        !matches!(self, Operation::LwaToken | Operation::DocumentTransfer | Operation::Unknown)
    }

    /// Amazon's default usage plan (rate per second, burst) from the API models.
    pub fn default_rate(self) -> Option<(f64, f64)> {
        match self {
            Operation::SearchOrders => Some((0.0056, 20.0)),
            Operation::GetOrder => Some((0.5, 30.0)),
            Operation::ConfirmShipment => Some((2.0, 10.0)),
            Operation::CreateDestination
            | Operation::GetDestinations
            | Operation::CreateSubscription
            | Operation::GetSubscription => Some((1.0, 5.0)),
            Operation::GetFeeds | Operation::GetFeedDocument => Some((0.0222, 10.0)),
            Operation::CreateFeed => Some((0.0083, 15.0)),
            Operation::GetFeed | Operation::CancelFeed => Some((2.0, 15.0)),
            Operation::CreateFeedDocument => Some((0.5, 15.0)),
            // Fulfillment Outbound 2020-07-01 gives every operation 2/s, burst 30; its sandbox-only status update
            // states no plan, and gets the same.
            Operation::GetFulfillmentPreview
            | Operation::CreateFulfillmentOrder
            | Operation::ListAllFulfillmentOrders
            | Operation::GetFulfillmentOrder
            | Operation::CancelFulfillmentOrder
            | Operation::SubmitFulfillmentOrderStatusUpdate => Some((2.0, 30.0)),
            Operation::GetInventorySummaries => Some((2.0, 2.0)),
            Operation::LwaToken | Operation::DocumentTransfer | Operation::Unknown => None,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "unknown operation '{0}' (expected lwaToken, searchOrders, getOrder, confirmShipment, documentTransfer, a notifications, feeds, fulfillment outbound or getInventorySummaries operation)"
)]
pub struct UnknownOperation(pub String);

impl FromStr for Operation {
    type Err = UnknownOperation;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Operation::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownOperation(s.to_string()))
    }
}

/// Everything that shapes a sandbox instance. Same config (incl. `start_time`) ⇒ same orders.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Seed for the generated orders.
    pub seed: u64,
    /// Number of seeded orders.
    pub order_count: usize,
    /// Multiplier applied to real elapsed time when refilling rate-limit buckets
    /// (600.0 makes searchOrders' 1-per-180 s refill take 0.3 s).
    pub time_scale: f64,
    pub client_id: String,
    pub client_secret: String,
    /// LWA refresh tokens accepted by `/auth/o2/token`.
    pub refresh_tokens: Vec<String>,
    /// The marketplaces orders are sold in, in turn (see [`crate::sites::SITES`]); all of one region,
    /// whose host the sandbox stands for: searches naming a marketplace of another region are refused.
    pub marketplace_ids: Vec<String>,
    /// Per-operation (rate per second, burst) replacing Amazon's defaults.
    pub rate_overrides: HashMap<Operation, (f64, f64)>,
    /// Port to bind on 127.0.0.1 (0 = any free port).
    pub port: u16,
    /// Sandbox clock at start (default: system time). Seeded timestamps derive from this value
    /// truncated to the hour, so pin it to get identical orders across hours/processes.
    pub start_time: Option<DateTime<Utc>>,
    /// Life of an LWA access token on the sandbox clock. Amazon: one hour, and `expires_in` always says 3600
    /// whatever this is, so a shorter lifetime makes tokens die before the client expects.
    pub access_token_lifetime: Duration,
    /// Life of a searchOrders pagination token on the sandbox clock (Amazon's model: 24 hours).
    pub pagination_token_lifetime: Duration,
    /// How pagination tokens continue a search (Amazon does not document it).
    pub paging: Paging,
    /// The selling partner the refresh tokens belong to, as notifications name it.
    pub seller_id: String,
    /// Where SQS destinations live (moto on the local stack): ORDER_CHANGE and FULFILLMENT_ORDER_STATUS
    /// notifications are sent to `{sqs_endpoint}/{account}/{queue}` of the ARN of the destination their own
    /// type's subscription names. Without
    /// it they are only recorded (`GET /_sandbox/notifications`).
    pub sqs_endpoint: Option<String>,
    /// How long feeds wait and process on the sandbox clock, and whether processing reports are gzipped.
    pub feeds: FeedSettings,
    /// Seeded FBA inventory: SKUs `FBA-SKU-0001`… (derived from `seed`).
    pub inventory_sku_count: usize,
    /// Life of a getInventorySummaries nextToken on the sandbox clock (Amazon's model: 30 seconds).
    pub inventory_token_lifetime: Duration,
    /// When fulfillment orders created from now on move Received → Planning → Processing → Complete.
    pub fulfillment: FulfillmentSettings,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            order_count: 200,
            time_scale: 1.0,
            client_id: "sandbox-client-id".into(),
            client_secret: "sandbox-client-secret".into(),
            refresh_tokens: vec!["Atzr|sandbox-refresh-token".into()],
            marketplace_ids: vec![DEFAULT_MARKETPLACE_ID.into()],
            rate_overrides: HashMap::new(),
            port: 0,
            start_time: None,
            access_token_lifetime: Duration::seconds(ACCESS_TOKEN_EXPIRES_IN_SECS),
            pagination_token_lifetime: Duration::hours(24),
            paging: Paging::default(),
            seller_id: DEFAULT_SELLER_ID.into(),
            sqs_endpoint: None,
            feeds: FeedSettings::default(),
            inventory_sku_count: 120,
            inventory_token_lifetime: Duration::seconds(30),
            fulfillment: FulfillmentSettings::default(),
        }
    }
}

impl SandboxConfig {
    /// Token lifetimes divided by `time_scale`, as if tokens aged as fast as quotas refill.
    /// getInventorySummaries' 30-second nextTokens are left alone: scaled, they would die between two calls.
    ///
    /// Not the default: clients time their refreshes on their own, unscaled clock, so scaled expiry makes
    /// a well-behaved client meet 403s that Amazon would never send it. Use it to test exactly that path.
    pub fn with_scaled_token_lifetimes(mut self) -> Self {
        let scale = |d: Duration| Duration::milliseconds((d.num_milliseconds() as f64 / self.time_scale) as i64);
        self.access_token_lifetime = scale(self.access_token_lifetime);
        self.pagination_token_lifetime = scale(self.pagination_token_lifetime);
        self
    }

    /// The sites orders are generated for; ids the sandbox does not know are left out.
    pub fn sites(&self) -> Vec<&'static Site> {
        self.marketplace_ids.iter().filter_map(|id| Site::find(id)).collect()
    }

    /// The region whose host the sandbox stands for: its first marketplace's.
    pub fn region(&self) -> &'static str {
        self.sites().first().map_or("NA", |site| site.region)
    }

    /// Effective (rate, burst) for an operation, if it is rate limited at all.
    pub fn rate_for(&self, op: Operation) -> Option<(f64, f64)> {
        self.rate_overrides.get(&op).copied().or_else(|| op.default_rate())
    }
}

/// Parses a `--rate` value such as `confirmShipment=2:10`.
pub fn parse_rate_override(s: &str) -> Result<(Operation, (f64, f64)), String> {
    let (op, spec) = s.split_once('=').ok_or_else(|| format!("expected OPERATION=RATE:BURST, got '{s}'"))?;
    let op: Operation = op.parse().map_err(|e: UnknownOperation| e.to_string())?;
    let (rate, burst) = spec.split_once(':').ok_or_else(|| format!("expected RATE:BURST, got '{spec}'"))?;
    let rate: f64 = rate.trim().parse().map_err(|_| format!("bad rate '{rate}'"))?;
    let burst: f64 = burst.trim().parse().map_err(|_| format!("bad burst '{burst}'"))?;
    if !(rate >= 0.0 && burst >= 0.0) {
        return Err("rate and burst must be non-negative".into());
    }
    Ok((op, (rate, burst)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rate_override() {
        let (op, (rate, burst)) = parse_rate_override("confirmShipment=2:10").unwrap();
        assert_eq!(op, Operation::ConfirmShipment);
        assert_eq!((rate, burst), (2.0, 10.0));
        assert!(parse_rate_override("nope=1:2").is_err());
        assert!(parse_rate_override("getOrder=1").is_err());
    }

    #[test]
    fn overrides_win_over_defaults() {
        let mut cfg = SandboxConfig::default();
        assert_eq!(cfg.rate_for(Operation::SearchOrders), Some((0.0056, 20.0)));
        cfg.rate_overrides.insert(Operation::SearchOrders, (1.0, 2.0));
        assert_eq!(cfg.rate_for(Operation::SearchOrders), Some((1.0, 2.0)));
        assert_eq!(cfg.rate_for(Operation::LwaToken), None);
        assert_eq!(cfg.rate_for(Operation::CreateFeed), Some((0.0083, 15.0)));
        assert_eq!(cfg.rate_for(Operation::DocumentTransfer), None);
        assert_eq!(cfg.rate_for(Operation::CreateFulfillmentOrder), Some((2.0, 30.0)));
        assert_eq!(cfg.rate_for(Operation::SubmitFulfillmentOrderStatusUpdate), Some((2.0, 30.0)));
        assert_eq!(cfg.rate_for(Operation::GetInventorySummaries), Some((2.0, 2.0)));
    }

    #[test]
    fn feed_operations_parse_by_wire_name() {
        for op in Operation::ALL {
            assert_eq!(op.as_str().parse::<Operation>().unwrap(), op);
        }
        assert!(Operation::GetFeedDocument.is_sp_api());
        assert!(!Operation::DocumentTransfer.is_sp_api());
        let (op, rate) = parse_rate_override("createFeed=1:2").unwrap();
        assert_eq!((op, rate), (Operation::CreateFeed, (1.0, 2.0)));
        assert_eq!("getInventorySummaries".parse::<Operation>().unwrap(), Operation::GetInventorySummaries);
        assert!(Operation::ListAllFulfillmentOrders.is_sp_api());
        let unknown = "updateFulfillmentOrder".parse::<Operation>().unwrap_err().to_string();
        assert!(unknown.contains("fulfillment outbound"), "{unknown}");
    }

    #[test]
    fn scaled_token_lifetimes() {
        let cfg = SandboxConfig { time_scale: 600.0, ..SandboxConfig::default() }.with_scaled_token_lifetimes();
        assert_eq!(cfg.access_token_lifetime, Duration::seconds(6));
        assert_eq!(cfg.pagination_token_lifetime, Duration::seconds(144));
    }
}
