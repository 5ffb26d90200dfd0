//! Fulfillment Outbound 2020-07-01 (Multi-Channel Fulfillment) and FBA Inventory v1.
//!
//! Answers are read tolerantly: every field Amazon might leave out is optional, statuses are read in
//! any of the spellings Amazon's own examples use, and an order or summary that cannot be read is left
//! out with a warning rather than failing the page it came in.
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{SellerAuth, SpApiClient, WaitBudget};
use crate::domain::fulfillment::{
    AmazonFulfillmentReport, AmazonFulfillmentStatus, Destination, FulfillmentOrder, FulfillmentPackage,
    FulfillmentShipment, InventoryQuantities, PreviewSummary, UnshippedUnits,
};
use crate::domain::ids::{Fnsku, MarketplaceId, SellerFulfillmentOrderId, Sku, TrackingNumber};
use crate::spapi::models::{Payload, utc_timestamp};
use crate::spapi::{Operation, SpApiError};

const ORDERS: &str = "/fba/outbound/2020-07-01/fulfillmentOrders";
const SUMMARIES: &str = "/fba/inventory/v1/summaries";
/// Amazon's limit on `displayableOrderId`.
const MAX_DISPLAYABLE_ID: usize = 40;

/// One page of `listAllFulfillmentOrders`: the orders Amazon could be read for, by id.
#[derive(Debug, Clone, PartialEq)]
pub struct FulfillmentOrderPage {
    pub orders: Vec<(String, AmazonFulfillmentReport)>,
    pub next_token: Option<String>,
}

/// `getInventorySummaries` for one marketplace: changed since `changed_since` (every SKU without it) or
/// only `skus` (at most 50; Amazon ignores them with `changed_since`).
#[derive(Debug, Clone, Default)]
pub struct InventoryQuery {
    pub changed_since: Option<DateTime<Utc>>,
    pub skus: Vec<Sku>,
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventorySummary {
    pub sku: Sku,
    pub fnsku: Option<Fnsku>,
    pub asin: Option<String>,
    pub quantities: InventoryQuantities,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryPage {
    pub summaries: Vec<InventorySummary>,
    /// Lives 30 seconds: ask for the next page at once.
    pub next_token: Option<String>,
}

impl SpApiClient {
    /// What Amazon would charge and when it would arrive at the order's speed, and what it cannot ship.
    pub async fn get_fulfillment_preview(
        &self,
        auth: &SellerAuth,
        order: &FulfillmentOrder,
        budget: WaitBudget,
    ) -> Result<PreviewSummary, SpApiError> {
        let body = json!({
            "marketplaceId": order.marketplace_id.as_str(),
            "address": address(&order.destination),
            "items": order.lines.iter().map(|line| json!({
                "sellerSku": line.sku.as_str(),
                "sellerFulfillmentOrderItemId": line.line_id,
                "quantity": line.quantity,
            })).collect::<Vec<_>>(),
            "shippingSpeedCategories": [order.speed.as_str()],
        });
        let path = format!("{ORDERS}/preview");
        let operation = Operation::GetFulfillmentPreview;
        let answer: Payload<wire::PreviewResult> =
            self.call(auth, operation, Method::POST, &path, &[], Some(&body), budget).await?.json()?;
        let previews = answer.payload.map(|p| p.fulfillment_previews).unwrap_or_default();
        let preview = previews
            .iter()
            .find(|p| {
                p.shipping_speed_category.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(order.speed.as_str()))
            })
            .or(previews.first())
            .ok_or_else(|| SpApiError::Decode {
                operation: operation.name(),
                message: format!("the preview of {} holds no shipping speed", order.id),
            })?;
        Ok(preview.summary())
    }

    /// Creates the fulfillment order. Amazon answers an empty success; its `sellerFulfillmentOrderId` is
    /// the idempotency key.
    pub async fn create_fulfillment_order(
        &self,
        auth: &SellerAuth,
        order: &FulfillmentOrder,
        budget: WaitBudget,
    ) -> Result<(), SpApiError> {
        let body = create_request(order);
        self.call(auth, Operation::CreateFulfillmentOrder, Method::POST, ORDERS, &[], Some(&body), budget)
            .await
            .map(drop)
    }

    /// The order as Amazon holds it, with its shipments; `None` when Amazon has no such order.
    pub async fn get_fulfillment_order(
        &self,
        auth: &SellerAuth,
        id: &SellerFulfillmentOrderId,
        budget: WaitBudget,
    ) -> Result<Option<AmazonFulfillmentReport>, SpApiError> {
        let path = format!("{ORDERS}/{id}");
        let operation = Operation::GetFulfillmentOrder;
        let answer = match self.call(auth, operation, Method::GET, &path, &[], None, budget).await {
            Ok(answer) => answer,
            Err(SpApiError::Rejected { status: 404, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let answer: Payload<wire::GetResult> = answer.json()?;
        let result = answer.payload.ok_or_else(|| SpApiError::Decode {
            operation: operation.name(),
            message: format!("the answer for {id} holds no fulfillment order"),
        })?;
        let mut report = result.fulfillment_order.report().ok_or_else(|| SpApiError::Decode {
            operation: operation.name(),
            message: format!("fulfillment order {id} has no status or update time we can read"),
        })?;
        report.shipments = Some(result.fulfillment_shipments.iter().map(wire::Shipment::shipment).collect());
        report.unshipped = Some(result.fulfillment_order_items.iter().map(wire::Item::unshipped).collect());
        Ok(Some(report))
    }

    /// The seller's fulfillment orders whose status changed at or after `since`, one page.
    pub async fn list_fulfillment_orders(
        &self,
        auth: &SellerAuth,
        since: DateTime<Utc>,
        next_token: Option<&str>,
        budget: WaitBudget,
    ) -> Result<FulfillmentOrderPage, SpApiError> {
        let mut params = vec![("queryStartDate", utc_timestamp(since))];
        if let Some(token) = next_token {
            params.push(("nextToken", token.to_owned()));
        }
        let operation = Operation::ListAllFulfillmentOrders;
        let answer: Payload<wire::ListResult> =
            self.call(auth, operation, Method::GET, ORDERS, &params, None, budget).await?.json()?;
        let result = answer.payload.unwrap_or_default();
        let orders = result
            .fulfillment_orders
            .iter()
            .filter_map(|order| {
                let id = order.seller_fulfillment_order_id.clone()?;
                match order.report() {
                    Some(report) => Some((id, report)),
                    None => {
                        tracing::warn!(fulfillment_id = id, "fulfillment order listed without a status we can read");
                        None
                    }
                }
            })
            .collect();
        Ok(FulfillmentOrderPage { orders, next_token: result.next_token.filter(|t| !t.is_empty()) })
    }

    /// Asks Amazon to stop fulfilling the order; Amazon refuses once it is Processing.
    pub async fn cancel_fulfillment_order(
        &self,
        auth: &SellerAuth,
        id: &SellerFulfillmentOrderId,
        budget: WaitBudget,
    ) -> Result<(), SpApiError> {
        let path = format!("{ORDERS}/{id}/cancel");
        self.call(auth, Operation::CancelFulfillmentOrder, Method::PUT, &path, &[], None, budget).await.map(drop)
    }

    /// One page of FBA inventory summaries (with details) for the marketplace.
    pub async fn get_inventory_summaries(
        &self,
        auth: &SellerAuth,
        marketplace: &MarketplaceId,
        query: &InventoryQuery,
        budget: WaitBudget,
    ) -> Result<InventoryPage, SpApiError> {
        let mut params = vec![
            ("details", "true".to_owned()),
            ("granularityType", "Marketplace".to_owned()),
            ("granularityId", marketplace.to_string()),
            ("marketplaceIds", marketplace.to_string()),
        ];
        if let Some(since) = query.changed_since {
            params.push(("startDateTime", utc_timestamp(since)));
        } else if !query.skus.is_empty() {
            let skus: Vec<&str> = query.skus.iter().map(Sku::as_str).collect();
            params.push(("sellerSkus", skus.join(",")));
        }
        if let Some(token) = &query.next_token {
            params.push(("nextToken", token.clone()));
        }
        let operation = Operation::GetInventorySummaries;
        let answer: wire::InventoryAnswer =
            self.call(auth, operation, Method::GET, SUMMARIES, &params, None, budget).await?.json()?;
        let summaries = answer
            .payload
            .map(|p| p.inventory_summaries)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|summary| {
                let sku = summary.seller_sku.as_deref().and_then(|sku| Sku::parse(sku).ok());
                if sku.is_none() {
                    tracing::warn!("inventory summary without a seller SKU we can read; left out");
                }
                Some(summary.into_summary(sku?))
            })
            .collect();
        let next_token = answer.pagination.and_then(|p| p.next_token).filter(|t| !t.is_empty());
        Ok(InventoryPage { summaries, next_token })
    }
}

fn address(destination: &Destination) -> Value {
    let mut address = json!({
        "name": destination.name,
        "addressLine1": destination.line1,
        "postalCode": destination.postal_code,
        "countryCode": destination.country_code.to_ascii_uppercase(),
    });
    let optional = [
        ("addressLine2", &destination.line2),
        ("addressLine3", &destination.line3),
        ("city", &destination.city),
        ("districtOrCounty", &destination.district),
        ("stateOrRegion", &destination.state),
        ("phone", &destination.phone),
    ];
    for (field, value) in optional {
        if let Some(value) = value.as_deref().filter(|v| !v.trim().is_empty()) {
            address[field] = Value::from(value);
        }
    }
    address
}

fn create_request(order: &FulfillmentOrder) -> Value {
    // Amazon takes at most 40 characters and never two spaces in a row; a longer store id (a Shopify gid)
    // is shown as our id, which names the store order too.
    let displayable = order.store_order_id.as_str().split_whitespace().collect::<Vec<_>>().join(" ");
    let displayable =
        if displayable.chars().count() <= MAX_DISPLAYABLE_ID { displayable } else { order.id.to_string() };
    json!({
        "marketplaceId": order.marketplace_id.as_str(),
        "sellerFulfillmentOrderId": order.id.as_str(),
        "displayableOrderId": displayable,
        "displayableOrderDate": utc_timestamp(order.ordered_at),
        "displayableOrderComment": order.comment,
        "shippingSpeedCategory": order.speed.as_str(),
        "destinationAddress": address(&order.destination),
        "fulfillmentAction": "Ship",
        "fulfillmentPolicy": order.policy.as_str(),
        "items": order.lines.iter().map(|line| json!({
            "sellerSku": line.sku.as_str(),
            "sellerFulfillmentOrderItemId": line.line_id,
            "quantity": line.quantity,
        })).collect::<Vec<_>>(),
    })
}

/// Amazon's answers, every field optional.
mod wire {
    use super::*;

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    pub struct ListResult {
        pub next_token: Option<String>,
        pub fulfillment_orders: Vec<Order>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    pub struct GetResult {
        pub fulfillment_order: Order,
        pub fulfillment_order_items: Vec<Item>,
        pub fulfillment_shipments: Vec<Shipment>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    pub struct Order {
        pub seller_fulfillment_order_id: Option<String>,
        pub fulfillment_order_status: Option<String>,
        pub status_updated_date: Option<DateTime<Utc>>,
        pub received_date: Option<DateTime<Utc>>,
    }

    impl Order {
        pub fn report(&self) -> Option<AmazonFulfillmentReport> {
            let status = AmazonFulfillmentStatus::from_amazon(self.fulfillment_order_status.as_deref()?)?;
            Some(AmazonFulfillmentReport {
                status,
                updated_at: self.status_updated_date.or(self.received_date)?,
                shipments: None,
                unshipped: None,
            })
        }
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    pub struct Item {
        pub seller_fulfillment_order_item_id: String,
        pub cancelled_quantity: u32,
        pub unfulfillable_quantity: u32,
    }

    impl Item {
        pub fn unshipped(&self) -> UnshippedUnits {
            UnshippedUnits {
                line_id: self.seller_fulfillment_order_item_id.clone(),
                unfulfillable: self.unfulfillable_quantity,
                cancelled: self.cancelled_quantity,
            }
        }
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    pub struct Shipment {
        pub amazon_shipment_id: String,
        pub fulfillment_shipment_status: String,
        pub shipping_date: Option<DateTime<Utc>>,
        pub fulfillment_shipment_item: Vec<ShipmentItem>,
        pub fulfillment_shipment_package: Vec<Package>,
    }

    impl Shipment {
        pub fn shipment(&self) -> FulfillmentShipment {
            FulfillmentShipment {
                amazon_shipment_id: self.amazon_shipment_id.clone(),
                status: self.fulfillment_shipment_status.to_ascii_uppercase(),
                // Only a shipped one's date is the day it left; a pending one's is an estimate.
                shipped_at: self
                    .shipping_date
                    .filter(|_| self.fulfillment_shipment_status.eq_ignore_ascii_case("SHIPPED")),
                packages: self
                    .fulfillment_shipment_package
                    .iter()
                    .map(|package| FulfillmentPackage {
                        package_number: package.package_number,
                        carrier: package.carrier_code.clone(),
                        tracking_number: package.tracking_number.as_deref().and_then(|t| TrackingNumber::parse(t).ok()),
                    })
                    .collect(),
                items: self
                    .fulfillment_shipment_item
                    .iter()
                    .map(|item| (item.seller_fulfillment_order_item_id.clone(), item.quantity))
                    .collect(),
            }
        }
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    pub struct ShipmentItem {
        pub seller_fulfillment_order_item_id: String,
        pub quantity: u32,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    pub struct Package {
        pub package_number: i64,
        pub carrier_code: String,
        pub tracking_number: Option<String>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    pub struct PreviewResult {
        pub fulfillment_previews: Vec<Preview>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    pub struct Preview {
        pub shipping_speed_category: Option<String>,
        pub is_fulfillable: bool,
        pub estimated_fees: Vec<Fee>,
        pub fulfillment_preview_shipments: Vec<PreviewShipment>,
        pub unfulfillable_preview_items: Vec<UnfulfillableItem>,
        pub order_unfulfillable_reasons: Vec<String>,
    }

    impl Preview {
        pub fn summary(&self) -> PreviewSummary {
            let item_reasons = self
                .unfulfillable_preview_items
                .iter()
                .map(|item| format!("{}: {}", item.seller_sku, item.item_unfulfillable_reasons.join(", ")));
            PreviewSummary {
                fulfillable: self.is_fulfillable,
                fees: self
                    .estimated_fees
                    .iter()
                    .map(|fee| (fee.name.clone(), fee.amount.value.clone(), fee.amount.currency_code.clone()))
                    .collect(),
                earliest_arrival: self
                    .fulfillment_preview_shipments
                    .iter()
                    .filter_map(|s| s.earliest_arrival_date)
                    .min(),
                latest_arrival: self.fulfillment_preview_shipments.iter().filter_map(|s| s.latest_arrival_date).max(),
                unfulfillable_reasons: self.order_unfulfillable_reasons.iter().cloned().chain(item_reasons).collect(),
            }
        }
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    pub struct Fee {
        pub name: String,
        pub amount: Money,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    pub struct Money {
        pub currency_code: String,
        #[serde(deserialize_with = "decimal")]
        pub value: String,
    }

    /// Amazon's `Decimal` is a string in this model, a number in others: both are read as written.
    fn decimal<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        Ok(match Value::deserialize(deserializer)? {
            Value::String(text) => text,
            Value::Number(number) => number.to_string(),
            _ => String::new(),
        })
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    pub struct PreviewShipment {
        pub earliest_arrival_date: Option<DateTime<Utc>>,
        pub latest_arrival_date: Option<DateTime<Utc>>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    pub struct UnfulfillableItem {
        pub seller_sku: String,
        pub item_unfulfillable_reasons: Vec<String>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct InventoryAnswer {
        pub payload: Option<InventoryResult>,
        pub pagination: Option<Pagination>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    pub struct Pagination {
        pub next_token: Option<String>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    pub struct InventoryResult {
        pub inventory_summaries: Vec<Summary>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    pub struct Summary {
        pub seller_sku: Option<String>,
        pub fn_sku: Option<String>,
        pub asin: Option<String>,
        pub last_updated_time: Option<DateTime<Utc>>,
        pub total_quantity: u64,
        pub inventory_details: Details,
    }

    impl Summary {
        pub fn into_summary(self, sku: Sku) -> InventorySummary {
            let details = &self.inventory_details;
            InventorySummary {
                sku,
                fnsku: self.fn_sku.as_deref().and_then(|f| Fnsku::parse(f).ok()),
                asin: self.asin.filter(|a| !a.is_empty()),
                quantities: InventoryQuantities {
                    fulfillable: details.fulfillable_quantity,
                    inbound: details.inbound_working_quantity
                        + details.inbound_shipped_quantity
                        + details.inbound_receiving_quantity,
                    reserved: details.reserved_quantity.total_reserved_quantity,
                    unfulfillable: details.unfulfillable_quantity.total_unfulfillable_quantity,
                    researching: details.researching_quantity.total_researching_quantity,
                    total: self.total_quantity,
                },
                updated_at: self.last_updated_time,
            }
        }
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    pub struct Details {
        pub fulfillable_quantity: u64,
        pub inbound_working_quantity: u64,
        pub inbound_shipped_quantity: u64,
        pub inbound_receiving_quantity: u64,
        pub reserved_quantity: Reserved,
        pub researching_quantity: Researching,
        pub unfulfillable_quantity: Unfulfillable,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    pub struct Reserved {
        pub total_reserved_quantity: u64,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    pub struct Researching {
        pub total_researching_quantity: u64,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    pub struct Unfulfillable {
        pub total_unfulfillable_quantity: u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amazons_example_spellings_and_missing_fields_are_read() {
        let answer = json!({"payload": {
            "fulfillmentOrder": {"sellerFulfillmentOrderId": "1001-ab", "fulfillmentOrderStatus": "COMPLETE",
                                 "statusUpdatedDate": "2026-11-02T10:00:00Z", "featureConstraints": null},
            "fulfillmentOrderItems": [{"sellerFulfillmentOrderItemId": "1", "quantity": 2, "cancelledQuantity": 0,
                                       "unfulfillableQuantity": 1}],
            "fulfillmentShipments": [{"amazonShipmentId": "D1", "fulfillmentShipmentStatus": "shipped",
                "shippingDate": "2026-11-02T09:00:00Z",
                "fulfillmentShipmentItem": [{"sellerSku": "FBA-1", "sellerFulfillmentOrderItemId": "1", "quantity": 1}],
                "fulfillmentShipmentPackage": [{"packageNumber": 7, "carrierCode": "UPS", "trackingNumber": "1Z999"}]}]
        }});
        let parsed: Payload<wire::GetResult> = serde_json::from_value(answer).unwrap();
        let result = parsed.payload.unwrap();
        let report = result.fulfillment_order.report().unwrap();
        assert_eq!(report.status, AmazonFulfillmentStatus::Complete);
        let shipment = result.fulfillment_shipments[0].shipment();
        assert!(shipment.shipped());
        assert_eq!(shipment.packages[0].tracking_number.as_ref().unwrap().as_str(), "1Z999");
        assert_eq!(result.fulfillment_order_items[0].unshipped().unfulfillable, 1);
    }

    #[test]
    fn fee_amounts_are_kept_as_amazon_wrote_them_string_or_number() {
        let preview: wire::Preview = serde_json::from_value(json!({
            "isFulfillable": true,
            "estimatedFees": [{"name": "FBAPerUnitFulfillmentFee", "amount": {"currencyCode": "USD", "value": "3.22"}},
                              {"name": "FBAPerOrderFulfillmentFee", "amount": {"currencyCode": "USD", "value": 1.5}}],
        }))
        .unwrap();
        let summary = preview.summary();
        assert_eq!(summary.fees[0].1, "3.22");
        assert_eq!(summary.fees[1].1, "1.5");
    }
}
