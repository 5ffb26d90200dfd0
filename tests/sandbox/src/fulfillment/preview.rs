//! getFulfillmentPreview: what a fulfillment order would cost and when it would arrive, per shipping speed.
//!
//! The request is checked like createFulfillmentOrder's (address, items, limits: 400 InvalidInput); what the
//! inventory or the destination cannot do is not an error but the preview's answer. An item whose SKU the seller
//! has no inventory of is unfulfillable with `InvalidSKU`; one the fulfillable units cannot cover (counting every
//! line of the SKU) with `InventoryUnavailable` (a value of MWS's `ItemUnfulfillableReasons`). A destination outside
//! the marketplace's country makes the whole preview unfulfillable with `InvalidDestinationAddress`, and
//! `ScheduledDelivery` outside Japan with `DeliverySLAUnavailable` (the model's two example codes). Fees and
//! weights are estimated for the fulfillable lines: a per-unit fee for every unit and a per-order fee, both by
//! speed, in the marketplace's currency; dates count from now. COD is never offered (`isCODCapable` false).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::Money;
use super::inventory::Inventory;
use super::outbound::{Address, FeatureSettings, Host, ShippingSpeed, check_address, check_lines, serves_destination};
use crate::error::ApiError;
use crate::sites::Site;
use crate::time::{format_iso, truncate_to_second};

/// `GetFulfillmentPreviewRequest`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewRequest {
    pub marketplace_id: Option<String>,
    pub address: Option<Address>,
    pub items: Option<Vec<PreviewItemRequest>>,
    pub shipping_speed_categories: Option<Vec<String>>,
    pub include_cod_fulfillment_preview: Option<bool>,
    pub include_delivery_windows: Option<bool>,
    pub feature_constraints: Option<Vec<FeatureSettings>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewItemRequest {
    pub seller_sku: Option<String>,
    pub quantity: Option<i64>,
    pub per_unit_declared_value: Option<Money>,
    pub seller_fulfillment_order_item_id: Option<String>,
}

/// `GetFulfillmentPreviewResult`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewResult {
    pub fulfillment_previews: Vec<FulfillmentPreview>,
}

/// Amazon's `FulfillmentPreview`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentPreview {
    pub shipping_speed_category: ShippingSpeed,
    pub is_fulfillable: bool,
    #[serde(rename = "isCODCapable")]
    pub is_cod_capable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_shipping_weight: Option<Weight>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_fees: Option<Vec<Fee>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fulfillment_preview_shipments: Option<Vec<PreviewShipment>>,
    pub unfulfillable_preview_items: Vec<UnfulfillableItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_unfulfillable_reasons: Option<Vec<&'static str>>,
    pub marketplace_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature_constraints: Option<Vec<FeatureSettings>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Weight {
    pub unit: &'static str,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fee {
    pub name: &'static str,
    pub amount: Money,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewShipment {
    pub earliest_ship_date: String,
    pub latest_ship_date: String,
    pub earliest_arrival_date: String,
    pub latest_arrival_date: String,
    pub fulfillment_preview_items: Vec<PreviewItem>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewItem {
    pub seller_sku: String,
    pub quantity: u32,
    pub seller_fulfillment_order_item_id: String,
    pub estimated_shipping_weight: Weight,
    pub shipping_weight_calculation_method: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnfulfillableItem {
    pub seller_sku: String,
    pub quantity: u32,
    pub seller_fulfillment_order_item_id: String,
    pub item_unfulfillable_reasons: Vec<&'static str>,
}

/// (per unit, per order) fulfillment fee in hundredths of the currency unit.
fn fees(speed: ShippingSpeed) -> (u64, u64) {
    match speed {
        ShippingSpeed::Standard => (475, 150),
        ShippingSpeed::Expedited => (725, 300),
        ShippingSpeed::Priority => (1140, 500),
        ShippingSpeed::ScheduledDelivery => (900, 400),
    }
}

/// (earliest ship, latest ship) in hours from now, and (earliest, latest) arrival in days.
fn windows(speed: ShippingSpeed) -> ((i64, i64), (i64, i64)) {
    match speed {
        ShippingSpeed::Standard => ((4, 28), (3, 5)),
        ShippingSpeed::Expedited => ((2, 24), (2, 3)),
        ShippingSpeed::Priority => ((1, 12), (1, 2)),
        ShippingSpeed::ScheduledDelivery => ((2, 24), (1, 2)),
    }
}

/// Pounds where the marketplace weighs in pounds (the US), kilograms elsewhere.
fn weight(tenths_lb: u64, site: &Site) -> Weight {
    if site.country == "US" {
        Weight { unit: "POUNDS", value: format!("{}.{}", tenths_lb / 10, tenths_lb % 10) }
    } else {
        let grams = tenths_lb * 45_359 / 1000;
        Weight { unit: "KILOGRAMS", value: format!("{}.{:02}", grams / 1000, grams % 1000 / 10) }
    }
}

/// The previews for `request`, one per shipping speed asked for (Standard, Expedited and Priority by default).
pub fn preview(
    request: PreviewRequest,
    host: &Host,
    inventory: &Inventory,
    now: DateTime<Utc>,
) -> Result<PreviewResult, ApiError> {
    let address = check_address(request.address.as_ref(), "address")?;
    let lines = check_lines(request.items.as_ref().map(|items| {
        items.iter().map(|i| (&i.seller_sku, &i.seller_fulfillment_order_item_id, i.quantity)).collect()
    }))?;
    let mut speeds = Vec::new();
    for raw in request.shipping_speed_categories.iter().flatten() {
        let speed = ShippingSpeed::parse(raw)
            .ok_or_else(|| ApiError::invalid_input(format!("Invalid value '{raw}' for shippingSpeedCategories")))?;
        if !speeds.contains(&speed) {
            speeds.push(speed);
        }
    }
    if speeds.is_empty() {
        speeds = vec![ShippingSpeed::Standard, ShippingSpeed::Expedited, ShippingSpeed::Priority];
    }
    let site = host.marketplace(request.marketplace_id.as_deref())?;

    // Which lines the inventory covers, counting earlier lines of the same SKU.
    let mut unfulfillable = Vec::new();
    let mut fulfillable = Vec::new();
    let mut demand: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    for (sku, item_id, quantity) in &lines {
        let reason = match inventory.get(sku) {
            None => Some("InvalidSKU"),
            Some(stock) => {
                let wanted = demand.entry(sku).or_default();
                *wanted += quantity;
                (*wanted > stock.fulfillable).then_some("InventoryUnavailable")
            }
        };
        match reason {
            Some(reason) => unfulfillable.push(UnfulfillableItem {
                seller_sku: (*sku).to_owned(),
                quantity: *quantity,
                seller_fulfillment_order_item_id: (*item_id).to_owned(),
                item_unfulfillable_reasons: vec![reason],
            }),
            None => fulfillable.push((*sku, *item_id, *quantity)),
        }
    }
    let now = truncate_to_second(now);
    let previews = speeds
        .into_iter()
        .map(|speed| {
            let mut reasons = Vec::new();
            if !serves_destination(site, address) {
                reasons.push("InvalidDestinationAddress");
            }
            if speed == ShippingSpeed::ScheduledDelivery && site.country != "JP" {
                reasons.push("DeliverySLAUnavailable");
            }
            let shippable = reasons.is_empty() && !fulfillable.is_empty();
            let units: u64 = fulfillable.iter().map(|(_, _, q)| u64::from(*q)).sum();
            let tenths = |sku: &str| inventory.get(sku).map_or(1, |s| u64::from(s.unit_weight_tenths_lb));
            let total_tenths: u64 = fulfillable.iter().map(|(sku, _, q)| tenths(sku) * u64::from(*q)).sum();
            let (per_unit, per_order) = fees(speed);
            let ((ship_from, ship_to), (arrive_from, arrive_to)) = windows(speed);
            FulfillmentPreview {
                shipping_speed_category: speed,
                is_fulfillable: reasons.is_empty() && unfulfillable.is_empty(),
                is_cod_capable: false,
                estimated_shipping_weight: shippable.then(|| weight(total_tenths, site)),
                estimated_fees: shippable.then(|| {
                    vec![
                        Fee { name: "FBAPerUnitFulfillmentFee", amount: Money::in_currency(per_unit * units, site) },
                        Fee { name: "FBAPerOrderFulfillmentFee", amount: Money::in_currency(per_order, site) },
                    ]
                }),
                fulfillment_preview_shipments: shippable.then(|| {
                    vec![PreviewShipment {
                        earliest_ship_date: format_iso(now + Duration::hours(ship_from)),
                        latest_ship_date: format_iso(now + Duration::hours(ship_to)),
                        earliest_arrival_date: format_iso(now + Duration::days(arrive_from)),
                        latest_arrival_date: format_iso(now + Duration::days(arrive_to)),
                        fulfillment_preview_items: fulfillable
                            .iter()
                            .map(|(sku, item_id, quantity)| PreviewItem {
                                seller_sku: (*sku).to_owned(),
                                quantity: *quantity,
                                seller_fulfillment_order_item_id: (*item_id).to_owned(),
                                estimated_shipping_weight: weight(tenths(sku), site),
                                shipping_weight_calculation_method: "Package",
                            })
                            .collect(),
                    }]
                }),
                unfulfillable_preview_items: unfulfillable.clone(),
                order_unfulfillable_reasons: (!reasons.is_empty()).then_some(reasons),
                marketplace_id: site.marketplace_id.to_owned(),
                feature_constraints: request.feature_constraints.clone(),
            }
        })
        .collect();
    Ok(PreviewResult { fulfillment_previews: previews })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_in_the_marketplaces_unit() {
        let us = Site::find("ATVPDKIKX0DER").unwrap();
        assert_eq!(weight(34, us), Weight { unit: "POUNDS", value: "3.4".into() });
        let de = Site::find("A1PA6795UKMFR9").unwrap();
        assert_eq!(weight(22, de), Weight { unit: "KILOGRAMS", value: "0.99".into() });
    }
}
