//! What a feed does to the orders when it finishes: the envelope is checked as a whole (any fault there makes
//! the feed FATAL), then each message is applied on its own, with confirmShipment's rules for fulfillment,
//! cancellations for acknowledgements and refunds for adjustments. Every change raises ORDER_CHANGE, dated when
//! the feed finished.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::FeedType;
use super::messages::{self, Acknowledgement, AcknowledgementStatus, Adjustment, Fulfillment};
use super::report::ResultMessageCode;
use super::xml::{self, Element};
use crate::orders::{CancellationExecution, FulfilledBy, FulfillmentStatus, ItemCancellation, Money, Order, OrderItem};
use crate::routes::shipment::{self, PackageRequest, is_positive_integer};
use crate::sites::{SITES, Site};
use crate::state::Inner;

/// A finishing feed: what it was created with and when it finishes.
pub(crate) struct Job {
    pub feed_id: String,
    pub feed_type: FeedType,
    pub marketplace_ids: Vec<String>,
    pub region: &'static str,
    pub at: DateTime<Utc>,
    /// The input document's bytes (`None`: never uploaded).
    pub document: Option<Vec<u8>>,
}

/// What processing found: a fault of the whole feed, or how each message fared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fatal: Option<Finding>,
    pub messages: Vec<MessageOutcome>,
}

impl Outcome {
    pub fn count(&self, severity: Severity) -> usize {
        self.messages.iter().filter(|m| m.finding.as_ref().is_some_and(|f| f.severity == severity)).count()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageOutcome {
    pub message_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// `None`: applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<Finding>,
}

/// One `Result` of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    #[serde(rename = "resultCode")]
    pub severity: Severity,
    #[serde(rename = "resultMessageCode", serialize_with = "code_number")]
    pub code: ResultMessageCode,
    #[serde(rename = "resultDescription")]
    pub description: String,
}

fn code_number<S: serde::Serializer>(code: &ResultMessageCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u32(code.code())
}

impl Finding {
    fn error(code: ResultMessageCode, description: impl Into<String>) -> Self {
        Self { severity: Severity::Error, code, description: description.into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Severity {
    Error,
    Warning,
}

/// A message the orders refuse, naming the item when it is about one.
struct Rejection {
    description: String,
    item_id: Option<String>,
}

fn reject(description: impl Into<String>) -> Rejection {
    Rejection { description: description.into(), item_id: None }
}

fn reject_item(item_id: &str, description: impl Into<String>) -> Rejection {
    Rejection { description: description.into(), item_id: Some(item_id.to_string()) }
}

/// confirmShipment's refusal, word for word.
fn refused(error: crate::error::ApiError) -> Rejection {
    reject(error.message)
}

pub(crate) fn run(inner: &mut Inner, job: &Job) -> Outcome {
    let root = match envelope(&inner.seller_id, job) {
        Ok(root) => root,
        Err(fatal) => return Outcome { fatal: Some(fatal), messages: Vec::new() },
    };
    let messages = root.children_named("Message").map(|message| apply_message(inner, job, message)).collect();
    Outcome { fatal: None, messages }
}

/// The document must be an `AmazonEnvelope` of this seller, for this feed type, with at least one message.
fn envelope(seller_id: &str, job: &Job) -> Result<Element, Finding> {
    let root = xml::parse(job.document.as_deref().unwrap_or_default())
        .map_err(|e| Finding::error(ResultMessageCode::NotWellFormed, e.to_string()))?;
    let invalid = |e: xml::Invalid| Finding::error(ResultMessageCode::SchemaInvalid, e.to_string());
    if root.name != "AmazonEnvelope" {
        let message = format!("cvc-elt.1: Cannot find the declaration of element '{}'.", root.name);
        return Err(invalid(root.invalid(message)));
    }
    let header = root.required("Header").map_err(invalid)?;
    let merchant = header.required("MerchantIdentifier").map_err(invalid)?;
    let message_type = root.required("MessageType").map_err(invalid)?;
    let expected = job.feed_type.message_type();
    if message_type.value() != expected {
        return Err(invalid(message_type.invalid(format!(
            "MessageType '{}' does not match the feed type {}, whose messages are {expected}",
            message_type.value(),
            job.feed_type.as_str()
        ))));
    }
    if merchant.value() != seller_id {
        return Err(invalid(merchant.invalid(format!(
            "MerchantIdentifier '{}' is not the selling partner that submitted the feed ({seller_id})",
            merchant.value()
        ))));
    }
    root.required("Message").map_err(invalid)?;
    Ok(root)
}

fn apply_message(inner: &mut Inner, job: &Job, element: &Element) -> MessageOutcome {
    let payload_name = job.feed_type.message_type();
    let message = messages::message(element, payload_name);
    // The report names the order even when the message cannot be read.
    let order_id = element.child(payload_name).and_then(|p| p.text_of("AmazonOrderID")).filter(|id| !id.is_empty());
    let mut outcome = MessageOutcome { message_id: message.message_id, order_id, item_id: None, finding: None };
    let applied = message.payload.and_then(|payload| {
        Ok(match job.feed_type {
            FeedType::OrderFulfillment => fulfill(inner, job, &messages::fulfillment(payload)?),
            FeedType::OrderAcknowledgement => acknowledge(inner, job, &messages::acknowledgement(payload)?),
            FeedType::PaymentAdjustment => adjust(inner, job, &messages::adjustment(payload)?),
        })
    });
    match applied {
        Ok(Ok(())) => {}
        Ok(Err(rejection)) => {
            outcome.finding = Some(Finding::error(ResultMessageCode::Rejected, rejection.description));
            outcome.item_id = rejection.item_id;
        }
        Err(invalid) => outcome.finding = Some(Finding::error(ResultMessageCode::SchemaInvalid, invalid.to_string())),
    }
    outcome
}

/// The order a message names, if this host knows it and the feed was submitted for its marketplace.
fn order_for<'a>(inner: &'a Inner, job: &Job, order_id: &str) -> Result<&'a Order, Rejection> {
    let order = inner
        .order(order_id)
        .filter(|o| Site::find(o.marketplace_id()).is_none_or(|site| site.region == job.region))
        .ok_or_else(|| reject(format!("Order {order_id} not found")))?;
    if !job.marketplace_ids.iter().any(|m| m == order.marketplace_id()) {
        return Err(reject(format!(
            "Order {order_id} belongs to marketplace {}, which the feed was not submitted for",
            order.marketplace_id()
        )));
    }
    Ok(order)
}

fn unshipped(item: &OrderItem) -> u32 {
    item.fulfillment.as_ref().map_or(item.quantity_ordered, |f| f.quantity_unfulfilled)
}

fn shipped(item: &OrderItem) -> u32 {
    item.fulfillment.as_ref().map_or(0, |f| f.quantity_fulfilled)
}

fn site_of(order: &Order) -> &'static Site {
    Site::find(order.marketplace_id()).unwrap_or(&SITES[0])
}

// ---------------------------------------------------------------------------------------------------------
// POST_ORDER_FULFILLMENT_DATA

fn fulfill(inner: &mut Inner, job: &Job, message: &Fulfillment) -> Result<(), Rejection> {
    let order_id = message.order_id.as_str();
    let order = order_for(inner, job, order_id)?;
    let reference = package_reference(inner, order, message.merchant_fulfillment_id.as_deref());
    let (carrier_code, carrier_name) = match (&message.carrier_code, &message.carrier_name) {
        (Some(code), name) => (code.clone(), name.clone()),
        // Amazon takes a CarrierName without a CarrierCode as carrier "Other".
        (None, Some(name)) => ("Other".to_string(), Some(name.clone())),
        (None, None) => return Err(reject("FulfillmentData must name the carrier: CarrierCode or CarrierName")),
    };
    let request = PackageRequest {
        marketplace_id: order.marketplace_id().to_string(),
        package_reference_id: reference.clone(),
        carrier_code,
        carrier_name,
        shipping_method: message.shipping_method.clone(),
        tracking_number: message.tracking_number.clone().unwrap_or_default(),
        ship_date: message.fulfillment_date,
        items: package_items(order, &reference, message)?,
    };
    let confirmation = shipment::validate(request).map_err(refused)?;
    let key = (order_id.to_string(), reference.clone());
    let unchanged = inner.confirmations.get(&key) == Some(&confirmation);
    shipment::apply_at(inner, order_id, confirmation, job.at).map_err(refused)?;
    if let Some(merchant_id) = message.merchant_fulfillment_id.as_ref().filter(|id| !is_positive_integer(id)) {
        inner.feeds.fulfillment_references.insert((order_id.to_string(), merchant_id.clone()), reference);
    }
    if !unchanged {
        inner.touch_at(order_id, None, job.at);
    }
    Ok(())
}

/// A numeric MerchantFulfillmentID is the packageReferenceId (its resend updates that package); any other gets
/// the order's next free reference once, and keeps it.
fn package_reference(inner: &Inner, order: &Order, merchant_id: Option<&str>) -> String {
    if let Some(id) = merchant_id {
        if is_positive_integer(id) {
            return id.to_string();
        }
        if let Some(reference) = inner.feeds.fulfillment_references.get(&(order.order_id.clone(), id.to_string())) {
            return reference.clone();
        }
    }
    let taken = |n: u64| order.packages.iter().flatten().any(|p| p.package_reference_id == n.to_string());
    (1..).find(|n| !taken(*n)).unwrap_or(1).to_string()
}

/// The message's items; without any, every unit still to ship (counting those already in the package being
/// updated, so that resending a message is an update with the same content).
fn package_items(order: &Order, reference: &str, message: &Fulfillment) -> Result<Vec<(String, u32)>, Rejection> {
    let in_package = |item_id: &str| -> u32 {
        order
            .packages
            .iter()
            .flatten()
            .filter(|p| p.package_reference_id == reference)
            .flat_map(|p| &p.package_items)
            .filter(|i| i.order_item_id == item_id)
            .map(|i| i.quantity)
            .sum()
    };
    let available = |item: &OrderItem| unshipped(item) + in_package(&item.order_item_id);
    if message.items.is_empty() {
        let all: Vec<(String, u32)> = order
            .order_items
            .iter()
            .filter(|i| available(i) > 0)
            .map(|i| (i.order_item_id.clone(), available(i)))
            .collect();
        if all.is_empty() && order.status() == Some(FulfillmentStatus::Shipped) {
            return Err(refused(crate::error::ApiError::package_to_update_not_found()));
        }
        if all.is_empty() {
            return Err(reject(format!("Order {} has no unshipped units to confirm", order.order_id)));
        }
        return Ok(all);
    }
    message
        .items
        .iter()
        .map(|item| match (item.quantity, order.item(&item.item_id)) {
            (Some(quantity), _) => Ok((item.item_id.clone(), quantity)),
            (None, Some(order_item)) if available(order_item) > 0 => Ok((item.item_id.clone(), available(order_item))),
            (None, Some(_)) => Err(reject_item(
                &item.item_id,
                format!("AmazonOrderItemCode {} of order {} has no unshipped units", item.item_id, order.order_id),
            )),
            // The shipment rules name the unknown item.
            (None, None) => Ok((item.item_id.clone(), 1)),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// POST_ORDER_ACKNOWLEDGEMENT_DATA

fn acknowledge(inner: &mut Inner, job: &Job, message: &Acknowledgement) -> Result<(), Rejection> {
    let order_id = message.order_id.as_str();
    let order = order_for(inner, job, order_id)?;
    for item in &message.items {
        if order.item(&item.item_id).is_none() {
            return Err(unknown_item(order, &item.item_id));
        }
    }
    let cancelling: Vec<(&str, &str)> = message
        .items
        .iter()
        .filter_map(|i| i.cancel_reason.as_deref().map(|reason| (i.item_id.as_str(), reason)))
        .collect();
    match message.status {
        AcknowledgementStatus::Failure => {
            check_cancellable(order)?;
            if let Some(item) = order.order_items.iter().find(|i| shipped(i) > 0) {
                return Err(reject(format!(
                    "Order {order_id} cannot be cancelled: {} unit(s) of AmazonOrderItemCode {} have shipped",
                    shipped(item),
                    item.order_item_id
                )));
            }
            let reason = cancelling.first().map(|(_, reason)| reason.to_string());
            let Some(order) = inner.order_mut(order_id) else {
                return Err(reject(format!("Order {order_id} not found")));
            };
            for item in order.order_items.iter_mut().filter(|i| i.cancellation.is_none()) {
                item.cancellation = Some(cancelled_by_merchant(reason.clone()));
            }
            cancel_order(order);
        }
        // A plain acknowledgement: nothing changes.
        AcknowledgementStatus::Success if cancelling.is_empty() => return Ok(()),
        AcknowledgementStatus::Success => {
            check_cancellable(order)?;
            for (item_id, _) in &cancelling {
                let Some(item) = order.item(item_id) else { return Err(unknown_item(order, item_id)) };
                if item.cancellation.is_some() {
                    return Err(reject_item(
                        item_id,
                        format!("AmazonOrderItemCode {item_id} of order {order_id} is already cancelled"),
                    ));
                }
                if shipped(item) > 0 {
                    return Err(reject_item(
                        item_id,
                        format!(
                            "AmazonOrderItemCode {item_id} of order {order_id} cannot be cancelled: {} unit(s) have shipped",
                            shipped(item)
                        ),
                    ));
                }
            }
            let Some(order) = inner.order_mut(order_id) else {
                return Err(reject(format!("Order {order_id} not found")));
            };
            for (item_id, reason) in &cancelling {
                if let Some(item) = order.order_items.iter_mut().find(|i| i.order_item_id == *item_id) {
                    item.cancellation = Some(cancelled_by_merchant(Some(reason.to_string())));
                    if let Some(fulfillment) = item.fulfillment.as_mut() {
                        // Nothing of it is left to ship.
                        fulfillment.quantity_unfulfilled = 0;
                    }
                }
            }
            if order.order_items.iter().all(|i| i.cancellation.is_some()) {
                cancel_order(order);
            } else {
                shipment::update_status(order);
            }
        }
    }
    inner.touch_at(order_id, None, job.at);
    Ok(())
}

fn unknown_item(order: &Order, item_id: &str) -> Rejection {
    reject_item(item_id, format!("AmazonOrderItemCode {item_id} is not an item of order {}", order.order_id))
}

/// What a seller may cancel at all: its own, not yet cancelled, paid-for orders.
fn check_cancellable(order: &Order) -> Result<(), Rejection> {
    let id = &order.order_id;
    if order.fulfilled_by() != Some(FulfilledBy::Merchant) {
        return Err(reject(format!(
            "Order {id} is fulfilled by Amazon; only merchant-fulfilled orders can be cancelled by the seller"
        )));
    }
    match order.status() {
        Some(FulfillmentStatus::Cancelled) => Err(reject(format!("Order {id} is already cancelled"))),
        Some(
            status @ (FulfillmentStatus::Pending
            | FulfillmentStatus::PendingAvailability
            | FulfillmentStatus::Unfulfillable),
        ) => Err(reject(format!("Order {id} cannot be cancelled in fulfillment status {status}"))),
        _ => Ok(()),
    }
}

fn cancelled_by_merchant(reason: Option<String>) -> ItemCancellation {
    ItemCancellation {
        cancellation_execution: Some(CancellationExecution { cancelled_by: "MERCHANT".into(), cancel_reason: reason }),
    }
}

/// As the sandbox's seeded cancelled orders are: CANCELLED, without a shipping address.
fn cancel_order(order: &mut Order) {
    if let Some(fulfillment) = order.fulfillment.as_mut() {
        fulfillment.fulfillment_status = FulfillmentStatus::Cancelled;
    }
    order.recipient = None;
}

// ---------------------------------------------------------------------------------------------------------
// POST_PAYMENT_ADJUSTMENT_DATA

fn adjust(inner: &mut Inner, job: &Job, message: &Adjustment) -> Result<(), Rejection> {
    let order_id = message.order_id.as_str();
    let order = order_for(inner, job, order_id)?;
    let site = site_of(order);
    if order.proceeds.is_none() {
        return Err(reject(format!("Order {order_id} has not been charged: there is no payment to adjust")));
    }
    let money = |minor: u64| format!("{} {}", Money::in_currency(minor, site).amount, site.currency);
    // (item, amount) in the currency's minor unit, repeated items added up.
    let mut refunds: Vec<(String, u64)> = Vec::new();
    for adjusted in &message.items {
        let item_id = adjusted.item_id.as_str();
        let item = order.item(item_id).ok_or_else(|| unknown_item(order, item_id))?;
        if shipped(item) == 0 {
            return Err(reject_item(
                item_id,
                format!(
                    "AmazonOrderItemCode {item_id} of order {order_id} has not shipped: cancel it (POST_ORDER_ACKNOWLEDGEMENT_DATA) rather than refund it"
                ),
            ));
        }
        if adjusted.components.is_empty() {
            return Err(reject_item(
                item_id,
                format!("AdjustedItem {item_id} has no ItemPriceAdjustments: there is nothing to refund"),
            ));
        }
        let mut total: u64 = 0;
        for component in &adjusted.components {
            if component.currency != site.currency {
                return Err(reject_item(
                    item_id,
                    format!(
                        "The {} amount for AmazonOrderItemCode {item_id} is in {}, but order {order_id} was paid in {}",
                        component.kind, component.currency, site.currency
                    ),
                ));
            }
            if component.hundredths <= 0 {
                return Err(reject_item(
                    item_id,
                    format!("The {} amount for AmazonOrderItemCode {item_id} must be positive", component.kind),
                ));
            }
            let minor = to_minor_units(component.hundredths, site).ok_or_else(|| {
                reject_item(
                    item_id,
                    format!(
                        "{} amounts have no decimals ({} for AmazonOrderItemCode {item_id})",
                        site.currency, component.kind
                    ),
                )
            })?;
            total = total.saturating_add(minor);
        }
        match refunds.iter_mut().find(|(id, _)| id == item_id) {
            Some((_, sum)) => *sum = sum.saturating_add(total),
            None => refunds.push((item_id.to_string(), total)),
        }
    }
    for (item_id, amount) in &refunds {
        let paid = refundable(order, item_id);
        let refunded = inner.refunds.get(&(order_id.to_string(), item_id.clone())).copied().unwrap_or(0);
        let remaining = paid.saturating_sub(refunded);
        if remaining == 0 {
            return Err(reject_item(
                item_id,
                format!(
                    "AmazonOrderItemCode {item_id} of order {order_id} is already fully refunded ({} refunded)",
                    money(refunded)
                ),
            ));
        }
        if *amount > remaining {
            return Err(reject_item(
                item_id,
                format!(
                    "The refund of {} for AmazonOrderItemCode {item_id} of order {order_id} exceeds the {} that remains refundable ({} paid, {} already refunded)",
                    money(*amount),
                    money(remaining),
                    money(paid),
                    money(refunded)
                ),
            ));
        }
    }
    for (item_id, amount) in refunds {
        *inner.refunds.entry((order_id.to_string(), item_id)).or_default() += amount;
    }
    inner.touch_at(order_id, None, job.at);
    Ok(())
}

/// What was paid for an item: its price times its quantity, plus (on the first item) the order's shipping,
/// which the sandbox's orders hold once per order (grand total − item prices). They carry no tax.
fn refundable(order: &Order, item_id: &str) -> u64 {
    let site = site_of(order);
    let principal = |item: &OrderItem| {
        let unit = item.product.price.as_ref().and_then(|p| minor_units(&p.unit_price.amount, site)).unwrap_or(0);
        unit.saturating_mul(u64::from(item.quantity_ordered))
    };
    let Some(item) = order.item(item_id) else { return 0 };
    let items_total: u64 = order.order_items.iter().map(principal).sum();
    let grand_total = order.proceeds.as_ref().and_then(|p| minor_units(&p.grand_total.amount, site)).unwrap_or(0);
    let first = order.order_items.first().is_some_and(|i| i.order_item_id == item_id);
    principal(item) + if first { grand_total.saturating_sub(items_total) } else { 0 }
}

/// A Money amount as written for the site (`12.34`, or `1234` for the yen) in its minor unit.
pub(crate) fn minor_units(amount: &str, site: &Site) -> Option<u64> {
    let (whole, fraction) = amount.trim().split_once('.').unwrap_or((amount.trim(), ""));
    let decimals = site.currency_decimals() as usize;
    if fraction.len() > decimals || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let scale = 10u64.pow(site.currency_decimals());
    let fraction: u64 = if fraction.is_empty() { 0 } else { format!("{fraction:0<decimals$}").parse().ok()? };
    whole.parse::<u64>().ok()?.checked_mul(scale)?.checked_add(fraction)
}

/// An amount in hundredths (as feeds write them) in the site's minor unit; `None` if it has cents the currency
/// does not.
fn to_minor_units(hundredths: i64, site: &Site) -> Option<u64> {
    let hundredths = u64::try_from(hundredths).ok()?;
    match site.currency_decimals() {
        0 => (hundredths % 100 == 0).then_some(hundredths / 100),
        _ => Some(hundredths),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_in_minor_units() {
        let us = Site::find("ATVPDKIKX0DER").unwrap();
        let japan = Site::find("A1VC38T7YXB528").unwrap();
        assert_eq!(minor_units("12.34", us), Some(1234));
        assert_eq!(minor_units("12.3", us), Some(1230));
        assert_eq!(minor_units("12", us), Some(1200));
        assert_eq!(minor_units("1234", japan), Some(1234));
        assert_eq!(minor_units("12.345", us), None);
        assert_eq!(to_minor_units(1200, japan), Some(12));
        assert_eq!(to_minor_units(1250, japan), None);
        assert_eq!(to_minor_units(1250, us), Some(1250));
        assert_eq!(to_minor_units(-1, us), None);
    }
}
