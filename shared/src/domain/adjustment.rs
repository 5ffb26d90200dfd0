//! Cancellations and refunds the store asks of Amazon: checked against the order before anything is
//! sent, and written as the order feeds Amazon takes them in (`POST_ORDER_ACKNOWLEDGEMENT_DATA` with a
//! cancel reason, `POST_PAYMENT_ADJUSTMENT_DATA` with amounts per item). A cancellation that would
//! refund nothing, a refund of nothing or of more than was paid, and lines the order does not hold are
//! refused here, naming the order.
use std::fmt::{self, Write as _};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::connection::ProductIdentifier;
use super::feed::{open_envelope, xml_text};
use super::ids::{AmazonOrderId, ConnectionId, EventId, OrderItemId, SellerId};
use super::order::{Order, OrderItem};
use super::shipment::{ItemRef, remaining};
use super::status::{FulfilledBy, OrderStatus};

pub const ORDER_ACKNOWLEDGEMENT_FEED: &str = "POST_ORDER_ACKNOWLEDGEMENT_DATA";
pub const PAYMENT_ADJUSTMENT_FEED: &str = "POST_PAYMENT_ADJUSTMENT_DATA";

/// Defines a closed set of Amazon's names, read from Amazon's spelling or its snake_case
/// (`NoInventory`, `no_inventory`), case-insensitively.
macro_rules! amazon_names {
    ($(#[$doc:meta])* $name:ident, $what:literal, [$($variant:ident),+ $(,)?]) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$(Self::$variant),+];

            /// Amazon's spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => stringify!($variant)),+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;

            fn from_str(raw: &str) -> Result<Self, UnknownName> {
                let wanted: String = raw.chars().filter(|c| *c != '_').collect();
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(wanted.trim())).ok_or_else(|| {
                    UnknownName {
                        what: $what,
                        known: Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
                    }
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A name outside one of Amazon's lists (the value itself is not quoted: it is the store's free text).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("not one of Amazon's {what}s ({known})")]
pub struct UnknownName {
    pub what: &'static str,
    pub known: String,
}

amazon_names!(
    /// Why the merchant cancels (the acknowledgement feed's `CancelReason`).
    CancelReason, "cancel reason", [
        NoInventory, ShippingAddressUndeliverable, CustomerExchange, BuyerCanceled, GeneralAdjustment,
        CarrierCreditDecision, RiskAssessmentInformationNotValid, CarrierCoverageFailure, CustomerReturn,
        MerchandiseNotReceived,
    ]
);

amazon_names!(
    /// Why the merchant refunds (the payment adjustment feed's `AdjustmentReason`).
    RefundReason, "adjustment reason", [
        NoInventory, CustomerReturn, GeneralAdjustment, CouldNotShip, DifferentItem, Abandoned, CustomerCancel,
        PriceError, ProductOutofStock, CustomerAddressIncorrect, Exchange, Other, CarrierCreditDecision,
        RiskAssessmentInformationNotValid, CarrierCoverageFailure, TransactionRecord, Undeliverable,
        RefusedDelivery,
    ]
);

/// An amount of money in hundredths of its currency unit, never negative.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Amount(pub u64);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("not an amount: a number with at most two decimals and no sign, such as 12.50")]
pub struct InvalidAmount;

impl FromStr for Amount {
    type Err = InvalidAmount;

    fn from_str(raw: &str) -> Result<Self, InvalidAmount> {
        let (units, hundredths) = raw.trim().split_once('.').unwrap_or((raw.trim(), ""));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(units) || !(hundredths.is_empty() || digits(hundredths)) || hundredths.len() > 2 {
            return Err(InvalidAmount);
        }
        let units: u64 = units.parse().map_err(|_| InvalidAmount)?;
        let hundredths: u64 = format!("{hundredths:0<2}").parse().map_err(|_| InvalidAmount)?;
        units.checked_mul(100).and_then(|u| u.checked_add(hundredths)).map(Amount).ok_or(InvalidAmount)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// `order.cancelled`: the whole order, or some of its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancellationRequest {
    pub order_id: AmazonOrderId,
    pub reason: CancelReason,
    /// The lines to cancel; none: every line with units left to cancel.
    pub lines: Vec<ItemRef>,
}

/// `order.refunded`: amounts per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub order_id: AmazonOrderId,
    pub reason: RefundReason,
    pub lines: Vec<RefundLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundLine {
    pub item: ItemRef,
    /// Units the refund is for (what the principal is checked against).
    pub quantity: u32,
    pub principal: Amount,
    pub shipping: Amount,
    pub tax: Amount,
}

/// A cancellation or a refund the store asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdjustmentRequest {
    Cancel(CancellationRequest),
    Refund(RefundRequest),
}

impl AdjustmentRequest {
    pub fn order_id(&self) -> &AmazonOrderId {
        match self {
            Self::Cancel(request) => &request.order_id,
            Self::Refund(request) => &request.order_id,
        }
    }

    /// Reads every line's reference as the connection's product identifier does ([`ItemRef::named_by`]).
    pub fn named_by(mut self, identifier: ProductIdentifier) -> Self {
        match &mut self {
            Self::Cancel(request) => {
                request.lines = request.lines.drain(..).map(|item| item.named_by(identifier)).collect();
            }
            Self::Refund(request) => {
                for line in &mut request.lines {
                    line.item = line.item.clone().named_by(identifier);
                }
            }
        }
        self
    }

    /// What goes to Amazon for the order ([`plan_cancellation`], [`plan_refund`]).
    pub fn plan(&self, order: &Order) -> Result<AdjustmentKind, AdjustmentRejected> {
        match self {
            Self::Cancel(request) => plan_cancellation(order, request),
            Self::Refund(request) => plan_refund(order, request),
        }
    }
}

/// What goes to Amazon, per order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AdjustmentKind {
    Cancellation { reason: CancelReason, items: Vec<OrderItemId> },
    Refund { reason: RefundReason, currency: String, items: Vec<RefundedItem> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundedItem {
    pub order_item_id: OrderItemId,
    pub quantity: u32,
    pub principal: Amount,
    pub shipping: Amount,
    pub tax: Amount,
}

impl AdjustmentKind {
    /// "cancellation" or "refund".
    pub fn name(&self) -> &'static str {
        match self {
            Self::Cancellation { .. } => "cancellation",
            Self::Refund { .. } => "refund",
        }
    }

    pub fn feed_type(&self) -> &'static str {
        match self {
            Self::Cancellation { .. } => ORDER_ACKNOWLEDGEMENT_FEED,
            Self::Refund { .. } => PAYMENT_ADJUSTMENT_FEED,
        }
    }
}

/// A cancellation or refund on its way to Amazon, from the store's event to Amazon's answer. It goes
/// by feed only: Amazon has no call for either.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    /// The store's event that asked for it.
    pub id: EventId,
    pub order_id: AmazonOrderId,
    pub connection_id: ConnectionId,
    #[serde(flatten)]
    pub kind: AdjustmentKind,
    pub state: AdjustmentState,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AdjustmentState {
    /// In its connection's backlog for the next feed of its type.
    AwaitingFeed { since: DateTime<Utc> },
    /// Message `message_id` of our feed record `feed`.
    InFeed { feed: String, message_id: u32, at: DateTime<Utc> },
    /// Amazon applied it.
    Done {
        feed_id: String,
        at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    },
    /// Amazon refused it, or it could not be known whether Amazon applied it: the reason says which,
    /// naming the order, for the merchant to act on.
    Failed { reason: String, at: DateTime<Utc> },
}

impl AdjustmentState {
    pub fn name(&self) -> &'static str {
        match self {
            Self::AwaitingFeed { .. } => "awaiting_feed",
            Self::InFeed { .. } => "in_feed",
            Self::Done { .. } => "done",
            Self::Failed { .. } => "failed",
        }
    }
}

impl Adjustment {
    pub fn new(id: EventId, order: &Order, kind: AdjustmentKind, now: DateTime<Utc>) -> Self {
        Self {
            id,
            order_id: order.id().clone(),
            connection_id: order.connection_id.clone(),
            kind,
            state: AdjustmentState::AwaitingFeed { since: now },
            created_at: now,
        }
    }

    /// The same adjustment, ended: books Amazon's refusal back on the order with [`release_adjustment`].
    pub fn into_ended(self, state: AdjustmentState) -> Self {
        Self { state, ..self }
    }
}

/// Books an adjustment on its order before it goes to Amazon: cancelled lines take no shipment and
/// cannot be cancelled again; refunded principal counts against later refunds.
pub fn reserve_adjustment(order: &mut Order, adjustment: &Adjustment) {
    match &adjustment.kind {
        AdjustmentKind::Cancellation { items, .. } => order.local.cancelling.extend(items.iter().cloned()),
        AdjustmentKind::Refund { items, .. } => {
            for item in items {
                let refunded = order.local.refunded.entry(item.order_item_id.clone()).or_default();
                refunded.0 = refunded.0.saturating_add(item.principal.0);
            }
        }
    }
}

/// Gives back what [`reserve_adjustment`] booked, for an adjustment Amazon did not apply.
pub fn release_adjustment(order: &mut Order, adjustment: &Adjustment) {
    match &adjustment.kind {
        AdjustmentKind::Cancellation { items, .. } => {
            order.local.cancelling.retain(|line| !items.contains(line));
        }
        AdjustmentKind::Refund { items, .. } => {
            for item in items {
                if let Some(refunded) = order.local.refunded.get_mut(&item.order_item_id) {
                    refunded.0 = refunded.0.saturating_sub(item.principal.0);
                    if refunded.0 == 0 {
                        order.local.refunded.remove(&item.order_item_id);
                    }
                }
            }
        }
    }
}

/// Why a cancellation or refund is refused before anything goes to Amazon. Messages name the order
/// and line, never the store's free text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AdjustmentRejected {
    #[error("order {order_id} is fulfilled by Amazon; Amazon handles its cancellations and refunds")]
    FulfilledByAmazon { order_id: AmazonOrderId },
    #[error("order {order_id} is already cancelled")]
    AlreadyCancelled { order_id: AmazonOrderId },
    #[error("cancelling order {order_id} would refund nothing: every unit {scope} has shipped or is in a package")]
    NothingToCancel { order_id: AmazonOrderId, scope: String },
    #[error("order {order_id} line {item} is already being cancelled")]
    CancellationPending { order_id: AmazonOrderId, item: String },
    #[error("order {order_id} is already being cancelled: every line not shipped is in a cancellation")]
    OrderCancellationPending { order_id: AmazonOrderId },
    #[error("order {order_id} line {item} is being cancelled: Amazon refunds a cancelled line itself")]
    LineBeingCancelled { order_id: AmazonOrderId, item: OrderItemId },
    #[error("order {order_id} line {item} has units shipped or in a package; Amazon cancels whole lines only")]
    LineUnderway { order_id: AmazonOrderId, item: String },
    #[error("{item} names {lines} lines of order {order_id}; name the line by its order_item_id")]
    Ambiguous { order_id: AmazonOrderId, item: String, lines: usize },
    #[error("order {order_id} has no price in a currency to refund in")]
    NoCurrency { order_id: AmazonOrderId },
    #[error("order {order_id} has no line {item}")]
    UnknownItem { order_id: AmazonOrderId, item: String },
    #[error("a refund of order {order_id} needs at least one line")]
    NoLines { order_id: AmazonOrderId },
    #[error("the refund of order {order_id} is 0: nothing to refund")]
    ZeroRefund { order_id: AmazonOrderId },
    #[error("order {order_id} line {item}: refunding {quantity} units of the {ordered} ordered")]
    MoreUnitsThanOrdered { order_id: AmazonOrderId, item: OrderItemId, quantity: u32, ordered: u32 },
    #[error("order {order_id} line {item}: a principal of {asked} is more than the {left} the refunded units cost")]
    MoreThanUnitsCost { order_id: AmazonOrderId, item: OrderItemId, asked: Amount, left: Amount },
    #[error("order {order_id} line {item}: a principal of {asked} is more than the {left} paid and not yet refunded")]
    MoreThanPaid { order_id: AmazonOrderId, item: OrderItemId, asked: Amount, left: Amount },
}

fn merchant_order(order: &Order) -> Result<(), AdjustmentRejected> {
    if order.amazon.fulfilled_by != FulfilledBy::Merchant {
        return Err(AdjustmentRejected::FulfilledByAmazon { order_id: order.id().clone() });
    }
    Ok(())
}

/// Whether Amazon can cancel the line: the acknowledgement feed cancels whole lines, so none of its
/// units may have shipped or be promised to a package.
fn untouched(order: &Order, item: &OrderItem) -> bool {
    item.quantity_shipped == 0 && remaining(order, item) == item.quantity_ordered
}

/// The lines to cancel: those named (each untouched by any shipment), or every untouched line.
pub fn plan_cancellation(order: &Order, request: &CancellationRequest) -> Result<AdjustmentKind, AdjustmentRejected> {
    merchant_order(order)?;
    let order_id = order.id().clone();
    if order.status == OrderStatus::Cancelled {
        return Err(AdjustmentRejected::AlreadyCancelled { order_id });
    }
    let mut items: Vec<OrderItemId> = Vec::new();
    if request.lines.is_empty() {
        items.extend(order.amazon.items.iter().filter(|item| untouched(order, item)).map(|item| item.id.clone()));
        let unshipped = |item: &&OrderItem| item.quantity_shipped == 0;
        if items.is_empty()
            && order.amazon.items.iter().filter(unshipped).any(|item| order.local.cancelling.contains(&item.id))
        {
            return Err(AdjustmentRejected::OrderCancellationPending { order_id });
        }
        if items.is_empty() {
            return Err(AdjustmentRejected::NothingToCancel { order_id, scope: "of the order".into() });
        }
    }
    for line in &request.lines {
        let matching: Vec<&OrderItem> = order.items_matching(line).collect();
        if matching.is_empty() {
            return Err(AdjustmentRejected::UnknownItem { order_id, item: line.as_str().to_owned() });
        }
        if matching.iter().any(|item| order.local.cancelling.contains(&item.id)) {
            return Err(AdjustmentRejected::CancellationPending { order_id, item: line.as_str().to_owned() });
        }
        if let Some(underway) = matching.iter().find(|item| !untouched(order, item)) {
            let item = line.as_str().to_owned();
            if remaining(order, underway) == 0 {
                return Err(AdjustmentRejected::NothingToCancel { order_id, scope: format!("of line {item}") });
            }
            return Err(AdjustmentRejected::LineUnderway { order_id, item });
        }
        for item in matching {
            if !items.contains(&item.id) {
                items.push(item.id.clone());
            }
        }
    }
    Ok(AdjustmentKind::Cancellation { reason: request.reason, items })
}

/// The amounts to refund per line: each line's principal checked against what its units cost and
/// against what the line was paid less every refund of it through us (the order's `refunded`, and this
/// refund's earlier lines). Shipping and tax are Amazon's to judge.
pub fn plan_refund(order: &Order, request: &RefundRequest) -> Result<AdjustmentKind, AdjustmentRejected> {
    let refunded = &order.local.refunded;
    merchant_order(order)?;
    let order_id = order.id().clone();
    if request.lines.is_empty() {
        return Err(AdjustmentRejected::NoLines { order_id });
    }
    let mut items: Vec<RefundedItem> = Vec::new();
    for line in &request.lines {
        let matching: Vec<&OrderItem> = order.items_matching(&line.item).collect();
        let item = match matching[..] {
            [item] => item,
            [] => return Err(AdjustmentRejected::UnknownItem { order_id, item: line.item.as_str().to_owned() }),
            _ => {
                let (item, lines) = (line.item.as_str().to_owned(), matching.len());
                return Err(AdjustmentRejected::Ambiguous { order_id, item, lines });
            }
        };
        if order.local.cancelling.contains(&item.id) {
            return Err(AdjustmentRejected::LineBeingCancelled { order_id, item: item.id.clone() });
        }
        let (earlier_units, earlier_principal) = items
            .iter()
            .filter(|i| i.order_item_id == item.id)
            .fold((0u32, 0u64), |(u, p), i| (u.saturating_add(i.quantity), p.saturating_add(i.principal.0)));
        let units = earlier_units.saturating_add(line.quantity);
        if units > item.quantity_ordered {
            let (quantity, ordered) = (units, item.quantity_ordered);
            return Err(AdjustmentRejected::MoreUnitsThanOrdered {
                order_id,
                item: item.id.clone(),
                quantity,
                ordered,
            });
        }
        // A price Amazon sent that does not read leaves the check to Amazon.
        if let Some(unit) = item.unit_price.as_ref().and_then(|price| price.amount.parse::<Amount>().ok()) {
            let (asked, item_id) = (line.principal, item.id.clone());
            let cost = Amount(unit.0.saturating_mul(u64::from(line.quantity)));
            if asked > cost {
                return Err(AdjustmentRejected::MoreThanUnitsCost { order_id, item: item_id, asked, left: cost });
            }
            let paid = unit.0.saturating_mul(u64::from(item.quantity_ordered));
            let before = refunded.get(&item.id).map_or(0, |a| a.0).saturating_add(earlier_principal);
            let left = Amount(paid.saturating_sub(before));
            if asked > left {
                return Err(AdjustmentRejected::MoreThanPaid { order_id, item: item_id, asked, left });
            }
        }
        items.push(RefundedItem {
            order_item_id: item.id.clone(),
            quantity: line.quantity,
            principal: line.principal,
            shipping: line.shipping,
            tax: line.tax,
        });
    }
    if items.iter().all(|i| i.principal.0 == 0 && i.shipping.0 == 0 && i.tax.0 == 0) {
        return Err(AdjustmentRejected::ZeroRefund { order_id });
    }
    let currency = order
        .amazon
        .items
        .iter()
        .find_map(|item| item.unit_price.as_ref())
        .or(order.amazon.total.as_ref())
        .map(|price| price.currency_code.clone())
        .filter(|code| !code.trim().is_empty())
        .ok_or(AdjustmentRejected::NoCurrency { order_id })?;
    Ok(AdjustmentKind::Refund { reason: request.reason, currency, items })
}

/// One order's cancellation or refund as message `message_id` of its feed's document.
pub struct AdjustmentMessage<'a> {
    pub message_id: u32,
    pub order_id: &'a AmazonOrderId,
    pub kind: &'a AdjustmentKind,
}

/// The document of one feed of adjustments, all of one kind (cancellations, or refunds): each message
/// an `OrderAcknowledgement` (cancelled lines with their reason) or an `OrderAdjustment` (principal,
/// shipping and tax per line, each only when not zero).
pub fn adjustment_document(merchant: &SellerId, messages: &[AdjustmentMessage<'_>]) -> String {
    let message_type = match messages.first().map(|m| m.kind) {
        Some(AdjustmentKind::Refund { .. }) => "OrderAdjustment",
        _ => "OrderAcknowledgement",
    };
    let mut xml = String::with_capacity(200 + messages.len() * 400);
    open_envelope(&mut xml, merchant, message_type);
    for message in messages {
        let _ = write!(xml, "<Message><MessageID>{}</MessageID>", message.message_id);
        let order_id = xml_text(message.order_id.as_str());
        match message.kind {
            AdjustmentKind::Cancellation { reason, items } => {
                let _ = write!(xml, "<OrderAcknowledgement><AmazonOrderID>{order_id}</AmazonOrderID>");
                xml.push_str("<StatusCode>Success</StatusCode>");
                for item in items {
                    let _ = write!(
                        xml,
                        "<Item><AmazonOrderItemCode>{}</AmazonOrderItemCode><CancelReason>{reason}</CancelReason></Item>",
                        xml_text(item.as_str())
                    );
                }
                xml.push_str("</OrderAcknowledgement>");
            }
            AdjustmentKind::Refund { reason, currency, items } => {
                let _ = write!(xml, "<OrderAdjustment><AmazonOrderID>{order_id}</AmazonOrderID>");
                let currency = xml_text(currency);
                for item in items {
                    let _ = write!(
                        xml,
                        "<AdjustedItem><AmazonOrderItemCode>{}</AmazonOrderItemCode><AdjustmentReason>{reason}</AdjustmentReason><ItemPriceAdjustments>",
                        xml_text(item.order_item_id.as_str())
                    );
                    for (kind, amount) in
                        [("Principal", item.principal), ("Shipping", item.shipping), ("Tax", item.tax)]
                    {
                        if amount.0 > 0 {
                            let _ = write!(
                                xml,
                                r#"<Component><Type>{kind}</Type><Amount currency="{currency}">{amount}</Amount></Component>"#
                            );
                        }
                    }
                    xml.push_str("</ItemPriceAdjustments></AdjustedItem>");
                }
                xml.push_str("</OrderAdjustment>");
            }
        }
        xml.push_str("</Message>");
    }
    xml.push_str("</AmazonEnvelope>");
    xml
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;

    use super::*;
    use crate::domain::ids::Sku;
    use crate::domain::test_support::sample_order;

    fn order() -> Order {
        sample_order(chrono::Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap())
    }

    fn sku(raw: &str) -> ItemRef {
        ItemRef::Sku(Sku::parse(raw).unwrap())
    }

    fn refund(lines: Vec<RefundLine>) -> RefundRequest {
        RefundRequest { order_id: order().id().clone(), reason: RefundReason::CustomerReturn, lines }
    }

    fn line(item: &str, quantity: u32, principal: &str) -> RefundLine {
        let principal = principal.parse().unwrap();
        RefundLine { item: sku(item), quantity, principal, shipping: Amount(0), tax: Amount(0) }
    }

    /// The refund planned for the order with `earlier` refunded through us before.
    fn planned(
        order: &Order,
        request: &RefundRequest,
        earlier: &BTreeMap<OrderItemId, Amount>,
    ) -> Result<AdjustmentKind, AdjustmentRejected> {
        let mut order = order.clone();
        order.local.refunded = earlier.clone();
        plan_refund(&order, request)
    }

    fn refused(order: &Order, request: &RefundRequest, earlier: &BTreeMap<OrderItemId, Amount>) -> String {
        planned(order, request, earlier).unwrap_err().to_string()
    }

    #[test]
    fn amounts_read_with_at_most_two_decimals_and_no_sign() {
        assert_eq!("12.5".parse::<Amount>(), Ok(Amount(1250)));
        assert_eq!("12.05".parse::<Amount>().unwrap().to_string(), "12.05");
        assert_eq!("7".parse::<Amount>(), Ok(Amount(700)));
        for bad in ["-1.00", "1.234", "", ".5", "1,00", "1e3", "99999999999999999999"] {
            assert!(bad.parse::<Amount>().is_err(), "{bad}");
        }
    }

    #[test]
    fn reasons_read_as_amazon_spells_them_or_in_snake_case() {
        assert_eq!("no_inventory".parse(), Ok(CancelReason::NoInventory));
        assert_eq!("BuyerCanceled".parse(), Ok(CancelReason::BuyerCanceled));
        assert_eq!("product_outof_stock".parse(), Ok(RefundReason::ProductOutofStock));
        let unknown = "out of patience".parse::<CancelReason>().unwrap_err().to_string();
        assert!(unknown.contains("NoInventory") && !unknown.contains("patience"), "{unknown}");
    }

    #[test]
    fn a_cancellation_takes_whole_untouched_lines_and_refuses_one_that_would_refund_nothing() {
        let mut order = order();
        let id = order.id().clone();
        let whole = CancellationRequest { order_id: id.clone(), reason: CancelReason::NoInventory, lines: vec![] };
        let AdjustmentKind::Cancellation { items, .. } = plan_cancellation(&order, &whole).unwrap() else { panic!() };
        assert_eq!(items.len(), 2);

        // One unit of SKU-A is in a package: Amazon cancels whole lines, so that line cannot be.
        let line_a = order.amazon.items[0].id.clone();
        order.local.planned_quantities.insert(line_a.clone(), 1);
        let only_a = CancellationRequest { lines: vec![sku("SKU-A")], ..whole.clone() };
        let underway = plan_cancellation(&order, &only_a).unwrap_err().to_string();
        assert_eq!(
            underway,
            format!("order {id} line SKU-A has units shipped or in a package; Amazon cancels whole lines only")
        );
        let AdjustmentKind::Cancellation { items, .. } = plan_cancellation(&order, &whole).unwrap() else { panic!() };
        assert_eq!(items, vec![order.amazon.items[1].id.clone()], "the whole order: its untouched lines");

        // Every unit of SKU-A is in a package: cancelling that line would refund nothing.
        order.local.planned_quantities.insert(line_a, 2);
        let nothing = plan_cancellation(&order, &only_a).unwrap_err().to_string();
        let expected = "would refund nothing: every unit of line SKU-A has shipped or is in a package";
        assert_eq!(nothing, format!("cancelling order {id} {expected}"));
        order.amazon.items[1].quantity_shipped = 1;
        assert!(matches!(plan_cancellation(&order, &whole), Err(AdjustmentRejected::NothingToCancel { .. })));
        order.status = OrderStatus::Cancelled;
        assert!(matches!(plan_cancellation(&order, &whole), Err(AdjustmentRejected::AlreadyCancelled { .. })));
        let unknown = CancellationRequest { lines: vec![sku("SKU-Z")], ..whole.clone() };
        assert!(matches!(plan_cancellation(&self::order(), &unknown), Err(AdjustmentRejected::UnknownItem { .. })));
    }

    #[test]
    fn a_refund_is_checked_against_the_units_refunded_and_what_the_line_was_paid() {
        let order = order();
        let id = order.id();
        let none = BTreeMap::new();
        // SKU-A: 2 units at 12.50.
        assert!(planned(&order, &refund(vec![line("SKU-A", 2, "25.00")]), &none).is_ok());
        assert_eq!(
            refused(&order, &refund(vec![line("SKU-A", 1, "12.51")]), &none),
            format!(
                "order {id} line 11111111111111: a principal of 12.51 is more than the 12.50 the refunded units cost"
            )
        );
        let first_unit = BTreeMap::from([(order.amazon.items[0].id.clone(), Amount(1250))]);
        assert!(planned(&order, &refund(vec![line("SKU-A", 1, "12.50")]), &first_unit).is_ok(), "the second unit");
        assert_eq!(
            refused(&order, &refund(vec![line("SKU-A", 2, "12.51")]), &first_unit),
            format!(
                "order {id} line 11111111111111: a principal of 12.51 is more than the 12.50 paid and not yet refunded"
            )
        );
        // The lines of one refund count together, units against those ordered, principal against the price.
        assert!(planned(&order, &refund(vec![line("SKU-A", 1, "12.50"), line("SKU-A", 1, "12.50")]), &none).is_ok());
        let thrice = refund(vec![line("SKU-A", 1, "1"), line("SKU-A", 1, "1"), line("SKU-A", 1, "1")]);
        assert!(matches!(planned(&order, &thrice, &none), Err(AdjustmentRejected::MoreUnitsThanOrdered { .. })));
        let again = refund(vec![line("SKU-A", 1, "12.50"), line("SKU-A", 1, "0.01")]);
        assert!(matches!(planned(&order, &again, &first_unit), Err(AdjustmentRejected::MoreThanPaid { .. })));

        assert_eq!(
            refused(&order, &refund(vec![line("SKU-A", 1, "0")]), &none),
            format!("the refund of order {id} is 0: nothing to refund")
        );
        assert_eq!(
            refused(&order, &refund(vec![line("SKU-Z", 1, "1.00")]), &none),
            format!("order {id} has no line SKU-Z")
        );
        assert!(matches!(planned(&order, &refund(vec![]), &none), Err(AdjustmentRejected::NoLines { .. })));
        let huge = RefundLine { shipping: Amount(u64::MAX), tax: Amount(u64::MAX), ..line("SKU-A", 1, "0") };
        assert!(planned(&order, &refund(vec![huge]), &none).is_ok(), "no overflow: Amazon judges shipping and tax");

        let mut twin = order.clone();
        let mut second = twin.amazon.items[0].clone();
        second.id = OrderItemId::parse("33333333333333").unwrap();
        twin.amazon.items.push(second);
        assert!(matches!(
            planned(&twin, &refund(vec![line("SKU-A", 1, "1")]), &none),
            Err(AdjustmentRejected::Ambiguous { .. })
        ));
        let mut priceless = order.clone();
        priceless.amazon.items.iter_mut().for_each(|item| item.unit_price = None);
        priceless.amazon.total = None;
        assert!(matches!(
            planned(&priceless, &refund(vec![line("SKU-A", 1, "1")]), &none),
            Err(AdjustmentRejected::NoCurrency { .. })
        ));
    }

    #[test]
    fn the_documents_hold_each_order_in_amazons_shape() {
        let order = order();
        let seller = SellerId::parse("A1SELLER").unwrap();
        let request = CancellationRequest {
            order_id: order.id().clone(),
            reason: CancelReason::NoInventory,
            lines: vec![sku("SKU-B")],
        };
        let cancellation = plan_cancellation(&order, &request).unwrap();
        let message = AdjustmentMessage { message_id: 1, order_id: order.id(), kind: &cancellation };
        let xml = adjustment_document(&seller, &[message]);
        assert!(xml.contains("<MessageType>OrderAcknowledgement</MessageType>"), "{xml}");
        let item = "<Item><AmazonOrderItemCode>22222222222222</AmazonOrderItemCode><CancelReason>NoInventory</CancelReason></Item>";
        assert!(xml.contains(&format!("<StatusCode>Success</StatusCode>{item}")), "{xml}");

        let mut request = refund(vec![line("SKU-A", 1, "12.50")]);
        request.lines[0].tax = Amount(103);
        let refund = planned(&order, &request, &BTreeMap::new()).unwrap();
        let message = AdjustmentMessage { message_id: 2, order_id: order.id(), kind: &refund };
        let xml = adjustment_document(&seller, &[message]);
        assert!(xml.contains("<MessageType>OrderAdjustment</MessageType>"), "{xml}");
        let principal = r#"<Component><Type>Principal</Type><Amount currency="USD">12.50</Amount></Component>"#;
        let tax = r#"<Component><Type>Tax</Type><Amount currency="USD">1.03</Amount></Component>"#;
        assert!(xml.contains(&format!("{principal}{tax}")), "{xml}");
        assert!(!xml.contains("Shipping"), "a zero component is left out: {xml}");
        assert_eq!(refund.feed_type(), PAYMENT_ADJUSTMENT_FEED);
    }

    #[test]
    fn an_adjustment_booked_on_its_order_holds_its_lines_and_amounts_until_released() {
        let mut order = order();
        let id = order.id().clone();
        let event = EventId::parse("evt-cancel").unwrap();
        let request =
            CancellationRequest { order_id: id.clone(), reason: CancelReason::NoInventory, lines: vec![sku("SKU-B")] };
        let cancellation =
            Adjustment::new(event, &order, plan_cancellation(&order, &request).unwrap(), order.amazon.created_at);
        reserve_adjustment(&mut order, &cancellation);
        let line_b = &order.amazon.items[1];
        assert_eq!(remaining(&order, line_b), 0, "a line being cancelled takes no shipment");
        assert_eq!(
            plan_cancellation(&order, &request).unwrap_err().to_string(),
            format!("order {id} line SKU-B is already being cancelled")
        );
        let line_b_id = line_b.id.clone();
        let refund_b = refund(vec![line("SKU-B", 1, "1.00")]);
        assert_eq!(
            plan_refund(&order, &refund_b).unwrap_err(),
            AdjustmentRejected::LineBeingCancelled { order_id: id.clone(), item: line_b_id },
            "Amazon refunds a cancelled line itself"
        );
        let mut all = order.clone();
        all.local.cancelling.insert(all.amazon.items[0].id.clone());
        let whole = CancellationRequest { lines: vec![], ..request.clone() };
        assert_eq!(
            plan_cancellation(&all, &whole).unwrap_err().to_string(),
            format!("order {id} is already being cancelled: every line not shipped is in a cancellation")
        );
        release_adjustment(&mut order, &cancellation);
        assert!(order.local.cancelling.is_empty());
        assert!(plan_cancellation(&order, &request).is_ok(), "Amazon refused it: it may be asked again");

        let request = refund(vec![line("SKU-A", 1, "12.50")]);
        let event = EventId::parse("evt-refund").unwrap();
        let refund = Adjustment::new(event, &order, plan_refund(&order, &request).unwrap(), order.amazon.created_at);
        reserve_adjustment(&mut order, &refund);
        reserve_adjustment(&mut order, &refund);
        assert!(
            matches!(plan_refund(&order, &request), Err(AdjustmentRejected::MoreThanPaid { .. })),
            "25.00 of 25.00 refunded"
        );
        release_adjustment(&mut order, &refund);
        release_adjustment(&mut order, &refund);
        assert!(order.local.refunded.is_empty());
        let stored = serde_json::to_value(&refund).unwrap();
        assert_eq!(
            (stored["kind"].as_str(), stored["state"]["state"].as_str()),
            (Some("refund"), Some("awaiting_feed"))
        );
        assert_eq!(serde_json::from_value::<Adjustment>(stored).unwrap(), refund);
    }
}
