//! Fulfillment Outbound 2020-07-01: createFulfillmentOrder, getFulfillmentOrder, listAllFulfillmentOrders,
//! cancelFulfillmentOrder and the sandbox-only submitFulfillmentOrderStatusUpdate, over the inventory.
//!
//! Creating an order reserves what the inventory holds of each item (fulfillable → reserved, as a pending customer
//! order); units it could not cover are the order's shortage. At Planning the fulfillment policy decides, as the
//! model's `FulfillmentPolicy` table words it:
//! - `FillOrKill` (the default): an item unfulfillable "before any shipment in the order has acquired the status of
//!   Pending" makes "the entire order ... unfulfillable": the order is Unfulfillable, every unit counted in
//!   `unfulfillableQuantity`, and the reserve goes back to fulfillable.
//! - `FillAllAvailable`: "all unfulfillable items in the order are cancelled": the short units are cancelled
//!   (`cancelledQuantity`), the rest ships, and the order ends CompletePartialled.
//! - `FillAll`: the order "remains in a processing state" with the units it has shipping, and "becomes
//!   `Unfulfillable` or `CompletePartialled` after 24 hours" (after its shipment left, if that is later), the
//!   missing units then counted in `unfulfillableQuantity`.
//!
//! An order with nothing to ship at all becomes Unfulfillable at Planning (FillAll: after its 24 hours). A Hold
//! order keeps its reserve and stays Received; "`Hold` orders are automatically canceled after 14 days".
//!
//! Decisions the model leaves open: a repeated createFulfillmentOrder with the same sellerFulfillmentOrderId and
//! the same body answers 200 again without a second order (a client's retry); with another body it is refused. A
//! destination outside the marketplace's own country is refused: the sandbox ships each marketplace's orders
//! domestically only (Amazon.com to US addresses). cancelFulfillmentOrder of an order already Cancelled answers
//! 200 (Amazon's "requests that Amazon stop attempting to fulfill" holds). submitFulfillmentOrderStatusUpdate
//! moves an order forward to the status asked for, now, with that status's effects on shipment and inventory, and
//! from then on the clock no longer moves that order: the tester drives it. listAllFulfillmentOrders' nextTokens
//! live as long as searchOrders' (the model gives them no lifetime), and `queryStartDate` defaults to 36 hours
//! ago (the model gives no default: a day and a half of changes, without the whole history).

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::inventory::Inventory;
use super::{
    DIGITS, FILL_ALL_WAIT, FulfillmentSettings, HOLD_LIFETIME, Money, UPPER_ALNUM, derived_chars, stable_hash,
};
use crate::error::ApiError;
use crate::search::QueryParams;
use crate::sites::Site;
use crate::time::{format_iso, truncate_to_second};

/// "Maximum of 100 line items with a maximum of 250 units per order."
pub const MAX_LINES: usize = 100;
pub const MAX_UNITS: u64 = 250;
/// Orders per listAllFulfillmentOrders page.
pub const LIST_PAGE_SIZE: usize = 50;
/// listAllFulfillmentOrders without `queryStartDate` looks this far back.
pub const DEFAULT_LIST_WINDOW: Duration = Duration::hours(36);

/// The answer to a listAllFulfillmentOrders nextToken the sandbox does not know or that expired (Amazon's own words
/// for it are not on record).
pub const INVALID_LIST_TOKEN: &str = "The nextToken is invalid or has expired.";

/// `FulfillmentOrderStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FulfillmentOrderStatus {
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

impl FulfillmentOrderStatus {
    pub const ALL: [Self; 9] = [
        Self::New,
        Self::Received,
        Self::Planning,
        Self::Processing,
        Self::Cancelled,
        Self::Complete,
        Self::CompletePartialled,
        Self::Unfulfillable,
        Self::Invalid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "New",
            Self::Received => "Received",
            Self::Planning => "Planning",
            Self::Processing => "Processing",
            Self::Cancelled => "Cancelled",
            Self::Complete => "Complete",
            Self::CompletePartialled => "CompletePartialled",
            Self::Unfulfillable => "Unfulfillable",
            Self::Invalid => "Invalid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// Nothing happens to the order any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Cancelled | Self::Complete | Self::CompletePartialled | Self::Unfulfillable | Self::Invalid
        )
    }

    /// "The seller can cancel a fulfillment order that has a status of Received" (and Planning, and one not yet
    /// validated).
    pub fn is_cancellable(self) -> bool {
        matches!(self, Self::New | Self::Received | Self::Planning)
    }

    /// How far along an order is: statuses only move forward.
    fn rank(self) -> u8 {
        match self {
            Self::New => 0,
            Self::Received => 1,
            Self::Planning => 2,
            Self::Processing => 3,
            _ => 4,
        }
    }
}

/// `ShippingSpeedCategory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ShippingSpeed {
    Standard,
    Expedited,
    Priority,
    ScheduledDelivery,
}

impl ShippingSpeed {
    pub const ALL: [Self; 4] = [Self::Standard, Self::Expedited, Self::Priority, Self::ScheduledDelivery];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "Standard",
            Self::Expedited => "Expedited",
            Self::Priority => "Priority",
            Self::ScheduledDelivery => "ScheduledDelivery",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|speed| speed.as_str() == s)
    }

    /// Days from leaving the fulfillment center to arriving.
    pub fn transit_days(self) -> i64 {
        match self {
            Self::Standard => 4,
            Self::Expedited => 2,
            Self::Priority | Self::ScheduledDelivery => 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FulfillmentAction {
    Ship,
    Hold,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FulfillmentPolicy {
    FillOrKill,
    FillAll,
    FillAllAvailable,
}

fn parse_enum<T: for<'de> Deserialize<'de>>(raw: &str, field: &str) -> Result<T, ApiError> {
    serde_json::from_value(Value::String(raw.to_owned()))
        .map_err(|_| ApiError::invalid_input(format!("Invalid value '{raw}' for {field}")))
}

/// The model's `Address`, as sent and as echoed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line3: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub district_or_county: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_or_region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// `FeatureSettings`, echoed as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeatureSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature_fulfillment_policy: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryWindowRequest {
    start_date: Option<String>,
    end_date: Option<String>,
}

/// `DeliveryWindow` as the order keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryWindow {
    pub start_date: DateTime<Utc>,
    pub end_date: DateTime<Utc>,
}

/// `CreateFulfillmentOrderRequest`; every field optional here so that a missing one is answered by name.
/// `deliveryPreferences`, `codSettings`, `shipFromCountryCode` and `paymentInformation` are accepted and not kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRequest {
    pub marketplace_id: Option<String>,
    pub seller_fulfillment_order_id: Option<String>,
    pub displayable_order_id: Option<String>,
    pub displayable_order_date: Option<String>,
    pub displayable_order_comment: Option<String>,
    pub shipping_speed_category: Option<String>,
    pub delivery_window: Option<DeliveryWindowRequest>,
    pub destination_address: Option<Address>,
    pub fulfillment_action: Option<String>,
    pub fulfillment_policy: Option<String>,
    pub notification_emails: Option<Vec<String>>,
    pub feature_constraints: Option<Vec<FeatureSettings>>,
    pub items: Option<Vec<CreateItemRequest>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateItemRequest {
    pub seller_sku: Option<String>,
    pub seller_fulfillment_order_item_id: Option<String>,
    pub quantity: Option<i64>,
    pub gift_message: Option<String>,
    pub displayable_comment: Option<String>,
    pub fulfillment_network_sku: Option<String>,
    pub per_unit_declared_value: Option<Money>,
    pub per_unit_price: Option<Money>,
    pub per_unit_tax: Option<Money>,
}

/// Where a request arrived: the host's SP-API region and the selling partner's marketplaces served there.
#[derive(Debug, Clone)]
pub struct Host {
    pub region: &'static str,
    /// The sandbox's marketplaces of that region, in configured order (the first is the default).
    pub sites: Vec<&'static Site>,
}

impl Host {
    /// `marketplaceId` as given, or the first marketplace the host serves.
    pub fn marketplace(&self, requested: Option<&str>) -> Result<&'static Site, ApiError> {
        let Some(id) = requested.map(str::trim).filter(|id| !id.is_empty()) else {
            return self.sites.first().copied().ok_or_else(|| {
                ApiError::invalid_input(
                    "marketplaceId is required: this endpoint serves none of the seller's marketplaces",
                )
            });
        };
        if let Some(site) = Site::find(id).filter(|site| site.region != self.region) {
            return Err(ApiError::invalid_input(format!(
                "Invalid marketplaceId: {} ({}) is not served by this endpoint; call the {} endpoint",
                site.marketplace_id, site.name, site.region
            )));
        }
        self.sites.iter().copied().find(|site| site.marketplace_id == id).ok_or_else(|| {
            ApiError::invalid_input(format!("Invalid marketplaceId: {id} is not a marketplace of the selling partner"))
        })
    }
}

fn missing(field: &str) -> ApiError {
    ApiError::invalid_input(format!("Missing required field: {field}"))
}

/// A required string field, present and not blank.
fn required<'a>(value: &'a Option<String>, field: &str) -> Result<&'a str, ApiError> {
    value.as_deref().filter(|v| !v.trim().is_empty()).ok_or_else(|| missing(field))
}

fn at_most(value: &str, field: &str, max: usize) -> Result<(), ApiError> {
    match value.chars().count() {
        n if n > max => Err(ApiError::invalid_input(format!("{field} must be at most {max} characters; it has {n}"))),
        _ => Ok(()),
    }
}

fn date_time(raw: &str, field: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| truncate_to_second(t.with_timezone(&Utc)))
        .map_err(|_| ApiError::invalid_input(format!("Invalid {field}: '{raw}' is not an ISO 8601 date-time")))
}

/// The address's required fields: name, addressLine1, countryCode (ISO 3166-1 alpha-2), postalCode, and city
/// "in all countries except Japan".
pub(crate) fn check_address<'a>(address: Option<&'a Address>, field: &str) -> Result<&'a Address, ApiError> {
    let address = address.ok_or_else(|| missing(field))?;
    required(&address.name, &format!("{field}.name"))?;
    required(&address.address_line1, &format!("{field}.addressLine1"))?;
    let country = required(&address.country_code, &format!("{field}.countryCode"))?;
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ApiError::invalid_input(format!(
            "Invalid {field}.countryCode '{country}': must be an ISO 3166-1 alpha-2 code such as US"
        )));
    }
    required(&address.postal_code, &format!("{field}.postalCode"))?;
    if country != "JP" {
        required(&address.city, &format!("{field}.city"))?;
    }
    Ok(address)
}

/// The sandbox fulfills each marketplace's orders in its own country only.
pub(crate) fn serves_destination(site: &Site, address: &Address) -> bool {
    address.country_code.as_deref() == Some(site.country)
}

pub(crate) fn foreign_destination(site: &Site, address: &Address) -> ApiError {
    ApiError::invalid_input(format!(
        "The destination address country {} cannot be served from marketplace {} ({}): it ships to {} addresses only.",
        address.country_code.as_deref().unwrap_or(""),
        site.marketplace_id,
        site.name,
        site.country
    ))
}

/// One requested line, read: (sellerSku, sellerFulfillmentOrderItemId, quantity).
pub(crate) type Line<'a> = (&'a str, &'a str, u32);

/// One requested line as sent: (sellerSku, sellerFulfillmentOrderItemId, quantity), any of them missing.
pub(crate) type SentLine<'a> = (&'a Option<String>, &'a Option<String>, Option<i64>);

/// The item rules createFulfillmentOrder and getFulfillmentPreview share: 1 to 100 lines, each with a sellerSku and
/// a sellerFulfillmentOrderItemId (both at most 50 characters, the item ids distinct) and a quantity of at least 1,
/// 250 units at most in all.
pub(crate) fn check_lines<'a>(lines: Option<Vec<SentLine<'a>>>) -> Result<Vec<Line<'a>>, ApiError> {
    let lines = lines.filter(|l| !l.is_empty()).ok_or_else(|| missing("items"))?;
    if lines.len() > MAX_LINES {
        return Err(ApiError::invalid_input(format!(
            "A fulfillment order can hold at most {MAX_LINES} items; this one has {}",
            lines.len()
        )));
    }
    let mut seen = HashSet::new();
    let mut total = 0u64;
    let mut checked = Vec::with_capacity(lines.len());
    for (index, (sku, item_id, quantity)) in lines.into_iter().enumerate() {
        let sku = required(sku, &format!("items[{index}].sellerSku"))?;
        at_most(sku, &format!("items[{index}].sellerSku"), 50)?;
        let item_id = required(item_id, &format!("items[{index}].sellerFulfillmentOrderItemId"))?;
        at_most(item_id, &format!("items[{index}].sellerFulfillmentOrderItemId"), 50)?;
        if !seen.insert(item_id) {
            return Err(ApiError::invalid_input(format!(
                "Duplicate sellerFulfillmentOrderItemId '{item_id}': each item of an order needs its own"
            )));
        }
        let quantity = quantity.ok_or_else(|| missing(&format!("items[{index}].quantity")))?;
        let quantity = u32::try_from(quantity).ok().filter(|q| *q >= 1).ok_or_else(|| {
            ApiError::invalid_input(format!("Invalid quantity {quantity} for item {item_id}: must be at least 1"))
        })?;
        total += u64::from(quantity);
        checked.push((sku, item_id, quantity));
    }
    if total > MAX_UNITS {
        return Err(ApiError::invalid_input(format!(
            "A fulfillment order can hold at most {MAX_UNITS} units; this one has {total}"
        )));
    }
    Ok(checked)
}

/// "The value must be an alpha-numeric or ISO 8859-1 compliant string from one to 40 characters in length. Cannot
/// contain two spaces in a row. Leading and trailing white space is removed."
fn check_displayable_order_id(raw: &str) -> Result<String, ApiError> {
    let id = raw.trim();
    let invalid = |why: &str| ApiError::invalid_input(format!("Invalid displayableOrderId '{raw}': {why}"));
    if id.is_empty() || id.chars().count() > 40 {
        return Err(invalid("must be 1 to 40 characters"));
    }
    if id.contains("  ") {
        return Err(invalid("cannot contain two spaces in a row"));
    }
    if id.chars().any(|c| u32::from(c) > 0xFF || c.is_control()) {
        return Err(invalid("must be alphanumeric or ISO 8859-1"));
    }
    Ok(id.to_owned())
}

/// One item of a fulfillment order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    pub seller_sku: String,
    pub seller_fulfillment_order_item_id: String,
    pub quantity: u32,
    pub gift_message: Option<String>,
    pub displayable_comment: Option<String>,
    pub fulfillment_network_sku: String,
    pub per_unit_declared_value: Option<Money>,
    pub per_unit_price: Option<Money>,
    pub per_unit_tax: Option<Money>,
    pub cancelled_quantity: u32,
    pub unfulfillable_quantity: u32,
    /// Units the inventory covered when the order was created.
    pub covered: u32,
    /// Units still held in the inventory for this item.
    pub reserved: u32,
    pub shipped: u32,
}

impl OrderItem {
    /// Units the inventory could not cover.
    fn short(&self) -> u32 {
        self.quantity - self.covered
    }

    /// Units neither shipped, cancelled nor found unfulfillable yet.
    fn open(&self) -> u32 {
        self.quantity.saturating_sub(self.shipped + self.cancelled_quantity + self.unfulfillable_quantity)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ShipmentStatus {
    Pending,
    Shipped,
    CancelledByFulfiller,
    CancelledBySeller,
}

/// The order's one shipment, from Processing on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    pub amazon_shipment_id: String,
    pub fulfillment_center_id: String,
    pub status: ShipmentStatus,
    /// Estimated while PENDING, actual once SHIPPED.
    pub shipping_date: DateTime<Utc>,
    pub estimated_arrival_date: DateTime<Utc>,
    /// (sellerSku, sellerFulfillmentOrderItemId, quantity).
    pub items: Vec<(String, String, u32)>,
    pub package: Option<Package>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub carrier_code: String,
    pub tracking_number: String,
}

/// When the order moves, fixed at creation from the settings then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub planning: DateTime<Utc>,
    pub processing: DateTime<Utc>,
    pub complete: DateTime<Utc>,
}

/// What a FULFILLMENT_ORDER_STATUS notification reports, as the notification's `EventType` names it: the order's
/// status changed (`Order`) or its shipment did (`Shipment`: it appeared, left or was cancelled). Amazon's third
/// kind, `Return`, needs returns, which the sandbox does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Order,
    Shipment,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Order => "Order",
            Self::Shipment => "Shipment",
        }
    }
}

/// One change to a fulfillment order, at the time it happened, with the order as it was right after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub event_type: EventType,
    pub at: DateTime<Utc>,
    pub seller_fulfillment_order_id: String,
    pub status: FulfillmentOrderStatus,
    pub shipment: Option<Shipment>,
}

/// A fulfillment order with what the sandbox knows beyond Amazon's view of it.
#[derive(Debug, Clone, PartialEq)]
pub struct FulfillmentOrder {
    pub seller_fulfillment_order_id: String,
    pub marketplace_id: String,
    pub country: &'static str,
    pub region: &'static str,
    pub displayable_order_id: String,
    pub displayable_order_date: DateTime<Utc>,
    pub displayable_order_comment: String,
    pub shipping_speed_category: ShippingSpeed,
    pub delivery_window: Option<DeliveryWindow>,
    pub destination_address: Address,
    pub fulfillment_action: FulfillmentAction,
    pub fulfillment_policy: FulfillmentPolicy,
    pub received_date: DateTime<Utc>,
    pub status: FulfillmentOrderStatus,
    pub status_updated_date: DateTime<Utc>,
    pub notification_emails: Option<Vec<String>>,
    pub feature_constraints: Option<Vec<FeatureSettings>>,
    pub items: Vec<OrderItem>,
    pub shipment: Option<Shipment>,
    pub schedule: Schedule,
    /// Moved by submitFulfillmentOrderStatusUpdate: the clock no longer moves it.
    pub pinned: bool,
    /// The createFulfillmentOrder body as sent, to tell a retry from a clash.
    pub request: Value,
}

/// What createFulfillmentOrder may answer besides validation errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    New,
    /// The same body again: the order it created stands.
    Repeated,
}

impl super::FulfillmentStore {
    /// createFulfillmentOrder: validates `request` (the parsed `raw` body) against the model and the inventory,
    /// answers a repeat, or creates the order and reserves its inventory.
    pub fn create(
        &mut self,
        raw: Value,
        request: CreateRequest,
        host: &Host,
        now: DateTime<Utc>,
    ) -> Result<Created, ApiError> {
        let order = build_order(raw, request, host, &self.inventory, self.settings, now)?;
        if let Some(existing) = self.order(&order.seller_fulfillment_order_id) {
            return if existing.request == order.request {
                Ok(Created::Repeated)
            } else {
                // Amazon's wording for this is not on record (no issue of amzn/selling-partner-api-models quotes it).
                Err(ApiError::invalid_input(format!(
                    "Fulfillment order with sellerFulfillmentOrderId {} already exists with different content; \
                     a sellerFulfillmentOrderId must be unique for each fulfillment order",
                    order.seller_fulfillment_order_id
                )))
            };
        }
        let mut order = order;
        for item in &mut order.items {
            item.covered = self.inventory.reserve(&item.seller_sku, item.quantity, order.received_date);
            item.reserved = item.covered;
        }
        self.changes.push(order.change(EventType::Order, order.received_date));
        self.orders.push(order);
        Ok(Created::New)
    }

    /// The orders the host of `region` knows.
    pub fn order_in(&self, id: &str, region: &str) -> Result<&FulfillmentOrder, ApiError> {
        self.order(id).filter(|o| o.region == region).ok_or_else(|| not_found(id))
    }

    /// cancelFulfillmentOrder (the caller has advanced the orders to `now` first).
    pub fn cancel(&mut self, id: &str, region: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
        let super::FulfillmentStore { orders, inventory, changes, .. } = self;
        let order = orders.iter_mut().find(|o| o.seller_fulfillment_order_id == id && o.region == region);
        let order = order.ok_or_else(|| not_found(id))?;
        match order.status {
            FulfillmentOrderStatus::Cancelled => Ok(()),
            status if status.is_cancellable() => {
                let at = truncate_to_second(now);
                let before = order.observed();
                order.cancel_all(inventory, at);
                order.changes_since(before, at, changes);
                Ok(())
            }
            // Amazon's wording for this is not on record either; the model says which statuses allow it.
            status => Err(ApiError::invalid_input(format!(
                "Fulfillment order {id} cannot be cancelled in its current status {}: only orders that are New, \
                 Received or Planning can be cancelled",
                status.as_str()
            ))),
        }
    }

    /// submitFulfillmentOrderStatusUpdate: the order moves to `status` now.
    pub fn move_to(
        &mut self,
        id: &str,
        region: &str,
        status: FulfillmentOrderStatus,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let super::FulfillmentStore { orders, inventory, changes, .. } = self;
        let order = orders.iter_mut().find(|o| o.seller_fulfillment_order_id == id && o.region == region);
        let order = order.ok_or_else(|| not_found(id))?;
        if order.status == status {
            return Ok(());
        }
        if order.status.is_final() || status.rank() < order.status.rank() {
            return Err(ApiError::invalid_input(format!(
                "Fulfillment order {id} cannot move from {} to {}",
                order.status.as_str(),
                status.as_str()
            )));
        }
        let at = truncate_to_second(now);
        let before = order.observed();
        order.apply_status(status, inventory, at);
        order.pinned = true;
        order.changes_since(before, at, changes);
        Ok(())
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Fulfillment order {id} not found"))
}

fn build_order(
    raw: Value,
    request: CreateRequest,
    host: &Host,
    inventory: &Inventory,
    settings: FulfillmentSettings,
    now: DateTime<Utc>,
) -> Result<FulfillmentOrder, ApiError> {
    let id = required(&request.seller_fulfillment_order_id, "sellerFulfillmentOrderId")?.to_owned();
    at_most(&id, "sellerFulfillmentOrderId", 40)?;
    let displayable_order_id =
        check_displayable_order_id(required(&request.displayable_order_id, "displayableOrderId")?)?;
    let displayable_order_date =
        date_time(required(&request.displayable_order_date, "displayableOrderDate")?, "displayableOrderDate")?;
    let comment = request.displayable_order_comment.clone().ok_or_else(|| missing("displayableOrderComment"))?;
    at_most(&comment, "displayableOrderComment", 750)?;
    let speed: ShippingSpeed =
        parse_enum(required(&request.shipping_speed_category, "shippingSpeedCategory")?, "shippingSpeedCategory")?;
    let address = check_address(request.destination_address.as_ref(), "destinationAddress")?.clone();
    let action = match request.fulfillment_action.as_deref() {
        None => FulfillmentAction::Ship,
        Some(raw) => parse_enum(raw, "fulfillmentAction")?,
    };
    let policy = match request.fulfillment_policy.as_deref() {
        None => FulfillmentPolicy::FillOrKill,
        Some(raw) => parse_enum(raw, "fulfillmentPolicy")?,
    };
    let site = host.marketplace(request.marketplace_id.as_deref())?;
    if speed == ShippingSpeed::ScheduledDelivery {
        if site.country != "JP" {
            return Err(ApiError::invalid_input("ScheduledDelivery is only available in the JP marketplace"));
        }
        if action == FulfillmentAction::Hold {
            return Err(ApiError::invalid_input(
                "Hold is not a valid fulfillmentAction value when the shippingSpeedCategory value is ScheduledDelivery",
            ));
        }
    }
    let delivery_window = request
        .delivery_window
        .as_ref()
        .map(|w| {
            let start = date_time(required(&w.start_date, "deliveryWindow.startDate")?, "deliveryWindow.startDate")?;
            let end = date_time(required(&w.end_date, "deliveryWindow.endDate")?, "deliveryWindow.endDate")?;
            Ok::<_, ApiError>(DeliveryWindow { start_date: start, end_date: end })
        })
        .transpose()?;
    if !serves_destination(site, &address) {
        return Err(foreign_destination(site, &address));
    }
    for email in request.notification_emails.iter().flatten() {
        at_most(email, "notificationEmails[]", 64)?;
    }
    for feature in request.feature_constraints.iter().flatten() {
        if let Some(policy) = feature.feature_fulfillment_policy.as_deref()
            && !matches!(policy, "Required" | "NotRequired")
        {
            return Err(ApiError::invalid_input(format!("Invalid value '{policy}' for featureFulfillmentPolicy")));
        }
    }
    let requested = request.items.as_ref();
    let lines = check_lines(requested.map(|items| {
        items.iter().map(|i| (&i.seller_sku, &i.seller_fulfillment_order_item_id, i.quantity)).collect()
    }))?;
    let mut items = Vec::with_capacity(lines.len());
    for ((sku, item_id, quantity), sent) in lines.into_iter().zip(requested.into_iter().flatten()) {
        // Amazon's answer to a SKU the seller has no inventory of (amzn/selling-partner-api-models#2979); the
        // sandbox names the SKU in `details`.
        let stock = inventory.get(sku).ok_or_else(|| {
            ApiError::invalid_input(format!("the SellerSKU for Item Id: {item_id} is invalid."))
                .with_details(format!("SellerSKU {sku} is not in the seller's FBA inventory"))
        })?;
        if let Some(gift) = &sent.gift_message {
            at_most(gift, &format!("giftMessage of item {item_id}"), 512)?;
        }
        if let Some(comment) = &sent.displayable_comment {
            at_most(comment, &format!("displayableComment of item {item_id}"), 250)?;
        }
        items.push(OrderItem {
            seller_sku: sku.to_owned(),
            seller_fulfillment_order_item_id: item_id.to_owned(),
            quantity,
            gift_message: sent.gift_message.clone(),
            displayable_comment: sent.displayable_comment.clone(),
            fulfillment_network_sku: stock.fn_sku.clone(),
            per_unit_declared_value: sent.per_unit_declared_value.clone(),
            per_unit_price: sent.per_unit_price.clone(),
            per_unit_tax: sent.per_unit_tax.clone(),
            cancelled_quantity: 0,
            unfulfillable_quantity: 0,
            covered: 0,
            reserved: 0,
            shipped: 0,
        });
    }
    let received = truncate_to_second(now);
    let after = |seconds: i64| received + Duration::seconds(seconds.max(0));
    Ok(FulfillmentOrder {
        seller_fulfillment_order_id: id,
        marketplace_id: site.marketplace_id.to_owned(),
        country: site.country,
        region: site.region,
        displayable_order_id,
        displayable_order_date,
        displayable_order_comment: comment,
        shipping_speed_category: speed,
        delivery_window,
        destination_address: address,
        fulfillment_action: action,
        fulfillment_policy: policy,
        received_date: received,
        status: FulfillmentOrderStatus::Received,
        status_updated_date: received,
        notification_emails: request.notification_emails,
        feature_constraints: request.feature_constraints,
        items,
        shipment: None,
        schedule: Schedule {
            planning: after(settings.planning_after_seconds),
            processing: after(settings.processing_after_seconds),
            complete: after(settings.complete_after_seconds),
        },
        pinned: false,
        request: raw,
    })
}

/// What happens next to an order on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Planning: shortages meet the fulfillment policy.
    Plan,
    /// Processing: picking begins, the shipment is PENDING.
    Process,
    /// The shipment leaves the fulfillment center.
    Ship,
    /// A FillAll order's 24 hours are up.
    GiveUp,
    /// A Hold order's 14 days are up.
    ExpireHold,
}

impl FulfillmentOrder {
    fn covered(&self) -> u32 {
        self.items.iter().map(|i| i.covered).sum()
    }

    fn shortage(&self) -> u32 {
        self.items.iter().map(OrderItem::short).sum()
    }

    fn next_step(&self) -> Option<(DateTime<Utc>, Step)> {
        use FulfillmentOrderStatus as S;
        if self.pinned || self.status.is_final() {
            return None;
        }
        if self.fulfillment_action == FulfillmentAction::Hold {
            return Some((self.received_date + HOLD_LIFETIME, Step::ExpireHold));
        }
        match self.status {
            S::New | S::Received => Some((self.schedule.planning, Step::Plan)),
            S::Planning => Some((self.schedule.processing, Step::Process)),
            S::Processing => match &self.shipment {
                Some(shipment) if shipment.status == ShipmentStatus::Pending => {
                    Some((self.schedule.complete, Step::Ship))
                }
                _ => Some(((self.received_date + FILL_ALL_WAIT).max(self.schedule.complete), Step::GiveUp)),
            },
            _ => None,
        }
    }

    /// Applies every step due by `now`, each at its own time, adding what changed to `changes`.
    pub(crate) fn advance(&mut self, inventory: &mut Inventory, now: DateTime<Utc>, changes: &mut Vec<Change>) {
        while let Some((at, step)) = self.next_step().filter(|(at, _)| *at <= now) {
            let before = self.observed();
            self.apply(step, at, inventory);
            self.changes_since(before, at, changes);
        }
    }

    /// What a notification can tell apart: the status and the shipment.
    fn observed(&self) -> (FulfillmentOrderStatus, Option<Shipment>) {
        (self.status, self.shipment.clone())
    }

    /// The order as a change of `event_type` at `at` reports it.
    fn change(&self, event_type: EventType, at: DateTime<Utc>) -> Change {
        Change {
            event_type,
            at,
            seller_fulfillment_order_id: self.seller_fulfillment_order_id.clone(),
            status: self.status,
            shipment: self.shipment.clone(),
        }
    }

    /// One `Order` change if the status moved since `before`, then one `Shipment` change if the shipment did.
    fn changes_since(
        &self,
        (status, shipment): (FulfillmentOrderStatus, Option<Shipment>),
        at: DateTime<Utc>,
        changes: &mut Vec<Change>,
    ) {
        if self.status != status {
            changes.push(self.change(EventType::Order, at));
        }
        if self.shipment.is_some() && self.shipment != shipment {
            changes.push(self.change(EventType::Shipment, at));
        }
    }

    fn set_status(&mut self, status: FulfillmentOrderStatus, at: DateTime<Utc>) {
        self.status = status;
        self.status_updated_date = at;
    }

    fn apply(&mut self, step: Step, at: DateTime<Utc>, inventory: &mut Inventory) {
        use FulfillmentOrderStatus as S;
        match step {
            Step::ExpireHold => self.cancel_all(inventory, at),
            Step::Plan => match (self.shortage(), self.fulfillment_policy) {
                (0, _) | (_, FulfillmentPolicy::FillAll) => self.set_status(S::Planning, at),
                (_, FulfillmentPolicy::FillAllAvailable) if self.covered() > 0 => {
                    for item in &mut self.items {
                        item.cancelled_quantity += item.short();
                    }
                    self.set_status(S::Planning, at);
                }
                _ => self.give_up_all(S::Unfulfillable, inventory, at),
            },
            Step::Process => {
                self.open_shipment(at);
                self.set_status(S::Processing, at);
            }
            Step::Ship => {
                self.ship(inventory, at);
                if self.items.iter().all(|i| i.open() == 0) {
                    self.finish(at);
                }
            }
            Step::GiveUp => {
                for item in &mut self.items {
                    item.unfulfillable_quantity += item.open();
                }
                self.finish(at);
            }
        }
    }

    /// Complete if every unit shipped, CompletePartialled if some did, Unfulfillable if none.
    fn finish(&mut self, at: DateTime<Utc>) {
        let shipped: u32 = self.items.iter().map(|i| i.shipped).sum();
        let all: u32 = self.items.iter().map(|i| i.quantity).sum();
        let status = match shipped {
            0 => FulfillmentOrderStatus::Unfulfillable,
            s if s == all => FulfillmentOrderStatus::Complete,
            _ => FulfillmentOrderStatus::CompletePartialled,
        };
        self.set_status(status, at);
    }

    /// The PENDING shipment of what the inventory covered, leaving at the scheduled completion.
    fn open_shipment(&mut self, at: DateTime<Utc>) {
        let items: Vec<(String, String, u32)> = self
            .items
            .iter()
            .filter(|i| i.reserved > 0)
            .map(|i| (i.seller_sku.clone(), i.seller_fulfillment_order_item_id.clone(), i.reserved))
            .collect();
        if items.is_empty() || self.shipment.is_some() {
            return;
        }
        let shipping_date =
            if self.pinned { at + (self.schedule.complete - self.schedule.processing) } else { self.schedule.complete };
        let hash = stable_hash(&self.seller_fulfillment_order_id);
        self.shipment = Some(Shipment {
            amazon_shipment_id: derived_chars(
                hash ^ 0x5A,
                b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789",
                9,
            ),
            fulfillment_center_id: fulfillment_center(self.country, hash).to_owned(),
            status: ShipmentStatus::Pending,
            shipping_date,
            estimated_arrival_date: shipping_date + Duration::days(self.shipping_speed_category.transit_days()),
            items,
            package: None,
        });
    }

    /// The shipment leaves at `at`: one package, tracked; its units leave the inventory.
    fn ship(&mut self, inventory: &mut Inventory, at: DateTime<Utc>) {
        self.open_shipment(at);
        let Some(shipment) = self.shipment.as_mut().filter(|s| s.status == ShipmentStatus::Pending) else { return };
        let (carrier_code, tracking_number) =
            carrier_and_tracking(&self.seller_fulfillment_order_id, self.country, self.shipping_speed_category);
        shipment.status = ShipmentStatus::Shipped;
        shipment.shipping_date = at;
        shipment.estimated_arrival_date = at + Duration::days(self.shipping_speed_category.transit_days());
        shipment.package = Some(Package { carrier_code, tracking_number });
        for item in &mut self.items {
            inventory.ship(&item.seller_sku, item.reserved, at);
            item.shipped += item.reserved;
            item.reserved = 0;
        }
    }

    /// Held units go back to the inventory.
    fn release(&mut self, inventory: &mut Inventory, at: DateTime<Utc>) {
        for item in &mut self.items {
            inventory.release(&item.seller_sku, item.reserved, at);
            item.reserved = 0;
        }
    }

    /// Cancelled: whatever has not shipped is cancelled and its reserve released.
    pub(crate) fn cancel_all(&mut self, inventory: &mut Inventory, at: DateTime<Utc>) {
        self.release(inventory, at);
        for item in &mut self.items {
            item.cancelled_quantity += item.open();
        }
        if let Some(shipment) = self.shipment.as_mut().filter(|s| s.status == ShipmentStatus::Pending) {
            shipment.status = ShipmentStatus::CancelledBySeller;
        }
        self.set_status(FulfillmentOrderStatus::Cancelled, at);
    }

    /// Unfulfillable or Invalid: nothing (more) ships.
    fn give_up_all(&mut self, status: FulfillmentOrderStatus, inventory: &mut Inventory, at: DateTime<Utc>) {
        self.release(inventory, at);
        for item in &mut self.items {
            item.unfulfillable_quantity += item.open();
        }
        if let Some(shipment) = self.shipment.as_mut().filter(|s| s.status == ShipmentStatus::Pending) {
            shipment.status = ShipmentStatus::CancelledByFulfiller;
        }
        self.set_status(status, at);
    }

    /// submitFulfillmentOrderStatusUpdate's effects: the order is where that status puts it.
    fn apply_status(&mut self, status: FulfillmentOrderStatus, inventory: &mut Inventory, now: DateTime<Utc>) {
        use FulfillmentOrderStatus as S;
        match status {
            S::New | S::Received | S::Planning => self.set_status(status, now),
            S::Processing => {
                self.pinned = true;
                self.open_shipment(now);
                self.set_status(status, now);
            }
            S::Complete | S::CompletePartialled => {
                self.ship(inventory, now);
                self.release(inventory, now);
                for item in &mut self.items {
                    item.unfulfillable_quantity += item.open();
                }
                self.set_status(status, now);
            }
            S::Cancelled => self.cancel_all(inventory, now),
            S::Unfulfillable | S::Invalid => self.give_up_all(status, inventory, now),
        }
    }

    /// `GetFulfillmentOrderResult`.
    pub fn result(&self) -> FulfillmentOrderResult {
        FulfillmentOrderResult {
            fulfillment_order: self.view(),
            fulfillment_order_items: self.items.iter().map(|item| self.item_view(item)).collect(),
            fulfillment_shipments: self.shipment.as_ref().map(|s| vec![s.view()]),
            return_items: Vec::new(),
            return_authorizations: Vec::new(),
        }
    }

    /// `FulfillmentOrder`.
    pub fn view(&self) -> FulfillmentOrderView {
        FulfillmentOrderView {
            seller_fulfillment_order_id: self.seller_fulfillment_order_id.clone(),
            marketplace_id: self.marketplace_id.clone(),
            displayable_order_id: self.displayable_order_id.clone(),
            displayable_order_date: format_iso(self.displayable_order_date),
            displayable_order_comment: self.displayable_order_comment.clone(),
            shipping_speed_category: self.shipping_speed_category,
            delivery_window: self
                .delivery_window
                .map(|w| DeliveryWindowView { start_date: format_iso(w.start_date), end_date: format_iso(w.end_date) }),
            destination_address: self.destination_address.clone(),
            fulfillment_action: self.fulfillment_action,
            fulfillment_policy: self.fulfillment_policy,
            received_date: format_iso(self.received_date),
            fulfillment_order_status: self.status,
            status_updated_date: format_iso(self.status_updated_date),
            notification_emails: self.notification_emails.clone(),
            feature_constraints: self.feature_constraints.clone(),
        }
    }

    fn item_view(&self, item: &OrderItem) -> FulfillmentOrderItemView {
        // Dates for units that ship (or shipped); none for an item of which nothing will.
        let ships = self.fulfillment_action == FulfillmentAction::Ship
            && item.reserved + item.shipped > 0
            && !matches!(
                self.status,
                FulfillmentOrderStatus::Cancelled
                    | FulfillmentOrderStatus::Unfulfillable
                    | FulfillmentOrderStatus::Invalid
            );
        let (ship, arrive) = match &self.shipment {
            _ if !ships => (None, None),
            Some(s) if matches!(s.status, ShipmentStatus::Pending | ShipmentStatus::Shipped) => {
                (Some(s.shipping_date), Some(s.estimated_arrival_date))
            }
            Some(_) => (None, None),
            None => {
                let ship = self.schedule.complete;
                (Some(ship), Some(ship + Duration::days(self.shipping_speed_category.transit_days())))
            }
        };
        FulfillmentOrderItemView {
            seller_sku: item.seller_sku.clone(),
            seller_fulfillment_order_item_id: item.seller_fulfillment_order_item_id.clone(),
            quantity: item.quantity,
            gift_message: item.gift_message.clone(),
            displayable_comment: item.displayable_comment.clone(),
            fulfillment_network_sku: item.fulfillment_network_sku.clone(),
            order_item_disposition: "Sellable",
            cancelled_quantity: item.cancelled_quantity,
            unfulfillable_quantity: item.unfulfillable_quantity,
            estimated_ship_date: ship.map(format_iso),
            estimated_arrival_date: arrive.map(format_iso),
            per_unit_price: item.per_unit_price.clone(),
            per_unit_tax: item.per_unit_tax.clone(),
            per_unit_declared_value: item.per_unit_declared_value.clone(),
        }
    }
}

impl Shipment {
    fn view(&self) -> FulfillmentShipmentView {
        let live = matches!(self.status, ShipmentStatus::Pending | ShipmentStatus::Shipped);
        let package_number = self.package.as_ref().map(|_| 1);
        FulfillmentShipmentView {
            amazon_shipment_id: self.amazon_shipment_id.clone(),
            fulfillment_center_id: self.fulfillment_center_id.clone(),
            fulfillment_shipment_status: self.status,
            shipping_date: live.then(|| format_iso(self.shipping_date)),
            estimated_arrival_date: live.then(|| format_iso(self.estimated_arrival_date)),
            fulfillment_shipment_item: self
                .items
                .iter()
                .map(|(sku, item_id, quantity)| ShipmentItemView {
                    seller_sku: sku.clone(),
                    seller_fulfillment_order_item_id: item_id.clone(),
                    quantity: *quantity,
                    package_number,
                })
                .collect(),
            fulfillment_shipment_package: self.package.as_ref().map(|p| {
                vec![PackageView {
                    package_number: 1,
                    carrier_code: p.carrier_code.clone(),
                    tracking_number: p.tracking_number.clone(),
                    estimated_arrival_date: format_iso(self.estimated_arrival_date),
                }]
            }),
        }
    }
}

/// A fulfillment center of the destination country.
fn fulfillment_center(country: &str, hash: u64) -> &'static str {
    let centers: &[&'static str] = match country {
        "US" => &["PHX7", "ONT8", "BFI4", "MDW2", "EWR4", "TPA1"],
        "CA" => &["YYZ1", "YVR2"],
        "MX" => &["MEX1"],
        "GB" => &["LTN1", "BHX4"],
        "DE" => &["FRA3", "LEJ1"],
        "FR" => &["ORY1", "LYS1"],
        "IT" => &["MXP5"],
        "ES" => &["MAD4", "BCN1"],
        "JP" => &["NRT1", "KIX1"],
        "AU" => &["MEL1", "SYD1"],
        _ => &["XFC1"],
    };
    centers[(hash % centers.len() as u64) as usize]
}

/// The carrier and tracking number of an order's package, derived from its id (the same in every run). US orders
/// go by USPS, UPS or Amazon Logistics (Expedited and Priority never by USPS); others by Amazon Logistics.
pub fn carrier_and_tracking(order_id: &str, country: &str, speed: ShippingSpeed) -> (String, String) {
    let hash = stable_hash(order_id);
    let carrier = match (country, speed) {
        ("US", ShippingSpeed::Standard) => ["USPS", "UPS", "AMZL_US"][(hash % 3) as usize],
        ("US", _) => ["UPS", "AMZL_US"][(hash % 2) as usize],
        _ => "AMZL",
    };
    let tracking = match carrier {
        "UPS" => format!("1Z{}", derived_chars(hash, UPPER_ALNUM, 16)),
        "USPS" => format!("9400{}", derived_chars(hash, DIGITS, 18)),
        _ => format!("TBA{}", derived_chars(hash, DIGITS, 12)),
    };
    let carrier = if carrier == "AMZL" {
        format!("AMZL_{}", if country == "GB" { "UK" } else { country })
    } else {
        carrier.to_owned()
    };
    (carrier, tracking)
}

/// `GetFulfillmentOrderResult`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentOrderResult {
    pub fulfillment_order: FulfillmentOrderView,
    pub fulfillment_order_items: Vec<FulfillmentOrderItemView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fulfillment_shipments: Option<Vec<FulfillmentShipmentView>>,
    pub return_items: Vec<Value>,
    pub return_authorizations: Vec<Value>,
}

/// Amazon's `FulfillmentOrder`, field for field.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentOrderView {
    pub seller_fulfillment_order_id: String,
    pub marketplace_id: String,
    pub displayable_order_id: String,
    pub displayable_order_date: String,
    pub displayable_order_comment: String,
    pub shipping_speed_category: ShippingSpeed,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_window: Option<DeliveryWindowView>,
    pub destination_address: Address,
    pub fulfillment_action: FulfillmentAction,
    pub fulfillment_policy: FulfillmentPolicy,
    pub received_date: String,
    pub fulfillment_order_status: FulfillmentOrderStatus,
    pub status_updated_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_emails: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature_constraints: Option<Vec<FeatureSettings>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryWindowView {
    pub start_date: String,
    pub end_date: String,
}

/// Amazon's `FulfillmentOrderItem`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentOrderItemView {
    pub seller_sku: String,
    pub seller_fulfillment_order_item_id: String,
    pub quantity: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gift_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub displayable_comment: Option<String>,
    pub fulfillment_network_sku: String,
    pub order_item_disposition: &'static str,
    pub cancelled_quantity: u32,
    pub unfulfillable_quantity: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_ship_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_arrival_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_unit_price: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_unit_tax: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_unit_declared_value: Option<Money>,
}

/// Amazon's `FulfillmentShipment`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentShipmentView {
    pub amazon_shipment_id: String,
    pub fulfillment_center_id: String,
    pub fulfillment_shipment_status: ShipmentStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_arrival_date: Option<String>,
    pub fulfillment_shipment_item: Vec<ShipmentItemView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fulfillment_shipment_package: Option<Vec<PackageView>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentItemView {
    pub seller_sku: String,
    pub seller_fulfillment_order_item_id: String,
    pub quantity: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_number: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageView {
    pub package_number: u32,
    pub carrier_code: String,
    pub tracking_number: String,
    pub estimated_arrival_date: String,
}

/// What a listAllFulfillmentOrders nextToken stands for: the window's start and the last order served.
#[derive(Debug, Clone)]
pub(crate) struct ListResume {
    start: DateTime<Utc>,
    region: &'static str,
    after: (DateTime<Utc>, String),
}

/// `ListAllFulfillmentOrdersResult`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    pub fulfillment_orders: Vec<FulfillmentOrderView>,
}

impl super::FulfillmentStore {
    /// One page of listAllFulfillmentOrders on the host of `region`: orders whose statusUpdatedDate is at or after
    /// `queryStartDate`, oldest update first.
    pub fn list(
        &mut self,
        raw_query: Option<&str>,
        region: &'static str,
        now: DateTime<Utc>,
        lifetime: Duration,
    ) -> Result<ListResult, ApiError> {
        let params = QueryParams::parse(raw_query);
        let resume = match params.scalar("nextToken").filter(|t| !t.is_empty()) {
            Some(token) => self
                .list_tokens
                .redeem(token, now)
                .ok()
                .filter(|r| r.region == region)
                .ok_or_else(|| ApiError::invalid_input(INVALID_LIST_TOKEN))?,
            None => {
                let start = match params.scalar("queryStartDate").filter(|s| !s.trim().is_empty()) {
                    Some(raw) => date_time(raw, "queryStartDate")?,
                    None => truncate_to_second(now) - DEFAULT_LIST_WINDOW,
                };
                ListResume { start, region, after: (DateTime::<Utc>::MIN_UTC, String::new()) }
            }
        };
        let mut matching: Vec<&FulfillmentOrder> = self
            .orders
            .iter()
            .filter(|o| o.region == region && o.status_updated_date >= resume.start)
            .filter(|o| (o.status_updated_date, &o.seller_fulfillment_order_id) > (resume.after.0, &resume.after.1))
            .collect();
        matching.sort_by(|a, b| {
            (a.status_updated_date, &a.seller_fulfillment_order_id)
                .cmp(&(b.status_updated_date, &b.seller_fulfillment_order_id))
        });
        let more = matching.len() > LIST_PAGE_SIZE;
        matching.truncate(LIST_PAGE_SIZE);
        let next_token = match (more, matching.last()) {
            (true, Some(last)) => {
                let after = (last.status_updated_date, last.seller_fulfillment_order_id.clone());
                Some(self.list_tokens.issue_opaque(ListResume { after, ..resume }, now, lifetime))
            }
            _ => None,
        };
        Ok(ListResult { next_token, fulfillment_orders: matching.iter().map(|o| o.view()).collect() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_enums_use_the_models_names() {
        assert_eq!(serde_json::to_value(FulfillmentOrderStatus::CompletePartialled).unwrap(), "CompletePartialled");
        assert_eq!(FulfillmentOrderStatus::parse("Processing"), Some(FulfillmentOrderStatus::Processing));
        assert_eq!(FulfillmentOrderStatus::parse("PROCESSING"), None);
        assert_eq!(serde_json::to_value(ShipmentStatus::CancelledBySeller).unwrap(), "CANCELLED_BY_SELLER");
        assert!(parse_enum::<FulfillmentPolicy>("FillAllAvailable", "fulfillmentPolicy").is_ok());
        assert!(
            parse_enum::<FulfillmentPolicy>("FillSome", "fulfillmentPolicy").unwrap_err().message.contains("FillSome")
        );
    }

    #[test]
    fn displayable_order_ids() {
        assert_eq!(check_displayable_order_id("  A-1 B ").unwrap(), "A-1 B");
        assert!(check_displayable_order_id("A  B").unwrap_err().message.contains("two spaces"));
        assert!(check_displayable_order_id(&"x".repeat(41)).is_err());
        assert!(check_displayable_order_id("Café 7").is_ok());
        assert!(check_displayable_order_id("注文").is_err());
    }

    #[test]
    fn tracking_is_derived_from_the_order() {
        let (carrier, tracking) = carrier_and_tracking("SB-1", "US", ShippingSpeed::Standard);
        assert_eq!((carrier.clone(), tracking.clone()), carrier_and_tracking("SB-1", "US", ShippingSpeed::Standard));
        assert!(["USPS", "UPS", "AMZL_US"].contains(&carrier.as_str()));
        match carrier.as_str() {
            "UPS" => assert!(tracking.starts_with("1Z") && tracking.len() == 18),
            "USPS" => assert!(tracking.starts_with("9400") && tracking.len() == 22),
            _ => assert!(tracking.starts_with("TBA") && tracking.len() == 15),
        }
        for n in 0..20 {
            let (carrier, _) = carrier_and_tracking(&format!("X{n}"), "US", ShippingSpeed::Priority);
            assert_ne!(carrier, "USPS");
        }
        assert_eq!(carrier_and_tracking("SB-1", "GB", ShippingSpeed::Standard).0, "AMZL_UK");
    }

    #[test]
    fn lines_follow_the_models_limits() {
        let (sku, id) = (Some("S".to_string()), Some("1".to_string()));
        assert!(check_lines(Some(vec![(&sku, &id, Some(1))])).is_ok());
        assert!(check_lines(Some(vec![])).unwrap_err().message.contains("items"));
        assert!(check_lines(Some(vec![(&sku, &id, Some(0))])).unwrap_err().message.contains("at least 1"));
        assert!(check_lines(Some(vec![(&sku, &id, None)])).unwrap_err().message.contains("quantity"));
        assert!(check_lines(Some(vec![(&sku, &id, Some(251))])).unwrap_err().message.contains("250 units"));
        let dup = check_lines(Some(vec![(&sku, &id, Some(1)), (&sku, &id, Some(1))])).unwrap_err();
        assert!(dup.message.contains("Duplicate"), "{}", dup.message);
        let ids: Vec<Option<String>> = (0..101).map(|n| Some(n.to_string())).collect();
        let many = check_lines(Some(ids.iter().map(|id| (&sku, id, Some(1))).collect())).unwrap_err();
        assert!(many.message.contains("100 items"), "{}", many.message);
    }
}
