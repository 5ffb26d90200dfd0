//! An order as the merchant's systems see it (the read endpoint, and later the outbound webhooks): what
//! a warehouse needs to pick, pack and ship, in the marketplace's currency, each line keyed by the
//! connection's product identifier. Buyer PII is there until the order is redacted, and reads
//! `REDACTED (Amazon)` afterwards; the buyer's e-mail is Amazon's proxy and marked not for marketing.
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::connection::ProductIdentifier;
use super::ids::AmazonOrderId;
use super::order::{Address, Condition, Money, Order};
use super::shipment::{Package, PackageState};
use super::status::OrderStatus;

/// What an outbound webhook tells the merchant's systems about an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub enum OrderEvent {
    #[serde(rename = "order.imported")]
    Imported,
    #[serde(rename = "order.updated")]
    Updated,
    #[serde(rename = "order.cancelled")]
    Cancelled,
}

impl OrderEvent {
    pub fn name(self) -> &'static str {
        match self {
            Self::Imported => "order.imported",
            Self::Updated => "order.updated",
            Self::Cancelled => "order.cancelled",
        }
    }

    /// The event a change of a stored order makes: `was` is its status before (`None`: new).
    pub fn for_change(was: Option<OrderStatus>, now: OrderStatus) -> Self {
        match (was, now) {
            (None, _) => Self::Imported,
            (Some(before), OrderStatus::Cancelled) if before != OrderStatus::Cancelled => Self::Cancelled,
            _ => Self::Updated,
        }
    }

    /// One id per event, order and Amazon version of the order: the receiver's idempotency key, and ours.
    pub fn id(self, order_id: &AmazonOrderId, version: DateTime<Utc>) -> String {
        format!("{}:{order_id}:{}", self.name(), version.timestamp_millis())
    }
}

/// Amazon's Data Protection Policy: the proxied address may only be used to fulfil the order.
pub const EMAIL_USE: &str = "order_communication_only";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderView {
    pub order_id: String,
    pub connection_id: String,
    pub marketplace_id: String,
    pub status: &'static str,
    pub amazon_status: String,
    pub purchased_at: DateTime<Utc>,
    pub last_updated_at: DateTime<Utc>,
    pub ship_by: Option<DateTime<Utc>>,
    pub deliver_by: Option<DateTime<Utc>>,
    pub service_level: Option<String>,
    pub prime: bool,
    pub seller_fulfilled_prime: bool,
    pub business: bool,
    pub gift: bool,
    pub amazon_custom: bool,
    pub total: Option<Money>,
    pub buyer: Option<BuyerView>,
    pub ship_to: Option<Address>,
    pub items: Vec<ItemView>,
    pub packages: Vec<PackageView>,
    pub redacted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuyerView {
    pub name: Option<String>,
    pub company: Option<String>,
    pub email: Option<String>,
    /// What the e-mail may be used for ([`EMAIL_USE`]): never marketing.
    pub email_use: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemView {
    pub order_item_id: String,
    /// The SKU or the ASIN, as the connection's product identifier says.
    pub product_key: Option<String>,
    pub sku: Option<String>,
    pub asin: Option<String>,
    pub title: Option<String>,
    pub quantity_ordered: u32,
    pub quantity_shipped: u32,
    pub unit_price: Option<Money>,
    pub condition: Option<Condition>,
    pub gift_message: Option<String>,
    pub gift_wrap_level: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackageView {
    pub package_id: String,
    pub package_reference_id: String,
    pub carrier: String,
    pub shipping_method: Option<String>,
    pub tracking_number: String,
    pub ship_date: DateTime<Utc>,
    pub state: &'static str,
    /// Why Amazon refused it, or why we gave up.
    pub reason: Option<String>,
    /// Accepted, but worth a look (a tracking number already on another order).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl OrderView {
    pub fn of(order: &Order, packages: &[Package], identifier: ProductIdentifier) -> Self {
        let amazon = &order.amazon;
        Self {
            order_id: amazon.id.to_string(),
            connection_id: order.connection_id.to_string(),
            marketplace_id: amazon.marketplace_id.to_string(),
            status: order.status.as_str(),
            amazon_status: serde_json::to_value(amazon.amazon_status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            purchased_at: amazon.created_at,
            last_updated_at: amazon.updated_at,
            ship_by: amazon.ship_by,
            deliver_by: amazon.deliver_by,
            service_level: amazon.service_level.clone(),
            prime: amazon.flags.prime,
            seller_fulfilled_prime: order.seller_fulfilled_prime(),
            business: amazon.flags.business,
            gift: amazon.flags.gift,
            amazon_custom: amazon.flags.amazon_custom,
            total: amazon.total.clone(),
            buyer: amazon.buyer.as_ref().map(|buyer| BuyerView {
                name: buyer.name.clone(),
                company: buyer.company.clone(),
                email: buyer.email.clone(),
                email_use: EMAIL_USE,
            }),
            ship_to: amazon.ship_to.clone(),
            items: amazon
                .items
                .iter()
                .map(|item| ItemView {
                    order_item_id: item.id.to_string(),
                    product_key: match identifier {
                        ProductIdentifier::Sku => item.sku.as_ref().map(ToString::to_string),
                        ProductIdentifier::Asin => item.asin.clone(),
                    },
                    sku: item.sku.as_ref().map(ToString::to_string),
                    asin: item.asin.clone(),
                    title: item.title.clone(),
                    quantity_ordered: item.quantity_ordered,
                    quantity_shipped: item.quantity_shipped,
                    unit_price: item.unit_price.clone(),
                    condition: item.condition.clone(),
                    gift_message: item.gift_message.clone(),
                    gift_wrap_level: item.gift_wrap_level.clone(),
                })
                .collect(),
            packages: packages.iter().map(PackageView::of).collect(),
            redacted: order.local.redaction.is_redacted(),
        }
    }
}

impl PackageView {
    fn of(package: &Package) -> Self {
        let (state, reason) = match &package.state {
            PackageState::Queued | PackageState::AwaitingFeed { .. } | PackageState::InFeed { .. } => {
                (package.state.name(), None)
            }
            PackageState::Confirmed { .. } => ("confirmed", None),
            PackageState::Failed { reason, .. } => ("failed", Some(reason.clone())),
            PackageState::DeadLettered { reason, .. } => ("dead_lettered", Some(reason.clone())),
        };
        Self {
            package_id: package.package_id.to_string(),
            package_reference_id: package.reference.to_string(),
            carrier: package.carrier.code().to_owned(),
            shipping_method: package.shipping_method.clone(),
            tracking_number: package.tracking_number.to_string(),
            ship_date: package.ship_date,
            state,
            reason,
            warnings: package.warnings.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::pii::{REDACTED, redact};
    use crate::domain::test_support::sample_order;

    #[test]
    fn lines_carry_the_connections_product_key_and_the_email_is_marked() {
        let order = sample_order(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap());
        let by_sku = OrderView::of(&order, &[], ProductIdentifier::Sku);
        let by_asin = OrderView::of(&order, &[], ProductIdentifier::Asin);
        assert_eq!(by_sku.items[0].product_key, by_sku.items[0].sku);
        assert_eq!(by_asin.items[0].product_key, by_asin.items[0].asin);
        assert_eq!(by_sku.buyer.as_ref().unwrap().email_use, EMAIL_USE);
        assert_eq!(by_sku.total, order.amazon.total, "amounts as Amazon gave them");
    }

    #[test]
    fn a_change_names_its_event_and_each_version_has_its_own_id() {
        use OrderStatus as S;
        assert_eq!(OrderEvent::for_change(None, S::AwaitingShipment), OrderEvent::Imported);
        assert_eq!(OrderEvent::for_change(Some(S::AwaitingShipment), S::Cancelled), OrderEvent::Cancelled);
        assert_eq!(OrderEvent::for_change(Some(S::Cancelled), S::Cancelled), OrderEvent::Updated, "said once");
        assert_eq!(OrderEvent::for_change(Some(S::AwaitingShipment), S::Shipped), OrderEvent::Updated);
        let order = AmazonOrderId::parse("902-1106328-1059050").unwrap();
        let v1 = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        assert_eq!(OrderEvent::Updated.id(&order, v1), OrderEvent::Updated.id(&order, v1));
        assert_ne!(
            OrderEvent::Updated.id(&order, v1),
            OrderEvent::Updated.id(&order, v1 + chrono::Duration::seconds(1))
        );
        assert_eq!(serde_json::to_value(OrderEvent::Cancelled).unwrap(), "order.cancelled");
    }

    #[test]
    fn after_redaction_the_pii_reads_redacted() {
        let mut order = sample_order(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap());
        redact(&mut order, Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap());
        let view = OrderView::of(&order, &[], ProductIdentifier::Sku);
        assert!(view.redacted);
        assert_eq!(view.buyer.unwrap().name.as_deref(), Some(REDACTED));
        assert_eq!(view.ship_to.unwrap().line1.as_deref(), Some(REDACTED));
    }
}
