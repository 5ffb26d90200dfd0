//! Turning a merchant's shipment into one Amazon package confirmation, and the package's life after that.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::carrier::{Carrier, CarrierError, CarrierRules};
use super::ids::{AmazonOrderId, OrderItemId, PackageId, PackageReference, Sku, TrackingNumber};
use super::order::Order;
use super::pii::ShipmentFacts;
use super::status::{FulfilledBy, OrderStatus};

/// How the merchant names a line of the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemRef {
    OrderItem(OrderItemId),
    Sku(Sku),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentLine {
    pub item: ItemRef,
    pub quantity: u32,
}

/// A shipment as the merchant's store reports it (label created with carrier, tracking and items).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentRequest {
    pub order_id: AmazonOrderId,
    pub package_id: PackageId,
    pub carrier: String,
    pub shipping_method: Option<String>,
    pub tracking_number: TrackingNumber,
    pub ship_date: DateTime<Utc>,
    pub label_created_at: DateTime<Utc>,
    pub lines: Vec<ShipmentLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageLine {
    pub order_item_id: OrderItemId,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PackageState {
    Queued,
    Confirmed {
        at: DateTime<Utc>,
    },
    /// Amazon refused the package for good; `reason` is Amazon's message (or ours) in plain words.
    Failed {
        reason: String,
        at: DateTime<Utc>,
    },
    /// Transient failures outlasted the retries; the message sits in the dead-letter queue.
    DeadLettered {
        reason: String,
        at: DateTime<Utc>,
    },
}

impl PackageState {
    pub fn is_final(&self) -> bool {
        !matches!(self, Self::Queued)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Confirmed { .. } => "confirmed",
            Self::Failed { .. } => "failed",
            Self::DeadLettered { .. } => "dead_lettered",
        }
    }
}

/// One package of an order, confirmed to Amazon on its own with its own `packageReferenceId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub order_id: AmazonOrderId,
    pub package_id: PackageId,
    pub reference: PackageReference,
    pub carrier: Carrier,
    pub shipping_method: Option<String>,
    pub tracking_number: TrackingNumber,
    pub ship_date: DateTime<Utc>,
    pub label_created_at: DateTime<Utc>,
    pub lines: Vec<PackageLine>,
    pub state: PackageState,
    /// How often Amazon's quota made us wait before sending.
    pub throttle_deferrals: u32,
    /// Set while one consumer is sending this package, so a duplicate delivery never sends it twice.
    #[serde(default)]
    pub claimed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl Package {
    pub fn facts(&self) -> ShipmentFacts {
        ShipmentFacts {
            label_created_at: self.label_created_at,
            shipped_at: self.ship_date,
            delivered_at: None,
            tracked: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ShipmentRejected {
    #[error("order {order_id} is fulfilled by Amazon; only merchant-fulfilled orders take shipments")]
    AmazonFulfilled { order_id: AmazonOrderId },
    #[error("order {order_id} is {status}, not awaiting shipment")]
    NotAwaitingShipment { order_id: AmazonOrderId, status: &'static str },
    #[error("shipment for order {order_id} lists no items")]
    NoItems { order_id: AmazonOrderId },
    #[error("items[{index}]: order {order_id} has no item {item}")]
    UnknownItem { order_id: AmazonOrderId, index: usize, item: String },
    #[error("items[{index}].quantity: must be at least 1 (order {order_id})")]
    ZeroQuantity { order_id: AmazonOrderId, index: usize },
    #[error("items: order {order_id} item {item} has {remaining} left to ship, the shipment sends {requested}")]
    TooMany { order_id: AmazonOrderId, item: OrderItemId, remaining: u32, requested: u32 },
    #[error("carrier: {source} (order {order_id})")]
    Carrier { order_id: AmazonOrderId, source: CarrierError },
}

/// Checks a shipment against the order and plans its package. Quantities already promised to earlier
/// packages count against what is left, so two packages can never ship the same unit twice.
pub fn plan_package(
    order: &Order,
    request: &ShipmentRequest,
    carriers: &CarrierRules,
    now: DateTime<Utc>,
) -> Result<Package, ShipmentRejected> {
    let order_id = order.id().clone();
    if order.amazon.fulfilled_by == FulfilledBy::Amazon {
        return Err(ShipmentRejected::AmazonFulfilled { order_id });
    }
    if order.status != OrderStatus::AwaitingShipment {
        return Err(ShipmentRejected::NotAwaitingShipment { order_id, status: order.status.as_str() });
    }
    if request.lines.is_empty() {
        return Err(ShipmentRejected::NoItems { order_id });
    }

    let mut lines: Vec<PackageLine> = Vec::new();
    for (index, line) in request.lines.iter().enumerate() {
        let item = match &line.item {
            ItemRef::OrderItem(id) => order.item(id),
            ItemRef::Sku(sku) => order.item_by_sku(sku),
        };
        let Some(item) = item else {
            let item = match &line.item {
                ItemRef::OrderItem(id) => id.to_string(),
                ItemRef::Sku(sku) => format!("with SKU {sku}"),
            };
            return Err(ShipmentRejected::UnknownItem { order_id, index, item });
        };
        if line.quantity == 0 {
            return Err(ShipmentRejected::ZeroQuantity { order_id, index });
        }
        match lines.iter_mut().find(|l| l.order_item_id == item.id) {
            Some(existing) => existing.quantity += line.quantity,
            None => lines.push(PackageLine { order_item_id: item.id.clone(), quantity: line.quantity }),
        }
    }

    for line in &lines {
        let item = order.item(&line.order_item_id).expect("lines were built from the order's items");
        let planned = order.local.planned_quantities.get(&line.order_item_id).copied().unwrap_or(0);
        let remaining = item.quantity_ordered.saturating_sub(item.quantity_shipped.max(planned));
        if line.quantity > remaining {
            return Err(ShipmentRejected::TooMany {
                order_id,
                item: line.order_item_id.clone(),
                remaining,
                requested: line.quantity,
            });
        }
    }

    let carrier = carriers
        .map(&request.carrier)
        .map_err(|source| ShipmentRejected::Carrier { order_id: order_id.clone(), source })?;
    Ok(Package {
        order_id,
        package_id: request.package_id.clone(),
        reference: order.local.next_package_reference,
        carrier,
        shipping_method: request.shipping_method.clone(),
        tracking_number: request.tracking_number.clone(),
        ship_date: request.ship_date,
        label_created_at: request.label_created_at,
        lines,
        state: PackageState::Queued,
        throttle_deferrals: 0,
        claimed_at: None,
        created_at: now,
    })
}

/// Books an accepted package on its order: the next reference number and the quantities it takes.
pub fn reserve_package(order: &mut Order, package: &Package) {
    order.local.next_package_reference = package.reference.next();
    for line in &package.lines {
        let shipped = order.item(&line.order_item_id).map_or(0, |item| item.quantity_shipped);
        let planned = order.local.planned_quantities.entry(line.order_item_id.clone()).or_insert(shipped);
        *planned += line.quantity;
    }
}

/// Records a package Amazon accepted. Once every unit is confirmed the order counts as shipped.
pub fn record_confirmed(order: &mut Order, package: &Package) {
    if order.local.shipments.iter().any(|facts| *facts == package.facts()) {
        return;
    }
    order.local.shipments.push(package.facts());
    for line in &package.lines {
        if let Some(item) = order.amazon.items.iter_mut().find(|item| item.id == line.order_item_id) {
            item.quantity_shipped = (item.quantity_shipped + line.quantity).min(item.quantity_ordered);
        }
    }
    if order.amazon.items.iter().all(|item| item.quantity_shipped >= item.quantity_ordered) {
        order.status = OrderStatus::Shipped;
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::test_support::sample_order;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
    }

    fn request(order: &Order, lines: Vec<ShipmentLine>) -> ShipmentRequest {
        ShipmentRequest {
            order_id: order.id().clone(),
            package_id: PackageId::parse("PKG-1").unwrap(),
            carrier: "United Parcel Service".into(),
            shipping_method: Some("Ground".into()),
            tracking_number: TrackingNumber::parse("1Z999AA10123456784").unwrap(),
            ship_date: now(),
            label_created_at: now(),
            lines,
        }
    }

    fn by_sku(sku: &str, quantity: u32) -> ShipmentLine {
        ShipmentLine { item: ItemRef::Sku(Sku::parse(sku).unwrap()), quantity }
    }

    #[test]
    fn a_valid_shipment_becomes_a_package_with_the_next_reference() {
        let order = sample_order(now());
        let package =
            plan_package(&order, &request(&order, vec![by_sku("SKU-A", 1)]), &CarrierRules::default(), now()).unwrap();
        assert_eq!(package.reference.to_string(), "1");
        assert_eq!(package.carrier.code(), "UPS");
        assert_eq!(
            package.lines,
            vec![PackageLine { order_item_id: OrderItemId::parse("11111111111111").unwrap(), quantity: 1 }]
        );
        assert_eq!(package.state, PackageState::Queued);
    }

    #[test]
    fn split_shipments_cannot_ship_more_than_was_ordered() {
        let mut order = sample_order(now());
        let carriers = CarrierRules::default();
        let first = plan_package(&order, &request(&order, vec![by_sku("SKU-A", 1)]), &carriers, now()).unwrap();
        reserve_package(&mut order, &first);
        let second = plan_package(&order, &request(&order, vec![by_sku("SKU-A", 1)]), &carriers, now()).unwrap();
        assert_eq!(second.reference.to_string(), "2");
        reserve_package(&mut order, &second);
        let err = plan_package(&order, &request(&order, vec![by_sku("SKU-A", 1)]), &carriers, now()).unwrap_err();
        assert!(err.to_string().contains("has 0 left to ship, the shipment sends 1"), "{err}");
    }

    #[test]
    fn unknown_items_and_zero_quantities_name_the_line_and_order() {
        let order = sample_order(now());
        let carriers = CarrierRules::default();
        let err = plan_package(&order, &request(&order, vec![by_sku("NOPE", 1)]), &carriers, now()).unwrap_err();
        assert_eq!(err.to_string(), format!("items[0]: order {} has no item with SKU NOPE", order.id()));
        let err = plan_package(&order, &request(&order, vec![by_sku("SKU-A", 0)]), &carriers, now()).unwrap_err();
        assert!(err.to_string().starts_with("items[0].quantity"));
        let err = plan_package(&order, &request(&order, vec![]), &carriers, now()).unwrap_err();
        assert!(matches!(err, ShipmentRejected::NoItems { .. }));
    }

    #[test]
    fn orders_not_awaiting_shipment_take_no_packages() {
        let mut order = sample_order(now());
        order.status = OrderStatus::Cancelled;
        let err = plan_package(&order, &request(&order, vec![by_sku("SKU-A", 1)]), &CarrierRules::default(), now())
            .unwrap_err();
        assert!(err.to_string().contains("is cancelled"));
        let mut fba = sample_order(now());
        fba.amazon.fulfilled_by = FulfilledBy::Amazon;
        assert!(matches!(
            plan_package(&fba, &request(&fba, vec![by_sku("SKU-A", 1)]), &CarrierRules::default(), now()),
            Err(ShipmentRejected::AmazonFulfilled { .. })
        ));
    }

    #[test]
    fn confirming_every_unit_ships_the_order_once() {
        let mut order = sample_order(now());
        let carriers = CarrierRules::default();
        let package =
            plan_package(&order, &request(&order, vec![by_sku("SKU-A", 2), by_sku("SKU-B", 1)]), &carriers, now())
                .unwrap();
        reserve_package(&mut order, &package);
        record_confirmed(&mut order, &package);
        record_confirmed(&mut order, &package);
        assert_eq!(order.status, OrderStatus::Shipped);
        assert_eq!(order.local.shipments.len(), 1, "a repeated confirmation is recorded once");
    }
}
