//! The order feed messages, read from their elements as Amazon's XSDs define them (`OrderFulfillment.xsd`,
//! `OrderAcknowledgement.xsd`, `OrderAdjustment.xsd`, `amzn-base.xsd`). What the schema forbids (a missing
//! required element, a value outside an enumeration, a number that is not one) is an [`Invalid`] message; what
//! the orders forbid is for `process` to find.
//!
//! Orders and items are named by `AmazonOrderID` / `AmazonOrderItemCode`: the schema also allows the seller's
//! own `MerchantOrderID` / `MerchantOrderItemID` instead, which the sandbox has no mapping for.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::xml::{Element, Invalid, check_enumeration};

/// `CancelReason` of an acknowledgement item (spapi-reference §4, "Order Feed Type Values").
pub(crate) const CANCEL_REASONS: [&str; 10] = [
    "NoInventory",
    "ShippingAddressUndeliverable",
    "CustomerExchange",
    "BuyerCanceled",
    "GeneralAdjustment",
    "CarrierCreditDecision",
    "RiskAssessmentInformationNotValid",
    "CarrierCoverageFailure",
    "CustomerReturn",
    "MerchandiseNotReceived",
];

/// `AdjustmentReason` of an adjusted item (`OrderAdjustment.xsd`).
pub(crate) const ADJUSTMENT_REASONS: [&str; 18] = [
    "NoInventory",
    "CustomerReturn",
    "GeneralAdjustment",
    "CouldNotShip",
    "DifferentItem",
    "Abandoned",
    "CustomerCancel",
    "PriceError",
    "ProductOutofStock",
    "CustomerAddressIncorrect",
    "Exchange",
    "Other",
    "CarrierCreditDecision",
    "RiskAssessmentInformationNotValid",
    "CarrierCoverageFailure",
    "TransactionRecord",
    "Undeliverable",
    "RefusedDelivery",
];

/// `BuyerPrice/Component/Type` (`amzn-base.xsd`).
pub(crate) const PRICE_COMPONENTS: [&str; 17] = [
    "Principal",
    "Shipping",
    "CODFee",
    "Tax",
    "ShippingTax",
    "RestockingFee",
    "RestockingFeeTax",
    "GiftWrap",
    "GiftWrapTax",
    "Surcharge",
    "ReturnShipping",
    "Goodwill",
    "ExportCharge",
    "COD",
    "CODTax",
    "Other",
    "FreeReplacementReturnShipping",
];

/// One `Message` of the envelope: its id and its payload element.
pub(crate) struct Message<'a> {
    pub message_id: u64,
    pub payload: Result<&'a Element, Invalid>,
}

/// `Message{MessageID, OperationType?, <payload>}`; a message without a usable MessageID is reported as 0.
pub(crate) fn message<'a>(message: &'a Element, payload: &str) -> Message<'a> {
    let message_id = match message.required("MessageID").and_then(positive_integer) {
        Ok(id) => id,
        Err(invalid) => return Message { message_id: 0, payload: Err(invalid) },
    };
    Message { message_id, payload: message.required(payload) }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fulfillment {
    pub order_id: String,
    pub merchant_fulfillment_id: Option<String>,
    pub fulfillment_date: DateTime<Utc>,
    pub carrier_code: Option<String>,
    pub carrier_name: Option<String>,
    pub shipping_method: Option<String>,
    pub tracking_number: Option<String>,
    /// No items: every unshipped unit of the order.
    pub items: Vec<FulfillmentItem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FulfillmentItem {
    pub item_id: String,
    /// No quantity: every unshipped unit of the item.
    pub quantity: Option<u32>,
}

pub(crate) fn fulfillment(element: &Element) -> Result<Fulfillment, Invalid> {
    let order_id = amazon_order_id(element)?;
    let fulfillment_date = date_time(element.required("FulfillmentDate")?)?;
    let data = element.child("FulfillmentData");
    let text = |name: &str| data.and_then(|d| d.text_of(name)).filter(|v| !v.is_empty());
    let items = element
        .children_named("Item")
        .map(|item| {
            let quantity = item.child("Quantity").map(non_negative_integer).transpose()?;
            Ok(FulfillmentItem { item_id: amazon_item_code(item)?, quantity })
        })
        .collect::<Result<_, Invalid>>()?;
    Ok(Fulfillment {
        order_id,
        merchant_fulfillment_id: element.text_of("MerchantFulfillmentID").filter(|v| !v.is_empty()),
        fulfillment_date,
        carrier_code: text("CarrierCode"),
        carrier_name: text("CarrierName"),
        shipping_method: text("ShippingMethod"),
        tracking_number: data.and_then(|d| d.text_of("ShipperTrackingNumber")),
        items,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AcknowledgementStatus {
    Success,
    Failure,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Acknowledgement {
    pub order_id: String,
    pub status: AcknowledgementStatus,
    pub items: Vec<AcknowledgedItem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AcknowledgedItem {
    pub item_id: String,
    pub cancel_reason: Option<String>,
}

pub(crate) fn acknowledgement(element: &Element) -> Result<Acknowledgement, Invalid> {
    let order_id = amazon_order_id(element)?;
    let status = match check_enumeration(element.required("StatusCode")?, &["Success", "Failure"])?.as_str() {
        "Failure" => AcknowledgementStatus::Failure,
        _ => AcknowledgementStatus::Success,
    };
    let items = element
        .children_named("Item")
        .map(|item| {
            let cancel_reason =
                item.child("CancelReason").map(|r| check_enumeration(r, &CANCEL_REASONS)).transpose()?;
            Ok(AcknowledgedItem { item_id: amazon_item_code(item)?, cancel_reason })
        })
        .collect::<Result<_, Invalid>>()?;
    Ok(Acknowledgement { order_id, status, items })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Adjustment {
    pub order_id: String,
    pub items: Vec<AdjustedItem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AdjustedItem {
    pub item_id: String,
    pub reason: String,
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Component {
    pub kind: String,
    /// In hundredths of the currency unit, as written (`12.34` → 1234); may be zero or negative.
    pub hundredths: i64,
    pub currency: String,
}

pub(crate) fn adjustment(element: &Element) -> Result<Adjustment, Invalid> {
    let order_id = amazon_order_id(element)?;
    // An adjustment names at least one item.
    element.required("AdjustedItem")?;
    let items = element
        .children_named("AdjustedItem")
        .map(|item| {
            let reason = check_enumeration(item.required("AdjustmentReason")?, &ADJUSTMENT_REASONS)?;
            let components = match item.child("ItemPriceAdjustments") {
                Some(prices) => {
                    prices.required("Component")?;
                    prices.children_named("Component").map(component).collect::<Result<_, Invalid>>()?
                }
                None => Vec::new(),
            };
            Ok(AdjustedItem { item_id: amazon_item_code(item)?, reason, components })
        })
        .collect::<Result<_, Invalid>>()?;
    Ok(Adjustment { order_id, items })
}

fn component(element: &Element) -> Result<Component, Invalid> {
    let kind = check_enumeration(element.required("Type")?, &PRICE_COMPONENTS)?;
    let amount = element.required("Amount")?;
    let currency =
        amount.attribute("currency").map(str::trim).filter(|c| !c.is_empty()).ok_or_else(|| {
            amount.invalid("cvc-complex-type.4: Attribute 'currency' must appear on element 'Amount'.")
        })?;
    Ok(Component { kind, hundredths: hundredths(amount)?, currency: currency.to_string() })
}

fn amazon_order_id(element: &Element) -> Result<String, Invalid> {
    if element.child("AmazonOrderID").is_none() && element.child("MerchantOrderID").is_some() {
        return Err(element.invalid("AmazonOrderID is required: the sandbox does not resolve MerchantOrderID"));
    }
    element.required_text("AmazonOrderID")
}

fn amazon_item_code(item: &Element) -> Result<String, Invalid> {
    if item.child("AmazonOrderItemCode").is_none() && item.child("MerchantOrderItemID").is_some() {
        return Err(item.invalid("AmazonOrderItemCode is required: the sandbox does not resolve MerchantOrderItemID"));
    }
    item.required_text("AmazonOrderItemCode")
}

fn not_a(element: &Element, kind: &str) -> Invalid {
    element.invalid(format!("cvc-datatype-valid.1.2.1: '{}' is not a valid value for '{kind}'.", element.value()))
}

fn positive_integer(element: &Element) -> Result<u64, Invalid> {
    element.value().parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| not_a(element, "positiveInteger"))
}

/// A count; zero passes here so that the order rules can say what is wrong with it.
fn non_negative_integer(element: &Element) -> Result<u32, Invalid> {
    element.value().parse::<u32>().map_err(|_| not_a(element, "integer"))
}

/// `xsd:dateTime`: with an offset or `Z`, or without a zone (taken as UTC).
fn date_time(element: &Element) -> Result<DateTime<Utc>, Invalid> {
    let raw = element.value();
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f").map(|t| t.and_utc()))
        .map_err(|_| not_a(element, "dateTime"))
}

/// `CurrencyAmount`: a decimal with at most two fraction digits.
fn hundredths(element: &Element) -> Result<i64, Invalid> {
    let raw = element.value();
    let (negative, digits) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw.strip_prefix('+').unwrap_or(raw)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let numeric = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !numeric(whole) || !numeric(fraction) || whole.len() > 15 {
        return Err(not_a(element, "decimal"));
    }
    if fraction.len() > 2 {
        return Err(element.invalid(format!(
            "cvc-fractionDigits-valid: Value '{raw}' has {} fraction digits, but the number of fraction digits has been limited to 2.",
            fraction.len()
        )));
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| not_a(element, "decimal"))? };
    let cents: i64 = format!("{fraction:0<2}").parse().map_err(|_| not_a(element, "decimal"))?;
    let value = whole * 100 + cents;
    Ok(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feeds::xml::parse;

    fn root(xml: &str) -> Element {
        parse(xml.as_bytes()).unwrap()
    }

    #[test]
    fn reads_a_fulfillment() {
        let element = root(
            "<OrderFulfillment><AmazonOrderID>111-1</AmazonOrderID><MerchantFulfillmentID>7</MerchantFulfillmentID>\
             <FulfillmentDate>2026-03-01T10:00:00-08:00</FulfillmentDate><FulfillmentData><CarrierName>Pony</CarrierName>\
             <ShippingMethod>Ground</ShippingMethod><ShipperTrackingNumber> PX1 </ShipperTrackingNumber></FulfillmentData>\
             <Item><AmazonOrderItemCode>1</AmazonOrderItemCode><Quantity>2</Quantity></Item>\
             <Item><AmazonOrderItemCode>2</AmazonOrderItemCode></Item></OrderFulfillment>",
        );
        let f = fulfillment(&element).unwrap();
        assert_eq!(f.order_id, "111-1");
        assert_eq!(f.merchant_fulfillment_id.as_deref(), Some("7"));
        assert_eq!(crate::time::format_iso(f.fulfillment_date), "2026-03-01T18:00:00Z");
        assert_eq!((f.carrier_code, f.carrier_name.as_deref()), (None, Some("Pony")));
        assert_eq!(f.tracking_number.as_deref(), Some("PX1"));
        assert_eq!(f.items[0], FulfillmentItem { item_id: "1".into(), quantity: Some(2) });
        assert_eq!(f.items[1].quantity, None);

        let no_zone = root(
            "<OrderFulfillment><AmazonOrderID>1</AmazonOrderID><FulfillmentDate>2026-03-01T10:00:00</FulfillmentDate></OrderFulfillment>",
        );
        assert_eq!(crate::time::format_iso(fulfillment(&no_zone).unwrap().fulfillment_date), "2026-03-01T10:00:00Z");
    }

    #[test]
    fn schema_violations_are_invalid_messages() {
        let error = |xml: &str| fulfillment(&root(xml)).unwrap_err().message;
        assert!(
            error("<OrderFulfillment><AmazonOrderID>1</AmazonOrderID></OrderFulfillment>")
                .contains("'{FulfillmentDate}' is expected")
        );
        assert!(error("<OrderFulfillment><AmazonOrderID>1</AmazonOrderID><FulfillmentDate>yesterday</FulfillmentDate></OrderFulfillment>")
            .contains("'yesterday' is not a valid value for 'dateTime'"));
        assert!(error("<OrderFulfillment><MerchantOrderID>M1</MerchantOrderID><FulfillmentDate>2026-03-01T10:00:00Z</FulfillmentDate></OrderFulfillment>")
            .contains("MerchantOrderID"));
        assert!(error("<OrderFulfillment><AmazonOrderID>1</AmazonOrderID><FulfillmentDate>2026-03-01T10:00:00Z</FulfillmentDate><Item><AmazonOrderItemCode>1</AmazonOrderItemCode><Quantity>two</Quantity></Item></OrderFulfillment>")
            .contains("'two' is not a valid value for 'integer'"));
        let message = root("<Message><MessageID>0</MessageID><OrderFulfillment/></Message>");
        assert!(super::message(&message, "OrderFulfillment").payload.unwrap_err().message.contains("positiveInteger"));
    }

    #[test]
    fn reads_acknowledgements() {
        let element = root(
            "<OrderAcknowledgement><AmazonOrderID>1</AmazonOrderID><StatusCode>Success</StatusCode>\
             <Item><AmazonOrderItemCode>9</AmazonOrderItemCode><CancelReason>NoInventory</CancelReason></Item></OrderAcknowledgement>",
        );
        let ack = acknowledgement(&element).unwrap();
        assert_eq!(ack.status, AcknowledgementStatus::Success);
        assert_eq!(ack.items[0].cancel_reason.as_deref(), Some("NoInventory"));
        let bad = root(
            "<OrderAcknowledgement><AmazonOrderID>1</AmazonOrderID><StatusCode>Failure</StatusCode><Item><AmazonOrderItemCode>9</AmazonOrderItemCode><CancelReason>Bored</CancelReason></Item></OrderAcknowledgement>",
        );
        assert!(acknowledgement(&bad).unwrap_err().message.contains("Value 'Bored' is not facet-valid"));
        let bad = root(
            "<OrderAcknowledgement><AmazonOrderID>1</AmazonOrderID><StatusCode>Maybe</StatusCode></OrderAcknowledgement>",
        );
        assert!(acknowledgement(&bad).is_err());
    }

    #[test]
    fn reads_adjustments_and_amounts() {
        let element = root(
            "<OrderAdjustment><AmazonOrderID>1</AmazonOrderID><AdjustedItem><AmazonOrderItemCode>9</AmazonOrderItemCode>\
             <AdjustmentReason>CustomerReturn</AdjustmentReason><ItemPriceAdjustments>\
             <Component><Type>Principal</Type><Amount currency=\"USD\">12.3</Amount></Component>\
             <Component><Type>Shipping</Type><Amount currency=\"USD\">-0.05</Amount></Component>\
             </ItemPriceAdjustments></AdjustedItem></OrderAdjustment>",
        );
        let adjustment = adjustment(&element).unwrap();
        let components = &adjustment.items[0].components;
        assert_eq!((components[0].kind.as_str(), components[0].hundredths), ("Principal", 1230));
        assert_eq!(components[1].hundredths, -5);
        let amount = |value: &str| hundredths(&root(&format!("<Amount>{value}</Amount>")));
        assert_eq!(amount("7").unwrap(), 700);
        assert_eq!(amount(".5").unwrap(), 50);
        assert!(amount("1.234").unwrap_err().message.contains("fraction digits"));
        assert!(amount("ten").is_err());
        assert!(amount("").is_err());
        let no_currency = root(
            "<OrderAdjustment><AmazonOrderID>1</AmazonOrderID><AdjustedItem><AmazonOrderItemCode>9</AmazonOrderItemCode><AdjustmentReason>Other</AdjustmentReason><ItemPriceAdjustments><Component><Type>Principal</Type><Amount>1</Amount></Component></ItemPriceAdjustments></AdjustedItem></OrderAdjustment>",
        );
        assert!(super::adjustment(&no_currency).unwrap_err().message.contains("Attribute 'currency'"));
        let bad_reason = root(
            "<OrderAdjustment><AmazonOrderID>1</AmazonOrderID><AdjustedItem><AmazonOrderItemCode>9</AmazonOrderItemCode><AdjustmentReason>Whim</AdjustmentReason></AdjustedItem></OrderAdjustment>",
        );
        assert!(super::adjustment(&bad_reason).is_err());
    }
}
