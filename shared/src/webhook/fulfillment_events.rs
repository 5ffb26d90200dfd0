//! The Multi-Channel Fulfillment events of our webhook schema: `fulfillment.requested` (ship a store
//! order from Amazon's warehouses) and `fulfillment.cancelled` (stop it while Amazon still allows).
//!
//! ```json
//! {"id": "evt_300", "type": "fulfillment.requested", "created_at": "2026-11-02T10:00:00Z",
//!  "data": {"connection_id": "acme-us", "store_order_id": "#1001", "ordered_at": "2026-11-02T09:58:00Z",
//!           "shipping_rate": "Standard Shipping", "comment": "Thank you!",
//!           "destination": {"name": "Jane Buyer", "line1": "1 Main St", "city": "Seattle", "state": "WA",
//!                           "postal_code": "98101", "country_code": "US", "phone": "+1 206 555 0100"},
//!           "items": [{"line_id": "1", "sku": "FBA-SKU-0001", "quantity": 2}]}}
//!
//! {"id": "evt_301", "type": "fulfillment.cancelled", "created_at": "2026-11-02T10:05:00Z",
//!  "data": {"connection_id": "acme-us", "store_order_id": "#1001"}}
//! ```
//!
//! An `order.cancelled` that names a `store_order_id` (and `connection_id`) instead of an Amazon `order_id`
//! is the store cancelling its order: it cancels the order's fulfillment the same way.
//!
//! `line_id` is the store's id of the line (default: its position, from 1); `ordered_at` defaults to the
//! event's `created_at`. Whether each value makes sense for the connection (Amazon-fulfilled SKUs, the
//! rate name, the country) is checked by [`FulfillmentRequest::plan`].
use serde_json::Value;

use super::events::{EventError, Fields, MAX_QUANTITY};
use crate::domain::fulfillment::{Destination, FulfillmentLine, FulfillmentRequest};
use crate::domain::ids::{ConnectionId, EventId, Sku, StoreOrderId};

pub const FULFILLMENT_REQUESTED: &str = "fulfillment.requested";
pub const FULFILLMENT_CANCELLED: &str = "fulfillment.cancelled";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentRequested {
    pub event_id: EventId,
    pub request: FulfillmentRequest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentCancelled {
    pub event_id: EventId,
    pub connection_id: ConnectionId,
    pub store_order_id: StoreOrderId,
}

pub(crate) fn fulfillment_requested(event: &Fields<'_>) -> Result<FulfillmentRequested, EventError> {
    let event_id = event.parse("id", EventId::parse)?;
    let created_at = event.timestamp("created_at")?;
    let data = event.object("data")?;
    let lines = data.each("items", |index, line| {
        let line_id = match line.object.get("line_id") {
            None | Some(Value::Null) => (index + 1).to_string(),
            Some(Value::Number(number)) => number.to_string(),
            Some(_) => line.string("line_id")?.trim().to_owned(),
        };
        Ok(FulfillmentLine {
            line_id,
            sku: line.parse("sku", Sku::parse)?,
            quantity: line.number("quantity", 1..=MAX_QUANTITY)? as u32,
        })
    })?;
    let ordered_at = match data.object.get("ordered_at") {
        None | Some(Value::Null) => created_at,
        Some(_) => data.timestamp("ordered_at")?,
    };
    let request = FulfillmentRequest {
        connection_id: data.parse("connection_id", ConnectionId::parse)?,
        store_order_id: data.parse("store_order_id", StoreOrderId::parse)?,
        ordered_at,
        rate_name: data.string("shipping_rate")?.trim().to_owned(),
        comment: data.optional_string("comment")?.map(str::to_owned),
        destination: destination(&data.object("destination")?)?,
        lines,
    };
    Ok(FulfillmentRequested { event_id, request })
}

pub(crate) fn fulfillment_cancelled(event: &Fields<'_>) -> Result<FulfillmentCancelled, EventError> {
    let event_id = event.parse("id", EventId::parse)?;
    event.timestamp("created_at")?;
    let data = event.object("data")?;
    Ok(FulfillmentCancelled {
        event_id,
        connection_id: data.parse("connection_id", ConnectionId::parse)?,
        store_order_id: data.parse("store_order_id", StoreOrderId::parse)?,
    })
}

fn destination(fields: &Fields<'_>) -> Result<Destination, EventError> {
    let optional = |name: &str| -> Result<Option<String>, EventError> {
        Ok(fields.optional_string(name)?.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned))
    };
    Ok(Destination {
        name: fields.string("name")?.trim().to_owned(),
        line1: fields.string("line1")?.trim().to_owned(),
        line2: optional("line2")?,
        line3: optional("line3")?,
        city: optional("city")?,
        district: optional("district")?,
        state: optional("state")?,
        postal_code: fields.string("postal_code")?.trim().to_owned(),
        country_code: fields.string("country_code")?.trim().to_ascii_uppercase(),
        phone: optional("phone")?,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::webhook::events::{StoreEvent, parse_event};

    fn requested() -> Value {
        json!({"id": "evt_300", "type": "fulfillment.requested", "created_at": "2026-11-02T10:00:00Z",
               "data": {"connection_id": "acme-us", "store_order_id": "#1001", "shipping_rate": "Standard",
                        "destination": {"name": "Jane Buyer", "line1": "1 Main St", "city": "Seattle",
                                        "postal_code": "98101", "country_code": "us"},
                        "items": [{"sku": "FBA-SKU-0001", "quantity": 2}, {"line_id": 7, "sku": "FBA-SKU-0002", "quantity": 1}]}})
    }

    fn parse(value: &Value) -> Result<StoreEvent, EventError> {
        parse_event(value.to_string().as_bytes())
    }

    #[test]
    fn a_request_reads_with_its_defaults() {
        let StoreEvent::FulfillmentRequested(event) = parse(&requested()).unwrap() else { panic!("not a request") };
        let request = event.request;
        assert_eq!(request.store_order_id.as_str(), "#1001");
        assert_eq!(request.ordered_at.to_rfc3339(), "2026-11-02T10:00:00+00:00", "created_at by default");
        assert_eq!(request.destination.country_code, "US");
        assert_eq!(request.lines[0].line_id, "1", "position by default");
        assert_eq!(request.lines[1].line_id, "7");
    }

    #[test]
    fn each_missing_or_bad_field_is_named() {
        let cases = [
            ("/data/destination/postal_code", Value::Null, "data.destination.postal_code"),
            ("/data/items/0/quantity", json!(0), "data.items[0].quantity"),
            ("/data/items/0/sku", Value::Null, "data.items[0].sku"),
            ("/data/connection_id", json!("a b"), "data.connection_id"),
            ("/data/shipping_rate", json!(""), "data.shipping_rate"),
        ];
        for (pointer, value, field) in cases {
            let mut event = requested();
            *event.pointer_mut(pointer).unwrap() = value;
            let error = parse(&event).unwrap_err().to_string();
            assert!(error.contains(field), "{pointer}: {error}");
        }
    }

    #[test]
    fn a_cancelled_store_order_cancels_its_fulfillment() {
        let event = json!({"id": "evt_302", "type": "order.cancelled", "created_at": "2026-11-02T10:05:00Z",
                           "data": {"connection_id": "acme-us", "store_order_id": "#1001", "reason": "customer"}});
        let StoreEvent::FulfillmentCancelled(cancel) = parse(&event).unwrap() else { panic!("not a cancellation") };
        assert_eq!((cancel.connection_id.as_str(), cancel.store_order_id.as_str()), ("acme-us", "#1001"));
    }

    #[test]
    fn a_cancellation_names_the_store_order() {
        let event = json!({"id": "evt_301", "type": "fulfillment.cancelled", "created_at": "2026-11-02T10:05:00Z",
                           "data": {"connection_id": "acme-us", "store_order_id": "#1001"}});
        let StoreEvent::FulfillmentCancelled(cancel) = parse(&event).unwrap() else { panic!("not a cancellation") };
        assert_eq!(cancel.store_order_id.as_str(), "#1001");
    }
}
