//! Shopify's webhook format, accepted beside ours on `POST /webhooks/shopify`.
//!
//! Shopify signs the raw body with the app's secret: `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256.
//! `X-Shopify-Topic` names the payload and `X-Shopify-Webhook-Id` identifies one event across Shopify's
//! retries. Neither header is signed, so nothing they say is trusted beyond routing and deduplication:
//! a package's identity comes from the signed body (the fulfillment's id).
//!
//! A Shopify order is matched to its Amazon order through the order's `source_identifier` (the id of
//! the order on the platform it came from), which `orders/create` and `orders/updated` carry and a
//! fulfillment does not: the link is learned from those topics and looked up for `fulfillments/create`.
//!
//! `orders/cancelled` cancels the Amazon order (every line not shipped) with Amazon's reason nearest
//! Shopify's `cancel_reason`; `refunds/create` refunds each refunded line's subtotal and tax, the
//! shipping refunded going with the first line.
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::events::{EventError, Fields, MAX_QUANTITY, invalid, json_body};
use super::signature::{SignatureError, SigningKeys};
use crate::domain::adjustment::{Amount, CancelReason, CancellationRequest, RefundLine, RefundReason, RefundRequest};
use crate::domain::ids::{AmazonOrderId, PackageId, Sku, TrackingNumber};
use crate::domain::shipment::{ItemRef, ShipmentLine, ShipmentRequest};

pub const HMAC_HEADER: &str = "x-shopify-hmac-sha256";
pub const TOPIC_HEADER: &str = "x-shopify-topic";
pub const WEBHOOK_ID_HEADER: &str = "x-shopify-webhook-id";

/// The topics this endpoint acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    /// A shipment: confirmed to Amazon like our `shipment.created` once it is successful with tracking.
    FulfillmentsCreate,
    /// The same fulfillment later (tracking added, a fulfillment service finishing it): the same package.
    FulfillmentsUpdate,
    /// An order created or changed in Shopify: teaches which Amazon order it is.
    OrdersCreate,
    OrdersUpdated,
    /// The order cancelled: cancelled at Amazon too.
    OrdersCancelled,
    /// A refund of the order: refunded at Amazon too.
    RefundsCreate,
    /// Anything else Shopify was told to send here: acknowledged, not acted on.
    Other(String),
}

impl Topic {
    pub fn parse(raw: &str) -> Self {
        match raw.trim() {
            "fulfillments/create" => Self::FulfillmentsCreate,
            "fulfillments/update" => Self::FulfillmentsUpdate,
            "orders/create" => Self::OrdersCreate,
            "orders/updated" => Self::OrdersUpdated,
            "orders/cancelled" => Self::OrdersCancelled,
            "refunds/create" => Self::RefundsCreate,
            other => Self::Other(other.chars().take(60).collect()),
        }
    }
}

/// Verifies `X-Shopify-Hmac-Sha256` against either signing key.
pub fn verify(keys: &SigningKeys, header: Option<&str>, body: &[u8]) -> Result<(), ShopifySignatureError> {
    let header = header.ok_or(ShopifySignatureError::Missing)?;
    keys.either(
        |key| match key.verify_base64(header, body) {
            Ok(()) => Ok(()),
            Err(SignatureError::Mismatch) => Err(ShopifySignatureError::Mismatch),
            Err(_) => Err(ShopifySignatureError::Malformed),
        },
        |e| *e == ShopifySignatureError::Mismatch,
    )
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShopifySignatureError {
    #[error("missing {HMAC_HEADER} header")]
    Missing,
    #[error("malformed {HMAC_HEADER} header: expected the base64 HMAC-SHA256 of the body")]
    Malformed,
    #[error("{HMAC_HEADER} does not match the body")]
    Mismatch,
}

/// What an order payload says about the order's origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLink {
    pub shopify_order_id: u64,
    /// The Amazon order it came from; `None` for an order that did not come from Amazon.
    pub amazon_order_id: Option<AmazonOrderId>,
}

pub fn parse_order_link(body: &[u8]) -> Result<OrderLink, EventError> {
    let root = json_body(body)?;
    let order = Fields::new(&root, "")?;
    let shopify_order_id = order.number("id", 1..=u64::MAX)?;
    let amazon_order_id = order.optional_string("source_identifier")?.and_then(|id| AmazonOrderId::parse(id).ok());
    Ok(OrderLink { shopify_order_id, amazon_order_id })
}

/// An `orders/cancelled` payload, read for which order and why (never its addresses or email).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancellation {
    pub link: OrderLink,
    pub reason: CancelReason,
}

pub fn parse_cancellation(body: &[u8]) -> Result<Cancellation, EventError> {
    let link = parse_order_link(body)?;
    let root = json_body(body)?;
    let order = Fields::new(&root, "")?;
    // Shopify's reasons: customer, inventory, fraud, declined, staff, other.
    let reason = match order.optional_string("cancel_reason")?.map(str::trim) {
        Some("customer") => CancelReason::BuyerCanceled,
        Some("inventory") => CancelReason::NoInventory,
        _ => CancelReason::GeneralAdjustment,
    };
    Ok(Cancellation { link, reason })
}

impl Cancellation {
    /// Every line of the Amazon order not shipped yet.
    pub fn request(&self, order_id: AmazonOrderId) -> CancellationRequest {
        CancellationRequest { order_id, reason: self.reason, lines: Vec::new() }
    }
}

/// A `refunds/create` payload, read for the amounts per line (never its note, which is free text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub refund_id: u64,
    pub shopify_order_id: u64,
    pub reason: RefundReason,
    pub lines: Vec<RefundLine>,
}

pub fn parse_refund(body: &[u8]) -> Result<Refund, EventError> {
    let root = json_body(body)?;
    let refund = Fields::new(&root, "")?;
    let items = match refund.object.get("refund_line_items") {
        None | Some(Value::Null) => &Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid("refund_line_items", "must be an array")),
    };
    let mut restock_types = Vec::new();
    let mut lines = items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let path = format!("refund_line_items[{index}].");
            let line = Fields::new(item, &path)?;
            restock_types.push(line.optional_string("restock_type")?.unwrap_or_default().to_owned());
            let line_item = line.object("line_item")?;
            Ok(RefundLine {
                item: ItemRef::Sku(line_item.parse("sku", Sku::parse)?),
                quantity: line.number("quantity", 1..=MAX_QUANTITY)? as u32,
                principal: line.amount("subtotal")?,
                shipping: Amount::default(),
                tax: line.optional_amount("total_tax")?,
            })
        })
        .collect::<Result<Vec<_>, EventError>>()?;
    if let Some(first) = lines.first_mut() {
        first.shipping = shipping_refunded(&refund)?;
    }
    let reason = if restock_types.iter().any(|t| t == "return") {
        RefundReason::CustomerReturn
    } else if restock_types.iter().any(|t| t == "cancel") {
        RefundReason::CustomerCancel
    } else {
        RefundReason::GeneralAdjustment
    };
    Ok(Refund {
        refund_id: refund.number("id", 1..=u64::MAX)?,
        shopify_order_id: refund.number("order_id", 1..=u64::MAX)?,
        reason,
        lines,
    })
}

/// The shipping a refund gives back: its `refund_shipping_lines` (Shopify's current field) or, in
/// payloads without them, its `shipping_refund` order adjustments (written as negative amounts).
fn shipping_refunded(refund: &Fields<'_>) -> Result<Amount, EventError> {
    let array = |name: &str| match refund.object.get(name) {
        Some(Value::Array(values)) => values.as_slice(),
        _ => &[],
    };
    let mut total = 0u64;
    let shipping_lines = array("refund_shipping_lines");
    for (index, line) in shipping_lines.iter().enumerate() {
        let path = format!("refund_shipping_lines[{index}].subtotal_amount_set.shop_money.");
        let money = line.pointer("/subtotal_amount_set/shop_money").unwrap_or(&Value::Null);
        total = total.saturating_add(Fields::new(money, &path)?.amount("amount")?.0);
    }
    if shipping_lines.is_empty() {
        for (index, adjustment) in array("order_adjustments").iter().enumerate() {
            let adjustment = Fields::new(adjustment, &format!("order_adjustments[{index}]."))?;
            if adjustment.optional_string("kind")? == Some("shipping_refund") {
                total = total.saturating_add(adjustment.negated_amount("amount")?.0);
            }
        }
    }
    Ok(Amount(total))
}

impl Refund {
    /// The refund for the Amazon order the refunded Shopify order came from.
    pub fn request(&self, order_id: AmazonOrderId) -> RefundRequest {
        RefundRequest { order_id, reason: self.reason, lines: self.lines.clone() }
    }
}

/// A `fulfillments/create` payload, read for what a shipment confirmation needs (never its
/// destination or email).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fulfillment {
    pub fulfillment_id: u64,
    pub shopify_order_id: u64,
    /// `pending`, `open`, `success`, `cancelled`, `error` or `failure`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub tracking_company: Option<String>,
    pub tracking_number: Option<TrackingNumber>,
    pub lines: Vec<(Sku, u32)>,
}

pub fn parse_fulfillment(body: &[u8]) -> Result<Fulfillment, EventError> {
    let root = json_body(body)?;
    let fulfillment = Fields::new(&root, "")?;
    let tracking_numbers = match fulfillment.object.get("tracking_numbers") {
        Some(Value::Array(numbers)) => numbers.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    let tracking_number = fulfillment
        .optional_string("tracking_number")?
        .map(str::to_owned)
        .or_else(|| tracking_numbers.into_iter().next())
        .filter(|number| !number.trim().is_empty())
        .map(|number| TrackingNumber::parse(number.trim().to_owned()))
        .transpose()
        .map_err(|e| invalid("tracking_number", &e.to_string()))?;
    let items =
        fulfillment.required("line_items")?.as_array().ok_or_else(|| invalid("line_items", "must be an array"))?;
    let lines = items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let line = Fields::new(item, &format!("line_items[{index}]."))?;
            let sku = line.parse("sku", Sku::parse)?;
            Ok((sku, line.number("quantity", 1..=MAX_QUANTITY)? as u32))
        })
        .collect::<Result<Vec<_>, EventError>>()?;
    if lines.is_empty() {
        return Err(invalid("line_items", "must list at least one item"));
    }
    Ok(Fulfillment {
        fulfillment_id: fulfillment.number("id", 1..=u64::MAX)?,
        shopify_order_id: fulfillment.number("order_id", 1..=u64::MAX)?,
        status: fulfillment.optional_string("status")?.unwrap_or_default().to_owned(),
        created_at: fulfillment.timestamp("created_at")?,
        tracking_company: fulfillment.optional_string("tracking_company")?.map(str::trim).map(str::to_owned),
        tracking_number,
        lines,
    })
}

impl Fulfillment {
    /// Whether the goods left: Shopify's `success` (`pending` and `open` wait for a fulfillment service;
    /// `cancelled`, `error` and `failure` never ship).
    pub fn shipped(&self) -> bool {
        self.status == "success"
    }

    /// Whether it names a carrier and a tracking number, which Amazon's confirmation needs.
    pub fn has_tracking(&self) -> bool {
        self.tracking_company.as_deref().is_some_and(|c| !c.is_empty()) && self.tracking_number.is_some()
    }

    /// The shipment to confirm for the Amazon order this fulfillment's order came from: one package
    /// under the fulfillment's id, shipped when the fulfillment was created.
    pub fn shipment(&self, order_id: AmazonOrderId) -> Result<ShipmentRequest, EventError> {
        let carrier = self.tracking_company.clone().filter(|c| !c.is_empty());
        let carrier = carrier.ok_or_else(|| EventError::Missing("tracking_company".into()))?;
        let tracking_number =
            self.tracking_number.clone().ok_or_else(|| EventError::Missing("tracking_number".into()))?;
        let package_id = PackageId::parse(format!("shopify-fulfillment-{}", self.fulfillment_id))
            .map_err(|e| invalid("id", &e.to_string()))?;
        Ok(ShipmentRequest {
            order_id,
            package_id,
            carrier,
            shipping_method: None,
            tracking_number,
            ship_date: self.created_at,
            label_created_at: self.created_at,
            lines: self
                .lines
                .iter()
                .map(|(sku, quantity)| ShipmentLine { item: ItemRef::Sku(sku.clone()), quantity: *quantity })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::webhook::signature::SigningKey;

    /// Shopify's documented `fulfillments/create` example (shortened to the fields read here, plus the
    /// PII fields it carries, which must never be needed).
    fn documented_fulfillment() -> Value {
        json!({
            "id": 123456, "order_id": 820982911946154508u64, "status": "pending",
            "created_at": "2021-12-31T19:00:00-05:00", "service": null, "updated_at": "2021-12-31T19:00:00-05:00",
            "tracking_company": "UPS", "shipment_status": null, "location_id": null, "origin_address": null,
            "email": "jon@example.com",
            "destination": {"first_name": "Steve", "address1": "123 Shipping Street", "phone": "555-555-SHIP",
                "city": "Shippington", "zip": "40003", "province": "Kentucky", "country": "United States",
                "last_name": "Shipper", "address2": null, "company": "Shipping Company", "name": "Steve Shipper",
                "country_code": "US", "province_code": "KY"},
            "line_items": [{"id": 487817672276298554u64, "variant_id": null, "title": "Aviator sunglasses",
                "quantity": 1, "sku": "SKU2006-001", "fulfillment_service": "manual", "requires_shipping": true,
                "fulfillable_quantity": 1, "grams": 100, "price": "89.99", "fulfillment_status": null}],
            "tracking_number": "1z827wk74630", "tracking_numbers": ["1z827wk74630"],
            "tracking_url": "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1z827wk74630",
            "tracking_urls": ["https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1z827wk74630"],
            "receipt": {}, "name": "#9999.1"
        })
    }

    fn parse(value: &Value) -> Result<Fulfillment, EventError> {
        parse_fulfillment(value.to_string().as_bytes())
    }

    #[test]
    fn the_documented_fulfillment_becomes_one_package() {
        let fulfillment = parse(&documented_fulfillment()).unwrap();
        assert_eq!((fulfillment.fulfillment_id, fulfillment.shopify_order_id), (123456, 820982911946154508));
        assert!(!fulfillment.shipped(), "pending waits for the fulfillment service");
        assert!(fulfillment.has_tracking());
        let order = AmazonOrderId::parse("902-1106328-1059050").unwrap();
        let shipment = fulfillment.shipment(order.clone()).unwrap();
        assert_eq!(shipment.order_id, order);
        assert_eq!(shipment.package_id.as_str(), "shopify-fulfillment-123456");
        assert_eq!((shipment.carrier.as_str(), shipment.tracking_number.as_str()), ("UPS", "1z827wk74630"));
        assert_eq!(shipment.ship_date.to_rfc3339(), "2022-01-01T00:00:00+00:00");
        assert_eq!(
            shipment.lines,
            [ShipmentLine { item: ItemRef::Sku(Sku::parse("SKU2006-001").unwrap()), quantity: 1 }]
        );
    }

    #[test]
    fn what_a_confirmation_needs_is_named_when_missing_or_wrong() {
        let mut value = documented_fulfillment();
        value["tracking_company"] = json!(null);
        let order = AmazonOrderId::parse("902-1106328-1059050").unwrap();
        let missing = parse(&value).unwrap().shipment(order.clone()).unwrap_err();
        assert_eq!(missing.to_string(), "missing field `tracking_company`");

        let mut value = documented_fulfillment();
        value["tracking_number"] = json!(null);
        value["tracking_numbers"] = json!(["1Z0000000000000001", "1Z0000000000000002"]);
        let first = parse(&value).unwrap().shipment(order.clone()).unwrap();
        assert_eq!(first.tracking_number.as_str(), "1Z0000000000000001", "the first of several");
        value["tracking_numbers"] = json!([]);
        let none = parse(&value).unwrap().shipment(order).unwrap_err();
        assert_eq!(none.to_string(), "missing field `tracking_number`");

        let mut value = documented_fulfillment();
        value["line_items"][0]["quantity"] = json!(-1);
        assert_eq!(
            parse(&value).unwrap_err().to_string(),
            "field `line_items[0].quantity`: must be a whole number from 1 to 10000"
        );
        value["line_items"][0]["quantity"] = json!(1);
        value["line_items"][0]["sku"] = json!(null);
        assert_eq!(parse(&value).unwrap_err().to_string(), "missing field `line_items[0].sku`");
        for (status, shipped) in [("success", true), ("open", false), ("cancelled", false), ("failure", false)] {
            let mut value = documented_fulfillment();
            value["status"] = json!(status);
            assert_eq!(parse(&value).unwrap().shipped(), shipped, "{status}");
        }
    }

    #[test]
    fn an_order_names_its_amazon_order_through_its_source_identifier() {
        let order = json!({"id": 820982911946154508u64, "name": "#1001", "source_name": "amazon",
            "source_identifier": "902-1106328-1059050", "email": "jon@doe.ca"});
        let link = parse_order_link(order.to_string().as_bytes()).unwrap();
        assert_eq!(link.shopify_order_id, 820982911946154508);
        assert_eq!(link.amazon_order_id.unwrap().as_str(), "902-1106328-1059050");
        let web = json!({"id": 820982911946154508u64, "source_name": "web", "source_identifier": null});
        assert_eq!(parse_order_link(web.to_string().as_bytes()).unwrap().amazon_order_id, None);
    }

    #[test]
    fn the_hmac_is_base64_over_the_raw_body_with_either_key() {
        let body = documented_fulfillment().to_string();
        let (old, new) = (SigningKey::new("old"), SigningKey::new("new"));
        let keys = SigningKeys { current: new.clone(), previous: Some(old.clone()) };
        assert_eq!(verify(&keys, Some(&old.sign_base64(body.as_bytes())), body.as_bytes()), Ok(()));
        assert_eq!(verify(&keys, Some(&new.sign_base64(body.as_bytes())), body.as_bytes()), Ok(()));
        let stranger = SigningKey::new("stranger").sign_base64(body.as_bytes());
        assert_eq!(verify(&keys, Some(&stranger), body.as_bytes()), Err(ShopifySignatureError::Mismatch));
        let truncated = &body.as_bytes()[..body.len() - 1];
        assert_eq!(
            verify(&keys, Some(&new.sign_base64(body.as_bytes())), truncated),
            Err(ShopifySignatureError::Mismatch)
        );
        assert_eq!(verify(&keys, None, body.as_bytes()), Err(ShopifySignatureError::Missing));
        assert_eq!(verify(&keys, Some("not base64!"), body.as_bytes()), Err(ShopifySignatureError::Malformed));
    }

    /// Shopify's documented `refunds/create` example (its note and ids as published).
    fn documented_refund() -> Value {
        json!({
            "id": 890088186047892319u64, "order_id": 820982911946154508u64,
            "created_at": "2021-12-31T19:00:00-05:00", "note": "Things were damaged", "user_id": 548380009,
            "processed_at": "2021-12-31T19:00:00-05:00", "restock": false, "duties": [],
            "admin_graphql_api_id": "gid://shopify/Refund/890088186047892319",
            "refund_line_items": [{"id": 487817672276298627u64, "quantity": 1,
                "line_item_id": 487817672276298554u64, "location_id": null, "restock_type": "no_restock",
                "subtotal": 199.0, "total_tax": 0.0,
                "subtotal_set": {"shop_money": {"amount": "199.00", "currency_code": "USD"},
                    "presentment_money": {"amount": "199.00", "currency_code": "USD"}},
                "total_tax_set": {"shop_money": {"amount": "0.00", "currency_code": "USD"},
                    "presentment_money": {"amount": "0.00", "currency_code": "USD"}},
                "line_item": {"id": 487817672276298554u64, "variant_id": null, "title": "Aviator sunglasses",
                    "quantity": 1, "sku": "SKU2006-001", "variant_title": null, "vendor": null,
                    "fulfillment_service": "manual", "product_id": 788032119674292922u64, "requires_shipping": true,
                    "taxable": true, "gift_card": false, "name": "Aviator sunglasses", "price": "89.99",
                    "total_discount": "0.00", "fulfillment_status": null, "tax_lines": []}}],
            "transactions": [], "order_adjustments": [], "refund_shipping_lines": []
        })
    }

    #[test]
    fn the_documented_refund_refunds_each_line_with_the_shipping_on_the_first() {
        let refund = parse_refund(documented_refund().to_string().as_bytes()).unwrap();
        assert_eq!((refund.refund_id, refund.shopify_order_id), (890088186047892319, 820982911946154508));
        assert_eq!(refund.reason, RefundReason::GeneralAdjustment, "no restock: no return");
        let line = &refund.lines[0];
        assert_eq!(line.item, ItemRef::Sku(Sku::parse("SKU2006-001").unwrap()));
        assert_eq!((line.quantity, line.principal, line.shipping, line.tax), (1, Amount(19900), Amount(0), Amount(0)));

        let mut returned = documented_refund();
        returned["refund_line_items"][0]["restock_type"] = json!("return");
        returned["order_adjustments"] = json!([{"id": 1, "kind": "shipping_refund", "amount": "-5.00",
            "tax_amount": "0.00", "reason": "Shipping refund"}]);
        let refund = parse_refund(returned.to_string().as_bytes()).unwrap();
        assert_eq!((refund.reason, refund.lines[0].shipping), (RefundReason::CustomerReturn, Amount(500)));
        returned["refund_shipping_lines"] = json!([{"id": 2, "shipping_line_id": 3,
            "subtotal_amount_set": {"shop_money": {"amount": "4.00", "currency_code": "USD"}}}]);
        let refund = parse_refund(returned.to_string().as_bytes()).unwrap();
        assert_eq!(refund.lines[0].shipping, Amount(400), "the shipping lines, not both");

        let mut negative = documented_refund();
        negative["refund_line_items"][0]["subtotal"] = json!(-1);
        assert_eq!(
            parse_refund(negative.to_string().as_bytes()).unwrap_err().to_string(),
            "field `refund_line_items[0].subtotal`: not an amount: a number with at most two decimals and no sign, such as 12.50"
        );
    }

    #[test]
    fn a_cancelled_order_cancels_its_amazon_order_with_the_nearest_reason() {
        let order = json!({"id": 820982911946154508u64, "email": "jon@doe.ca", "cancel_reason": "customer",
            "cancelled_at": "2021-12-31T19:00:00-05:00", "source_identifier": "902-1106328-1059050"});
        let cancellation = parse_cancellation(order.to_string().as_bytes()).unwrap();
        assert_eq!(cancellation.reason, CancelReason::BuyerCanceled);
        assert_eq!(cancellation.link.amazon_order_id.as_ref().map(AmazonOrderId::as_str), Some("902-1106328-1059050"));
        let request = cancellation.request(cancellation.link.amazon_order_id.clone().unwrap());
        assert!(request.lines.is_empty(), "every line not shipped");
        for (shopify, amazon) in [
            ("inventory", CancelReason::NoInventory),
            ("fraud", CancelReason::GeneralAdjustment),
            ("staff", CancelReason::GeneralAdjustment),
        ] {
            let order = json!({"id": 1, "cancel_reason": shopify});
            assert_eq!(parse_cancellation(order.to_string().as_bytes()).unwrap().reason, amazon, "{shopify}");
        }
    }

    #[test]
    fn topics_are_read_and_others_kept_short() {
        assert_eq!(Topic::parse("fulfillments/create"), Topic::FulfillmentsCreate);
        assert_eq!(Topic::parse("fulfillments/update"), Topic::FulfillmentsUpdate);
        assert_eq!(Topic::parse("orders/updated"), Topic::OrdersUpdated);
        assert_eq!(Topic::parse("orders/cancelled"), Topic::OrdersCancelled);
        assert_eq!(Topic::parse("refunds/create"), Topic::RefundsCreate);
        assert_eq!(Topic::parse(&"x".repeat(500)), Topic::Other("x".repeat(60)));
    }
}
