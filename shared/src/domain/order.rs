//! The order as sellerbridge keeps it: Amazon's facts plus our own bookkeeping (import time, packages
//! planned, redaction state).
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::adjustment::Amount;
use super::ids::{AmazonOrderId, ConnectionId, MarketplaceId, OrderItemId, PackageId, PackageReference, Sku};
use super::pii::{RedactionState, Retention, ShipmentFacts};
use super::shipment::ItemRef;
use super::shipment::PackageLine;
use super::status::{AmazonStatus, FulfilledBy, OrderStatus};
use super::tracking::TrackingRule;

/// An amount in the marketplace currency, kept as Amazon's decimal string (no float, no conversion).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub amount: String,
    pub currency_code: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderFlags {
    pub prime: bool,
    pub premium: bool,
    pub business: bool,
    pub gift: bool,
    pub amazon_custom: bool,
    /// Amazon Easy Ship: Amazon's carrier picks the package up; the merchant does not confirm shipment.
    #[serde(default)]
    pub easy_ship: bool,
    /// Delivery by Amazon: Amazon delivers and confirms; the merchant does not confirm shipment.
    #[serde(default)]
    pub delivery_by_amazon: bool,
    /// At least one item needs Transparency codes, which confirmShipment cannot carry.
    #[serde(default)]
    pub transparency: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    pub id: Option<String>,
    pub subtype: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderItem {
    pub id: OrderItemId,
    pub sku: Option<Sku>,
    pub asin: Option<String>,
    pub title: Option<String>,
    pub quantity_ordered: u32,
    pub quantity_shipped: u32,
    pub unit_price: Option<Money>,
    pub condition: Option<Condition>,
    /// Buyer PII.
    pub gift_message: Option<String>,
    /// The gift wrapping the buyer chose for this item (Amazon's level name), if any.
    #[serde(default)]
    pub gift_wrap_level: Option<String>,
}

/// Buyer PII. The email is Amazon's proxy address and is never used for marketing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buyer {
    pub name: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
}

/// Name, street lines and phone are PII; city, region, postal code and country may be kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub name: Option<String>,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub line3: Option<String>,
    pub city: Option<String>,
    pub state_or_region: Option<String>,
    pub postal_code: Option<String>,
    pub country_code: Option<String>,
    pub phone: Option<String>,
    pub address_type: Option<String>,
}

/// What Amazon says about an order, as mapped from the Orders API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmazonOrder {
    pub id: AmazonOrderId,
    pub marketplace_id: MarketplaceId,
    pub fulfilled_by: FulfilledBy,
    pub amazon_status: AmazonStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub ship_by: Option<DateTime<Utc>>,
    pub deliver_by: Option<DateTime<Utc>>,
    pub service_level: Option<String>,
    pub flags: OrderFlags,
    pub total: Option<Money>,
    pub items: Vec<OrderItem>,
    pub buyer: Option<Buyer>,
    pub ship_to: Option<Address>,
    /// The packages Amazon holds for the order (merchant-fulfilled orders only).
    #[serde(default)]
    pub packages: Vec<AmazonPackage>,
}

/// A package as Amazon reports it (Orders v2026-01-01 `OrderPackage`): what `getOrder` reconciliation
/// and the PII schedule read. Carries no PII.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmazonPackage {
    pub reference_id: String,
    pub carrier: Option<String>,
    pub shipping_service: Option<String>,
    pub tracking_number: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub ship_time: Option<DateTime<Utc>>,
    /// `PackageStatus.status`, e.g. `SHIPPED`, `DELIVERED`.
    pub status: Option<String>,
}

/// A package Amazon accepted from us: its reference at Amazon and what it shipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmedPackage {
    pub reference: PackageReference,
    pub lines: Vec<PackageLine>,
}

/// Our own bookkeeping about an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalState {
    pub imported_at: DateTime<Utc>,
    /// The `packageReferenceId` the next package of this order gets.
    pub next_package_reference: PackageReference,
    /// Quantities per item already promised to accepted packages (queued or confirmed).
    pub planned_quantities: BTreeMap<OrderItemId, u32>,
    pub shipments: Vec<ShipmentFacts>,
    /// The packages Amazon accepted from us, with their lines: the local facts an older copy of the
    /// order from Amazon must not undo.
    #[serde(default)]
    pub confirmed_packages: BTreeMap<PackageId, ConfirmedPackage>,
    pub redaction: RedactionState,
    /// When we first saw the order shipped: Amazon's `lastUpdatedTime` on the first copy that said so
    /// (at most our clock at import). Set once and never moved, so later updates cannot push the PII
    /// schedule out.
    #[serde(default)]
    pub shipped_seen_at: Option<DateTime<Utc>>,
    /// When we first saw the order cancelled, likewise set once.
    #[serde(default)]
    pub cancelled_seen_at: Option<DateTime<Utc>>,
    /// Lines the store asked Amazon to cancel (sent or on their way): no shipment takes their units.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub cancelling: BTreeSet<OrderItemId>,
    /// Principal per line refunded through us (sent or on its way), which later refunds count against.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refunded: BTreeMap<OrderItemId, Amount>,
    /// How long its PII is kept: its connection's periods, copied when the order is stored and when the
    /// connection changes them.
    #[serde(default, skip_serializing_if = "Retention::is_amazons")]
    pub retention: Retention,
    /// Its connection's own word on which carrier services report tracking, copied likewise: it decides
    /// the rule for packages Amazon reports (ours were judged when accepted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tracking_rules: Vec<TrackingRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub connection_id: ConnectionId,
    pub status: OrderStatus,
    pub amazon: AmazonOrder,
    pub local: LocalState,
}

impl Order {
    /// An order as first stored. An Amazon-fulfilled one keeps no buyer PII at all: it is a record of
    /// what Amazon shipped, and the merchant has nothing to ship it with.
    pub fn import(
        connection_id: ConnectionId,
        status: OrderStatus,
        mut amazon: AmazonOrder,
        now: DateTime<Utc>,
    ) -> Self {
        if amazon.fulfilled_by == FulfilledBy::Amazon {
            super::pii::drop_pii(&mut amazon);
        }
        let seen_at = amazon.updated_at.min(now);
        let mut order = Self {
            connection_id,
            status,
            amazon,
            local: LocalState {
                imported_at: now,
                next_package_reference: PackageReference::first(),
                planned_quantities: BTreeMap::new(),
                shipments: Vec::new(),
                confirmed_packages: BTreeMap::new(),
                redaction: RedactionState::Pending,
                shipped_seen_at: None,
                cancelled_seen_at: None,
                cancelling: BTreeSet::new(),
                refunded: BTreeMap::new(),
                retention: Retention::AMAZON,
                tracking_rules: Vec::new(),
            },
        };
        order.note_status_seen(seen_at);
        order
    }

    pub fn id(&self) -> &AmazonOrderId {
        &self.amazon.id
    }

    /// Seller Fulfilled Prime: a Prime order the merchant ships.
    pub fn seller_fulfilled_prime(&self) -> bool {
        self.amazon.flags.prime && self.amazon.fulfilled_by == FulfilledBy::Merchant
    }

    /// Takes Amazon's newer view of the order while keeping our own bookkeeping. An order whose PII we
    /// already removed stays redacted: Amazon's copy is not re-imported into it.
    pub fn absorb_update(&mut self, status: OrderStatus, amazon: AmazonOrder) {
        // An order stored before these were recorded: the copy we hold is the first seen in its status.
        self.note_status_seen(self.amazon.updated_at);
        let redacted = self.local.redaction.is_redacted();
        self.status = status;
        self.amazon = amazon;
        super::shipment::reapply_confirmations(self);
        if self.amazon.fulfilled_by == FulfilledBy::Amazon {
            super::pii::drop_pii(&mut self.amazon);
        } else if redacted {
            super::pii::strip_pii(&mut self.amazon);
        }
        self.note_status_seen(self.amazon.updated_at);
    }

    /// Records `at` as when we first saw the order in its current status (shipped or cancelled), unless
    /// that is known already: these anchor the PII schedule and never move.
    fn note_status_seen(&mut self, at: DateTime<Utc>) {
        let slot = match self.status {
            OrderStatus::Shipped => &mut self.local.shipped_seen_at,
            OrderStatus::Cancelled => &mut self.local.cancelled_seen_at,
            OrderStatus::AwaitingShipment => return,
        };
        slot.get_or_insert(at);
    }

    pub fn item(&self, id: &OrderItemId) -> Option<&OrderItem> {
        self.amazon.items.iter().find(|item| &item.id == id)
    }

    /// Every line a merchant's reference names, in the order's line order: one line for an order item
    /// id, possibly several for a SKU or an ASIN (ASINs compare without regard to case).
    pub fn items_matching<'a>(&'a self, item: &'a ItemRef) -> impl Iterator<Item = &'a OrderItem> + 'a {
        self.amazon.items.iter().filter(move |candidate| match item {
            ItemRef::OrderItem(id) => candidate.id == *id,
            ItemRef::Sku(sku) => candidate.sku.as_ref() == Some(sku),
            // A value read as an ASIN may still be a SKU shaped like one (`SHIRT00123`).
            ItemRef::Asin(asin) => {
                candidate.asin.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(asin.as_str()))
                    || candidate.sku.as_ref().is_some_and(|sku| sku.as_str() == asin.as_str())
            }
        })
    }

    /// Whether the order carries any buyer PII at all (FBA orders do not).
    pub fn has_pii(&self) -> bool {
        let a = &self.amazon;
        let buyer = a.buyer.as_ref().is_some_and(|b| b.name.is_some() || b.email.is_some() || b.company.is_some());
        let address = a.ship_to.as_ref().is_some_and(|s| {
            s.name.is_some() || s.line1.is_some() || s.line2.is_some() || s.line3.is_some() || s.phone.is_some()
        });
        let gift = a.items.iter().any(|item| item.gift_message.is_some());
        buyer || address || gift
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn an_amazon_fulfilled_order_is_stored_without_any_buyer_pii() {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let mut amazon = crate::domain::test_support::sample_order(now).amazon;
        amazon.fulfilled_by = FulfilledBy::Amazon;
        assert!(amazon.buyer.as_ref().is_some_and(|b| b.name.is_some()), "the sample carries PII");
        let mut order =
            Order::import(ConnectionId::parse("us-main").unwrap(), OrderStatus::Shipped, amazon.clone(), now);
        assert!(!order.has_pii(), "{:?}", order.amazon.buyer);
        assert_eq!(crate::domain::pii::redaction_due(&order), None, "nothing to redact, ever");
        let city = order.amazon.ship_to.as_ref().and_then(|a| a.city.clone());
        assert!(city.is_some(), "the coarse location stays");

        amazon.updated_at += chrono::Duration::hours(1);
        order.absorb_update(OrderStatus::Shipped, amazon);
        assert!(!order.has_pii(), "a later copy from Amazon brings none back");
    }

    #[test]
    fn seller_fulfilled_prime_is_a_prime_order_the_merchant_ships() {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let mut order = crate::domain::test_support::sample_order(now);
        order.amazon.flags.prime = true;
        assert!(order.seller_fulfilled_prime());
        order.amazon.fulfilled_by = FulfilledBy::Amazon;
        assert!(!order.seller_fulfilled_prime(), "Prime through FBA is not Seller Fulfilled Prime");
    }
    use crate::domain::connection::ProductIdentifier;
    use crate::domain::ids::Asin;
    use crate::domain::test_support::sample_order;

    fn order() -> Order {
        let mut order = sample_order(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
        order.amazon.items[0].asin = Some("B0AAAAAAA1".into());
        order.amazon.items[1].asin = Some("B0BBBBBBB2".into());
        let mut second_a = order.amazon.items[0].clone();
        second_a.id = OrderItemId::parse("33333333333333").unwrap();
        order.amazon.items.push(second_a);
        order
    }

    fn ids<'a>(items: impl Iterator<Item = &'a OrderItem>) -> Vec<&'a str> {
        items.map(|item| item.id.as_str()).collect()
    }

    #[test]
    fn a_reference_matches_every_line_it_names() {
        let order = order();
        let by_id = ItemRef::OrderItem(OrderItemId::parse("22222222222222").unwrap());
        assert_eq!(ids(order.items_matching(&by_id)), ["22222222222222"]);
        let by_sku = ItemRef::Sku(Sku::parse("SKU-A").unwrap());
        assert_eq!(ids(order.items_matching(&by_sku)), ["11111111111111", "33333333333333"]);
        let by_asin = ItemRef::Asin(Asin::parse("b0aaaaaaa1").unwrap());
        assert_eq!(ids(order.items_matching(&by_asin)), ["11111111111111", "33333333333333"], "ASINs ignore case");
        let unknown = ItemRef::Asin(Asin::parse("B0ZZZZZZZ9").unwrap());
        assert_eq!(order.items_matching(&unknown).count(), 0);
    }

    #[test]
    fn an_asin_connection_reads_asin_shaped_skus_as_asins() {
        let order = order();
        let sent = ItemRef::Sku(Sku::parse("B0BBBBBBB2").unwrap());
        assert_eq!(order.items_matching(&sent).count(), 0, "no line has that SKU");
        let read = sent.clone().named_by(ProductIdentifier::Asin);
        assert_eq!(read, ItemRef::Asin(Asin::parse("B0BBBBBBB2").unwrap()));
        assert_eq!(ids(order.items_matching(&read)), ["22222222222222"]);

        assert_eq!(sent.clone().named_by(ProductIdentifier::Sku), sent, "a SKU connection keeps SKUs");
        let not_an_asin = ItemRef::Sku(Sku::parse("SKU-A").unwrap());
        assert_eq!(not_an_asin.clone().named_by(ProductIdentifier::Asin), not_an_asin);
        let by_id = ItemRef::OrderItem(OrderItemId::parse("1234567890").unwrap());
        assert_eq!(by_id.clone().named_by(ProductIdentifier::Asin), by_id, "ten digits, but an order item id");
    }

    #[test]
    fn a_sku_shaped_like_an_asin_still_names_its_line_on_an_asin_connection() {
        let mut order = order();
        order.amazon.items[1].sku = Some(Sku::parse("SHIRT00123").unwrap());
        let read = ItemRef::Sku(Sku::parse("SHIRT00123").unwrap()).named_by(ProductIdentifier::Asin);
        assert_eq!(ids(order.items_matching(&read)), ["22222222222222"]);
    }
}
