//! The events of our own webhook schema (`api/webhooks.openapi.yaml`): `shipment.created`,
//! `shipment.delivered` ([`ShipmentDelivered`]), `order.cancelled` ([`OrderCancelled`]) and
//! `order.refunded` ([`OrderRefunded`]).
//!
//! ```json
//! {"id": "evt_123", "type": "shipment.created", "created_at": "2026-03-01T12:00:00Z",
//!  "data": {"order_id": "902-1106328-1059050", "package_id": "PKG-1", "carrier": "UPS",
//!           "shipping_method": "Ground", "tracking_number": "1Z999AA10123456784",
//!           "ship_date": "2026-03-01T12:00:00Z",
//!           "items": [{"sku": "SKU-A", "quantity": 1}, {"order_item_id": "12345678901234", "quantity": 2}]}}
//! ```
//!
//! Each item names its order line by `order_item_id`, `asin` or `sku` (checked in that order when an
//! item carries several). A connection whose product identifier is ASIN also reads a `sku` value that
//! has the shape of an ASIN as an ASIN ([`ShipmentRequest::named_by`]), since such stores often send the
//! ASIN in their SKU field.
use chrono::{DateTime, Utc};
use serde_json::Value;
use thiserror::Error;

use crate::domain::adjustment::{Amount, CancellationRequest, RefundLine, RefundRequest};
use crate::domain::ids::{AmazonOrderId, Asin, EventId, OrderItemId, PackageId, Sku, TrackingNumber};
use crate::domain::shipment::{ItemRef, ShipmentLine, ShipmentRequest};
use crate::webhook::fulfillment_events::{
    FULFILLMENT_CANCELLED, FULFILLMENT_REQUESTED, FulfillmentCancelled, FulfillmentRequested, fulfillment_cancelled,
    fulfillment_requested,
};

pub const SHIPMENT_CREATED: &str = "shipment.created";
pub const SHIPMENT_DELIVERED: &str = "shipment.delivered";
pub const ORDER_CANCELLED: &str = "order.cancelled";
pub const ORDER_REFUNDED: &str = "order.refunded";
/// Far above any real line of one package.
pub(crate) const MAX_QUANTITY: u64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentCreated {
    pub event_id: EventId,
    pub shipment: ShipmentRequest,
}

/// What is wrong with an event. Messages name the field; they quote identifiers but never free text,
/// which could hold PII.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EventError {
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("missing field `{0}`")]
    Missing(String),
    #[error("field `{field}`: {reason}")]
    Invalid { field: String, reason: String },
    #[error("unsupported event type `{0}`")]
    UnsupportedType(String),
}

/// The body as JSON; the error names the position only, never the content.
pub(crate) fn json_body(body: &[u8]) -> Result<Value, EventError> {
    serde_json::from_slice(body)
        .map_err(|e| EventError::MalformedJson(format!("line {} column {}", e.line(), e.column())))
}

/// One event of our webhook schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreEvent {
    ShipmentCreated(ShipmentCreated),
    ShipmentDelivered(ShipmentDelivered),
    OrderCancelled(OrderCancelled),
    OrderRefunded(OrderRefunded),
    FulfillmentRequested(Box<FulfillmentRequested>),
    FulfillmentCancelled(FulfillmentCancelled),
}

/// `order.cancelled`: the store cancelled the order, or some of its lines (Amazon cancels whole lines;
/// no `items`: every line not shipped). `reason` is one of Amazon's cancel reasons, as Amazon spells it
/// or in snake_case.
///
/// ```json
/// {"id": "evt_125", "type": "order.cancelled", "created_at": "2026-03-01T12:00:00Z",
///  "data": {"order_id": "902-1106328-1059050", "reason": "no_inventory", "items": [{"sku": "SKU-A"}]}}
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderCancelled {
    pub event_id: EventId,
    pub request: CancellationRequest,
}

/// `order.refunded`: amounts per line (`principal` required, `shipping` and `tax` optional), each a
/// decimal string or number with at most two decimals, in the order's currency. `reason` is one of
/// Amazon's adjustment reasons.
///
/// ```json
/// {"id": "evt_126", "type": "order.refunded", "created_at": "2026-03-02T12:00:00Z",
///  "data": {"order_id": "902-1106328-1059050", "reason": "customer_return",
///           "items": [{"sku": "SKU-A", "quantity": 1, "amount": {"principal": "12.50", "tax": "1.03"}}]}}
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRefunded {
    pub event_id: EventId,
    pub request: RefundRequest,
}

/// `shipment.delivered`: the carrier delivered a package (its time moves the PII schedule).
///
/// ```json
/// {"id": "evt_124", "type": "shipment.delivered", "created_at": "2026-03-03T09:00:00Z",
///  "data": {"order_id": "902-1106328-1059050", "package_id": "PKG-1", "delivered_at": "2026-03-03T08:12:00Z"}}
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentDelivered {
    pub event_id: EventId,
    pub order_id: AmazonOrderId,
    pub package_id: PackageId,
    pub delivered_at: DateTime<Utc>,
}

pub fn parse_event(body: &[u8]) -> Result<StoreEvent, EventError> {
    let root = json_body(body)?;
    let event = Fields::new(&root, "")?;
    match event.string("type")? {
        SHIPMENT_CREATED => shipment_created(&event).map(StoreEvent::ShipmentCreated),
        SHIPMENT_DELIVERED => {
            event.timestamp("created_at")?;
            let data = event.object("data")?;
            Ok(StoreEvent::ShipmentDelivered(ShipmentDelivered {
                event_id: event.parse("id", EventId::parse)?,
                order_id: data.parse("order_id", AmazonOrderId::parse)?,
                package_id: data.parse("package_id", PackageId::parse)?,
                delivered_at: data.timestamp("delivered_at")?,
            }))
        }
        // A store order Amazon fulfils (named by the store's id, not Amazon's) is cancelled at Amazon.
        ORDER_CANCELLED if is_store_order(&event) => {
            fulfillment_cancelled(&event).map(StoreEvent::FulfillmentCancelled)
        }
        ORDER_CANCELLED => order_cancelled(&event).map(StoreEvent::OrderCancelled),
        ORDER_REFUNDED => order_refunded(&event).map(StoreEvent::OrderRefunded),
        FULFILLMENT_REQUESTED => {
            fulfillment_requested(&event).map(|event| StoreEvent::FulfillmentRequested(Box::new(event)))
        }
        FULFILLMENT_CANCELLED => fulfillment_cancelled(&event).map(StoreEvent::FulfillmentCancelled),
        other => Err(EventError::UnsupportedType(other.chars().take(60).collect())),
    }
}

/// An `order.cancelled` naming a store order (`store_order_id`, no Amazon `order_id`).
fn is_store_order(event: &Fields<'_>) -> bool {
    let data = event.object.get("data").and_then(Value::as_object);
    data.is_some_and(|data| data.contains_key("store_order_id") && !data.contains_key("order_id"))
}

fn order_cancelled(event: &Fields<'_>) -> Result<OrderCancelled, EventError> {
    let event_id = event.parse("id", EventId::parse)?;
    event.timestamp("created_at")?;
    let data = event.object("data")?;
    let lines = match data.object.get("items") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(invalid("data.items", "must list at least one item, or be left out to cancel every line"));
        }
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, item)| item_ref(&Fields::new(item, &format!("data.items[{index}]."))?))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(invalid("data.items", "must be an array")),
    };
    let request = CancellationRequest {
        order_id: data.parse("order_id", AmazonOrderId::parse)?,
        reason: data.parse("reason", |raw| raw.parse())?,
        lines,
    };
    Ok(OrderCancelled { event_id, request })
}

fn order_refunded(event: &Fields<'_>) -> Result<OrderRefunded, EventError> {
    let event_id = event.parse("id", EventId::parse)?;
    event.timestamp("created_at")?;
    let data = event.object("data")?;
    let lines = data.each("items", |_, line| {
        let amount = line.object("amount")?;
        Ok(RefundLine {
            item: item_ref(line)?,
            quantity: line.number("quantity", 1..=MAX_QUANTITY)? as u32,
            principal: amount.amount("principal")?,
            shipping: amount.optional_amount("shipping")?,
            tax: amount.optional_amount("tax")?,
        })
    })?;
    let request = RefundRequest {
        order_id: data.parse("order_id", AmazonOrderId::parse)?,
        reason: data.parse("reason", |raw| raw.parse())?,
        lines,
    };
    Ok(OrderRefunded { event_id, request })
}

/// The order line an item names, by `order_item_id`, `asin` or `sku` (checked in that order).
fn item_ref(line: &Fields<'_>) -> Result<ItemRef, EventError> {
    let named = (line.optional_string("order_item_id")?, line.optional_string("asin")?, line.optional_string("sku")?);
    Ok(match named {
        (Some(_), _, _) => ItemRef::OrderItem(line.parse("order_item_id", OrderItemId::parse)?),
        (None, Some(_), _) => ItemRef::Asin(line.parse("asin", Asin::parse)?),
        (None, None, Some(_)) => ItemRef::Sku(line.parse("sku", Sku::parse)?),
        (None, None, None) => return Err(EventError::Missing(line.path("sku"))),
    })
}

pub fn parse_shipment_created(body: &[u8]) -> Result<ShipmentCreated, EventError> {
    match parse_event(body)? {
        StoreEvent::ShipmentCreated(created) => Ok(created),
        StoreEvent::ShipmentDelivered(_) => Err(EventError::UnsupportedType(SHIPMENT_DELIVERED.into())),
        StoreEvent::OrderCancelled(_) => Err(EventError::UnsupportedType(ORDER_CANCELLED.into())),
        StoreEvent::OrderRefunded(_) => Err(EventError::UnsupportedType(ORDER_REFUNDED.into())),
        StoreEvent::FulfillmentRequested(_) => Err(EventError::UnsupportedType(FULFILLMENT_REQUESTED.into())),
        StoreEvent::FulfillmentCancelled(_) => Err(EventError::UnsupportedType(FULFILLMENT_CANCELLED.into())),
    }
}

fn shipment_created(event: &Fields<'_>) -> Result<ShipmentCreated, EventError> {
    let event_id = event.parse("id", EventId::parse)?;
    let created_at = event.timestamp("created_at")?;
    let data = event.object("data")?;
    let lines = data.each("items", |_, line| {
        let item = item_ref(line)?;
        let quantity = line.number("quantity", 1..=MAX_QUANTITY)?;
        Ok(ShipmentLine { item, quantity: quantity as u32 })
    })?;
    let shipment = ShipmentRequest {
        order_id: data.parse("order_id", AmazonOrderId::parse)?,
        package_id: data.parse("package_id", PackageId::parse)?,
        carrier: data.string("carrier")?.to_owned(),
        shipping_method: data.optional_string("shipping_method")?.map(str::to_owned),
        tracking_number: data.parse("tracking_number", TrackingNumber::parse)?,
        ship_date: data.timestamp("ship_date")?,
        label_created_at: created_at,
        lines,
    };
    Ok(ShipmentCreated { event_id, shipment })
}

pub(crate) fn invalid(field: &str, reason: &str) -> EventError {
    EventError::Invalid { field: field.to_owned(), reason: reason.to_owned() }
}

/// Field access that reports the full path of whatever is missing or wrong.
pub(crate) struct Fields<'a> {
    pub(crate) object: &'a serde_json::Map<String, Value>,
    prefix: String,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(value: &'a Value, prefix: &str) -> Result<Self, EventError> {
        let object = value.as_object().ok_or_else(|| {
            let name = prefix.trim_end_matches('.');
            if name.is_empty() {
                EventError::MalformedJson("expected a JSON object".into())
            } else {
                invalid(name, "must be an object")
            }
        })?;
        Ok(Self { object, prefix: prefix.to_owned() })
    }

    pub(crate) fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The object at `name`, its fields named by their full path (`data.destination.city`).
    pub(crate) fn object(&self, name: &str) -> Result<Fields<'a>, EventError> {
        Fields::new(self.required(name)?, &format!("{}.", self.path(name)))
    }

    /// Each element of the non-empty array at `name`, read by `read` with its own paths (`data.items[2].sku`).
    pub(crate) fn each<T>(
        &self,
        name: &str,
        mut read: impl FnMut(usize, &Fields<'a>) -> Result<T, EventError>,
    ) -> Result<Vec<T>, EventError> {
        let path = self.path(name);
        let items = self.required(name)?.as_array().ok_or_else(|| invalid(&path, "must be an array"))?;
        if items.is_empty() {
            return Err(invalid(&path, "must list at least one item"));
        }
        items
            .iter()
            .enumerate()
            .map(|(index, item)| read(index, &Fields::new(item, &format!("{path}[{index}]."))?))
            .collect()
    }

    pub(crate) fn required(&self, name: &str) -> Result<&'a Value, EventError> {
        self.object.get(name).filter(|v| !v.is_null()).ok_or_else(|| EventError::Missing(self.path(name)))
    }

    pub(crate) fn string(&self, name: &str) -> Result<&'a str, EventError> {
        let value = self.required(name)?.as_str().ok_or_else(|| invalid(&self.path(name), "must be a string"))?;
        if value.trim().is_empty() {
            return Err(EventError::Missing(self.path(name)));
        }
        Ok(value)
    }

    pub(crate) fn optional_string(&self, name: &str) -> Result<Option<&'a str>, EventError> {
        match self.object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(invalid(&self.path(name), "must be a string")),
        }
    }

    pub(crate) fn parse<T, E: std::fmt::Display>(
        &self,
        name: &str,
        parse: impl FnOnce(String) -> Result<T, E>,
    ) -> Result<T, EventError> {
        let raw = self.string(name)?;
        parse(raw.to_owned()).map_err(|e| invalid(&self.path(name), &e.to_string()))
    }

    /// A whole number from `range`, e.g. a quantity.
    pub(crate) fn number(&self, name: &str, range: std::ops::RangeInclusive<u64>) -> Result<u64, EventError> {
        let value = self.required(name)?.as_u64().filter(|n| range.contains(n));
        value.ok_or_else(|| {
            invalid(&self.path(name), &format!("must be a whole number from {} to {}", range.start(), range.end()))
        })
    }

    /// An amount of money: a decimal string or number, at most two decimals, never negative.
    pub(crate) fn amount(&self, name: &str) -> Result<Amount, EventError> {
        self.amount_from(name, |text| text)
    }

    /// An amount written negative, as Shopify writes what it takes back (`"-5.00"`), as positive.
    pub(crate) fn negated_amount(&self, name: &str) -> Result<Amount, EventError> {
        self.amount_from(name, |text| text.strip_prefix('-').unwrap_or(text))
    }

    fn amount_from(&self, name: &str, magnitude: impl Fn(&str) -> &str) -> Result<Amount, EventError> {
        let text = match self.required(name)? {
            Value::String(text) => text.trim().to_owned(),
            Value::Number(number) => number.to_string(),
            _ => return Err(invalid(&self.path(name), "must be a decimal string such as \"12.50\", or a number")),
        };
        let parsed = magnitude(&text).parse::<Amount>();
        parsed.map_err(|e| invalid(&self.path(name), &e.to_string()))
    }

    /// [`Self::amount`], zero when absent.
    pub(crate) fn optional_amount(&self, name: &str) -> Result<Amount, EventError> {
        match self.object.get(name) {
            None | Some(Value::Null) => Ok(Amount::default()),
            Some(_) => self.amount(name),
        }
    }

    pub(crate) fn timestamp(&self, name: &str) -> Result<DateTime<Utc>, EventError> {
        let raw = self.string(name)?;
        DateTime::parse_from_rfc3339(raw)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|_| invalid(&self.path(name), "must be an RFC 3339 timestamp such as 2026-03-01T12:00:00Z"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event() -> Value {
        json!({"id": "evt_1", "type": "shipment.created", "created_at": "2026-03-01T12:00:00Z",
            "data": {"order_id": "902-1106328-1059050", "package_id": "PKG-1", "carrier": "UPS",
                "tracking_number": "1Z999AA10123456784", "ship_date": "2026-03-01T13:00:00+01:00",
                "items": [{"sku": "SKU-A", "quantity": 1}, {"order_item_id": "12345678901234", "quantity": 2}]}})
    }

    fn parse(value: &Value) -> Result<ShipmentCreated, EventError> {
        parse_shipment_created(value.to_string().as_bytes())
    }

    #[test]
    fn parses_a_complete_event() {
        let parsed = parse(&event()).unwrap();
        assert_eq!(parsed.event_id.as_str(), "evt_1");
        assert_eq!(parsed.shipment.order_id.as_str(), "902-1106328-1059050");
        assert_eq!(
            parsed.shipment.ship_date.to_rfc3339(),
            "2026-03-01T12:00:00+00:00",
            "offsets are normalised to UTC"
        );
        assert_eq!(parsed.shipment.lines.len(), 2);
        assert_eq!(parsed.shipment.lines[1].item, ItemRef::OrderItem(OrderItemId::parse("12345678901234").unwrap()));
    }

    #[test]
    fn each_missing_field_is_named() {
        for (path, expected) in [
            ("/id", "missing field `id`"),
            ("/data/order_id", "missing field `data.order_id`"),
            ("/data/package_id", "missing field `data.package_id`"),
            ("/data/carrier", "missing field `data.carrier`"),
            ("/data/tracking_number", "missing field `data.tracking_number`"),
            ("/data/ship_date", "missing field `data.ship_date`"),
            ("/data/items", "missing field `data.items`"),
            ("/data/items/0/quantity", "missing field `data.items[0].quantity`"),
            ("/data/items/0/sku", "missing field `data.items[0].sku`"),
        ] {
            let mut value = event();
            let (parent, leaf) = path.rsplit_once('/').unwrap();
            value.pointer_mut(parent).unwrap().as_object_mut().unwrap().remove(leaf);
            assert_eq!(parse(&value).unwrap_err().to_string(), expected, "{path}");
        }
    }

    #[test]
    fn bad_values_name_the_field() {
        let mut value = event();
        value["data"]["order_id"] = json!("12-34");
        assert!(parse(&value).unwrap_err().to_string().starts_with("field `data.order_id`: invalid Amazon order id"));
        let mut value = event();
        value["data"]["items"][1]["quantity"] = json!(0);
        assert_eq!(
            parse(&value).unwrap_err().to_string(),
            "field `data.items[1].quantity`: must be a whole number from 1 to 10000"
        );
        let mut value = event();
        value["data"]["ship_date"] = json!("yesterday");
        assert!(parse(&value).unwrap_err().to_string().starts_with("field `data.ship_date`"));
        let mut value = event();
        value["data"]["items"] = json!([]);
        assert_eq!(parse(&value).unwrap_err().to_string(), "field `data.items`: must list at least one item");
    }

    #[test]
    fn items_may_name_their_line_by_asin() {
        let mut value = event();
        value["data"]["items"] = json!([{"asin": "B0C1XYZ123", "quantity": 1}, {"asin": "B0C1XYZ123", "sku": "SKU-A",
            "quantity": 1}, {"order_item_id": "12345678901234", "asin": "B0C1XYZ123", "quantity": 1}]);
        let lines = parse(&value).unwrap().shipment.lines;
        let asin = ItemRef::Asin(Asin::parse("B0C1XYZ123").unwrap());
        assert_eq!(lines[0].item, asin);
        assert_eq!(lines[1].item, asin, "asin before sku");
        assert_eq!(lines[2].item, ItemRef::OrderItem(OrderItemId::parse("12345678901234").unwrap()));

        value["data"]["items"] = json!([{"asin": "B0C1", "quantity": 1}]);
        assert!(parse(&value).unwrap_err().to_string().starts_with("field `data.items[0].asin`: invalid ASIN"));
        value["data"]["items"] = json!([{"asin": 42, "quantity": 1}]);
        assert_eq!(parse(&value).unwrap_err().to_string(), "field `data.items[0].asin`: must be a string");
    }

    #[test]
    fn an_asin_connection_reads_asin_shaped_skus_as_asins() {
        use crate::domain::connection::ProductIdentifier;
        let mut value = event();
        value["data"]["items"] = json!([{"sku": "B0C1XYZ123", "quantity": 1}, {"sku": "SKU-A", "quantity": 1}]);
        let shipment = parse(&value).unwrap().shipment;
        let as_sku = shipment.clone().named_by(ProductIdentifier::Sku);
        assert_eq!(as_sku.lines[0].item, ItemRef::Sku(Sku::parse("B0C1XYZ123").unwrap()));
        let as_asin = shipment.named_by(ProductIdentifier::Asin);
        assert_eq!(as_asin.lines[0].item, ItemRef::Asin(Asin::parse("B0C1XYZ123").unwrap()));
        assert_eq!(as_asin.lines[1].item, ItemRef::Sku(Sku::parse("SKU-A").unwrap()));
    }

    #[test]
    fn cancellations_and_refunds_read_their_lines_reasons_and_amounts() {
        let cancelled = json!({"id": "evt_c", "type": "order.cancelled", "created_at": "2026-03-01T12:00:00Z",
            "data": {"order_id": "902-1106328-1059050", "reason": "no_inventory", "items": [{"sku": "SKU-A"}]}});
        let StoreEvent::OrderCancelled(event) = parse_event(cancelled.to_string().as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(event.request.reason, crate::domain::adjustment::CancelReason::NoInventory);
        assert_eq!(event.request.lines, vec![ItemRef::Sku(Sku::parse("SKU-A").unwrap())]);
        let mut whole = cancelled.clone();
        whole["data"].as_object_mut().unwrap().remove("items");
        let StoreEvent::OrderCancelled(event) = parse_event(whole.to_string().as_bytes()).unwrap() else { panic!() };
        assert!(event.request.lines.is_empty(), "no items: the whole order");

        let refunded = json!({"id": "evt_r", "type": "order.refunded", "created_at": "2026-03-01T12:00:00Z",
            "data": {"order_id": "902-1106328-1059050", "reason": "CustomerReturn",
                "items": [{"order_item_id": "12345678901234", "quantity": 2,
                    "amount": {"principal": "25.00", "shipping": 4.5, "tax": "2"}}]}});
        let StoreEvent::OrderRefunded(event) = parse_event(refunded.to_string().as_bytes()).unwrap() else { panic!() };
        let line = &event.request.lines[0];
        assert_eq!(
            (line.quantity, line.principal, line.shipping, line.tax),
            (2, Amount(2500), Amount(450), Amount(200))
        );

        for (path, value, expected) in [
            (
                "/data/items/0/quantity",
                json!(-1),
                "field `data.items[0].quantity`: must be a whole number from 1 to 10000",
            ),
            (
                "/data/items/0/amount/principal",
                json!("-12.50"),
                "field `data.items[0].amount.principal`: not an amount",
            ),
            ("/data/items/0/amount/tax", json!(1.005), "field `data.items[0].amount.tax`: not an amount"),
            ("/data/reason", json!("because"), "field `data.reason`: not one of Amazon's adjustment reasons"),
            ("/data/items", json!([]), "field `data.items`: must list at least one item"),
        ] {
            let mut body = refunded.clone();
            *body.pointer_mut(path).unwrap() = value;
            let error = parse_event(body.to_string().as_bytes()).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{path}: {error}");
        }
        let mut no_principal = refunded.clone();
        no_principal["data"]["items"][0]["amount"].as_object_mut().unwrap().remove("principal");
        assert_eq!(
            parse_event(no_principal.to_string().as_bytes()).unwrap_err().to_string(),
            "missing field `data.items[0].amount.principal`"
        );
    }

    #[test]
    fn malformed_json_and_other_types_are_refused() {
        assert!(matches!(parse_shipment_created(b"{\"id\": "), Err(EventError::MalformedJson(_))));
        assert!(matches!(parse_shipment_created(b"[1]"), Err(EventError::MalformedJson(_))));
        let mut value = event();
        value["type"] = json!("order.archived");
        assert_eq!(parse(&value).unwrap_err(), EventError::UnsupportedType("order.archived".into()));
    }
}
