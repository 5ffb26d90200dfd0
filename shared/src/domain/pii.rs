//! Amazon's Data Protection Policy schedule for buyer PII, and the redaction itself.
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::ids::PackageId;
use super::order::{AmazonOrder, AmazonPackage, Order};
use super::status::OrderStatus;
use super::tracking::{TrackingRule, reports_tracking};

pub const REDACTED: &str = "REDACTED (Amazon)";

/// How many days buyer PII is kept under each rule of the schedule: Amazon's Data Protection Policy
/// maximums ([`Retention::AMAZON`]) unless the connection chose shorter. A longer period is refused when
/// the connection is configured ([`RetentionRule::checked`]) and, should a stored one be longer, held to
/// Amazon's when used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Not shipped: after import.
    pub unshipped_days: u32,
    /// Shipped with tracking: after delivery, after the ship date, after the label (the earliest wins).
    pub after_delivery_days: u32,
    pub after_ship_date_days: u32,
    pub after_label_days: u32,
    /// Shipped without tracking: after the shipment.
    pub untracked_days: u32,
}

impl Retention {
    pub const AMAZON: Self = Self {
        unshipped_days: 14,
        after_delivery_days: 30,
        after_ship_date_days: 30,
        after_label_days: 44,
        untracked_days: 30,
    };

    pub fn is_amazons(&self) -> bool {
        *self == Self::AMAZON
    }

    /// The days under `rule`, never more than Amazon allows.
    pub(crate) fn days(&self, rule: RetentionRule) -> Duration {
        Duration::days(i64::from(rule.of(self).min(rule.of(&Self::AMAZON))))
    }

    /// This retention with `rule` set to `days`.
    pub fn with(mut self, rule: RetentionRule, days: u32) -> Self {
        *rule.of_mut(&mut self) = days;
        self
    }
}

impl Default for Retention {
    fn default() -> Self {
        Self::AMAZON
    }
}

/// One rule of the schedule, as a connection names it to shorten it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionRule {
    Unshipped,
    AfterDelivery,
    AfterShipDate,
    AfterLabel,
    Untracked,
}

/// A period longer than Amazon's Data Protection Policy allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rule} of {days} days is longer than Amazon's Data Protection Policy allows ({allowed} days)")]
pub struct RetentionTooLong {
    pub rule: &'static str,
    pub days: u32,
    pub allowed: u32,
}

impl RetentionRule {
    pub fn name(self) -> &'static str {
        match self {
            Self::Unshipped => "PII retention for unshipped orders",
            Self::AfterDelivery => "PII retention after delivery",
            Self::AfterShipDate => "PII retention after the ship date",
            Self::AfterLabel => "PII retention after the label",
            Self::Untracked => "PII retention after an untracked shipment",
        }
    }

    fn of(self, retention: &Retention) -> u32 {
        let mut copy = *retention;
        *self.of_mut(&mut copy)
    }

    fn of_mut(self, retention: &mut Retention) -> &mut u32 {
        match self {
            Self::Unshipped => &mut retention.unshipped_days,
            Self::AfterDelivery => &mut retention.after_delivery_days,
            Self::AfterShipDate => &mut retention.after_ship_date_days,
            Self::AfterLabel => &mut retention.after_label_days,
            Self::Untracked => &mut retention.untracked_days,
        }
    }

    /// `days` for this rule, if Amazon allows that long.
    pub fn checked(self, days: u32) -> Result<u32, RetentionTooLong> {
        let allowed = self.of(&Retention::AMAZON);
        if days > allowed {
            return Err(RetentionTooLong { rule: self.name(), days, allowed });
        }
        Ok(days)
    }
}

/// What we know about one shipment of an order, for the retention schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentFacts {
    /// Our package these facts are about (`None` for Amazon's own packages and older records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_id: Option<PackageId>,
    pub label_created_at: DateTime<Utc>,
    pub shipped_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Whether the carrier service reports tracking.
    pub tracked: bool,
}

impl ShipmentFacts {
    fn redaction_due(&self, retention: &Retention) -> DateTime<Utc> {
        if self.tracked {
            let by_ship_date = self.shipped_at + retention.days(RetentionRule::AfterShipDate);
            let by_label = self.label_created_at + retention.days(RetentionRule::AfterLabel);
            let by_delivery = self.delivered_at.map(|d| d + retention.days(RetentionRule::AfterDelivery));
            [Some(by_ship_date), Some(by_label), by_delivery].into_iter().flatten().min().unwrap_or(by_ship_date)
        } else {
            self.label_created_at + retention.days(RetentionRule::Untracked)
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
/// Every rule is anchored on facts that never move later, so no update from Amazon can push the date out:
///
/// - Awaiting shipment: 14 days after import.
/// - Shipped, per package: with tracking the earliest of delivery + 30, ship date + 30 and label + 44 days;
///   without tracking 30 days after the shipment (the label). The packages are ours (as confirmed) and
///   the ones Amazon reports with a ship time (shipped through Seller Central, or by another tool; tracked
///   when they carry a tracking number of a service that reports tracking). With several packages the
///   address is needed until the last one's window ends.
/// - Shipped without any package we know of: untracked, 30 days after we first saw it shipped
///   ([`LocalState::shipped_seen_at`](super::order::LocalState), never moved by later updates).
/// - Cancelled: when we first saw it cancelled, and never later than an unshipped order (14 days after
///   import). Nothing will be shipped, so there is nothing the address is still needed for; the cap covers
///   orders stored before the cancellation time was recorded.
///
/// The periods are the order's connection's ([`Retention`], copied onto the order), never longer than
/// Amazon's.
pub fn redaction_due(order: &Order) -> Option<DateTime<Utc>> {
    if order.local.redaction.is_redacted() || !order.has_pii() {
        return None;
    }
    let retention = &order.local.retention;
    let unshipped_due = order.local.imported_at + retention.days(RetentionRule::Unshipped);
    match order.status {
        OrderStatus::AwaitingShipment => Some(unshipped_due),
        OrderStatus::Cancelled => Some(order.local.cancelled_seen_at.map_or(unshipped_due, |at| at.min(unshipped_due))),
        OrderStatus::Shipped => {
            let ours = order.local.shipments.iter().cloned();
            // Amazon's copies of our own packages are judged by ours, which know the connection's rules.
            let ours_at_amazon: Vec<String> =
                order.local.confirmed_packages.values().map(|p| p.reference.to_string()).collect();
            let amazons = order
                .amazon
                .packages
                .iter()
                .filter(|package| !ours_at_amazon.contains(&package.reference_id))
                .filter_map(|package| amazon_package_facts(package, &order.local.tracking_rules));
            let by_packages = ours.chain(amazons).map(|facts| facts.redaction_due(retention)).max();
            // Orders stored before `shipped_seen_at` was recorded get it at their next update; until then
            // the update time we hold stands in.
            let seen_shipped = order.local.shipped_seen_at.unwrap_or(order.amazon.updated_at);
            Some(by_packages.unwrap_or(seen_shipped + retention.days(RetentionRule::Untracked)))
        }
    }
}

/// A package Amazon reports, as shipment facts: only one that left (not cancelled, with a ship time, or
/// created and past `PENDING`). Amazon gives no delivery time, and delivery never comes before shipping,
/// so the ship date rules.
fn amazon_package_facts(package: &AmazonPackage, rules: &[TrackingRule]) -> Option<ShipmentFacts> {
    let status = package.status.as_deref().map(str::to_ascii_uppercase);
    let left = match status.as_deref() {
        Some("CANCELLED") => return None,
        Some("PENDING") | None => false,
        Some(_) => true,
    };
    let shipped_at = package.ship_time.or(if left { package.created_at } else { None })?;
    let carrier = package.carrier.as_deref().unwrap_or_default();
    let tracked = package.tracking_number.as_deref().is_some_and(|number| !number.trim().is_empty())
        && reports_tracking(rules, carrier, package.shipping_service.as_deref());
    Some(ShipmentFacts {
        package_id: None,
        label_created_at: package.created_at.map_or(shipped_at, |created| created.min(shipped_at)),
        shipped_at,
        delivered_at: None,
        tracked,
    })
}

/// Replaces buyer PII with `REDACTED (Amazon)`; city, region, postal code and country stay.
pub fn redact(order: &mut Order, now: DateTime<Utc>) {
    strip_pii(&mut order.amazon);
    order.local.redaction = RedactionState::Redacted { at: now };
}

pub(super) fn strip_pii(amazon: &mut AmazonOrder) {
    for_each_pii_field(amazon, |_, field| {
        if field.is_some() {
            *field = Some(REDACTED.to_owned());
        }
    });
}

/// The names of the order's fields that hold buyer PII (never their values): what a redaction changes.
pub fn pii_fields(order: &Order) -> Vec<&'static str> {
    let mut amazon = order.amazon.clone();
    let mut names = Vec::new();
    for_each_pii_field(&mut amazon, |name, field| {
        if field.as_deref().is_some_and(|value| value != REDACTED) && !names.contains(&name) {
            names.push(name);
        }
    });
    names
}

/// Removes the PII outright, as for an Amazon-fulfilled order, which is kept for its record only and
/// never holds any: nothing is left to redact later.
pub(super) fn drop_pii(amazon: &mut AmazonOrder) {
    for_each_pii_field(amazon, |_, field| *field = None);
}

fn for_each_pii_field(amazon: &mut AmazonOrder, mut visit: impl FnMut(&'static str, &mut Option<String>)) {
    if let Some(buyer) = amazon.buyer.as_mut() {
        visit("buyer.name", &mut buyer.name);
        visit("buyer.email", &mut buyer.email);
        // A company name can be a sole trader's own name: PII like the buyer's.
        visit("buyer.company", &mut buyer.company);
    }
    if let Some(address) = amazon.ship_to.as_mut() {
        visit("ship_to.name", &mut address.name);
        visit("ship_to.line1", &mut address.line1);
        visit("ship_to.line2", &mut address.line2);
        visit("ship_to.line3", &mut address.line3);
        visit("ship_to.phone", &mut address.phone);
    }
    for item in &mut amazon.items {
        visit("items.gift_message", &mut item.gift_message);
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
        let facts = ShipmentFacts {
            package_id: None,
            label_created_at: day(2),
            shipped_at: day(3),
            delivered_at: None,
            tracked: true,
        };
        shipped(&mut order, vec![facts.clone()]);
        // ship date + 30 (April 2) comes before label + 44 (April 15).
        assert_eq!(redaction_due(&order), Some(day(3) + Duration::days(30)));

        shipped(&mut order, vec![ShipmentFacts { delivered_at: Some(day(1)), ..facts.clone() }]);
        assert_eq!(redaction_due(&order), Some(day(1) + Duration::days(30)));

        // a ship date far after the label: label + 44 wins.
        let late = ShipmentFacts {
            package_id: None,
            label_created_at: day(1),
            shipped_at: day(1) + Duration::days(20),
            delivered_at: None,
            tracked: true,
        };
        shipped(&mut order, vec![late]);
        assert_eq!(redaction_due(&order), Some(day(1) + Duration::days(44)));
    }

    /// Every rule and edge of the schedule in one table: (what, the order's history, when it is due).
    #[test]
    fn every_rule_and_edge_of_the_schedule() {
        type Setup = fn(&mut Order);
        let cases: [(&str, Setup, Option<DateTime<Utc>>); 11] = [
            ("unshipped: import + 14", |_| {}, Some(day(15))),
            (
                "tracked, not delivered: ship date + 30 before label + 44",
                |o| shipped(o, vec![ShipmentFacts { delivered_at: None, ..tracked(2, 3) }]),
                Some(day(3) + Duration::days(30)),
            ),
            (
                "tracked, delivered after shipping: the ship date + 30 still comes first",
                |o| shipped(o, vec![ShipmentFacts { delivered_at: Some(day(6)), ..tracked(2, 3) }]),
                Some(day(3) + Duration::days(30)),
            ),
            (
                "a delivery reported before the ship date: delivery + 30, the earliest",
                |o| shipped(o, vec![ShipmentFacts { delivered_at: Some(day(2)), ..tracked(2, 4) }]),
                Some(day(2) + Duration::days(30)),
            ),
            (
                "shipped long after the label: label + 44",
                |o| shipped(o, vec![ShipmentFacts { shipped_at: day(20), ..tracked(1, 1) }]),
                Some(day(1) + Duration::days(44)),
            ),
            (
                "untracked: the shipment + 30",
                |o| shipped(o, vec![ShipmentFacts { tracked: false, ..tracked(5, 6) }]),
                Some(day(5) + Duration::days(30)),
            ),
            (
                "several packages: the last one's window",
                |o| shipped(o, vec![tracked(2, 2), ShipmentFacts { tracked: false, ..tracked(9, 10) }]),
                Some(day(9) + Duration::days(30)),
            ),
            (
                "shipped with no package we know of: first seen shipped + 30",
                |o| {
                    o.status = OrderStatus::Shipped;
                    o.local.shipped_seen_at = Some(day(4));
                },
                Some(day(4) + Duration::days(30)),
            ),
            (
                "cancelled: when first seen cancelled",
                |o| {
                    o.status = OrderStatus::Cancelled;
                    o.local.cancelled_seen_at = Some(day(3));
                },
                Some(day(3)),
            ),
            (
                "cancelled, never seen when: import + 14 at the latest",
                |o| {
                    o.status = OrderStatus::Cancelled;
                    o.local.cancelled_seen_at = None;
                },
                Some(day(15)),
            ),
            ("redacted: nothing left to schedule", |o| redact(o, day(2)), None),
        ];
        fn tracked(label: u32, shipped: u32) -> ShipmentFacts {
            ShipmentFacts {
                package_id: None,
                label_created_at: day(label),
                shipped_at: day(shipped),
                delivered_at: None,
                tracked: true,
            }
        }
        for (what, setup, due) in cases {
            let mut order = sample_order(day(1));
            setup(&mut order);
            assert_eq!(redaction_due(&order), due, "{what}");
        }
    }

    #[test]
    fn a_connections_shorter_periods_apply_rule_by_rule_and_never_a_longer_one() {
        let tracked = ShipmentFacts {
            package_id: None,
            label_created_at: day(2),
            shipped_at: day(3),
            delivered_at: Some(day(4)),
            tracked: true,
        };
        let untracked = ShipmentFacts { tracked: false, delivered_at: None, ..tracked.clone() };
        // (rule shortened, to how many days, the shipment or none (unshipped), when it is then due)
        let cases = [
            (RetentionRule::Unshipped, 3, None, day(1) + Duration::days(3)),
            (RetentionRule::AfterDelivery, 5, Some(&tracked), day(4) + Duration::days(5)),
            (RetentionRule::AfterShipDate, 10, Some(&tracked), day(3) + Duration::days(10)),
            (RetentionRule::AfterLabel, 1, Some(&tracked), day(2) + Duration::days(1)),
            (RetentionRule::Untracked, 7, Some(&untracked), day(2) + Duration::days(7)),
            // A period at Amazon's own length changes nothing.
            (RetentionRule::AfterLabel, 44, Some(&tracked), day(3) + Duration::days(30)),
        ];
        for (rule, days, shipment, due) in cases {
            let mut order = sample_order(day(1));
            if let Some(facts) = shipment {
                shipped(&mut order, vec![facts.clone()]);
            }
            order.local.retention = Retention::AMAZON.with(rule, days);
            assert_eq!(redaction_due(&order), Some(due), "{rule:?} at {days} days");
        }
        // A stored period longer than Amazon's (edited by hand) is held to Amazon's.
        let mut order = sample_order(day(1));
        order.local.retention = Retention::AMAZON.with(RetentionRule::Unshipped, 90);
        assert_eq!(redaction_due(&order), Some(day(15)));
        for (rule, allowed) in [
            (RetentionRule::Unshipped, 14),
            (RetentionRule::AfterDelivery, 30),
            (RetentionRule::AfterShipDate, 30),
            (RetentionRule::AfterLabel, 44),
            (RetentionRule::Untracked, 30),
        ] {
            assert_eq!(rule.checked(allowed), Ok(allowed));
            let refused = rule.checked(allowed + 1).unwrap_err();
            assert_eq!((refused.days, refused.allowed), (allowed + 1, allowed));
            assert!(refused.to_string().contains("longer than Amazon's Data Protection Policy allows"), "{refused}");
        }
    }

    #[test]
    fn the_fields_a_redaction_changes_are_named_never_shown() {
        let mut order = sample_order(day(1));
        let fields = pii_fields(&order);
        assert_eq!(
            fields,
            [
                "buyer.name",
                "buyer.email",
                "buyer.company",
                "ship_to.name",
                "ship_to.line1",
                "ship_to.phone",
                "items.gift_message"
            ]
        );
        redact(&mut order, day(2));
        assert!(pii_fields(&order).is_empty());
    }

    #[test]
    fn untracked_shipments_are_due_thirty_days_after_the_shipment() {
        let mut order = sample_order(day(1));
        shipped(
            &mut order,
            vec![ShipmentFacts {
                package_id: None,
                label_created_at: day(5),
                shipped_at: day(6),
                delivered_at: None,
                tracked: false,
            }],
        );
        assert_eq!(redaction_due(&order), Some(day(5) + Duration::days(30)));
    }

    #[test]
    fn the_last_package_of_an_order_sets_the_deadline() {
        let mut order = sample_order(day(1));
        let first = ShipmentFacts {
            package_id: None,
            label_created_at: day(2),
            shipped_at: day(2),
            delivered_at: None,
            tracked: true,
        };
        let second = ShipmentFacts {
            package_id: None,
            label_created_at: day(9),
            shipped_at: day(9),
            delivered_at: None,
            tracked: true,
        };
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
        assert_eq!(buyer.company.as_deref(), Some(REDACTED));
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

    /// Amazon's copy of the sample order, last updated at `updated_at`.
    fn copy(updated_at: DateTime<Utc>) -> AmazonOrder {
        AmazonOrder { updated_at, ..sample_order(day(1)).amazon }
    }

    fn amazon_package(carrier: &str, service: &str, tracking: Option<&str>, ship: DateTime<Utc>) -> AmazonPackage {
        AmazonPackage {
            reference_id: "1".into(),
            carrier: Some(carrier.into()),
            shipping_service: Some(service.into()),
            tracking_number: tracking.map(str::to_owned),
            created_at: Some(ship),
            ship_time: Some(ship),
            status: Some("SHIPPED".into()),
        }
    }

    #[test]
    fn a_shipped_order_without_packages_is_anchored_when_first_seen_shipped() {
        // Shipped through Seller Central: Amazon's copy says shipped on the 3rd; we hold no package.
        let mut order = sample_order(day(1));
        order.absorb_update(OrderStatus::Shipped, copy(day(3)));
        assert_eq!(order.local.shipped_seen_at, Some(day(3)));
        assert_eq!(redaction_due(&order), Some(day(3) + Duration::days(30)));
        // Later updates (a refund, a buyer message) do not push the date out.
        order.absorb_update(OrderStatus::Shipped, copy(day(20)));
        order.absorb_update(OrderStatus::Shipped, copy(day(28)));
        assert_eq!(order.local.shipped_seen_at, Some(day(3)));
        assert_eq!(redaction_due(&order), Some(day(3) + Duration::days(30)));

        // Imported already shipped (an opted-in FBA order carrying PII, a reset import date): anchored on
        // the copy we first saw, never later than our clock.
        let mut imported = Order::import(order.connection_id.clone(), OrderStatus::Shipped, copy(day(5)), day(6));
        assert_eq!(redaction_due(&imported), Some(day(5) + Duration::days(30)));
        imported.absorb_update(OrderStatus::Shipped, copy(day(25)));
        assert_eq!(redaction_due(&imported), Some(day(5) + Duration::days(30)));
    }

    #[test]
    fn an_order_stored_shipped_before_the_anchor_existed_is_pinned_at_its_next_update() {
        let mut order = sample_order(day(1));
        order.status = OrderStatus::Shipped;
        order.amazon.updated_at = day(3);
        order.local.shipped_seen_at = None;
        order.absorb_update(OrderStatus::Shipped, copy(day(20)));
        assert_eq!(redaction_due(&order), Some(day(3) + Duration::days(30)));
    }

    #[test]
    fn packages_amazon_reports_set_the_schedule_by_their_ship_times() {
        let mut order = sample_order(day(1));
        let mut shipped = copy(day(10));
        shipped.packages = vec![
            // Tracked, delivered: ship date + 30.
            AmazonPackage {
                status: Some("DELIVERED".into()),
                ..amazon_package("UPS", "Ground", Some("1Z999AA10123456784"), day(2))
            },
            // Never left: ignored.
            AmazonPackage { status: Some("CANCELLED".into()), ..amazon_package("UPS", "Ground", None, day(9)) },
        ];
        order.absorb_update(OrderStatus::Shipped, shipped.clone());
        assert_eq!(redaction_due(&order), Some(day(2) + Duration::days(30)));

        // A later copy repeating the same packages changes nothing.
        order.absorb_update(OrderStatus::Shipped, AmazonOrder { updated_at: day(27), ..shipped.clone() });
        assert_eq!(redaction_due(&order), Some(day(2) + Duration::days(30)));

        // A second package shipped later by letter post: untracked, 30 days after it; the last one rules.
        let mut two = AmazonOrder { updated_at: day(28), ..shipped };
        two.packages.push(amazon_package("USPS", "First-Class Mail", None, day(4)));
        order.absorb_update(OrderStatus::Shipped, two);
        assert_eq!(redaction_due(&order), Some(day(4) + Duration::days(30)));
    }

    #[test]
    fn the_connections_tracking_rules_judge_the_packages_amazon_reports() {
        // Royal Mail 2nd Class is a letter service by the table: untracked, 30 days after the label.
        let mut order = sample_order(day(1));
        let mut shipped = order.amazon.clone();
        shipped.updated_at = day(5);
        shipped.packages = vec![amazon_package("Royal Mail", "2nd Class", Some("RM123456785GB"), day(2))];
        order.absorb_update(OrderStatus::Shipped, shipped);
        assert_eq!(redaction_due(&order), Some(day(2) + Duration::days(30)));
        // The connection knows its 2nd Class packages are tracked: the label + 44 rule joins in.
        order.local.retention = Retention::AMAZON.with(RetentionRule::AfterShipDate, 10);
        assert_eq!(redaction_due(&order), Some(day(2) + Duration::days(30)), "untracked: ship date rule unused");
        order.local.tracking_rules =
            vec![TrackingRule { carrier: "Royal Mail".into(), shipping_method: "2nd Class".into(), tracked: true }];
        assert_eq!(redaction_due(&order), Some(day(2) + Duration::days(10)));
    }

    #[test]
    fn a_package_sent_by_a_service_without_tracking_follows_the_untracked_rule() {
        use crate::domain::carrier::CarrierRules;
        use crate::domain::connection::ConnectionOptions;
        use crate::domain::ids::{PackageId, TrackingNumber};
        use crate::domain::shipment::{ItemRef, ShipmentLine, ShipmentRequest, plan_package};
        use crate::domain::tracking::TrackingRule;

        let order = sample_order(day(1));
        // Label on the 1st, handed over on the 21st: tracked, label + 44 would rule (April 14).
        let request = ShipmentRequest {
            order_id: order.id().clone(),
            package_id: PackageId::parse("PKG-1").unwrap(),
            carrier: "USPS".into(),
            shipping_method: Some("First-Class Mail".into()),
            tracking_number: TrackingNumber::parse("9400100000000000000000").unwrap(),
            ship_date: day(21),
            label_created_at: day(1),
            lines: vec![ShipmentLine {
                item: ItemRef::Sku(crate::domain::ids::Sku::parse("SKU-A").unwrap()),
                quantity: 2,
            }],
        };
        let mut package = plan_package(&order, &request, &CarrierRules::default(), day(1)).unwrap();
        assert!(!package.facts().tracked, "USPS First-Class Mail letters report no tracking");
        let mut letter = order.clone();
        letter.status = OrderStatus::Shipped;
        letter.local.shipments = vec![package.facts()];
        assert_eq!(redaction_due(&letter), Some(day(1) + Duration::days(30)));

        // A connection whose broker does track that service says so, and the tracked rules apply again.
        let options = ConnectionOptions {
            tracking_rules: vec![TrackingRule {
                carrier: "USPS".into(),
                shipping_method: "First-Class Mail".into(),
                tracked: true,
            }],
            ..ConnectionOptions::default()
        };
        package.tracked = Some(options.reports_tracking(package.carrier.code(), package.shipping_method.as_deref()));
        letter.local.shipments = vec![package.facts()];
        assert_eq!(redaction_due(&letter), Some(day(1) + Duration::days(44)));
    }

    #[test]
    fn a_cancelled_order_is_due_when_first_seen_cancelled() {
        let mut order = sample_order(day(1));
        order.absorb_update(OrderStatus::Cancelled, copy(day(3)));
        assert_eq!(redaction_due(&order), Some(day(3)));
        order.absorb_update(OrderStatus::Cancelled, copy(day(12)));
        assert_eq!(redaction_due(&order), Some(day(3)), "later updates do not move it");

        // Seen cancelled only after the unshipped limit: the unshipped limit stands.
        let mut late = sample_order(day(1));
        late.absorb_update(OrderStatus::Cancelled, copy(day(25)));
        assert_eq!(redaction_due(&late), Some(day(15)));
    }

    #[test]
    fn amazons_copy_of_our_own_package_does_not_override_what_we_know_of_it() {
        use crate::domain::ids::{PackageId, PackageReference};
        use crate::domain::order::ConfirmedPackage;
        let mut order = sample_order(day(1));
        // Ours: a service the connection says reports no tracking, labelled on the 2nd.
        let untracked = ShipmentFacts {
            package_id: None,
            label_created_at: day(2),
            shipped_at: day(2),
            delivered_at: None,
            tracked: false,
        };
        shipped(&mut order, vec![untracked]);
        order.local.confirmed_packages.insert(
            PackageId::parse("PKG-1").unwrap(),
            ConfirmedPackage { reference: PackageReference::first(), lines: Vec::new() },
        );
        // Amazon's copy of the same package (reference 1), which the built-in table would call tracked.
        order.amazon.packages = vec![amazon_package("UPS", "Ground", Some("1Z999AA10123456784"), day(3))];
        assert_eq!(redaction_due(&order), Some(day(2) + Duration::days(30)));
    }
}
