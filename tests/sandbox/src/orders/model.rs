//! Orders API v2026-01-01 shapes (field names exactly as in `orders_2026-01-01.json`).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::sites::Site;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FulfillmentStatus {
    PendingAvailability,
    Pending,
    Unshipped,
    PartiallyShipped,
    Shipped,
    Cancelled,
    Unfulfillable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FulfilledBy {
    Merchant,
    Amazon,
}

/// `includedData` datasets. Only the ones the sandbox populates gate anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IncludedData {
    Buyer,
    Recipient,
    Proceeds,
    Expense,
    Promotion,
    Cancellation,
    Fulfillment,
    Packages,
    Tax,
    Payment,
    FulfillmentOrders,
}

/// Parses the SCREAMING_SNAKE_CASE wire value of one of the enums above.
fn parse_wire_enum<T: for<'de> Deserialize<'de>>(s: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(s.trim().to_string())).map_err(|_| s.to_string())
}

fn wire_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

macro_rules! wire_enum_impls {
    ($($t:ty),*) => {$(
        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> { parse_wire_enum(s) }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(&wire_name(self)) }
        }
    )*};
}
wire_enum_impls!(FulfillmentStatus, FulfilledBy, IncludedData);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Money {
    pub amount: String,
    pub currency_code: String,
}

impl Money {
    /// `hundredths` of the site's currency unit, written as that currency writes amounts.
    pub fn in_currency(hundredths: u64, site: &Site) -> Self {
        let amount = match site.currency_decimals() {
            0 => hundredths.to_string(),
            _ => format!("{}.{:02}", hundredths / 100, hundredths % 100),
        };
        Self { amount, currency_code: site.currency.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub order_id: String,
    #[serde(with = "crate::time::iso")]
    pub created_time: DateTime<Utc>,
    #[serde(with = "crate::time::iso")]
    pub last_updated_time: DateTime<Utc>,
    pub programs: Vec<String>,
    pub sales_channel: SalesChannel,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer: Option<Buyer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<Recipient>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proceeds: Option<OrderProceeds>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fulfillment: Option<OrderFulfillment>,
    pub order_items: Vec<OrderItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages: Option<Vec<OrderPackage>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SalesChannel {
    pub channel_name: String,
    pub marketplace_id: String,
    pub marketplace_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Buyer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer_company_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    pub delivery_address: CustomerAddress,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerAddress {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<String>,
    pub city: String,
    pub state_or_region: String,
    pub postal_code: String,
    pub country_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderProceeds {
    pub grand_total: Money,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderFulfillment {
    pub fulfillment_status: FulfillmentStatus,
    pub fulfilled_by: FulfilledBy,
    pub fulfillment_service_level: String,
    pub ship_by_window: DateTimeRange,
    pub deliver_by_window: DateTimeRange,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateTimeRange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub earliest_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_date_time: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    pub order_item_id: String,
    pub quantity_ordered: u32,
    pub product: ItemProduct,
    /// The `CANCELLATION` dataset: set when the seller cancelled the item (an acknowledgement feed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<ItemCancellation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fulfillment: Option<ItemFulfillment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemCancellation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancellation_execution: Option<CancellationExecution>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancellationExecution {
    /// `BUYER`, `MERCHANT` or `AMAZON`.
    pub cancelled_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemProduct {
    pub asin: String,
    pub title: String,
    pub seller_sku: String,
    pub condition: ItemCondition,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<ItemPrice>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemCondition {
    pub condition_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition_subtype: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemPrice {
    pub unit_price: Money,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemFulfillment {
    pub quantity_fulfilled: u32,
    pub quantity_unfulfilled: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packing: Option<ItemPacking>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemPacking {
    pub gift_option: GiftOption,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GiftOption {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gift_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gift_wrap_level: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPackage {
    pub package_reference_id: String,
    pub created_time: String,
    pub package_status: PackageStatus,
    pub carrier: String,
    pub ship_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_service: Option<String>,
    pub tracking_number: String,
    pub package_items: Vec<PackageItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageStatus {
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageItem {
    pub order_item_id: String,
    pub quantity: u32,
}

impl Order {
    // Generated orders always carry `fulfillment`; projections may drop it, hence the fallbacks.
    pub fn status(&self) -> Option<FulfillmentStatus> {
        self.fulfillment.as_ref().map(|f| f.fulfillment_status)
    }

    pub fn fulfilled_by(&self) -> Option<FulfilledBy> {
        self.fulfillment.as_ref().map(|f| f.fulfilled_by)
    }

    pub fn marketplace_id(&self) -> &str {
        &self.sales_channel.marketplace_id
    }

    /// MFN order a seller still has to ship something for.
    pub fn is_actionable_mfn(&self) -> bool {
        self.fulfilled_by() == Some(FulfilledBy::Merchant)
            && matches!(self.status(), Some(FulfillmentStatus::Unshipped | FulfillmentStatus::PartiallyShipped))
    }

    pub fn item(&self, order_item_id: &str) -> Option<&OrderItem> {
        self.order_items.iter().find(|i| i.order_item_id == order_item_id)
    }

    /// Copy containing only the datasets requested via `includedData` (items are always present).
    pub fn project(&self, included: &BTreeSet<IncludedData>) -> Order {
        let has = |d: IncludedData| included.contains(&d);
        let mut out = self.clone();
        if !has(IncludedData::Buyer) {
            out.buyer = None;
        }
        if !has(IncludedData::Recipient) {
            out.recipient = None;
        }
        if !has(IncludedData::Proceeds) {
            out.proceeds = None;
        }
        if !has(IncludedData::Packages) {
            out.packages = None;
        }
        if !has(IncludedData::Cancellation) {
            out.order_items.iter_mut().for_each(|i| i.cancellation = None);
        }
        if !has(IncludedData::Fulfillment) {
            // FULFILLMENT covers "how the order and order items are processed and shipped".
            out.fulfillment = None;
            out.order_items.iter_mut().for_each(|i| i.fulfillment = None);
        }
        out
    }

    /// Every dataset, as used by the inspection endpoints.
    pub fn all_included() -> BTreeSet<IncludedData> {
        [
            IncludedData::Buyer,
            IncludedData::Recipient,
            IncludedData::Proceeds,
            IncludedData::Cancellation,
            IncludedData::Fulfillment,
            IncludedData::Packages,
        ]
        .into_iter()
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_enums_roundtrip() {
        assert_eq!("PARTIALLY_SHIPPED".parse::<FulfillmentStatus>(), Ok(FulfillmentStatus::PartiallyShipped));
        assert_eq!(FulfillmentStatus::Cancelled.to_string(), "CANCELLED");
        assert_eq!("MERCHANT".parse::<FulfilledBy>(), Ok(FulfilledBy::Merchant));
        assert_eq!("FULFILLMENT_ORDERS".parse::<IncludedData>(), Ok(IncludedData::FulfillmentOrders));
        assert!("shipped".parse::<FulfillmentStatus>().is_err());
    }

    #[test]
    fn money_format() {
        let us = Site::find("ATVPDKIKX0DER").unwrap();
        assert_eq!(Money::in_currency(1234, us).amount, "12.34");
        assert_eq!(Money::in_currency(5, us).amount, "0.05");
        let japan = Money::in_currency(1234, Site::find("A1VC38T7YXB528").unwrap());
        assert_eq!((japan.amount.as_str(), japan.currency_code.as_str()), ("1234", "JPY"), "yen have no decimals");
    }
}
