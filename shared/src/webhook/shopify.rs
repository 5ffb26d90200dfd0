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
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::events::{EventError, Fields, MAX_QUANTITY, invalid, json_body};
use super::signature::{SignatureError, SigningKeys};
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

    #[test]
    fn topics_are_read_and_others_kept_short() {
        assert_eq!(Topic::parse("fulfillments/create"), Topic::FulfillmentsCreate);
        assert_eq!(Topic::parse("fulfillments/update"), Topic::FulfillmentsUpdate);
        assert_eq!(Topic::parse("orders/updated"), Topic::OrdersUpdated);
        assert_eq!(Topic::parse(&"x".repeat(500)), Topic::Other("x".repeat(60)));
    }
}
