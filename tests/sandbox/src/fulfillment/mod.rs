//! Multi-Channel Fulfillment: the seller's FBA inventory (FBA Inventory v1, `fbaInventory.json`) and fulfillment
//! orders shipped from it (Fulfillment Outbound 2020-07-01, `fulfillmentOutbound_2020-07-01.json`).
//!
//! Inventory ([`inventory`]) is seeded from the config seed: `inventory_sku_count` SKUs `FBA-SKU-0001`… with
//! Amazon's identifiers, quantities and update times over the 30 days before the start time. Fulfillment orders
//! ([`outbound`]) reserve that inventory when created and release it when they ship, are cancelled or turn out
//! unfulfillable, so getInventorySummaries shows what the orders did.
//!
//! Timing: a fulfillment order shipped now (`fulfillmentAction` Ship) is Received when created, Planning
//! `planningAfterSeconds` after its receivedDate, Processing (a PENDING shipment) `processingAfterSeconds` after it
//! and Complete (the shipment SHIPPED, with a package and tracking) `completeAfterSeconds` after it, all on the
//! sandbox clock and fixed when the order is created (`GET|POST /_sandbox/fulfillment/settings`). What the
//! fulfillment policy does with units the inventory could not cover is decided at Planning ([`outbound`]). A Hold
//! order stays Received until Amazon cancels it 14 days after its receivedDate. As with feeds, nothing runs in the
//! background of a request: [`advance`] catches every order up with the clock, and the sandbox calls it before each
//! request, when the clock is set and on a short real-time tick. Each change happens at its own scheduled time, so
//! `statusUpdatedDate` says when the order changed, not when someone next looked.
//!
//! Every change (a new status, a shipment appearing, leaving or cancelled) is also recorded as a [`Change`] at the
//! time it happened, whatever moved the order (the clock, cancelFulfillmentOrder, submitFulfillmentOrderStatusUpdate):
//! the sandbox turns them into FULFILLMENT_ORDER_STATUS notifications for a seller subscribed to them
//! ([`crate::notifications::fulfillment_order_status`]) and drops them otherwise.

pub mod inventory;
pub mod outbound;
pub mod preview;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::config::SandboxConfig;
use crate::sites::Site;
use crate::tokens::TokenStore;

pub use inventory::{Inventory, InventoryItem, QuantityUpdate};
pub use outbound::{Change, EventType, FulfillmentOrder, FulfillmentOrderStatus};

/// When fulfillment orders move on the sandbox clock, in sandbox seconds after their receivedDate:
/// `GET|POST /_sandbox/fulfillment/settings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FulfillmentSettings {
    /// Received → Planning (where shortages meet the fulfillment policy).
    pub planning_after_seconds: i64,
    /// Planning → Processing: the shipment appears, PENDING.
    pub processing_after_seconds: i64,
    /// Processing → Complete: the shipment leaves the fulfillment center.
    pub complete_after_seconds: i64,
}

impl Default for FulfillmentSettings {
    fn default() -> Self {
        Self { planning_after_seconds: 600, processing_after_seconds: 1800, complete_after_seconds: 7200 }
    }
}

impl FulfillmentSettings {
    /// The steps must come in order and none before the order exists.
    pub fn check(&self) -> Result<(), String> {
        let (a, b, c) = (self.planning_after_seconds, self.processing_after_seconds, self.complete_after_seconds);
        if a < 0 || b < 0 || c < 0 {
            return Err(
                "planningAfterSeconds, processingAfterSeconds and completeAfterSeconds must not be negative".into()
            );
        }
        if !(a <= b && b <= c) {
            return Err("planningAfterSeconds ≤ processingAfterSeconds ≤ completeAfterSeconds is required".into());
        }
        Ok(())
    }
}

/// The inventory, the fulfillment orders and their tokens.
pub struct FulfillmentStore {
    pub settings: FulfillmentSettings,
    pub inventory: Inventory,
    /// In creation order.
    pub orders: Vec<FulfillmentOrder>,
    pub(crate) inventory_tokens: TokenStore<inventory::Resume>,
    pub(crate) list_tokens: TokenStore<outbound::ListResume>,
    /// What happened to the orders since the sandbox last looked ([`FulfillmentStore::take_changes`]), oldest
    /// first: every status change and every change of a shipment, for FULFILLMENT_ORDER_STATUS notifications.
    pub(crate) changes: Vec<Change>,
}

impl FulfillmentStore {
    pub fn new(config: &SandboxConfig, now: DateTime<Utc>) -> Self {
        Self {
            settings: config.fulfillment,
            inventory: Inventory::seeded(config.seed, config.inventory_sku_count, now),
            orders: Vec::new(),
            inventory_tokens: TokenStore::default(),
            list_tokens: TokenStore::default(),
            changes: Vec::new(),
        }
    }

    /// The changes since the last call, oldest first.
    pub(crate) fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    pub fn order(&self, id: &str) -> Option<&FulfillmentOrder> {
        self.orders.iter().find(|o| o.seller_fulfillment_order_id == id)
    }

    pub fn order_mut(&mut self, id: &str) -> Option<&mut FulfillmentOrder> {
        self.orders.iter_mut().find(|o| o.seller_fulfillment_order_id == id)
    }

    /// Every inventory and list token dies now; returns how many were alive.
    pub fn expire_tokens(&mut self, now: DateTime<Utc>) -> usize {
        self.inventory_tokens.expire_all(now) + self.list_tokens.expire_all(now)
    }

    /// Orders per status, for `/_sandbox/stats`.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for order in &self.orders {
            *counts.entry(order.status.as_str().to_owned()).or_default() += 1;
        }
        counts
    }
}

/// Catches every fulfillment order up with the sandbox clock, each change at its own scheduled time (and recorded
/// in [`FulfillmentStore::changes`] in the order they happened, whichever order they befell).
pub(crate) fn advance(store: &mut FulfillmentStore, now: DateTime<Utc>) {
    let FulfillmentStore { orders, inventory, changes, .. } = store;
    let first = changes.len();
    for order in orders.iter_mut() {
        order.advance(inventory, now, changes);
    }
    // Stable: one order's changes at the same instant keep their order.
    changes[first..].sort_by_key(|change| change.at);
}

/// The Fulfillment Outbound API's `Money`: `{currencyCode, value}` with the value as a decimal string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Money {
    pub currency_code: String,
    pub value: String,
}

impl Money {
    /// `hundredths` of the site's currency unit (whole yen where the currency has no cents).
    pub fn in_currency(hundredths: u64, site: &Site) -> Self {
        let value = match site.currency_decimals() {
            0 => hundredths.to_string(),
            _ => format!("{}.{:02}", hundredths / 100, hundredths % 100),
        };
        Self { currency_code: site.currency.into(), value }
    }
}

/// A stable 64-bit FNV-1a hash: identifiers the sandbox derives from names (fnSku of a new SKU, tracking numbers)
/// are the same in every run.
pub(crate) fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// `len` characters of `alphabet`, drawn from `seed` (deterministically).
pub(crate) fn derived_chars(seed: u64, alphabet: &[u8], len: usize) -> String {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            // xorshift64*: plenty for identifiers.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let value = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
            alphabet[(value >> 33) as usize % alphabet.len()] as char
        })
        .collect()
}

pub(crate) const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
pub(crate) const DIGITS: &[u8] = b"0123456789";

/// Amazon's word for how long a Hold order waits: "`Hold` orders are automatically canceled after 14 days."
pub const HOLD_LIFETIME: Duration = Duration::days(14);

/// "If you use the `FillAll` policy with the `Ship` state, and there are unshipped items, then the order becomes
/// `Unfulfillable` or `CompletePartialled` after 24 hours."
pub const FILL_ALL_WAIT: Duration = Duration::hours(24);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_must_come_in_order() {
        assert!(FulfillmentSettings::default().check().is_ok());
        let later = FulfillmentSettings { planning_after_seconds: 900, ..FulfillmentSettings::default() };
        assert!(later.check().is_ok());
        let bad = FulfillmentSettings { processing_after_seconds: 100, ..FulfillmentSettings::default() };
        assert!(bad.check().unwrap_err().contains("≤"));
        let negative = FulfillmentSettings { planning_after_seconds: -1, ..FulfillmentSettings::default() };
        assert!(negative.check().is_err());
    }

    #[test]
    fn derived_identifiers_are_stable() {
        let a = derived_chars(stable_hash("FBA-SKU-0001"), UPPER_ALNUM, 7);
        assert_eq!(a, derived_chars(stable_hash("FBA-SKU-0001"), UPPER_ALNUM, 7));
        assert_ne!(a, derived_chars(stable_hash("FBA-SKU-0002"), UPPER_ALNUM, 7));
        assert_eq!(a.len(), 7);
        let us = Site::find("ATVPDKIKX0DER").unwrap();
        assert_eq!(Money::in_currency(1234, us).value, "12.34");
        let jp = Site::find("A1VC38T7YXB528").unwrap();
        assert_eq!(Money::in_currency(1234, jp), Money { currency_code: "JPY".into(), value: "1234".into() });
    }
}
