//! Orders API v0 `confirmShipment`, validated the way Amazon does.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::orders::ensure_served_here;
use super::{AppState, HostRegion};
use crate::carriers::is_known_carrier;
use crate::error::ApiError;
use crate::orders::{FulfilledBy, FulfillmentStatus, Order, OrderPackage, PackageItem, PackageStatus};
use crate::state::{Confirmation, Inner};
use crate::time::{format_iso, truncate_to_second};

const MAX_CARRIER_NAME_CHARS: usize = 50;

pub(crate) async fn confirm_shipment(
    State(state): State<AppState>,
    Extension(HostRegion(region)): Extension<HostRegion>,
    Path(order_id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let mut inner = state.lock();
    if inner.order(&order_id).is_none_or(|order| ensure_served_here(order.marketplace_id(), region).is_err()) {
        return Err(ApiError::not_found(format!("Order {order_id} not found")));
    }
    let confirmation = parse_confirmation(&body)?;
    apply(&mut inner, &order_id, confirmation)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reads the request body (shape and types), then validates its values (independent of the order).
pub(crate) fn parse_confirmation(body: &[u8]) -> Result<Confirmation, ApiError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::invalid_input(format!("Malformed request body: {e}")))?;
    let root = value.as_object().ok_or_else(|| ApiError::invalid_input("Request body must be a JSON object"))?;
    let marketplace_id = required_str(root, "marketplaceId", "marketplaceId")?;
    let detail = root
        .get("packageDetail")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::invalid_input("Missing required field: packageDetail"))?;

    let package_reference_id = required_str(detail, "packageReferenceId", "packageDetail.packageReferenceId")?;
    let carrier_code = required_str(detail, "carrierCode", "packageDetail.carrierCode")?;
    let carrier_name = optional_str(detail, "carrierName", "packageDetail.carrierName")?;
    let shipping_method = optional_str(detail, "shippingMethod", "packageDetail.shippingMethod")?;
    let tracking_number = required_str(detail, "trackingNumber", "packageDetail.trackingNumber")?;
    let ship_date = parse_ship_date(&required_str(detail, "shipDate", "packageDetail.shipDate")?)?;
    let items = parse_items(detail)?;
    validate(PackageRequest {
        marketplace_id,
        package_reference_id,
        carrier_code,
        carrier_name,
        shipping_method,
        tracking_number,
        ship_date,
        items,
    })
}

/// A package as a request names it, before its values are checked: confirmShipment's body or a
/// `POST_ORDER_FULFILLMENT_DATA` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PackageRequest {
    pub marketplace_id: String,
    pub package_reference_id: String,
    pub carrier_code: String,
    pub carrier_name: Option<String>,
    pub shipping_method: Option<String>,
    pub tracking_number: String,
    pub ship_date: DateTime<Utc>,
    /// (orderItemId, quantity) as given, repeats included.
    pub items: Vec<(String, u32)>,
}

/// confirmShipment's rules on the values of a package (independent of the order).
pub(crate) fn validate(request: PackageRequest) -> Result<Confirmation, ApiError> {
    if !is_positive_integer(&request.package_reference_id) {
        return Err(ApiError::invalid_input("PackageReferenceId must be a positive numeric value"));
    }
    let carrier_code = request.carrier_code;
    if !is_known_carrier(&carrier_code) {
        return Err(ApiError::invalid_input(format!(
            "Invalid carrierCode '{carrier_code}'. Use a value from Amazon's carrier list or 'Other' with carrierName"
        )));
    }
    validate_carrier_name(&carrier_code, request.carrier_name.as_deref())?;
    if request.tracking_number.trim().is_empty() {
        return Err(ApiError::invalid_input("TrackingNumber must not be empty"));
    }
    if request.items.is_empty() {
        return Err(ApiError::invalid_input("packageDetail.orderItems must contain at least one item"));
    }
    let mut items: Vec<(String, u32)> = Vec::new();
    for (item_id, quantity) in request.items {
        if quantity == 0 {
            return Err(positive_quantity(&item_id));
        }
        match items.iter_mut().find(|(id, _)| *id == item_id) {
            Some((_, q)) => *q = q.saturating_add(quantity),
            None => items.push((item_id, quantity)),
        }
    }
    Ok(Confirmation {
        marketplace_id: request.marketplace_id,
        package_reference_id: request.package_reference_id,
        carrier_code,
        carrier_name: request.carrier_name,
        shipping_method: request.shipping_method,
        tracking_number: request.tracking_number.trim().to_string(),
        ship_date: request.ship_date,
        items,
    })
}

fn positive_quantity(item_id: &str) -> ApiError {
    ApiError::invalid_input(format!("Quantity for OrderItemId {item_id} must be a positive integer"))
}

fn required_str(object: &Map<String, Value>, key: &str, path: &str) -> Result<String, ApiError> {
    match object.get(key) {
        None | Some(Value::Null) => Err(ApiError::invalid_input(format!("Missing required field: {path}"))),
        Some(Value::String(s)) => Ok(s.clone()),
        // Amazon rejects e.g. an unquoted packageReferenceId this way.
        Some(_) => Err(ApiError::invalid_input(format!("invalid type [{path}]"))),
    }
}

fn optional_str(object: &Map<String, Value>, key: &str, path: &str) -> Result<Option<String>, ApiError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => required_str(object, key, path).map(Some),
    }
}

pub(crate) fn is_positive_integer(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.bytes().any(|b| b != b'0')
}

fn validate_carrier_name(carrier_code: &str, carrier_name: Option<&str>) -> Result<(), ApiError> {
    let name = carrier_name.map(str::trim).filter(|n| !n.is_empty());
    match name {
        None if carrier_code == "Other" => {
            Err(ApiError::invalid_input("CarrierName is required when carrierCode is 'Other'"))
        }
        Some(n) if n.chars().count() > MAX_CARRIER_NAME_CHARS => {
            Err(ApiError::invalid_input("CarrierName must be at most 50 characters"))
        }
        _ => Ok(()),
    }
}

fn parse_ship_date(raw: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::invalid_input(format!("Invalid shipDate '{raw}': expected an ISO 8601 date-time")))
}

/// `orderItems[]` as given (repeats are merged by `validate`).
fn parse_items(detail: &Map<String, Value>) -> Result<Vec<(String, u32)>, ApiError> {
    let list = match detail.get("orderItems") {
        None | Some(Value::Null) => {
            return Err(ApiError::invalid_input("Missing required field: packageDetail.orderItems"));
        }
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(ApiError::invalid_input("invalid type [packageDetail.orderItems]"));
        }
    };
    let mut items: Vec<(String, u32)> = Vec::new();
    for entry in list {
        let object =
            entry.as_object().ok_or_else(|| ApiError::invalid_input("invalid type [packageDetail.orderItems]"))?;
        let item_id = required_str(object, "orderItemId", "packageDetail.orderItems.orderItemId")?;
        let quantity = parse_quantity(object.get("quantity"), &item_id)?;
        items.push((item_id, quantity));
    }
    Ok(items)
}

fn parse_quantity(value: Option<&Value>, item_id: &str) -> Result<u32, ApiError> {
    let value = value
        .filter(|v| !v.is_null())
        .ok_or_else(|| ApiError::invalid_input("Missing required field: packageDetail.orderItems.quantity"))?;
    let number =
        value.as_i64().ok_or_else(|| ApiError::invalid_input("invalid type [packageDetail.orderItems.quantity]"))?;
    u32::try_from(number).map_err(|_| positive_quantity(item_id))
}

/// Applies a validated confirmation to the order now (or recognizes an identical resend).
pub(crate) fn apply(inner: &mut Inner, order_id: &str, confirmation: Confirmation) -> Result<(), ApiError> {
    let now = inner.now();
    apply_at(inner, order_id, confirmation, now)
}

/// [`apply`] as of `at` (a feed applies its messages at the time it finishes).
pub(crate) fn apply_at(
    inner: &mut Inner,
    order_id: &str,
    confirmation: Confirmation,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let now = truncate_to_second(at);
    let key = (order_id.to_string(), confirmation.package_reference_id.clone());
    if inner.confirmations.get(&key) == Some(&confirmation) {
        // Identical resend: Amazon treats it as an update with no changes.
        return Ok(());
    }
    let order = inner.order_mut(order_id).ok_or_else(|| ApiError::not_found(format!("Order {order_id} not found")))?;
    check_order_state(order, &confirmation)?;
    let previous = existing_package_items(order, &confirmation.package_reference_id);
    check_quantities(order, &confirmation, &previous)?;

    release(order, &previous);
    ship(order, &confirmation);
    upsert_package(order, package_from(&confirmation, now));
    update_status(order);
    order.last_updated_time = now;
    inner.confirmations.insert(key, confirmation);
    Ok(())
}

fn check_order_state(order: &Order, confirmation: &Confirmation) -> Result<(), ApiError> {
    let id = &order.order_id;
    if confirmation.marketplace_id != order.marketplace_id() {
        return Err(ApiError::invalid_input(format!(
            "MarketplaceId {} does not match the marketplace of order {id}",
            confirmation.marketplace_id
        )));
    }
    if order.fulfilled_by() != Some(FulfilledBy::Merchant) {
        return Err(ApiError::invalid_input(format!(
            "Order {id} is fulfilled by Amazon; only merchant-fulfilled orders can be confirmed"
        )));
    }
    let updating = order
        .packages
        .as_ref()
        .is_some_and(|p| p.iter().any(|p| p.package_reference_id == confirmation.package_reference_id));
    let status = order.status();
    if status == Some(FulfillmentStatus::Shipped) && !updating {
        // Nothing left to ship and no package of that reference to edit.
        return Err(ApiError::package_to_update_not_found());
    }
    // Editing an already confirmed package stays possible after the order is fully shipped.
    let shippable = matches!(status, Some(FulfillmentStatus::Unshipped | FulfillmentStatus::PartiallyShipped))
        || (updating && status == Some(FulfillmentStatus::Shipped));
    if !shippable {
        let status = status.map_or_else(|| "UNKNOWN".to_string(), |s| s.to_string());
        return Err(ApiError::invalid_input(format!("Order {id} cannot be confirmed in fulfillment status {status}")));
    }
    Ok(())
}

fn existing_package_items(order: &Order, reference: &str) -> Vec<PackageItem> {
    order
        .packages
        .iter()
        .flatten()
        .find(|p| p.package_reference_id == reference)
        .map(|p| p.package_items.clone())
        .unwrap_or_default()
}

fn check_quantities(order: &Order, confirmation: &Confirmation, previous: &[PackageItem]) -> Result<(), ApiError> {
    for (item_id, quantity) in &confirmation.items {
        let item =
            order.item(item_id).ok_or_else(|| ApiError::invalid_input(format!("OrderItemId {item_id} is invalid")))?;
        let unshipped = item.fulfillment.as_ref().map_or(item.quantity_ordered, |f| f.quantity_unfulfilled);
        let already_in_package: u32 = previous.iter().filter(|p| p.order_item_id == *item_id).map(|p| p.quantity).sum();
        let available = unshipped + already_in_package;
        if *quantity > available {
            return Err(ApiError::invalid_input(format!(
                "Quantity {quantity} for OrderItemId {item_id} exceeds the unshipped quantity {available}"
            )));
        }
    }
    Ok(())
}

/// Moves `quantity` units of an item between unfulfilled (negative delta) and fulfilled.
fn adjust(order: &mut Order, item_id: &str, shipped_delta: i64) {
    let Some(item) = order.order_items.iter_mut().find(|i| i.order_item_id == item_id) else {
        return;
    };
    let quantity_ordered = item.quantity_ordered;
    let ordered = i64::from(quantity_ordered);
    let fulfillment = item.fulfillment.get_or_insert(crate::orders::ItemFulfillment {
        quantity_fulfilled: 0,
        quantity_unfulfilled: quantity_ordered,
        packing: None,
    });
    let shipped = (i64::from(fulfillment.quantity_fulfilled) + shipped_delta).clamp(0, ordered);
    fulfillment.quantity_fulfilled = shipped as u32;
    fulfillment.quantity_unfulfilled = (ordered - shipped) as u32;
}

fn release(order: &mut Order, previous: &[PackageItem]) {
    for p in previous {
        adjust(order, &p.order_item_id, -i64::from(p.quantity));
    }
}

fn ship(order: &mut Order, confirmation: &Confirmation) {
    for (item_id, quantity) in &confirmation.items {
        adjust(order, item_id, i64::from(*quantity));
    }
}

fn package_from(c: &Confirmation, now: DateTime<Utc>) -> OrderPackage {
    OrderPackage {
        package_reference_id: c.package_reference_id.clone(),
        created_time: format_iso(now),
        package_status: PackageStatus { status: "SHIPPED".into() },
        carrier: match (&c.carrier_name, c.carrier_code.as_str()) {
            (Some(name), "Other") => name.trim().to_string(),
            _ => c.carrier_code.clone(),
        },
        ship_time: format_iso(c.ship_date),
        shipping_service: c.shipping_method.clone(),
        tracking_number: c.tracking_number.clone(),
        package_items: c
            .items
            .iter()
            .map(|(id, quantity)| PackageItem { order_item_id: id.clone(), quantity: *quantity })
            .collect(),
    }
}

fn upsert_package(order: &mut Order, package: OrderPackage) {
    let packages = order.packages.get_or_insert_with(Vec::new);
    match packages.iter_mut().find(|p| p.package_reference_id == package.package_reference_id) {
        Some(existing) => *existing = package,
        None => packages.push(package),
    }
}

/// UNSHIPPED, PARTIALLY_SHIPPED or SHIPPED from the items' quantities (cancelled items have nothing left).
pub(crate) fn update_status(order: &mut Order) {
    let all_shipped =
        order.order_items.iter().all(|i| i.fulfillment.as_ref().is_some_and(|f| f.quantity_unfulfilled == 0));
    let any_shipped =
        order.order_items.iter().any(|i| i.fulfillment.as_ref().is_some_and(|f| f.quantity_fulfilled > 0));
    if let Some(fulfillment) = order.fulfillment.as_mut() {
        fulfillment.fulfillment_status = match (all_shipped, any_shipped) {
            (true, _) => FulfillmentStatus::Shipped,
            (false, true) => FulfillmentStatus::PartiallyShipped,
            (false, false) => FulfillmentStatus::Unshipped,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(detail: Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"marketplaceId": "ATVPDKIKX0DER", "packageDetail": detail})).unwrap()
    }

    fn detail() -> Value {
        serde_json::json!({
            "packageReferenceId": "1", "carrierCode": "UPS", "trackingNumber": "1Z999",
            "shipDate": "2026-03-01T10:00:00Z", "orderItems": [{"orderItemId": "12345678901234", "quantity": 1}]
        })
    }

    fn error_for(mutate: impl FnOnce(&mut Value)) -> String {
        let mut d = detail();
        mutate(&mut d);
        parse_confirmation(&body(d)).unwrap_err().message
    }

    #[test]
    fn parses_valid_body() {
        let c = parse_confirmation(&body(detail())).unwrap();
        assert_eq!(c.items, vec![("12345678901234".to_string(), 1)]);
    }

    #[test]
    fn rejects_bad_fields() {
        assert!(error_for(|d| d["packageReferenceId"] = "0".into()).contains("positive numeric"));
        assert!(error_for(|d| d["packageReferenceId"] = "abc".into()).contains("positive numeric"));
        assert!(error_for(|d| d["packageReferenceId"] = 1.into()).contains("invalid type"));
        assert!(error_for(|d| d["carrierCode"] = "Pony".into()).contains("carrierCode"));
        assert!(error_for(|d| d["carrierCode"] = "Other".into()).contains("CarrierName"));
        assert!(error_for(|d| d["trackingNumber"] = " ".into()).contains("TrackingNumber"));
        assert!(error_for(|d| d["orderItems"][0]["quantity"] = 0.into()).contains("positive integer"));
        assert!(error_for(|d| d["orderItems"] = serde_json::json!([])).contains("at least one"));
        assert!(error_for(|d| d["shipDate"] = "yesterday".into()).contains("shipDate"));
        assert!(
            error_for(|d| {
                d.as_object_mut().unwrap().remove("trackingNumber");
            })
            .contains("Missing required field")
        );
        assert!(parse_confirmation(b"{not json").unwrap_err().message.contains("Malformed"));
    }
}
