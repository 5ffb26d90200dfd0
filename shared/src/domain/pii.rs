//! Amazon's Data Protection Policy schedule for buyer PII, and the redaction itself.
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::order::{AmazonOrder, Order};
use super::status::OrderStatus;

pub const REDACTED: &str = "REDACTED (Amazon)";

const UNSHIPPED_RETENTION_DAYS: i64 = 14;
const AFTER_DELIVERY_DAYS: i64 = 30;
const AFTER_SHIP_DATE_DAYS: i64 = 30;
const AFTER_LABEL_DAYS: i64 = 44;
const UNTRACKED_AFTER_SHIPMENT_DAYS: i64 = 30;

/// What we know about one shipment of an order, for the retention schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentFacts {
    pub label_created_at: DateTime<Utc>,
    pub shipped_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Whether the carrier service reports tracking.
    pub tracked: bool,
}

impl ShipmentFacts {
    fn redaction_due(&self) -> DateTime<Utc> {
        if self.tracked {
            let by_ship_date = self.shipped_at + Duration::days(AFTER_SHIP_DATE_DAYS);
            let by_label = self.label_created_at + Duration::days(AFTER_LABEL_DAYS);
            let by_delivery = self.delivered_at.map(|d| d + Duration::days(AFTER_DELIVERY_DAYS));
            [Some(by_ship_date), Some(by_label), by_delivery].into_iter().flatten().min().unwrap_or(by_ship_date)
        } else {
            self.label_created_at + Duration::days(UNTRACKED_AFTER_SHIPMENT_DAYS)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RedactionState {
    Pending,
    Redacted { at: DateTime<Utc> },
}

impl RedactionState {
    pub fn is_redacted(&self) -> bool {
        matches!(self, Self::Redacted { .. })
    }
}

/// When the order's PII must be gone, or `None` if it holds none (FBA) or it is already redacted.
///
/// Unshipped: 14 days after import. Shipped with tracking: the earliest of delivery + 30, ship date + 30 and
/// label + 44 days. Shipped without tracking: 30 days after the shipment was created. With several packages
/// the address is needed until the last one's window ends. An order Amazon reports shipped without any
/// shipment of ours is treated as untracked, shipped when Amazon last updated it.
pub fn redaction_due(order: &Order) -> Option<DateTime<Utc>> {
    if order.local.redaction.is_redacted() || !order.has_pii() {
        return None;
    }
    let unshipped_due = order.local.imported_at + Duration::days(UNSHIPPED_RETENTION_DAYS);
    match order.status {
        OrderStatus::AwaitingShipment | OrderStatus::Cancelled => Some(unshipped_due),
        OrderStatus::Shipped => Some(
            order
                .local
                .shipments
                .iter()
                .map(ShipmentFacts::redaction_due)
                .max()
                .unwrap_or(order.amazon.updated_at + Duration::days(UNTRACKED_AFTER_SHIPMENT_DAYS)),
        ),
    }
}

/// Replaces buyer PII with `REDACTED (Amazon)`; city, region, postal code and country stay.
pub fn redact(order: &mut Order, now: DateTime<Utc>) {
    strip_pii(&mut order.amazon);
    order.local.redaction = RedactionState::Redacted { at: now };
}

pub(super) fn strip_pii(amazon: &mut AmazonOrder) {
    let replace = |field: &mut Option<String>| {
        if field.is_some() {
            *field = Some(REDACTED.to_owned());
        }
    };
    if let Some(buyer) = amazon.buyer.as_mut() {
        replace(&mut buyer.name);
        replace(&mut buyer.email);
    }
    if let Some(address) = amazon.ship_to.as_mut() {
        for field in [&mut address.name, &mut address.line1, &mut address.line2, &mut address.line3, &mut address.phone]
        {
            replace(field);
        }
    }
    for item in &mut amazon.items {
        replace(&mut item.gift_message);
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::test_support::sample_order;

    fn day(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap()
    }

    fn shipped(order: &mut Order, facts: Vec<ShipmentFacts>) {
        order.status = OrderStatus::Shipped;
        order.local.shipments = facts;
    }

    #[test]
    fn unshipped_orders_are_due_fourteen_days_after_import() {
        let order = sample_order(day(1));
        assert_eq!(redaction_due(&order), Some(day(15)));
    }

    #[test]
    fn tracked_shipments_are_due_at_the_earliest_of_three_deadlines() {
        let mut order = sample_order(day(1));
        let facts = ShipmentFacts { label_created_at: day(2), shipped_at: day(3), delivered_at: None, tracked: true };
        shipped(&mut order, vec![facts.clone()]);
        // ship date + 30 (April 2) comes before label + 44 (April 15).
        assert_eq!(redaction_due(&order), Some(day(3) + Duration::days(30)));

        shipped(&mut order, vec![ShipmentFacts { delivered_at: Some(day(1)), ..facts.clone() }]);
        assert_eq!(redaction_due(&order), Some(day(1) + Duration::days(30)));

        // a ship date far after the label: label + 44 wins.
        let late = ShipmentFacts {
            label_created_at: day(1),
            shipped_at: day(1) + Duration::days(20),
            delivered_at: None,
            tracked: true,
        };
        shipped(&mut order, vec![late]);
        assert_eq!(redaction_due(&order), Some(day(1) + Duration::days(44)));
    }

    #[test]
    fn untracked_shipments_are_due_thirty_days_after_the_shipment() {
        let mut order = sample_order(day(1));
        shipped(
            &mut order,
            vec![ShipmentFacts { label_created_at: day(5), shipped_at: day(6), delivered_at: None, tracked: false }],
        );
        assert_eq!(redaction_due(&order), Some(day(5) + Duration::days(30)));
    }

    #[test]
    fn the_last_package_of_an_order_sets_the_deadline() {
        let mut order = sample_order(day(1));
        let first = ShipmentFacts { label_created_at: day(2), shipped_at: day(2), delivered_at: None, tracked: true };
        let second = ShipmentFacts { label_created_at: day(9), shipped_at: day(9), delivered_at: None, tracked: true };
        shipped(&mut order, vec![first, second]);
        assert_eq!(redaction_due(&order), Some(day(9) + Duration::days(30)));
    }

    #[test]
    fn orders_without_pii_or_already_redacted_have_no_deadline() {
        let mut order = sample_order(day(1));
        redact(&mut order, day(20));
        assert_eq!(redaction_due(&order), None);

        let mut fba = sample_order(day(1));
        fba.amazon.buyer = None;
        if let Some(a) = fba.amazon.ship_to.as_mut() {
            a.name = None;
            a.line1 = None;
            a.line2 = None;
            a.phone = None;
        }
        fba.amazon.items.iter_mut().for_each(|i| i.gift_message = None);
        assert_eq!(redaction_due(&fba), None);
    }

    #[test]
    fn redaction_replaces_pii_and_keeps_the_locality() {
        let mut order = sample_order(day(1));
        redact(&mut order, day(20));
        let address = order.amazon.ship_to.as_ref().unwrap();
        assert_eq!(address.name.as_deref(), Some(REDACTED));
        assert_eq!(address.line1.as_deref(), Some(REDACTED));
        assert_eq!(address.line2, None, "absent fields stay absent");
        assert_eq!(address.phone.as_deref(), Some(REDACTED));
        assert_eq!(address.city.as_deref(), Some("Seattle"));
        assert_eq!(address.state_or_region.as_deref(), Some("WA"));
        assert_eq!(address.postal_code.as_deref(), Some("98109"));
        assert_eq!(address.country_code.as_deref(), Some("US"));
        let buyer = order.amazon.buyer.as_ref().unwrap();
        assert_eq!(buyer.name.as_deref(), Some(REDACTED));
        assert_eq!(buyer.email.as_deref(), Some(REDACTED));
        assert_eq!(order.amazon.items[0].gift_message.as_deref(), Some(REDACTED));
        assert_eq!(order.local.redaction, RedactionState::Redacted { at: day(20) });
    }

    #[test]
    fn a_newer_amazon_copy_does_not_bring_pii_back() {
        let mut order = sample_order(day(1));
        redact(&mut order, day(20));
        let fresh = sample_order(day(1)).amazon;
        order.absorb_update(OrderStatus::Shipped, fresh);
        assert_eq!(order.amazon.buyer.as_ref().unwrap().name.as_deref(), Some(REDACTED));
        assert_eq!(order.status, OrderStatus::Shipped);
    }
}
