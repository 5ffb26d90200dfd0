//! Turning a merchant's shipment into one Amazon package confirmation, and the package's life after that.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::carrier::{Carrier, CarrierError, CarrierRules};
use super::connection::ProductIdentifier;
use super::ids::{AmazonOrderId, Asin, OrderItemId, PackageId, PackageReference, Sku, TrackingNumber};
use super::order::{ConfirmedPackage, Order, OrderItem};
use super::pii::ShipmentFacts;
use super::status::{FulfilledBy, OrderStatus};

/// How the merchant names a line of the order. [`Order::items_matching`] finds the lines a reference
/// names (several lines can share a SKU or an ASIN).
///
/// [`Order::items_matching`]: super::order::Order::items_matching
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemRef {
    OrderItem(OrderItemId),
    Sku(Sku),
    Asin(Asin),
}

impl ItemRef {
    /// The value as the merchant sent it, whichever kind of reference it was read as.
    pub fn as_str(&self) -> &str {
        match self {
            Self::OrderItem(id) => id.as_str(),
            Self::Sku(sku) => sku.as_str(),
            Self::Asin(asin) => asin.as_str(),
        }
    }

    /// The reference as the connection's product identifier reads it. A connection set to ASIN has
    /// stores that know lines by ASIN and often send it in the `sku` field: there a `sku` value shaped
    /// like an ASIN (10 letters and digits) names the lines with that ASIN. Any other value stays a SKU,
    /// and explicit `order_item_id` and `asin` references never change.
    pub fn named_by(self, identifier: ProductIdentifier) -> Self {
        match (identifier, self) {
            (ProductIdentifier::Asin, Self::Sku(sku)) => match Asin::parse(sku.as_str()) {
                Ok(asin) => Self::Asin(asin),
                Err(_) => Self::Sku(sku),
            },
            (_, other) => other,
        }
    }
}

impl ShipmentRequest {
    /// Reads every line's reference as the connection's product identifier does ([`ItemRef::named_by`]).
    /// Call it once the order's connection is known, before planning the package.
    pub fn named_by(mut self, identifier: ProductIdentifier) -> Self {
        for line in &mut self.lines {
            line.item = line.item.clone().named_by(identifier);
        }
        self
    }

    /// A digest of what the merchant asked Amazon to record: carrier, method, tracking number, ship date
    /// and items. Event ids and delivery times are left out, so a retried event matches its original.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let canonical = serde_json::json!({
            "order_id": self.order_id,
            "package_id": self.package_id,
            "carrier": self.carrier.trim(),
            "shipping_method": self.shipping_method.as_deref().map(str::trim),
            "tracking_number": self.tracking_number,
            "ship_date": self.ship_date.timestamp(),
            // By value, not kind: how the connection reads a line may change, the request does not.
            "lines": self.lines.iter().map(|line| (line.item.as_str(), line.quantity)).collect::<Vec<_>>(),
        });
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
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
    /// It waited for confirmShipment's quota too long ([`super::feed::goes_by_feed`]): it goes out in the
    /// connection's next order fulfillment feed, never by call.
    AwaitingFeed {
        since: DateTime<Utc>,
    },
    /// Sent in a feed Amazon is processing; the feed's processing report settles it.
    InFeed {
        feed: String,
        message_id: u32,
        at: DateTime<Utc>,
    },
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
        !matches!(self, Self::Queued | Self::AwaitingFeed { .. } | Self::InFeed { .. })
    }

    /// Whether it goes (or went) out by feed: no call may send it.
    pub fn is_by_feed(&self) -> bool {
        matches!(self, Self::AwaitingFeed { .. } | Self::InFeed { .. })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::AwaitingFeed { .. } => "awaiting_feed",
            Self::InFeed { .. } => "in_feed",
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
    /// How many times a request for this package may have reached Amazon. Past the first, an outcome
    /// is reconciled against Amazon's own view before anything is sent again.
    #[serde(default)]
    pub send_attempts: u32,
    /// What the merchant asked for (see [`ShipmentRequest::fingerprint`]): a repeat with the same
    /// fingerprint is a duplicate, a different one a change we refuse.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// Whether the order got this package's units back (it failed or was dead-lettered). Packages
    /// that ended before this was kept never gave them back.
    #[serde(default)]
    pub units_released: bool,
    /// Whether the carrier service reports tracking, as the connection's tracking rules decided
    /// ([`crate::domain::connection::ConnectionOptions::reports_tracking`]); `None`: the built-in table decides.
    #[serde(default)]
    pub tracked: Option<bool>,
    /// What the operator should know about this package though it was accepted (its tracking number
    /// is already on another order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// When the carrier delivered it, as the store reported (`shipment.delivered`; the earliest report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<DateTime<Utc>>,
    /// A feed could not carry it and handed it back: it goes by call, however late.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_call_only: bool,
    pub created_at: DateTime<Utc>,
}

/// A request under the id of a package we already hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamePackageId {
    /// The same carrier, method, tracking number, ship date and items: acknowledged, not sent again.
    Repeat,
    /// Different details for a package that was accepted: refused, an accepted package cannot change.
    Changed,
}

impl Package {
    /// Whether this package may be replaced by a new request under the same package id: Amazon holds
    /// nothing of it we still stand by (it refused it, or we gave up sending it).
    pub fn is_resendable(&self) -> bool {
        matches!(self.state, PackageState::Failed { .. } | PackageState::DeadLettered { .. })
    }

    /// What a new request under this package's id is: a repeat of it, a change we refuse, or (`None`)
    /// a corrected resend of a package that ended. Sending an ended package again unchanged would only
    /// end the same way, so that is a repeat too.
    pub fn compare(&self, request: &ShipmentRequest) -> Option<SamePackageId> {
        let same = self.fingerprint.as_deref() == Some(request.fingerprint().as_str());
        if self.is_resendable() {
            same.then_some(SamePackageId::Repeat)
        } else if same || self.fingerprint.is_none() {
            // Packages accepted before fingerprints were kept cannot be compared: taken as repeats.
            Some(SamePackageId::Repeat)
        } else {
            Some(SamePackageId::Changed)
        }
    }

    /// Whether a call may send it: neither settled nor going by feed.
    pub fn is_sendable_by_call(&self) -> bool {
        self.state == PackageState::Queued
    }

    /// A feed could not settle it: back to the call path. With `reconcile` (Amazon may hold it), the
    /// sender asks Amazon's copy of the order before sending, as for an attempt that may have landed.
    pub fn handed_back(mut self, reconcile: bool) -> Self {
        self.state = PackageState::Queued;
        self.claimed_at = None;
        self.by_call_only = true;
        if reconcile {
            self.send_attempts = self.send_attempts.max(1);
        }
        self
    }

    /// The package as stored now with the outcome `settled` decided for it: what changed meanwhile (a
    /// delivery time) is kept.
    pub fn with_outcome_of(mut self, settled: &Package) -> Self {
        self.state = settled.state.clone();
        self.claimed_at = settled.claimed_at;
        self.units_released = settled.units_released;
        for warning in &settled.warnings {
            if !self.warnings.contains(warning) {
                self.warnings.push(warning.clone());
            }
        }
        self
    }

    /// Amazon holds it now (by call or by feed).
    pub fn into_confirmed(mut self, at: DateTime<Utc>) -> Self {
        self.claimed_at = None;
        self.state = PackageState::Confirmed { at };
        self
    }

    /// It ended without Amazon holding it (`Failed` or `DeadLettered`): its units go back to the order
    /// ([`release_package`]) so the merchant can ship them again.
    pub fn into_ended(mut self, state: PackageState) -> Self {
        self.claimed_at = None;
        self.state = state;
        self.units_released = true;
        self
    }

    /// The package as the PII schedule sees it. Whether its service reports tracking is what the
    /// connection's tracking rules said when it was accepted (`tracked`), else the built-in table.
    pub fn facts(&self) -> ShipmentFacts {
        let carrier = self.carrier.other_name().unwrap_or(self.carrier.code());
        ShipmentFacts {
            package_id: Some(self.package_id.clone()),
            label_created_at: self.label_created_at,
            shipped_at: self.ship_date,
            delivered_at: self.delivered_at,
            tracked: self
                .tracked
                .unwrap_or_else(|| super::tracking::reports_tracking(&[], carrier, self.shipping_method.as_deref())),
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
    TooMany { order_id: AmazonOrderId, item: String, remaining: u32, requested: u32 },
    #[error("order {order_id} {reason}; sellerbridge does not send its shipment confirmation")]
    NotConfirmedByMerchant { order_id: AmazonOrderId, reason: &'static str },
    #[error("carrier: {source} (order {order_id})")]
    Carrier { order_id: AmazonOrderId, source: CarrierError },
}

/// Checks a shipment against the order and plans its package. Quantities already promised to earlier
/// packages count against what is left, so two packages can never ship the same unit twice; a line
/// naming a SKU the order holds on several lines is spread over them in order.
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
    if let Some(reason) = not_confirmed_by_merchant(order) {
        return Err(ShipmentRejected::NotConfirmedByMerchant { order_id, reason });
    }
    if order.status != OrderStatus::AwaitingShipment {
        return Err(ShipmentRejected::NotAwaitingShipment { order_id, status: order.status.as_str() });
    }
    if request.lines.is_empty() {
        return Err(ShipmentRejected::NoItems { order_id });
    }

    let mut lines: Vec<PackageLine> = Vec::new();
    for (index, line) in request.lines.iter().enumerate() {
        let candidates: Vec<&OrderItem> = order.items_matching(&line.item).collect();
        if candidates.is_empty() {
            return Err(ShipmentRejected::UnknownItem { order_id, index, item: describe(&line.item) });
        }
        if line.quantity == 0 {
            return Err(ShipmentRejected::ZeroQuantity { order_id, index });
        }
        let left = |item: &OrderItem, lines: &[PackageLine]| {
            let in_this_package = lines.iter().filter(|l| l.order_item_id == item.id).map(|l| l.quantity).sum::<u32>();
            remaining(order, item).saturating_sub(in_this_package)
        };
        let available: u32 = candidates.iter().map(|item| left(item, &lines)).sum();
        if line.quantity > available {
            let item = match candidates.as_slice() {
                [only] => only.id.to_string(),
                _ => describe(&line.item),
            };
            return Err(ShipmentRejected::TooMany { order_id, item, remaining: available, requested: line.quantity });
        }
        let mut needed = line.quantity;
        for item in candidates {
            let take = needed.min(left(item, &lines));
            if take == 0 {
                continue;
            }
            match lines.iter_mut().find(|l| l.order_item_id == item.id) {
                Some(existing) => existing.quantity += take,
                None => lines.push(PackageLine { order_item_id: item.id.clone(), quantity: take }),
            }
            needed -= take;
        }
    }

    let carrier = carriers
        .map(&request.carrier)
        .map_err(|source| ShipmentRejected::Carrier { order_id: order_id.clone(), source })?;
    Ok(Package {
        order_id,
        package_id: request.package_id.clone(),
        reference: next_reference(order),
        carrier,
        shipping_method: carriers.shipping_method(request.shipping_method.as_deref()),
        tracking_number: request.tracking_number.clone(),
        ship_date: request.ship_date,
        label_created_at: request.label_created_at,
        lines,
        state: PackageState::Queued,
        throttle_deferrals: 0,
        claimed_at: None,
        send_attempts: 0,
        fingerprint: Some(request.fingerprint()),
        units_released: false,
        tracked: None,
        warnings: Vec::new(),
        delivered_at: None,
        by_call_only: false,
        created_at: now,
    })
}

/// Plans a corrected resend of a package Amazon refused or we gave up on: the old package's
/// quantities were released when it failed, and it keeps its `packageReferenceId`, so if an earlier
/// attempt did reach Amazon the resend updates that package instead of adding a second one.
pub fn plan_resend(
    order: &Order,
    previous: &Package,
    request: &ShipmentRequest,
    carriers: &CarrierRules,
    now: DateTime<Utc>,
) -> Result<Package, ShipmentRejected> {
    debug_assert!(previous.is_resendable());
    let mut package = plan_package(order, request, carriers, now)?;
    package.reference = previous.reference;
    // Whether an earlier attempt may have reached Amazon stays known, so the resend checks first.
    package.send_attempts = previous.send_attempts;
    Ok(package)
}

/// The next `packageReferenceId`: past ours, and past any Amazon already holds for the order (packages
/// confirmed in Seller Central or by another tool), so a new package never updates one of those.
fn next_reference(order: &Order) -> PackageReference {
    let after_amazons = order
        .amazon
        .packages
        .iter()
        .filter_map(|package| package.reference_id.parse::<u32>().ok())
        .max()
        .and_then(|highest| PackageReference::new(highest.saturating_add(1)));
    order.local.next_package_reference.max(after_amazons.unwrap_or(PackageReference::first()))
}

/// Why Amazon, not the merchant, confirms this order's shipment (or cannot take it through
/// confirmShipment at all), if so.
fn not_confirmed_by_merchant(order: &Order) -> Option<&'static str> {
    let flags = &order.amazon.flags;
    if flags.easy_ship {
        Some("is an Amazon Easy Ship order: Amazon's carrier collects it and Amazon records the shipment")
    } else if flags.delivery_by_amazon {
        Some("is a Delivery by Amazon order: Amazon delivers it and records the shipment")
    } else if flags.transparency {
        Some("has items that need Transparency codes, which confirmShipment cannot carry: confirm it in Seller Central")
    } else {
        None
    }
}

fn describe(item: &ItemRef) -> String {
    match item {
        ItemRef::OrderItem(id) => id.to_string(),
        ItemRef::Sku(sku) => format!("with SKU {sku}"),
        ItemRef::Asin(asin) => format!("with ASIN {asin}"),
    }
}

/// Units of an item neither shipped at Amazon nor promised to an accepted package, nor on a line
/// being cancelled.
pub(crate) fn remaining(order: &Order, item: &OrderItem) -> u32 {
    if order.local.cancelling.contains(&item.id) {
        return 0;
    }
    let planned = order.local.planned_quantities.get(&item.id).copied().unwrap_or(0);
    item.quantity_ordered.saturating_sub(item.quantity_shipped.max(planned))
}

/// Books an accepted package on its order: the next reference number and the quantities it takes.
pub fn reserve_package(order: &mut Order, package: &Package) {
    // A resend keeps its old reference, which must not move the counter back.
    order.local.next_package_reference = order.local.next_package_reference.max(package.reference.next());
    for line in &package.lines {
        let shipped = order.item(&line.order_item_id).map_or(0, |item| item.quantity_shipped);
        let planned = order.local.planned_quantities.entry(line.order_item_id.clone()).or_insert(shipped);
        *planned += line.quantity;
    }
}

/// Takes a released package's quantities again (a dead-lettered package sent once more), unless
/// other packages took those units meanwhile.
pub fn reserve_again(order: &mut Order, package: &Package) -> Result<(), ShipmentRejected> {
    for line in &package.lines {
        let left = order.item(&line.order_item_id).map_or(0, |item| remaining(order, item));
        if line.quantity > left {
            return Err(ShipmentRejected::TooMany {
                order_id: order.id().clone(),
                item: line.order_item_id.to_string(),
                remaining: left,
                requested: line.quantity,
            });
        }
    }
    reserve_package(order, package);
    Ok(())
}

/// Gives back the quantities of a package Amazon refused or we gave up on, so the merchant can ship
/// those units again (under a new package id, or the same one with corrected details).
pub fn release_package(order: &mut Order, package: &Package) {
    for line in &package.lines {
        if let Some(planned) = order.local.planned_quantities.get_mut(&line.order_item_id) {
            *planned = planned.saturating_sub(line.quantity);
        }
    }
}

/// Records a package Amazon accepted, once per package id. Once every unit is confirmed the order
/// counts as shipped.
pub fn record_confirmed(order: &mut Order, package: &Package) {
    if order.local.confirmed_packages.contains_key(&package.package_id) {
        return;
    }
    let confirmed = ConfirmedPackage { reference: package.reference, lines: package.lines.clone() };
    order.local.confirmed_packages.insert(package.package_id.clone(), confirmed);
    order.local.shipments.push(package.facts());
    // Not added to Amazon's count: a copy of the order synced since the confirmation may hold it already.
    reapply_confirmations(order);
}

/// Why a delivery cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DeliveryRejected {
    #[error("package {package_id} of order {order_id} is {state}; only a package that shipped can be delivered")]
    NotShipped { order_id: AmazonOrderId, package_id: PackageId, state: &'static str },
    #[error("delivered_at {at} is in the future (order {order_id}, package {package_id})")]
    InTheFuture { order_id: AmazonOrderId, package_id: PackageId, at: DateTime<Utc> },
    #[error("delivered_at {at} is before order {order_id} was placed ({placed}); package {package_id}")]
    BeforeTheOrder { order_id: AmazonOrderId, package_id: PackageId, at: DateTime<Utc>, placed: DateTime<Utc> },
}

/// How far ahead of our clock a reported delivery may be (clocks differ).
const DELIVERY_CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

impl Package {
    /// Records the carrier's delivery time; the earliest report stands, since PII rules never wait for
    /// a later one. `Ok(false)` when it changes nothing (a repeat, or a later time). A time before the
    /// order was `placed` is refused: it would make the PII due at once, and could not be taken back.
    pub fn record_delivery(
        &mut self,
        at: DateTime<Utc>,
        placed: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, DeliveryRejected> {
        let (order_id, package_id) = (self.order_id.clone(), self.package_id.clone());
        if at < placed {
            return Err(DeliveryRejected::BeforeTheOrder { order_id, package_id, at, placed });
        }
        if matches!(self.state, PackageState::Failed { .. } | PackageState::DeadLettered { .. }) {
            return Err(DeliveryRejected::NotShipped { order_id, package_id, state: self.state.name() });
        }
        if at > now + DELIVERY_CLOCK_SKEW {
            return Err(DeliveryRejected::InTheFuture { order_id, package_id, at });
        }
        if self.delivered_at.is_some_and(|known| known <= at) {
            return Ok(false);
        }
        self.delivered_at = Some(at);
        Ok(true)
    }
}

/// Carries a package's delivery time into the order's shipment facts, where the PII schedule reads it
/// (a package confirmed already; one still queued brings it along when it is confirmed).
pub fn apply_delivery(order: &mut Order, package: &Package) {
    // Facts recorded before they named their package are recognised by its dates.
    let same = |facts: &ShipmentFacts| match &facts.package_id {
        Some(id) => *id == package.package_id,
        None => facts.shipped_at == package.ship_date && facts.label_created_at == package.label_created_at,
    };
    for facts in order.local.shipments.iter_mut().filter(|facts| same(facts)) {
        facts.delivered_at = package.delivered_at;
    }
}

/// Keeps what we know locally over an older view of Amazon's: units confirmed by our packages stay
/// shipped even when a copy of the order from before the confirmation arrives later, and an order whose
/// every unit we confirmed stays shipped. Amazon's cancellation still wins.
pub fn reapply_confirmations(order: &mut Order) {
    let confirmed = &order.local.confirmed_packages;
    for item in &mut order.amazon.items {
        let ours: u32 = confirmed
            .values()
            .flat_map(|package| &package.lines)
            .filter(|line| line.order_item_id == item.id)
            .map(|line| line.quantity)
            .sum();
        item.quantity_shipped = item.quantity_shipped.max(ours.min(item.quantity_ordered));
    }
    let all_shipped = order.amazon.items.iter().all(|item| item.quantity_shipped >= item.quantity_ordered);
    if order.status == OrderStatus::AwaitingShipment && all_shipped && !confirmed.is_empty() {
        order.status = OrderStatus::Shipped;
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::order::OrderFlags;
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

    fn plan(order: &Order, lines: Vec<ShipmentLine>) -> Result<Package, ShipmentRejected> {
        plan_package(order, &request(order, lines), &CarrierRules::default(), now())
    }

    fn by_sku(sku: &str, quantity: u32) -> ShipmentLine {
        ShipmentLine { item: ItemRef::Sku(Sku::parse(sku).unwrap()), quantity }
    }

    #[test]
    fn a_valid_shipment_becomes_a_package_with_the_next_reference() {
        let order = sample_order(now());
        let package = plan(&order, vec![by_sku("SKU-A", 1)]).unwrap();
        assert_eq!(package.reference.to_string(), "1");
        assert_eq!(package.carrier.code(), "UPS");
        assert_eq!(
            package.lines,
            vec![PackageLine { order_item_id: OrderItemId::parse("11111111111111").unwrap(), quantity: 1 }]
        );
        assert_eq!(package.state, PackageState::Queued);
    }

    #[test]
    fn the_shipping_method_goes_to_amazon_as_the_connection_maps_it() {
        let order = sample_order(now());
        let carriers = CarrierRules {
            shipping_methods: vec![crate::domain::carrier::ShippingMethodRule::new("ground", "UPS Ground").unwrap()],
            ..CarrierRules::default()
        };
        let package = plan_package(&order, &request(&order, vec![by_sku("SKU-A", 1)]), &carriers, now()).unwrap();
        assert_eq!(package.shipping_method.as_deref(), Some("UPS Ground"));
        let unmapped = plan(&order, vec![by_sku("SKU-A", 1)]).unwrap();
        assert_eq!(unmapped.shipping_method.as_deref(), Some("Ground"), "no rule: as the store wrote it");
    }

    #[test]
    fn a_delivery_reaches_the_pii_schedule_and_the_earliest_report_stands() {
        let mut order = sample_order(now());
        let mut package = plan(&order, vec![by_sku("SKU-A", 2), by_sku("SKU-B", 1)]).unwrap();
        reserve_package(&mut order, &package);
        record_confirmed(&mut order, &package);
        let shipped_due = crate::domain::pii::redaction_due(&order).unwrap();
        assert_eq!(shipped_due, now() + chrono::Duration::days(30), "tracked: ship date + 30");

        // The store's ship date is a day after the carrier's delivery scan (time zones, a manifest date).
        let delivered = now() - chrono::Duration::days(1);
        let placed = now() - chrono::Duration::days(3);
        let before_the_order = placed - chrono::Duration::seconds(1);
        let refused = package.record_delivery(before_the_order, placed, now()).unwrap_err();
        assert!(matches!(refused, DeliveryRejected::BeforeTheOrder { .. }), "a typo must not redact at once");
        assert_eq!(package.record_delivery(delivered, placed, now()), Ok(true));
        apply_delivery(&mut order, &package);
        assert_eq!(crate::domain::pii::redaction_due(&order), Some(delivered + chrono::Duration::days(30)));
        assert_eq!(package.record_delivery(delivered, placed, now()), Ok(false), "a repeat changes nothing");
        assert_eq!(package.record_delivery(now(), placed, now()), Ok(false), "a later report never moves it");

        let future = now() + chrono::Duration::hours(1);
        assert!(matches!(package.record_delivery(future, placed, now()), Err(DeliveryRejected::InTheFuture { .. })));
        package.state = PackageState::Failed { reason: "x".into(), at: now() };
        let refused = package.record_delivery(delivered, placed, now()).unwrap_err();
        assert!(refused.to_string().contains("is failed; only a package that shipped"), "{refused}");
    }

    #[test]
    fn split_shipments_cannot_ship_more_than_was_ordered() {
        let mut order = sample_order(now());
        let first = plan(&order, vec![by_sku("SKU-A", 1)]).unwrap();
        reserve_package(&mut order, &first);
        let second = plan(&order, vec![by_sku("SKU-A", 1)]).unwrap();
        assert_eq!(second.reference.to_string(), "2");
        reserve_package(&mut order, &second);
        let err = plan(&order, vec![by_sku("SKU-A", 1)]).unwrap_err();
        assert!(err.to_string().contains("has 0 left to ship, the shipment sends 1"), "{err}");
    }

    #[test]
    fn unknown_items_and_zero_quantities_name_the_line_and_order() {
        let order = sample_order(now());
        let err = plan(&order, vec![by_sku("NOPE", 1)]).unwrap_err();
        assert_eq!(err.to_string(), format!("items[0]: order {} has no item with SKU NOPE", order.id()));
        let err = plan(&order, vec![by_sku("SKU-A", 0)]).unwrap_err();
        assert!(err.to_string().starts_with("items[0].quantity"));
        let err = plan(&order, vec![]).unwrap_err();
        assert!(matches!(err, ShipmentRejected::NoItems { .. }));
    }

    #[test]
    fn orders_not_awaiting_shipment_take_no_packages() {
        let mut order = sample_order(now());
        order.status = OrderStatus::Cancelled;
        let err = plan(&order, vec![by_sku("SKU-A", 1)]).unwrap_err();
        assert!(err.to_string().contains("is cancelled"));
        let mut fba = sample_order(now());
        fba.amazon.fulfilled_by = FulfilledBy::Amazon;
        assert!(matches!(plan(&fba, vec![by_sku("SKU-A", 1)]), Err(ShipmentRejected::AmazonFulfilled { .. })));
    }

    #[test]
    fn confirming_every_unit_ships_the_order_once() {
        let mut order = sample_order(now());
        let package = plan(&order, vec![by_sku("SKU-A", 2), by_sku("SKU-B", 1)]).unwrap();
        reserve_package(&mut order, &package);
        record_confirmed(&mut order, &package);
        record_confirmed(&mut order, &package);
        assert_eq!(order.status, OrderStatus::Shipped);
        assert_eq!(order.local.shipments.len(), 1, "a repeated confirmation is recorded once");
    }

    fn sku_twice(order: &mut Order) {
        // Amazon lists one SKU on two lines when, e.g., one unit is a gift and the other is not.
        let mut second = order.amazon.items[0].clone();
        second.id = OrderItemId::parse("33333333333333").unwrap();
        second.quantity_ordered = 1;
        order.amazon.items.push(second);
    }

    #[test]
    fn a_sku_on_two_lines_is_allocated_over_both() {
        let mut order = sample_order(now());
        sku_twice(&mut order);
        let first = plan(&order, vec![by_sku("SKU-A", 2)]).unwrap();
        reserve_package(&mut order, &first);
        let second = plan(&order, vec![by_sku("SKU-A", 1)]).unwrap();
        assert_eq!(
            second.lines,
            vec![PackageLine { order_item_id: OrderItemId::parse("33333333333333").unwrap(), quantity: 1 }]
        );
        reserve_package(&mut order, &second);
        let err = plan(&order, vec![by_sku("SKU-A", 1)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("items: order {} item with SKU SKU-A has 0 left to ship, the shipment sends 1", order.id())
        );

        let mut fresh = sample_order(now());
        sku_twice(&mut fresh);
        let all = plan(&fresh, vec![by_sku("SKU-A", 3)]).unwrap();
        assert_eq!(all.lines.iter().map(|l| l.quantity).collect::<Vec<_>>(), vec![2, 1], "one package, both lines");
    }

    #[test]
    fn a_released_package_frees_its_units_and_a_resend_keeps_its_reference() {
        let mut order = sample_order(now());
        let carriers = CarrierRules::default();
        let failed = plan(&order, vec![by_sku("SKU-A", 2)]).unwrap();
        reserve_package(&mut order, &failed);
        let later = plan(&order, vec![by_sku("SKU-B", 1)]).unwrap();
        reserve_package(&mut order, &later);
        assert!(plan(&order, vec![by_sku("SKU-A", 1)]).is_err());

        let mut failed = failed;
        failed.state = PackageState::Failed { reason: "carrier code not accepted".into(), at: now() };
        release_package(&mut order, &failed);
        let resend =
            plan_resend(&order, &failed, &request(&order, vec![by_sku("SKU-A", 2)]), &carriers, now()).unwrap();
        assert_eq!(resend.reference, failed.reference, "a resend updates the same package at Amazon");
        reserve_package(&mut order, &resend);
        assert_eq!(order.local.next_package_reference.to_string(), "3", "the counter never moves back");
    }

    #[test]
    fn two_packages_with_the_same_times_are_both_counted() {
        let mut order = sample_order(now());
        let carriers = CarrierRules::default();
        let first = plan(&order, vec![by_sku("SKU-A", 2)]).unwrap();
        reserve_package(&mut order, &first);
        let mut second_request = request(&order, vec![by_sku("SKU-B", 1)]);
        second_request.package_id = PackageId::parse("PKG-2").unwrap();
        let second = plan_package(&order, &second_request, &carriers, now()).unwrap();
        reserve_package(&mut order, &second);
        record_confirmed(&mut order, &first);
        record_confirmed(&mut order, &second);
        assert_eq!(order.status, OrderStatus::Shipped);
        assert_eq!(order.local.shipments.len(), 2);
    }

    #[test]
    fn an_older_amazon_copy_does_not_undo_our_confirmation() {
        let mut order = sample_order(now());
        let stale = order.amazon.clone();
        let package = plan(&order, vec![by_sku("SKU-A", 2), by_sku("SKU-B", 1)]).unwrap();
        reserve_package(&mut order, &package);
        record_confirmed(&mut order, &package);
        let mut newer_but_before_our_confirmation = stale;
        newer_but_before_our_confirmation.updated_at = now() + chrono::Duration::minutes(1);
        order.absorb_update(OrderStatus::AwaitingShipment, newer_but_before_our_confirmation.clone());
        assert_eq!(order.status, OrderStatus::Shipped);
        assert_eq!(order.amazon.items[0].quantity_shipped, 2);

        order.absorb_update(OrderStatus::Cancelled, newer_but_before_our_confirmation);
        assert_eq!(order.status, OrderStatus::Cancelled, "Amazon's cancellation still wins");
    }

    #[test]
    fn orders_amazon_confirms_are_refused_with_the_reason() {
        for (set, expected) in [
            ((|f: &mut OrderFlags| f.easy_ship = true) as fn(&mut OrderFlags), "Easy Ship"),
            (|f: &mut OrderFlags| f.delivery_by_amazon = true, "Delivery by Amazon"),
            (|f: &mut OrderFlags| f.transparency = true, "Transparency codes"),
        ] {
            let mut order = sample_order(now());
            set(&mut order.amazon.flags);
            let err = plan(&order, vec![by_sku("SKU-A", 1)]).unwrap_err();
            assert!(matches!(err, ShipmentRejected::NotConfirmedByMerchant { .. }));
            assert!(err.to_string().contains(expected), "{err}");
            assert!(err.to_string().contains(order.id().as_str()), "{err}");
        }
    }

    #[test]
    fn a_repeat_is_recognised_by_what_it_asks_for() {
        let order = sample_order(now());
        let original = request(&order, vec![by_sku("SKU-A", 1)]);
        let package = plan_package(&order, &original, &CarrierRules::default(), now()).unwrap();
        let retried = ShipmentRequest { label_created_at: now() + chrono::Duration::hours(1), ..original.clone() };
        assert_eq!(package.compare(&retried), Some(SamePackageId::Repeat), "a new creation time is the same");
        let corrected =
            ShipmentRequest { tracking_number: TrackingNumber::parse("1Z999AA10123456785").unwrap(), ..original };
        assert_eq!(package.compare(&corrected), Some(SamePackageId::Changed));

        let mut failed = package;
        failed.state = PackageState::Failed { reason: "carrier code not accepted".into(), at: now() };
        assert_eq!(failed.compare(&retried), Some(SamePackageId::Repeat), "unchanged, it would only fail again");
        assert_eq!(failed.compare(&corrected), None, "corrected, it is sent again");
    }

    #[test]
    fn a_confirmation_amazons_copy_already_counts_is_not_counted_twice() {
        let mut order = sample_order(now());
        let package = plan(&order, vec![by_sku("SKU-A", 1)]).unwrap();
        reserve_package(&mut order, &package);
        // A sync between Amazon's 204 and our record of it brought a copy counting the unit.
        let mut synced = order.amazon.clone();
        synced.items[0].quantity_shipped = 1;
        order.absorb_update(OrderStatus::AwaitingShipment, synced);
        record_confirmed(&mut order, &package);
        assert_eq!(order.amazon.items[0].quantity_shipped, 1);
        assert!(plan(&order, vec![by_sku("SKU-A", 1)]).is_ok(), "the second unit can still ship");
    }

    #[test]
    fn a_new_package_never_takes_a_reference_amazon_already_holds() {
        let mut order = sample_order(now());
        // Confirmed in Seller Central before sellerbridge saw the order.
        order.amazon.packages = vec![crate::domain::order::AmazonPackage {
            reference_id: "3".into(),
            carrier: Some("UPS".into()),
            shipping_service: None,
            tracking_number: Some("1Z999AA10123456780".into()),
            created_at: None,
            ship_time: None,
            status: Some("SHIPPED".into()),
        }];
        let package = plan(&order, vec![by_sku("SKU-A", 1)]).unwrap();
        assert_eq!(package.reference.to_string(), "4");
    }
}
