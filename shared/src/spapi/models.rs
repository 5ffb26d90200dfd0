//! Wire shapes of the SP-API (as in Amazon's models) and their mapping to the domain.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::domain::ids::{AmazonOrderId, InvalidId, MarketplaceId, OrderItemId, Sku};
use crate::domain::order::{Address, AmazonOrder, AmazonPackage, Buyer, Condition, Money, OrderFlags, OrderItem};
use crate::domain::shipment::Package;
use crate::domain::status::{AmazonStatus, FulfilledBy};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchOrdersResponse {
    pub orders: Vec<serde_json::Value>,
    pub pagination: Option<Pagination>,
    pub last_updated_before: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GetOrderResponse {
    pub order: serde_json::Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireOrder {
    pub order_id: String,
    pub created_time: DateTime<Utc>,
    pub last_updated_time: DateTime<Utc>,
    #[serde(default)]
    pub programs: Vec<String>,
    pub sales_channel: SalesChannel,
    pub buyer: Option<WireBuyer>,
    pub recipient: Option<Recipient>,
    pub proceeds: Option<Proceeds>,
    pub fulfillment: Option<OrderFulfillment>,
    #[serde(default)]
    pub order_items: Vec<WireOrderItem>,
    /// Requested with `includedData=PACKAGES`; merchant-fulfilled orders only.
    #[serde(default)]
    pub packages: Vec<WireOrderPackage>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SalesChannel {
    pub marketplace_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireBuyer {
    pub buyer_name: Option<String>,
    pub buyer_email: Option<String>,
    pub buyer_company_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    pub delivery_address: Option<CustomerAddress>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerAddress {
    pub name: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub address_line3: Option<String>,
    pub city: Option<String>,
    pub state_or_region: Option<String>,
    pub postal_code: Option<String>,
    pub country_code: Option<String>,
    pub phone: Option<String>,
    pub address_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WireMoney {
    pub amount: String,
    pub currency_code: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Proceeds {
    pub grand_total: Option<WireMoney>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderFulfillment {
    pub fulfillment_status: AmazonStatus,
    /// A plain string in the model (`AMAZON`, `MERCHANT`), so a value Amazon adds later must not make the
    /// order unreadable: see [`parse_fulfilled_by`].
    pub fulfilled_by: Option<String>,
    pub fulfillment_service_level: Option<String>,
    pub ship_by_window: Option<DateTimeRange>,
    pub deliver_by_window: Option<DateTimeRange>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateTimeRange {
    pub latest_date_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireOrderItem {
    pub order_item_id: String,
    pub quantity_ordered: u32,
    pub product: Option<ItemProduct>,
    pub fulfillment: Option<ItemFulfillment>,
    #[serde(default)]
    pub programs: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemProduct {
    pub asin: Option<String>,
    pub title: Option<String>,
    pub seller_sku: Option<String>,
    pub condition: Option<ItemCondition>,
    pub price: Option<ItemPrice>,
    pub customization: Option<ItemCustomization>,
}

/// Amazon Custom: where the buyer's customization data lives. The URL itself is buyer PII and is never
/// kept; only the fact that the item is customized is.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemCustomization {
    pub customized_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemCondition {
    pub condition_type: Option<String>,
    pub condition_subtype: Option<String>,
    pub condition_note: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemPrice {
    pub unit_price: Option<WireMoney>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemFulfillment {
    pub quantity_fulfilled: Option<u32>,
    pub packing: Option<ItemPacking>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemPacking {
    pub gift_option: Option<GiftOption>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GiftOption {
    pub gift_message: Option<String>,
    /// Gift wrapping chosen by the buyer, with or without a message.
    pub gift_wrap_level: Option<String>,
}

/// Orders v2026-01-01 `OrderPackage`. `shipFromAddress` (the merchant's) and `packageItems` are not read.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireOrderPackage {
    pub package_reference_id: String,
    pub created_time: Option<DateTime<Utc>>,
    pub package_status: Option<WirePackageStatus>,
    pub carrier: Option<String>,
    pub ship_time: Option<DateTime<Utc>>,
    pub shipping_service: Option<String>,
    pub tracking_number: Option<String>,
}

/// `PackageStatus`: `status` is an enum in the model (`PENDING`, `IN_TRANSIT`, `SHIPPED`, `DELIVERED`,
/// `CANCELLED`, `UNDELIVERABLE`), kept as a string so a new value never makes the order unreadable.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WirePackageStatus {
    pub status: Option<String>,
}

/// Why one order from Amazon could not be mapped. Names the order and the field, never a PII value.
#[derive(Debug, Clone, Error)]
pub enum OrderMappingError {
    #[error("order {order_id}: unreadable ({message})")]
    Unreadable { order_id: String, message: String },
    #[error("order {order_id}: {field} missing")]
    Missing { order_id: String, field: &'static str },
    #[error("order {order_id}: {source}")]
    InvalidId { order_id: String, source: InvalidId },
}

impl OrderMappingError {
    pub fn order_id(&self) -> &str {
        match self {
            Self::Unreadable { order_id, .. } | Self::Missing { order_id, .. } | Self::InvalidId { order_id, .. } => {
                order_id
            }
        }
    }
}

/// Maps one order of a response on its own, so one bad record never stalls the others.
pub fn map_order(raw: serde_json::Value) -> Result<AmazonOrder, OrderMappingError> {
    let order_id = raw.get("orderId").and_then(|v| v.as_str()).unwrap_or("<no orderId>").to_owned();
    let wire: WireOrder = serde_json::from_value(raw).map_err(|e| OrderMappingError::Unreadable {
        order_id: order_id.clone(),
        message: crate::telemetry::without_quoted_values(&e.to_string()),
    })?;
    wire.into_domain()
}

impl WireOrder {
    fn into_domain(self) -> Result<AmazonOrder, OrderMappingError> {
        let order_id = self.order_id.clone();
        let invalid = |source| OrderMappingError::InvalidId { order_id: order_id.clone(), source };
        let fulfillment =
            self.fulfillment.ok_or(OrderMappingError::Missing { order_id: order_id.clone(), field: "fulfillment" })?;
        let marketplace = self
            .sales_channel
            .marketplace_id
            .ok_or(OrderMappingError::Missing { order_id: order_id.clone(), field: "salesChannel.marketplaceId" })?;
        let gift = self.order_items.iter().any(WireOrderItem::is_gift);
        let amazon_custom = self.order_items.iter().any(WireOrderItem::is_customized);
        let transparency = self.order_items.iter().any(|item| item.programs.iter().any(|p| p == "TRANSPARENCY"));
        let items = self
            .order_items
            .into_iter()
            .map(|item| item.into_domain().map_err(invalid))
            .collect::<Result<Vec<_>, _>>()?;
        let has = |program: &str| self.programs.iter().any(|p| p == program);
        let flags = OrderFlags {
            prime: has("PRIME"),
            premium: has("PREMIUM"),
            business: has("AMAZON_BUSINESS"),
            gift,
            amazon_custom,
            easy_ship: has("AMAZON_EASY_SHIP"),
            delivery_by_amazon: has("DELIVERY_BY_AMAZON"),
            transparency,
        };
        let fulfilled_by = parse_fulfilled_by(&order_id, fulfillment.fulfilled_by.as_deref());
        Ok(AmazonOrder {
            id: AmazonOrderId::parse(self.order_id).map_err(invalid)?,
            marketplace_id: MarketplaceId::parse(marketplace).map_err(invalid)?,
            fulfilled_by,
            amazon_status: fulfillment.fulfillment_status,
            created_at: self.created_time,
            updated_at: self.last_updated_time,
            ship_by: fulfillment.ship_by_window.and_then(|w| w.latest_date_time),
            deliver_by: fulfillment.deliver_by_window.and_then(|w| w.latest_date_time),
            service_level: fulfillment.fulfillment_service_level,
            flags,
            total: self.proceeds.and_then(|p| p.grand_total).map(Money::from),
            items,
            buyer: self.buyer.map(|b| Buyer {
                name: b.buyer_name,
                email: b.buyer_email,
                company: b.buyer_company_name,
            }),
            ship_to: self.recipient.and_then(|r| r.delivery_address).map(Address::from),
            packages: self.packages.into_iter().map(AmazonPackage::from).collect(),
        })
    }
}

/// `fulfilledBy` is a plain string in the model. Absent means the merchant (as before); a value Amazon
/// adds later is read as "not the merchant's to ship", so the order stays readable but is never sent a
/// shipment confirmation (it is imported only as an Amazon-fulfilled record, if at all).
fn parse_fulfilled_by(order_id: &str, raw: Option<&str>) -> FulfilledBy {
    match raw {
        None => FulfilledBy::Merchant,
        Some(v) if v.eq_ignore_ascii_case("MERCHANT") => FulfilledBy::Merchant,
        Some(v) if v.eq_ignore_ascii_case("AMAZON") => FulfilledBy::Amazon,
        Some(other) => {
            let value: String = other.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(40).collect();
            tracing::warn!(order_id, fulfilled_by = %value, "unknown fulfilledBy; treated as not merchant-fulfilled");
            FulfilledBy::Amazon
        }
    }
}

impl From<WireOrderPackage> for AmazonPackage {
    fn from(p: WireOrderPackage) -> Self {
        AmazonPackage {
            reference_id: p.package_reference_id,
            carrier: p.carrier,
            shipping_service: p.shipping_service,
            tracking_number: p.tracking_number,
            created_at: p.created_time,
            ship_time: p.ship_time,
            status: p.package_status.and_then(|s| s.status),
        }
    }
}

impl WireOrderItem {
    fn gift_option(&self) -> Option<&GiftOption> {
        self.fulfillment.as_ref()?.packing.as_ref()?.gift_option.as_ref()
    }

    /// A gift message or gift wrapping (a wrapped item may carry no message).
    fn is_gift(&self) -> bool {
        let present = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        self.gift_option().is_some_and(|g| present(&g.gift_message) || present(&g.gift_wrap_level))
    }

    /// Amazon Custom: the item carries the URL of the buyer's customization.
    fn is_customized(&self) -> bool {
        let customization = self.product.as_ref().and_then(|p| p.customization.as_ref());
        customization.and_then(|c| c.customized_url.as_deref()).is_some_and(|url| !url.trim().is_empty())
    }

    fn into_domain(self) -> Result<OrderItem, InvalidId> {
        let product = self.product;
        let gift = self.fulfillment.as_ref().and_then(|f| f.packing.as_ref()).and_then(|p| p.gift_option.as_ref());
        let gift_message = gift.and_then(|g| g.gift_message.clone());
        let gift_wrap_level = gift.and_then(|g| g.gift_wrap_level.clone()).filter(|level| !level.trim().is_empty());
        Ok(OrderItem {
            id: OrderItemId::parse(self.order_item_id)?,
            sku: product.as_ref().and_then(|p| p.seller_sku.clone()).map(Sku::parse).transpose()?,
            asin: product.as_ref().and_then(|p| p.asin.clone()),
            title: product.as_ref().and_then(|p| p.title.clone()),
            quantity_ordered: self.quantity_ordered,
            quantity_shipped: self.fulfillment.as_ref().and_then(|f| f.quantity_fulfilled).unwrap_or(0),
            unit_price: product
                .as_ref()
                .and_then(|p| p.price.as_ref())
                .and_then(|p| p.unit_price.clone())
                .map(Money::from),
            condition: product.as_ref().and_then(|p| p.condition.clone()).map(|c| Condition {
                id: c.condition_type,
                subtype: c.condition_subtype,
                note: c.condition_note,
            }),
            gift_message,
            gift_wrap_level,
        })
    }
}

impl From<WireMoney> for Money {
    fn from(m: WireMoney) -> Self {
        Money { amount: m.amount, currency_code: m.currency_code }
    }
}

impl From<CustomerAddress> for Address {
    fn from(a: CustomerAddress) -> Self {
        Address {
            name: a.name,
            line1: a.address_line1,
            line2: a.address_line2,
            line3: a.address_line3,
            city: a.city,
            state_or_region: a.state_or_region,
            postal_code: a.postal_code,
            country_code: a.country_code,
            phone: a.phone,
            address_type: a.address_type,
        }
    }
}

/// v0 `confirmShipment` request body.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmShipmentRequest {
    pub marketplace_id: String,
    pub package_detail: PackageDetail,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageDetail {
    /// A string: since 2026 Amazon rejects a JSON number here.
    pub package_reference_id: String,
    pub carrier_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_method: Option<String>,
    pub tracking_number: String,
    /// UTC with `Z`: Amazon rejects offsets.
    pub ship_date: String,
    pub order_items: Vec<ConfirmItem>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmItem {
    pub order_item_id: String,
    pub quantity: u32,
}

impl ConfirmShipmentRequest {
    pub fn for_package(marketplace_id: &MarketplaceId, package: &Package) -> Self {
        Self {
            marketplace_id: marketplace_id.to_string(),
            package_detail: PackageDetail {
                package_reference_id: package.reference.to_string(),
                carrier_code: package.carrier.code().to_owned(),
                carrier_name: package.carrier.other_name().map(str::to_owned),
                shipping_method: package.shipping_method.clone(),
                tracking_number: package.tracking_number.to_string(),
                ship_date: utc_timestamp(package.ship_date),
                order_items: package
                    .lines
                    .iter()
                    .map(|line| ConfirmItem { order_item_id: line.order_item_id.to_string(), quantity: line.quantity })
                    .collect(),
            },
        }
    }
}

/// ISO-8601 in UTC with a `Z` suffix, the only form Amazon accepts.
pub fn utc_timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Notifications API answers: `{"payload": ...}`.
#[derive(Debug, Deserialize)]
pub struct Payload<T> {
    pub payload: Option<T>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    pub destination_id: String,
    pub name: String,
    #[serde(default)]
    pub resource: DestinationResource,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct DestinationResource {
    pub sqs: Option<SqsResource>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SqsResource {
    pub arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub subscription_id: String,
    pub destination_id: String,
    pub payload_version: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorList {
    #[serde(default)]
    pub errors: Vec<ApiError>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiError {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn wire_order() -> serde_json::Value {
        json!({
            "orderId": "113-0000001-0000001",
            "createdTime": "2026-03-01T10:00:00Z",
            "lastUpdatedTime": "2026-03-01T11:00:00Z",
            "programs": ["PRIME", "AMAZON_BUSINESS"],
            "salesChannel": {"channelName": "AMAZON", "marketplaceId": "ATVPDKIKX0DER", "marketplaceName": "Amazon.com"},
            "buyer": {"buyerName": "Grace Hopper", "buyerEmail": "g@marketplace.amazon.com"},
            "recipient": {"deliveryAddress": {"name": "Grace Hopper", "addressLine1": "2 Cobol Ct", "city": "Arlington",
                "stateOrRegion": "VA", "postalCode": "22201", "countryCode": "US", "phone": "+1-555-0101"}},
            "proceeds": {"grandTotal": {"amount": "25.00", "currencyCode": "USD"}},
            "fulfillment": {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT", "fulfillmentServiceLevel": "Standard",
                "shipByWindow": {"latestDateTime": "2026-03-03T07:00:00Z"}},
            "orderItems": [{"orderItemId": "12345678901234", "quantityOrdered": 2,
                "product": {"asin": "B0AAAA0001", "sellerSku": "SKU-1", "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
                    "price": {"unitPrice": {"amount": "12.50", "currencyCode": "USD"}}},
                "fulfillment": {"quantityFulfilled": 0, "quantityUnfulfilled": 2, "packing": {"giftOption": {"giftMessage": "Enjoy"}}}}]
        })
    }

    #[test]
    fn maps_a_v2026_order_onto_the_domain() {
        let order = map_order(wire_order()).unwrap();
        assert_eq!(order.id.as_str(), "113-0000001-0000001");
        assert_eq!(order.amazon_status, AmazonStatus::Unshipped);
        assert_eq!(order.fulfilled_by, FulfilledBy::Merchant);
        assert!(order.flags.prime && order.flags.business && order.flags.gift);
        assert_eq!(order.ship_by, Some(Utc.with_ymd_and_hms(2026, 3, 3, 7, 0, 0).unwrap()));
        assert_eq!(order.items[0].sku.as_ref().unwrap().as_str(), "SKU-1");
        assert_eq!(order.items[0].unit_price.as_ref().unwrap().amount, "12.50");
        assert_eq!(order.ship_to.as_ref().unwrap().postal_code.as_deref(), Some("22201"));
        assert_eq!(order.total.unwrap().amount, "25.00");
    }

    #[test]
    fn a_broken_order_is_an_error_naming_it_and_the_field_without_pii() {
        let mut raw = wire_order();
        raw["orderItems"][0]["orderItemId"] = json!("not-a-number");
        let err = map_order(raw).unwrap_err();
        assert_eq!(err.order_id(), "113-0000001-0000001");
        assert!(err.to_string().contains("order item id"));

        let mut raw = wire_order();
        raw.as_object_mut().unwrap().remove("fulfillment");
        assert_eq!(map_order(raw).unwrap_err().to_string(), "order 113-0000001-0000001: fulfillment missing");

        let mut raw = wire_order();
        raw["recipient"]["deliveryAddress"] = json!("2 Cobol Ct, Arlington");
        let err = map_order(raw).unwrap_err().to_string();
        assert!(!err.contains("Cobol"), "{err}");

        let mut raw = wire_order();
        raw["createdTime"] = json!(1995);
        let err = map_order(raw).unwrap_err().to_string();
        assert!(err.starts_with("order 113-0000001-0000001: unreadable"), "{err}");
        assert!(!err.contains("Grace"));
    }

    /// Found by `tests/fuzz.rs`: serde quotes the offending value with its own quotes escaped (`\"`),
    /// which used to end the removal of the value early.
    #[test]
    fn a_pii_value_holding_quotes_stays_out_of_the_error() {
        let mut raw = wire_order();
        raw["recipient"] = json!("Ada \"Countess\" Lovelace \\ 1 Infinite Loop");
        let err = map_order(raw).unwrap_err().to_string();
        assert!(err.starts_with("order 113-0000001-0000001: unreadable (invalid type: string"), "{err}");
        assert!(["Ada", "Countess", "Lovelace", "Infinite"].iter().all(|pii| !err.contains(pii)), "{err}");
    }

    fn flags_of(raw: serde_json::Value) -> OrderFlags {
        map_order(raw).unwrap().flags
    }

    #[test]
    fn an_amazon_custom_item_flags_the_order_without_keeping_the_url() {
        let mut raw = wire_order();
        assert!(!flags_of(raw.clone()).amazon_custom);
        raw["orderItems"][0]["product"]["customization"] = json!({"customizedUrl": "https://zme-caps.amazon.com/t/bR6qHkzSOxuB/J8nbWhze0Bd3DkajkOdY-XQbWkFralegp2sr_QZiKEE/1"});
        let order = map_order(raw).unwrap();
        assert!(order.flags.amazon_custom);
        let stored = serde_json::to_string(&order).unwrap();
        assert!(!stored.contains("zme-caps"), "the customization URL is buyer data and is not kept: {stored}");

        let mut raw = wire_order();
        raw["orderItems"][0]["product"]["customization"] = json!({});
        assert!(!flags_of(raw).amazon_custom, "no URL, no customization");
    }

    #[test]
    fn gift_wrapping_without_a_message_is_a_gift() {
        let mut raw = wire_order();
        raw["orderItems"][0]["fulfillment"]["packing"] = json!({"giftOption": {"giftWrapLevel": "PREMIUM"}});
        let order = map_order(raw).unwrap();
        assert!(order.flags.gift);
        assert_eq!(order.items[0].gift_message, None);
        assert_eq!(order.items[0].gift_wrap_level.as_deref(), Some("PREMIUM"), "the wrap level is kept per item");

        let mut raw = wire_order();
        raw["orderItems"][0]["fulfillment"].as_object_mut().unwrap().remove("packing");
        assert!(!flags_of(raw).gift);
    }

    #[test]
    fn amazon_packages_are_kept_without_the_ship_from_address() {
        let mut raw = wire_order();
        raw["fulfillment"]["fulfillmentStatus"] = json!("PARTIALLY_SHIPPED");
        raw["packages"] = json!([{
            "packageReferenceId": "1",
            "createdTime": "2026-03-01T12:00:00Z",
            "packageStatus": {"status": "IN_TRANSIT", "detailedStatus": "PICKED_UP"},
            "carrier": "UPS",
            "shipTime": "2026-03-01T15:30:00Z",
            "shippingService": "Ground",
            "trackingNumber": "1Z999AA10123456784",
            "shipFromAddress": {"name": "Acme Warehouse", "addressLine1": "1 Depot Way", "city": "Reno",
                "stateOrRegion": "NV", "postalCode": "89501", "countryCode": "US"},
            "packageItems": [{"orderItemId": "12345678901234", "quantity": 1}]
        }, {"packageReferenceId": "2"}]);
        let order = map_order(raw).unwrap();
        assert_eq!(
            order.packages[0],
            AmazonPackage {
                reference_id: "1".into(),
                carrier: Some("UPS".into()),
                shipping_service: Some("Ground".into()),
                tracking_number: Some("1Z999AA10123456784".into()),
                created_at: Some(Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()),
                ship_time: Some(Utc.with_ymd_and_hms(2026, 3, 1, 15, 30, 0).unwrap()),
                status: Some("IN_TRANSIT".into()),
            }
        );
        assert_eq!(order.packages[1].reference_id, "2");
        assert_eq!(order.packages[1].status, None);
        let stored = serde_json::to_string(&order.packages).unwrap();
        assert!(!stored.contains("Depot") && !stored.contains("Reno"), "{stored}");

        assert!(map_order(wire_order()).unwrap().packages.is_empty(), "PACKAGES is optional");
    }

    #[test]
    fn programs_amazon_confirms_itself_are_flagged() {
        let mut raw = wire_order();
        assert_eq!(
            flags_of(raw.clone()),
            OrderFlags { prime: true, business: true, gift: true, ..OrderFlags::default() },
            "none of the new flags on an ordinary order"
        );
        raw["programs"] = json!(["AMAZON_EASY_SHIP"]);
        assert!(flags_of(raw.clone()).easy_ship);
        raw["programs"] = json!(["PRIME", "DELIVERY_BY_AMAZON"]);
        let flags = flags_of(raw.clone());
        assert!(flags.delivery_by_amazon && flags.prime && !flags.easy_ship);

        let mut raw = wire_order();
        let mut second = raw["orderItems"][0].clone();
        second["orderItemId"] = json!("12345678901235");
        second["programs"] = json!(["SUBSCRIBE_AND_SAVE", "TRANSPARENCY"]);
        raw["orderItems"].as_array_mut().unwrap().push(second);
        let flags = flags_of(raw);
        assert!(flags.transparency && !flags.easy_ship && !flags.delivery_by_amazon);
    }

    #[test]
    fn unknown_fulfilled_by_and_condition_values_keep_the_order_readable() {
        let mut raw = wire_order();
        raw["fulfillment"]["fulfilledBy"] = json!("SELLER_FLEX");
        raw["orderItems"][0]["product"]["condition"] =
            json!({"conditionType": "RENEWED", "conditionSubtype": "PREMIUM_RENEWED", "conditionNote": "As new"});
        let order = map_order(raw).unwrap();
        assert_eq!(order.fulfilled_by, FulfilledBy::Amazon, "an unknown fulfiller is not the merchant's to ship");
        let condition = order.items[0].condition.as_ref().unwrap();
        assert_eq!(condition.id.as_deref(), Some("RENEWED"));
        assert_eq!(condition.subtype.as_deref(), Some("PREMIUM_RENEWED"));

        for (value, expected) in [("AMAZON", FulfilledBy::Amazon), ("MERCHANT", FulfilledBy::Merchant)] {
            let mut raw = wire_order();
            raw["fulfillment"]["fulfilledBy"] = json!(value);
            assert_eq!(map_order(raw).unwrap().fulfilled_by, expected);
        }
        let mut raw = wire_order();
        raw["fulfillment"].as_object_mut().unwrap().remove("fulfilledBy");
        assert_eq!(map_order(raw).unwrap().fulfilled_by, FulfilledBy::Merchant);
    }

    #[test]
    fn an_unknown_fulfillment_status_stays_an_error() {
        let mut raw = wire_order();
        raw["fulfillment"]["fulfillmentStatus"] = json!("ON_HOLD");
        let err = map_order(raw).unwrap_err().to_string();
        assert!(err.starts_with("order 113-0000001-0000001: unreadable"), "{err}");
    }

    #[test]
    fn timestamps_go_out_in_utc_with_z() {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
        assert_eq!(utc_timestamp(at), "2026-03-01T10:00:00Z");
    }
}

/// Feeds API 2021-06-30: `createFeedDocument`'s answer, where the document is uploaded.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedDocumentUpload {
    pub feed_document_id: String,
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateFeedResponse {
    pub feed_id: String,
}

/// `getFeed`'s answer (and each of `getFeeds`').
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Feed {
    pub feed_id: String,
    pub feed_type: String,
    #[serde(default)]
    pub marketplace_ids: Vec<String>,
    pub created_time: DateTime<Utc>,
    pub processing_status: FeedStatus,
    #[serde(default)]
    pub result_feed_document_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FeedStatus {
    InQueue,
    InProgress,
    Done,
    Fatal,
    Cancelled,
    /// A status added after this client was written: treated as still processing.
    #[serde(other)]
    Unknown,
}

impl FeedStatus {
    /// Amazon is done with the feed: DONE (messages may still have failed), FATAL or CANCELLED.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Done | Self::Fatal | Self::Cancelled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InQueue => "IN_QUEUE",
            Self::InProgress => "IN_PROGRESS",
            Self::Done => "DONE",
            Self::Fatal => "FATAL",
            Self::Cancelled => "CANCELLED",
            Self::Unknown => "UNKNOWN",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetFeedsResponse {
    #[serde(default)]
    pub feeds: Vec<Feed>,
    #[serde(default)]
    pub next_token: Option<String>,
}

/// `getFeedDocument`'s answer: where a result document is, and whether it is compressed.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedDocumentLocation {
    pub url: String,
    #[serde(default)]
    pub compression_algorithm: Option<String>,
}
