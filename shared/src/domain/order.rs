//! The order as sellerbridge keeps it: Amazon's facts plus our own bookkeeping (import time, packages
//! planned, redaction state).
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{AmazonOrderId, ConnectionId, MarketplaceId, OrderItemId, PackageReference, Sku};
use super::pii::{RedactionState, ShipmentFacts};
use super::status::{AmazonStatus, FulfilledBy, OrderStatus};

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
    pub redaction: RedactionState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub connection_id: ConnectionId,
    pub status: OrderStatus,
    pub amazon: AmazonOrder,
    pub local: LocalState,
}

impl Order {
    pub fn import(connection_id: ConnectionId, status: OrderStatus, amazon: AmazonOrder, now: DateTime<Utc>) -> Self {
        Self {
            connection_id,
            status,
            amazon,
            local: LocalState {
                imported_at: now,
                next_package_reference: PackageReference::first(),
                planned_quantities: BTreeMap::new(),
                shipments: Vec::new(),
                redaction: RedactionState::Pending,
            },
        }
    }

    pub fn id(&self) -> &AmazonOrderId {
        &self.amazon.id
    }

    /// Takes Amazon's newer view of the order while keeping our own bookkeeping. An order whose PII we
    /// already removed stays redacted: Amazon's copy is not re-imported into it.
    pub fn absorb_update(&mut self, status: OrderStatus, amazon: AmazonOrder) {
        let redacted = self.local.redaction.is_redacted();
        self.status = status;
        self.amazon = amazon;
        if redacted {
            super::pii::strip_pii(&mut self.amazon);
        }
    }

    pub fn item(&self, id: &OrderItemId) -> Option<&OrderItem> {
        self.amazon.items.iter().find(|item| &item.id == id)
    }

    pub fn item_by_sku(&self, sku: &Sku) -> Option<&OrderItem> {
        self.amazon.items.iter().find(|item| item.sku.as_ref() == Some(sku))
    }

    /// Whether the order carries any buyer PII at all (FBA orders do not).
    pub fn has_pii(&self) -> bool {
        let a = &self.amazon;
        let buyer = a.buyer.as_ref().is_some_and(|b| b.name.is_some() || b.email.is_some());
        let address = a.ship_to.as_ref().is_some_and(|s| {
            s.name.is_some() || s.line1.is_some() || s.line2.is_some() || s.line3.is_some() || s.phone.is_some()
        });
        let gift = a.items.iter().any(|item| item.gift_message.is_some());
        buyer || address || gift
    }
}
