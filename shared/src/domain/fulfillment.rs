//! Multi-Channel Fulfillment: a store order shipped from Amazon's warehouses (Fulfillment Outbound
//! 2020-07-01), and what the store sees of it.
//!
//! A request is checked here, before any call to Amazon: every SKU must be one the connection marks
//! Amazon-fulfilled, every quantity positive, the address complete and in the marketplace's country, the
//! rate name one the speed map knows. Amazon's status then maps to the store's states: open (New,
//! Received, Planning), fulfilled (Processing, Complete), partially fulfilled (CompletePartialled),
//! unfulfilled (Unfulfillable, Invalid, or refused before it reached Amazon) and cancelled.
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ids::{
    ConnectionId, EventId, Fnsku, MarketplaceId, SellerFulfillmentOrderId, Sku, StoreOrderId, TrackingNumber,
};
use super::marketplace::Marketplace;
use super::pii::{REDACTED, RedactionState, Retention, RetentionRule};

/// Amazon's limits on one fulfillment order.
pub const MAX_LINES: usize = 100;
pub const MAX_UNITS: u32 = 250;
const MAX_LINE_ID: usize = 50;
const MAX_COMMENT: usize = 750;
/// What Amazon prints on the packing slip when the store sends no comment (the field is required).
pub const DEFAULT_COMMENT: &str = "Thank you for your order.";

/// Amazon's `shippingSpeedCategory` (ScheduledDelivery is Japan-only and not offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ShippingSpeed {
    Standard,
    Expedited,
    Priority,
}

impl ShippingSpeed {
    pub const ALL: [Self; 3] = [Self::Standard, Self::Expedited, Self::Priority];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "Standard",
            Self::Expedited => "Expedited",
            Self::Priority => "Priority",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|speed| speed.as_str().eq_ignore_ascii_case(raw.trim()))
    }
}

/// Amazon's `fulfillmentPolicy`: what happens to units Amazon cannot ship.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum FulfillmentPolicy {
    /// Nothing ships unless everything can (Amazon's default).
    #[default]
    FillOrKill,
    /// Everything ships, waiting for stock as long as Amazon allows.
    FillAll,
    /// What is in stock ships; the rest is cancelled.
    FillAllAvailable,
}

impl FulfillmentPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FillOrKill => "FillOrKill",
            Self::FillAll => "FillAll",
            Self::FillAllAvailable => "FillAllAvailable",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::FillOrKill, Self::FillAll, Self::FillAllAvailable]
            .into_iter()
            .find(|policy| policy.as_str().eq_ignore_ascii_case(raw.trim()))
    }
}

/// A product Amazon fulfils for the connection: the seller SKU exactly as Amazon knows it, and the
/// FNSKU Amazon's inventory gave when it was marked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmazonFulfilledSku {
    pub fnsku: Option<Fnsku>,
    pub marked_at: DateTime<Utc>,
}

/// A connection's Multi-Channel Fulfillment and inventory settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfillmentSettings {
    /// The SKUs Amazon fulfils; a request for any other is refused.
    #[serde(default)]
    pub amazon_fulfilled: BTreeMap<Sku, AmazonFulfilledSku>,
    /// The store's rate names and the speed each means, checked before the built-in names.
    #[serde(default)]
    pub shipping_speeds: BTreeMap<String, ShippingSpeed>,
    /// Ask Amazon for a fulfillment preview (fees, arrival, what cannot ship) before creating the order.
    #[serde(default)]
    pub preview: bool,
    #[serde(default)]
    pub policy: FulfillmentPolicy,
    /// Read Amazon's FBA inventory on each sync and tell the store what changed.
    #[serde(default)]
    pub sync_inventory: bool,
}

impl FulfillmentSettings {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Whether the sync has fulfillment orders or inventory to read for the connection.
    pub fn in_use(&self) -> bool {
        !self.amazon_fulfilled.is_empty() || self.sync_inventory
    }

    /// The speed a store's rate name stands for: the connection's map first, then Amazon's own names
    /// and Shopify's ("Standard Shipping", ...). Case and spacing do not matter.
    pub fn speed_for(&self, rate_name: &str) -> Option<ShippingSpeed> {
        let wanted = normalize_rate(rate_name);
        let configured = self.shipping_speeds.iter().find(|(name, _)| normalize_rate(name) == wanted);
        if let Some((_, speed)) = configured {
            return Some(*speed);
        }
        ShippingSpeed::ALL.into_iter().find(|speed| {
            let name = speed.as_str().to_ascii_lowercase();
            wanted == name || wanted == format!("{name} shipping")
        })
    }

    /// The rate names the connection maps, for an error that says what would have been understood.
    fn known_rates(&self) -> Vec<String> {
        let configured = self.shipping_speeds.keys().cloned();
        configured.chain(ShippingSpeed::ALL.iter().map(|speed| speed.as_str().to_owned())).collect()
    }
}

fn normalize_rate(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Where Amazon ships a fulfillment order. Buyer PII: name, street lines and phone are redacted on the
/// schedule; city, region, postal code and country stay, as on Amazon orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    pub name: String,
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line3: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    pub postal_code: String,
    pub country_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl Destination {
    fn pii_fields(&mut self) -> [(&'static str, &mut Option<String>); 4] {
        [
            ("line2", &mut self.line2),
            ("line3", &mut self.line3),
            ("phone", &mut self.phone),
            ("district", &mut self.district),
        ]
    }

    fn redact(&mut self) {
        self.name = REDACTED.to_owned();
        self.line1 = REDACTED.to_owned();
        for (_, field) in self.pii_fields() {
            if field.is_some() {
                *field = Some(REDACTED.to_owned());
            }
        }
    }
}

/// One line of a fulfillment order: the store's line id (Amazon's `sellerFulfillmentOrderItemId`), the SKU
/// and how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfillmentLine {
    pub line_id: String,
    pub sku: Sku,
    pub quantity: u32,
}

/// `fulfillment.requested`, as read from the store's event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentRequest {
    pub connection_id: ConnectionId,
    pub store_order_id: StoreOrderId,
    pub ordered_at: DateTime<Utc>,
    pub rate_name: String,
    /// Printed on the packing slip; may be a gift message, so it is redacted with the address.
    pub comment: Option<String>,
    pub destination: Destination,
    pub lines: Vec<FulfillmentLine>,
}

/// Why a request is refused before anything is sent to Amazon. Each names the store order; none quotes
/// an address value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FulfillmentRefusal {
    #[error(
        "store order {order}: SKU {sku} is not marked Amazon-fulfilled on connection {connection} (mark it with `sellerbridge connections set --id {connection} --fba-sku {sku}`)"
    )]
    NotAmazonFulfilled { order: StoreOrderId, connection: ConnectionId, sku: Sku },
    #[error("store order {order}: field `{field}`: {reason}")]
    Invalid { order: StoreOrderId, field: String, reason: String },
    #[error(
        "store order {order}: shipping rate name `{rate}` maps to no Amazon shipping speed (known: {known}); map it with `sellerbridge connections set --shipping-speed \"{rate}=Standard|Expedited|Priority\"`"
    )]
    UnknownRate { order: StoreOrderId, rate: String, known: String },
    #[error(
        "store order {order}: field `destination.country_code`: Amazon fulfils orders of marketplace {marketplace} only within {served}, not to {country}"
    )]
    CannotServe { order: StoreOrderId, marketplace: MarketplaceId, served: &'static str, country: String },
}

impl FulfillmentRequest {
    /// The fulfillment order to create for this request, or why Amazon must not be asked.
    pub fn plan(
        self,
        settings: &FulfillmentSettings,
        marketplace: &Marketplace,
        requested_by: EventId,
        now: DateTime<Utc>,
    ) -> Result<FulfillmentOrder, FulfillmentRefusal> {
        let order = self.store_order_id.clone();
        let invalid = |field: &str, reason: &str| FulfillmentRefusal::Invalid {
            order: order.clone(),
            field: field.to_owned(),
            reason: reason.to_owned(),
        };
        if self.lines.is_empty() {
            return Err(invalid("items", "must list at least one item"));
        }
        if self.lines.len() > MAX_LINES {
            return Err(invalid("items", &format!("Amazon takes at most {MAX_LINES} lines per order")));
        }
        let mut line_ids = BTreeSet::new();
        for (index, line) in self.lines.iter().enumerate() {
            let field = |name: &str| format!("items[{index}].{name}");
            if line.quantity == 0 {
                return Err(invalid(&field("quantity"), "must be at least 1"));
            }
            if line.line_id.trim().is_empty() || line.line_id.len() > MAX_LINE_ID {
                return Err(invalid(&field("line_id"), &format!("must be 1 to {MAX_LINE_ID} characters")));
            }
            if !line_ids.insert(line.line_id.as_str()) {
                return Err(invalid(&field("line_id"), "is used by another line of the order"));
            }
            if !settings.amazon_fulfilled.contains_key(&line.sku) {
                return Err(FulfillmentRefusal::NotAmazonFulfilled {
                    order,
                    connection: self.connection_id.clone(),
                    sku: line.sku.clone(),
                });
            }
        }
        let units: u32 = self.lines.iter().map(|line| line.quantity).sum();
        if units > MAX_UNITS {
            return Err(invalid("items", &format!("{units} units; Amazon takes at most {MAX_UNITS} per order")));
        }
        check_destination(&self.destination, marketplace, &order)?;
        if self.comment.as_deref().is_some_and(|comment| comment.chars().count() > MAX_COMMENT) {
            return Err(invalid("comment", &format!("longer than {MAX_COMMENT} characters")));
        }
        let Some(speed) = settings.speed_for(&self.rate_name) else {
            return Err(FulfillmentRefusal::UnknownRate {
                order,
                rate: self.rate_name.chars().take(60).collect(),
                known: settings.known_rates().join(", "),
            });
        };
        let id = SellerFulfillmentOrderId::for_store_order(&self.connection_id, &self.store_order_id);
        Ok(FulfillmentOrder {
            id,
            connection_id: self.connection_id,
            marketplace_id: MarketplaceId::parse(marketplace.id).expect("known marketplaces have valid ids"),
            store_order_id: self.store_order_id,
            requested_by,
            requested_at: now,
            ordered_at: self.ordered_at,
            rate_name: self.rate_name,
            speed,
            policy: settings.policy,
            comment: self.comment.filter(|c| !c.trim().is_empty()).unwrap_or_else(|| DEFAULT_COMMENT.to_owned()),
            destination: self.destination,
            lines: self.lines,
            progress: Progress::Queued,
            cancellation: None,
            shipments: Vec::new(),
            unshipped: Vec::new(),
            preview: None,
            revision: 1,
            redaction: RedactionState::Pending,
            retention: Retention::default(),
            finished_at: None,
        })
    }
}

fn check_destination(
    destination: &Destination,
    marketplace: &Marketplace,
    order: &StoreOrderId,
) -> Result<(), FulfillmentRefusal> {
    let missing = |field: &str| FulfillmentRefusal::Invalid {
        order: order.clone(),
        field: format!("destination.{field}"),
        reason: "is required".into(),
    };
    if destination.name.trim().is_empty() {
        return Err(missing("name"));
    }
    if destination.line1.trim().is_empty() {
        return Err(missing("line1"));
    }
    if destination.postal_code.trim().is_empty() {
        return Err(missing("postal_code"));
    }
    let country = destination.country_code.trim();
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(FulfillmentRefusal::Invalid {
            order: order.clone(),
            field: "destination.country_code".into(),
            reason: "must be a two-letter ISO 3166 country code".into(),
        });
    }
    // Amazon wants a city everywhere except Japan.
    if destination.city.as_deref().is_none_or(|city| city.trim().is_empty()) && !country.eq_ignore_ascii_case("JP") {
        return Err(missing("city"));
    }
    if !country.eq_ignore_ascii_case(marketplace.country) {
        return Err(FulfillmentRefusal::CannotServe {
            order: order.clone(),
            marketplace: MarketplaceId::parse(marketplace.id).expect("known marketplaces have valid ids"),
            served: marketplace.country,
            country: country.to_ascii_uppercase(),
        });
    }
    Ok(())
}

impl SellerFulfillmentOrderId {
    /// The id of the store order's fulfillment order: the same for every request of that order, so a
    /// repeated request can never create a second one. Readable (up to 23 characters of the store's id)
    /// and unique per connection and store order (a 64-bit FNV-1a hash of both, stable across builds).
    pub fn for_store_order(connection: &ConnectionId, store_order: &StoreOrderId) -> Self {
        let readable: String = store_order
            .as_str()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .take(23)
            .collect();
        let hash = format!("{connection}\n{store_order}")
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3));
        let readable = if readable.is_empty() { "SB".to_owned() } else { readable };
        Self::parse(format!("{readable}-{hash:016x}")).expect("letters, digits, - and _, at most 40")
    }
}

/// Amazon's `FulfillmentOrderStatus`. Read tolerantly: Amazon's examples write `RECEIVED` and
/// `COMPLETE_PARTIALLED` where the schema says `Received` and `CompletePartialled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AmazonFulfillmentStatus {
    New,
    Received,
    Planning,
    Processing,
    Cancelled,
    Complete,
    CompletePartialled,
    Unfulfillable,
    Invalid,
}

impl AmazonFulfillmentStatus {
    pub fn from_amazon(raw: &str) -> Option<Self> {
        let key: String = raw.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase();
        Some(match key.as_str() {
            "new" => Self::New,
            "received" => Self::Received,
            "planning" => Self::Planning,
            "processing" => Self::Processing,
            "cancelled" | "canceled" => Self::Cancelled,
            "complete" | "completed" => Self::Complete,
            "completepartialled" | "completepartial" => Self::CompletePartialled,
            "unfulfillable" => Self::Unfulfillable,
            "invalid" => Self::Invalid,
            _ => return None,
        })
    }

    /// Amazon still lets the seller cancel (Received and Planning; New is before either).
    pub fn cancellable(self) -> bool {
        matches!(self, Self::New | Self::Received | Self::Planning)
    }

    /// Nothing will change any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Cancelled | Self::Complete | Self::CompletePartialled | Self::Unfulfillable | Self::Invalid
        )
    }

    /// Amazon has started shipping: a cancellation comes too late.
    pub fn shipping(self) -> bool {
        matches!(self, Self::Processing | Self::Complete | Self::CompletePartialled)
    }
}

/// Where the order is on its way to Amazon and at Amazon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Progress {
    /// Accepted from the store; its create message is on the queue.
    Queued,
    /// A sender is creating it at Amazon (a claim that expires, so a sender that died is taken over).
    Sending { since: DateTime<Utc> },
    /// Amazon refused to create it, or its preview said nothing can ship: never created.
    Refused { reason: String },
    /// Cancelled before it reached Amazon.
    Withdrawn { at: DateTime<Utc> },
    /// Created at Amazon, in `status` as Amazon last reported it (`statusUpdatedDate`).
    AtAmazon { status: AmazonFulfillmentStatus, updated_at: DateTime<Utc> },
}

/// The store's cancellation and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    pub requested_by: EventId,
    pub requested_at: DateTime<Utc>,
    pub outcome: CancelOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CancelOutcome {
    Pending,
    Cancelled {
        at: DateTime<Utc>,
    },
    /// Amazon had already started shipping.
    TooLate {
        status: AmazonFulfillmentStatus,
    },
    /// Nothing was going to ship (Amazon found it unfulfillable or invalid, or refused it).
    NothingToCancel,
    /// Amazon could not be asked (every attempt failed): the order may still ship.
    Failed {
        reason: String,
    },
}

impl CancelOutcome {
    /// What a cancellation comes to once Amazon reports `status` (at `at`): still pending while Amazon
    /// allows it; its status never goes back, so anything else is final.
    pub fn at_amazon(status: AmazonFulfillmentStatus, at: DateTime<Utc>) -> Self {
        match status {
            AmazonFulfillmentStatus::Cancelled => Self::Cancelled { at },
            status if status.shipping() => Self::TooLate { status },
            status if status.is_final() => Self::NothingToCancel,
            _ => Self::Pending,
        }
    }
}

pub const TOO_LATE_TO_CANCEL: &str = "too late to cancel: shipment in progress";

/// One shipment Amazon made (or plans) for the order, with its packages' tracking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfillmentShipment {
    pub amazon_shipment_id: String,
    /// Amazon's `fulfillmentShipmentStatus`: PENDING, SHIPPED, CANCELLED_BY_FULFILLER, CANCELLED_BY_SELLER.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipped_at: Option<DateTime<Utc>>,
    pub packages: Vec<FulfillmentPackage>,
    /// (line id, quantity) in this shipment.
    #[serde(default)]
    pub items: Vec<(String, u32)>,
}

impl FulfillmentShipment {
    pub fn shipped(&self) -> bool {
        self.status.eq_ignore_ascii_case("SHIPPED")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfillmentPackage {
    pub package_number: i64,
    pub carrier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<TrackingNumber>,
}

/// Units of a line Amazon will not ship, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnshippedUnits {
    pub line_id: String,
    pub unfulfillable: u32,
    pub cancelled: u32,
}

/// What Amazon's fulfillment preview said for the order's speed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewSummary {
    pub fulfillable: bool,
    /// (fee name, amount as Amazon wrote it, currency).
    pub fees: Vec<(String, String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earliest_arrival: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_arrival: Option<DateTime<Utc>>,
    /// Amazon's reasons, for the order and per SKU (`SKU: reason`).
    pub unfulfillable_reasons: Vec<String>,
}

/// A store order Amazon fulfils: what the store asked for and what Amazon made of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfillmentOrder {
    pub id: SellerFulfillmentOrderId,
    pub connection_id: ConnectionId,
    pub marketplace_id: MarketplaceId,
    pub store_order_id: StoreOrderId,
    pub requested_by: EventId,
    pub requested_at: DateTime<Utc>,
    pub ordered_at: DateTime<Utc>,
    pub rate_name: String,
    pub speed: ShippingSpeed,
    pub policy: FulfillmentPolicy,
    pub comment: String,
    pub destination: Destination,
    pub lines: Vec<FulfillmentLine>,
    pub progress: Progress,
    pub cancellation: Option<Cancellation>,
    pub shipments: Vec<FulfillmentShipment>,
    pub unshipped: Vec<UnshippedUnits>,
    pub preview: Option<PreviewSummary>,
    /// Goes up with every change the store is told about: the id of its `fulfillment.updated` events.
    pub revision: u32,
    pub redaction: RedactionState,
    /// The connection's retention periods when the order was requested.
    pub retention: Retention,
    /// When it reached a state nothing changes any more (for the PII schedule).
    pub finished_at: Option<DateTime<Utc>>,
}

/// What the store sees of a fulfillment order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreState {
    Open,
    Fulfilled,
    PartiallyFulfilled,
    Unfulfilled,
    Cancelled,
}

impl FulfillmentOrder {
    pub fn store_state(&self) -> StoreState {
        match &self.progress {
            Progress::Queued | Progress::Sending { .. } => StoreState::Open,
            Progress::Refused { .. } => StoreState::Unfulfilled,
            Progress::Withdrawn { .. } => StoreState::Cancelled,
            Progress::AtAmazon { status, .. } => match status {
                AmazonFulfillmentStatus::New
                | AmazonFulfillmentStatus::Received
                | AmazonFulfillmentStatus::Planning => StoreState::Open,
                AmazonFulfillmentStatus::Processing | AmazonFulfillmentStatus::Complete => StoreState::Fulfilled,
                AmazonFulfillmentStatus::CompletePartialled => StoreState::PartiallyFulfilled,
                AmazonFulfillmentStatus::Unfulfillable | AmazonFulfillmentStatus::Invalid => StoreState::Unfulfilled,
                AmazonFulfillmentStatus::Cancelled => StoreState::Cancelled,
            },
        }
    }

    /// Why the order is not (wholly) fulfilled, in words for the merchant.
    pub fn reason(&self) -> Option<String> {
        match &self.progress {
            Progress::Refused { reason } => Some(reason.clone()),
            Progress::AtAmazon { status: AmazonFulfillmentStatus::Unfulfillable, .. } => {
                Some(self.with_units("Amazon cannot fulfil the order (Unfulfillable); no item will ship"))
            }
            Progress::AtAmazon { status: AmazonFulfillmentStatus::Invalid, .. } => Some(
                "Amazon found the order invalid (Invalid: a bad address or not enough sellable stock); no item will ship"
                    .into(),
            ),
            Progress::AtAmazon { status: AmazonFulfillmentStatus::CompletePartialled, .. } => {
                Some(self.with_units("Amazon shipped part of the order (CompletePartialled)"))
            }
            _ => None,
        }
    }

    fn with_units(&self, text: &str) -> String {
        let units: Vec<String> = self
            .unshipped
            .iter()
            .filter(|u| u.unfulfillable + u.cancelled > 0)
            .map(|u| format!("line {}: {} unfulfillable, {} cancelled", u.line_id, u.unfulfillable, u.cancelled))
            .collect();
        if units.is_empty() { text.to_owned() } else { format!("{text}; {}", units.join("; ")) }
    }

    pub fn amazon_status(&self) -> Option<AmazonFulfillmentStatus> {
        match self.progress {
            Progress::AtAmazon { status, .. } => Some(status),
            _ => None,
        }
    }

    /// The store's cancellation, recorded with what is already known of it: `false` if one was recorded
    /// before. An order that never left is withdrawn at once; its create message finds it so.
    pub fn request_cancellation(&mut self, requested_by: EventId, now: DateTime<Utc>) -> bool {
        if self.cancellation.is_some() {
            return false;
        }
        let outcome = match &self.progress {
            Progress::Refused { .. } => CancelOutcome::NothingToCancel,
            Progress::Withdrawn { at } => CancelOutcome::Cancelled { at: *at },
            Progress::AtAmazon { status, updated_at } => CancelOutcome::at_amazon(*status, *updated_at),
            Progress::Queued | Progress::Sending { .. } => CancelOutcome::Pending,
        };
        self.cancellation = Some(Cancellation { requested_by, requested_at: now, outcome });
        if self.progress == Progress::Queued {
            return self.withdraw(now);
        }
        self.changed(now);
        true
    }

    /// Settles a pending cancellation of an order Amazon does not hold (never sent, or refused): `false`
    /// if none is pending.
    pub fn withdraw(&mut self, now: DateTime<Utc>) -> bool {
        let Some(cancellation) = self.cancellation.as_mut().filter(|c| c.outcome == CancelOutcome::Pending) else {
            return false;
        };
        match self.progress {
            Progress::Refused { .. } => cancellation.outcome = CancelOutcome::NothingToCancel,
            _ => {
                cancellation.outcome = CancelOutcome::Cancelled { at: now };
                self.progress = Progress::Withdrawn { at: now };
            }
        }
        self.changed(now);
        true
    }

    pub fn cancel_pending(&self) -> bool {
        self.cancellation.as_ref().is_some_and(|c| c.outcome == CancelOutcome::Pending)
    }

    /// A change the store must hear about: the revision goes up, and the order's end is noted.
    pub fn changed(&mut self, now: DateTime<Utc>) {
        self.revision += 1;
        let finished = match &self.progress {
            Progress::Refused { .. } | Progress::Withdrawn { .. } => true,
            Progress::AtAmazon { status, .. } => status.is_final(),
            Progress::Queued | Progress::Sending { .. } => false,
        };
        if finished && self.finished_at.is_none() {
            self.finished_at = Some(now);
        }
    }

    /// Amazon's view of the order (from getFulfillmentOrder, the list or a notification), applied. A report
    /// older than the one held changes nothing; one that moves only Amazon's update time is recorded
    /// without a new revision, so the store never gets two events it cannot tell apart.
    pub fn apply_amazon(&mut self, report: AmazonFulfillmentReport, now: DateTime<Utc>) -> Applied {
        if let Progress::AtAmazon { updated_at, .. } = self.progress
            && report.updated_at < updated_at
        {
            return Applied::Unchanged;
        }
        let before_progress = self.progress.clone();
        let seen = |order: &Self| {
            (
                order.store_state(),
                order.amazon_status(),
                order.shipments.clone(),
                order.unshipped.clone(),
                order.cancellation.clone(),
            )
        };
        let before = seen(self);
        self.progress = Progress::AtAmazon { status: report.status, updated_at: report.updated_at };
        if let Some(shipments) = report.shipments {
            self.shipments = shipments;
        }
        if let Some(unshipped) = report.unshipped {
            self.unshipped = unshipped;
        }
        if let Some(cancellation) = self.cancellation.as_mut().filter(|c| c.outcome == CancelOutcome::Pending) {
            cancellation.outcome = CancelOutcome::at_amazon(report.status, report.updated_at);
        }
        if seen(self) != before {
            self.changed(now);
            Applied::Changed
        } else if self.progress != before_progress {
            Applied::Recorded
        } else {
            Applied::Unchanged
        }
    }

    /// `text` (Amazon's answer to a request that carried the destination) with every value of the
    /// destination and the comment taken out, so it can be logged, stored and shown.
    pub fn scrub(&self, text: &str) -> String {
        let destination = &self.destination;
        let values = [Some(&destination.name), Some(&destination.line1), Some(&self.comment)]
            .into_iter()
            .chain(
                [&destination.line2, &destination.line3, &destination.phone, &destination.district].map(Option::as_ref),
            )
            .flatten()
            .filter(|value| value.trim().chars().count() >= 3 && value.as_str() != REDACTED);
        values.fold(text.to_owned(), |text, value| text.replace(value.trim(), "[buyer data]"))
    }

    /// When the destination must be gone, or `None` once redacted. The schedule of Amazon orders: 14 days
    /// after the request while nothing shipped, 30 days after the last shipment left, and at the end for an
    /// order that will never ship (never later than 14 days after the request).
    pub fn redaction_due(&self) -> Option<DateTime<Utc>> {
        if self.redaction.is_redacted() {
            return None;
        }
        let unshipped_due = self.requested_at + self.retention.days(RetentionRule::Unshipped);
        let last_shipped = self.shipments.iter().filter(|s| s.shipped()).filter_map(|s| s.shipped_at).max();
        match (self.store_state(), last_shipped) {
            (StoreState::Fulfilled | StoreState::PartiallyFulfilled, Some(shipped)) => {
                Some(shipped + self.retention.days(RetentionRule::AfterShipDate))
            }
            // Amazon is shipping but has not said when: the address may still be asked about.
            (StoreState::Fulfilled | StoreState::PartiallyFulfilled, None) => {
                Some(self.finished_at.unwrap_or(self.requested_at) + self.retention.days(RetentionRule::Untracked))
            }
            (StoreState::Unfulfilled | StoreState::Cancelled, _) => {
                Some(self.finished_at.map_or(unshipped_due, |at| at.min(unshipped_due)))
            }
            (StoreState::Open, _) => Some(unshipped_due),
        }
    }

    /// Replaces the destination's PII and the comment (it may be a gift message) with `REDACTED (Amazon)`.
    pub fn redact(&mut self, now: DateTime<Utc>) {
        self.destination.redact();
        self.comment = REDACTED.to_owned();
        self.redaction = RedactionState::Redacted { at: now };
    }

    /// The names of the fields that hold buyer PII now (never their values).
    pub fn pii_fields(&self) -> Vec<&'static str> {
        if self.redaction.is_redacted() {
            return Vec::new();
        }
        let mut destination = self.destination.clone();
        let mut names = vec!["destination.name", "destination.line1", "comment"];
        names.extend(destination.pii_fields().into_iter().filter(|(_, v)| v.is_some()).map(|(name, _)| match name {
            "line2" => "destination.line2",
            "line3" => "destination.line3",
            "phone" => "destination.phone",
            _ => "destination.district",
        }));
        names
    }

    /// Whether a repeated request asks for the same order (then it is acknowledged, not refused).
    pub fn same_request(&self, other: &FulfillmentOrder) -> bool {
        self.lines == other.lines && self.speed == other.speed && self.destination_matches(&other.destination)
    }

    fn destination_matches(&self, other: &Destination) -> bool {
        // A redacted destination cannot be compared; the store order id already matched.
        self.redaction.is_redacted() || self.destination == *other
    }
}

/// A fulfillment order as the store sees it (`fulfillment.updated`, the read endpoint, the CLI): states,
/// reasons, shipments and tracking; never the destination or the comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FulfillmentView {
    pub fulfillment_id: SellerFulfillmentOrderId,
    pub store_order_id: StoreOrderId,
    pub connection_id: ConnectionId,
    pub state: StoreState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amazon_status: Option<AmazonFulfillmentStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub shipping_speed: ShippingSpeed,
    pub lines: Vec<FulfillmentLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<CancellationView>,
    pub shipments: Vec<FulfillmentShipment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<PreviewSummary>,
    pub revision: u32,
    pub requested_at: DateTime<Utc>,
    pub redacted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CancellationView {
    pub requested_at: DateTime<Utc>,
    /// `pending`, `cancelled`, `too_late`, `nothing_to_cancel` or `failed`.
    pub outcome: &'static str,
    pub detail: String,
}

impl FulfillmentOrder {
    pub fn view(&self) -> FulfillmentView {
        FulfillmentView {
            fulfillment_id: self.id.clone(),
            store_order_id: self.store_order_id.clone(),
            connection_id: self.connection_id.clone(),
            state: self.store_state(),
            amazon_status: self.amazon_status(),
            reason: self.reason(),
            shipping_speed: self.speed,
            lines: self.lines.clone(),
            cancellation: self.cancellation.as_ref().map(|c| {
                let (outcome, detail) = match &c.outcome {
                    CancelOutcome::Pending => ("pending", "Amazon is asked to cancel the order".to_owned()),
                    CancelOutcome::Cancelled { .. } => ("cancelled", "the order was cancelled".to_owned()),
                    CancelOutcome::TooLate { status } => {
                        ("too_late", format!("{TOO_LATE_TO_CANCEL} (Amazon: {status:?})"))
                    }
                    CancelOutcome::NothingToCancel => {
                        ("nothing_to_cancel", "nothing of the order was going to ship".to_owned())
                    }
                    CancelOutcome::Failed { reason } => (
                        "failed",
                        format!("the cancellation could not be sent ({reason}); cancel the order in Seller Central"),
                    ),
                };
                CancellationView { requested_at: c.requested_at, outcome, detail }
            }),
            shipments: self.shipments.clone(),
            preview: self.preview.clone(),
            revision: self.revision,
            requested_at: self.requested_at,
            redacted: self.redaction.is_redacted(),
        }
    }
}

/// Amazon's status of a fulfillment order as one answer reported it; `None`: that answer did not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmazonFulfillmentReport {
    pub status: AmazonFulfillmentStatus,
    pub updated_at: DateTime<Utc>,
    pub shipments: Option<Vec<FulfillmentShipment>>,
    pub unshipped: Option<Vec<UnshippedUnits>>,
}

/// What applying one of Amazon's reports did to the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Nothing (an older report, or the same again).
    Unchanged,
    /// Only Amazon's update time moved: worth storing, nothing to tell the store.
    Recorded,
    /// Something the store sees changed: a new revision to announce.
    Changed,
}

impl Applied {
    pub fn written(self) -> bool {
        self != Self::Unchanged
    }

    pub fn announced(self) -> bool {
        self == Self::Changed
    }
}

/// When Amazon last reported an order we only know we created: before any report it can send, so its
/// first one always applies (our clock and Amazon's differ).
pub fn not_reported_yet() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

/// One SKU's quantities in Amazon's warehouses, as the connection last read them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryLevel {
    pub connection_id: ConnectionId,
    pub sku: Sku,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fnsku: Option<Fnsku>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asin: Option<String>,
    pub quantities: InventoryQuantities,
    /// Amazon's `lastUpdatedTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amazon_updated_at: Option<DateTime<Utc>>,
    /// When the quantities last changed here.
    pub changed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryQuantities {
    pub fulfillable: u64,
    /// Working, shipped and receiving.
    pub inbound: u64,
    pub reserved: u64,
    pub unfulfillable: u64,
    pub researching: u64,
    pub total: u64,
}

/// A fulfillment order about to be sent is claimed for this long: longer than the sender's timeout, so
/// only the claim of a sender that died runs out.
pub fn sending_lease() -> Duration {
    Duration::minutes(3)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::ids::MarketplaceId;
    use crate::domain::marketplace::Marketplace;

    fn us() -> &'static Marketplace {
        Marketplace::find(&MarketplaceId::parse("ATVPDKIKX0DER").unwrap()).unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, 10, 0, 0).unwrap()
    }

    fn settings() -> FulfillmentSettings {
        let marked = AmazonFulfilledSku { fnsku: Some(Fnsku::parse("X00ABC1234").unwrap()), marked_at: now() };
        FulfillmentSettings {
            amazon_fulfilled: [(Sku::parse("FBA-1").unwrap(), marked.clone()), (Sku::parse("FBA-2").unwrap(), marked)]
                .into(),
            shipping_speeds: [("Next Day Air".to_owned(), ShippingSpeed::Priority)].into(),
            ..FulfillmentSettings::default()
        }
    }

    fn request() -> FulfillmentRequest {
        FulfillmentRequest {
            connection_id: ConnectionId::parse("acme-us").unwrap(),
            store_order_id: StoreOrderId::parse("#1001").unwrap(),
            ordered_at: now(),
            rate_name: "Standard Shipping".into(),
            comment: None,
            destination: Destination {
                name: "Jane Buyer".into(),
                line1: "1 Main St".into(),
                line2: None,
                line3: None,
                city: Some("Seattle".into()),
                district: None,
                state: Some("WA".into()),
                postal_code: "98101".into(),
                country_code: "US".into(),
                phone: Some("+1 206 555 0100".into()),
            },
            lines: vec![FulfillmentLine { line_id: "1".into(), sku: Sku::parse("FBA-1").unwrap(), quantity: 2 }],
        }
    }

    fn plan(request: FulfillmentRequest) -> Result<FulfillmentOrder, FulfillmentRefusal> {
        request.plan(&settings(), us(), EventId::parse("evt-1").unwrap(), now())
    }

    #[test]
    fn a_valid_request_becomes_a_queued_order_with_a_derived_id() {
        let order = plan(request()).unwrap();
        assert_eq!(order.progress, Progress::Queued);
        assert_eq!(order.speed, ShippingSpeed::Standard);
        assert_eq!(order.comment, DEFAULT_COMMENT);
        assert_eq!(order.store_state(), StoreState::Open);
        assert!(order.id.as_str().starts_with("1001-"), "{}", order.id);
        assert!(order.id.as_str().len() <= 40);
    }

    #[test]
    fn the_id_is_the_same_for_every_request_of_a_store_order_and_differs_between_connections() {
        let connection = ConnectionId::parse("acme-us").unwrap();
        let other = ConnectionId::parse("acme-ca").unwrap();
        let long = StoreOrderId::parse("gid://shopify/Order/5551234567890123456789").unwrap();
        let id = SellerFulfillmentOrderId::for_store_order(&connection, &long);
        assert_eq!(id, SellerFulfillmentOrderId::for_store_order(&connection, &long));
        assert_ne!(id, SellerFulfillmentOrderId::for_store_order(&other, &long));
        assert!(id.as_str().len() <= 40, "{id}");
        let odd = StoreOrderId::parse("№ ∆").unwrap();
        assert!(SellerFulfillmentOrderId::for_store_order(&connection, &odd).as_str().starts_with("SB-"));
    }

    #[test]
    fn the_speed_map_takes_the_connections_names_then_amazons_and_shopifys() {
        let settings = settings();
        let cases = [
            ("Standard", Some(ShippingSpeed::Standard)),
            ("  expedited   SHIPPING ", Some(ShippingSpeed::Expedited)),
            ("Priority Shipping", Some(ShippingSpeed::Priority)),
            ("next day  air", Some(ShippingSpeed::Priority)),
            ("Overnight", None),
        ];
        for (rate, speed) in cases {
            assert_eq!(settings.speed_for(rate), speed, "{rate}");
        }
        let mut standard_means_priority = settings.clone();
        standard_means_priority.shipping_speeds.insert("standard".into(), ShippingSpeed::Priority);
        assert_eq!(standard_means_priority.speed_for("Standard"), Some(ShippingSpeed::Priority), "configured wins");
    }

    #[test]
    fn bad_requests_are_refused_naming_the_store_order_and_the_field() {
        type Case = (&'static str, fn(&mut FulfillmentRequest), &'static str);
        let cases: [Case; 9] = [
            ("quantity 0", |r| r.lines[0].quantity = 0, "items[0].quantity"),
            ("SKU not Amazon-fulfilled", |r| r.lines[0].sku = Sku::parse("MFN-9").unwrap(), "SKU MFN-9"),
            ("no postal code", |r| r.destination.postal_code = " ".into(), "destination.postal_code"),
            ("no name", |r| r.destination.name = String::new(), "destination.name"),
            ("no city", |r| r.destination.city = None, "destination.city"),
            ("foreign country", |r| r.destination.country_code = "DE".into(), "not to DE"),
            ("bad country", |r| r.destination.country_code = "USA".into(), "destination.country_code"),
            ("unknown rate", |r| r.rate_name = "Overnight".into(), "`Overnight`"),
            ("too many units", |r| r.lines[0].quantity = 251, "at most 250"),
        ];
        for (case, change, needle) in cases {
            let mut request = request();
            change(&mut request);
            let refusal = plan(request).unwrap_err().to_string();
            assert!(refusal.starts_with("store order #1001:"), "{case}: {refusal}");
            assert!(refusal.contains(needle), "{case}: {refusal}");
            assert!(!refusal.contains("Jane") && !refusal.contains("Main St"), "{case}: no PII: {refusal}");
        }
        let mut repeated_line = request();
        repeated_line.lines.push(repeated_line.lines[0].clone());
        assert!(plan(repeated_line).unwrap_err().to_string().contains("items[1].line_id"));
    }

    #[test]
    fn amazon_statuses_are_read_in_every_documented_spelling() {
        use AmazonFulfillmentStatus as S;
        for (raw, status) in [
            ("Received", S::Received),
            ("RECEIVED", S::Received),
            ("CompletePartialled", S::CompletePartialled),
            ("COMPLETE_PARTIALLED", S::CompletePartialled),
            ("COMPLETE", S::Complete),
            ("Canceled", S::Cancelled),
        ] {
            assert_eq!(S::from_amazon(raw), Some(status), "{raw}");
        }
        assert_eq!(S::from_amazon("Exploded"), None);
    }

    fn at_amazon(order: &mut FulfillmentOrder, status: AmazonFulfillmentStatus, minutes: i64) -> bool {
        let report = AmazonFulfillmentReport {
            status,
            updated_at: now() + Duration::minutes(minutes),
            shipments: None,
            unshipped: None,
        };
        order.apply_amazon(report, now() + Duration::minutes(minutes)).announced()
    }

    #[test]
    fn amazon_statuses_map_to_the_stores_states() {
        use AmazonFulfillmentStatus as S;
        let cases = [
            (S::New, StoreState::Open),
            (S::Received, StoreState::Open),
            (S::Planning, StoreState::Open),
            (S::Processing, StoreState::Fulfilled),
            (S::Complete, StoreState::Fulfilled),
            (S::CompletePartialled, StoreState::PartiallyFulfilled),
            (S::Unfulfillable, StoreState::Unfulfilled),
            (S::Invalid, StoreState::Unfulfilled),
            (S::Cancelled, StoreState::Cancelled),
        ];
        for (status, state) in cases {
            let mut order = plan(request()).unwrap();
            assert!(at_amazon(&mut order, status, 1));
            assert_eq!(order.store_state(), state, "{status:?}");
            assert_eq!(
                order.reason().is_some(),
                matches!(state, StoreState::Unfulfilled | StoreState::PartiallyFulfilled)
            );
            assert_eq!(order.finished_at.is_some(), status.is_final(), "{status:?}");
        }
    }

    #[test]
    fn an_older_report_changes_nothing_and_a_repeat_is_no_change() {
        use AmazonFulfillmentStatus as S;
        let mut order = plan(request()).unwrap();
        assert!(at_amazon(&mut order, S::Processing, 10));
        let revision = order.revision;
        assert!(!at_amazon(&mut order, S::Received, 5), "older");
        assert!(!at_amazon(&mut order, S::Processing, 10), "the same again");
        assert_eq!(order.amazon_status(), Some(S::Processing));
        assert_eq!(order.revision, revision);
    }

    #[test]
    fn a_report_that_moves_only_amazons_time_is_stored_without_a_new_revision() {
        use AmazonFulfillmentStatus as S;
        let mut order = plan(request()).unwrap();
        order.progress = Progress::AtAmazon { status: S::New, updated_at: not_reported_yet() };
        let report = |status, minutes| AmazonFulfillmentReport {
            status,
            updated_at: now() + Duration::minutes(minutes),
            shipments: None,
            unshipped: None,
        };
        // Amazon's clock behind ours: its first report applies whatever its time.
        assert_eq!(order.apply_amazon(report(S::Invalid, -5), now()), Applied::Changed);
        let revision = order.revision;
        assert_eq!(order.apply_amazon(report(S::Invalid, 10), now()), Applied::Recorded);
        assert_eq!(order.revision, revision, "nothing new for the store");
        assert_eq!(order.apply_amazon(report(S::Invalid, 10), now()), Applied::Unchanged);
    }

    #[test]
    fn amazons_words_about_the_request_lose_the_buyers_data() {
        let order = plan(request()).unwrap();
        let answer = "Address 'Jane Buyer, 1 Main St' is not deliverable (+1 206 555 0100)";
        let scrubbed = order.scrub(answer);
        for pii in ["Jane Buyer", "1 Main St", "555 0100"] {
            assert!(!scrubbed.contains(pii), "{scrubbed}");
        }
        assert!(scrubbed.contains("is not deliverable"));
    }

    #[test]
    fn a_pending_cancellation_is_settled_by_what_amazon_reports() {
        use AmazonFulfillmentStatus as S;
        for (status, outcome) in [
            (S::Cancelled, CancelOutcome::Cancelled { at: now() + Duration::minutes(3) }),
            (S::Processing, CancelOutcome::TooLate { status: S::Processing }),
            (S::Unfulfillable, CancelOutcome::NothingToCancel),
            (S::Planning, CancelOutcome::Pending),
        ] {
            let mut order = plan(request()).unwrap();
            order.cancellation = Some(Cancellation {
                requested_by: EventId::parse("evt-2").unwrap(),
                requested_at: now(),
                outcome: CancelOutcome::Pending,
            });
            at_amazon(&mut order, status, 3);
            assert_eq!(order.cancellation.unwrap().outcome, outcome, "{status:?}");
        }
    }

    #[test]
    fn the_destination_follows_the_schedule_of_amazon_orders() {
        use AmazonFulfillmentStatus as S;
        let open = plan(request()).unwrap();
        assert_eq!(open.redaction_due(), Some(now() + Duration::days(14)));
        let mut shipped = plan(request()).unwrap();
        let left = now() + Duration::days(2);
        shipped.apply_amazon(
            AmazonFulfillmentReport {
                status: S::Complete,
                updated_at: left,
                shipments: Some(vec![FulfillmentShipment {
                    amazon_shipment_id: "D1".into(),
                    status: "SHIPPED".into(),
                    shipped_at: Some(left),
                    packages: Vec::new(),
                    items: Vec::new(),
                }]),
                unshipped: None,
            },
            left,
        );
        assert_eq!(shipped.redaction_due(), Some(left + Duration::days(30)));
        let mut cancelled = plan(request()).unwrap();
        at_amazon(&mut cancelled, S::Cancelled, 60);
        assert_eq!(cancelled.redaction_due(), Some(now() + Duration::minutes(60)));
        let mut shorter = plan(request()).unwrap();
        shorter.retention = Retention::default().with(RetentionRule::Unshipped, 3);
        assert_eq!(shorter.redaction_due(), Some(now() + Duration::days(3)));

        let mut redacted = plan(request()).unwrap();
        assert!(redacted.pii_fields().contains(&"destination.phone"));
        redacted.redact(now());
        let text = serde_json::to_string(&redacted).unwrap();
        for pii in ["Jane Buyer", "1 Main St", "555 0100"] {
            assert!(!text.contains(pii), "{pii}");
        }
        assert_eq!(redacted.destination.city.as_deref(), Some("Seattle"), "city stays, as on Amazon orders");
        assert_eq!(redacted.redaction_due(), None);
        assert!(redacted.pii_fields().is_empty());
    }

    #[test]
    fn a_repeat_of_the_same_request_is_recognised() {
        let first = plan(request()).unwrap();
        let again = plan(request()).unwrap();
        assert!(first.same_request(&again));
        let mut more = request();
        more.lines[0].quantity = 3;
        assert!(!first.same_request(&plan(more).unwrap()));
    }
}
