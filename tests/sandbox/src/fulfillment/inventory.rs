//! FBA Inventory v1: getInventorySummaries over the seller's seeded inventory.
//!
//! Which summaries a call returns follows the operation's description: with `startDateTime`, the SKUs that
//! changed since then (and `sellerSkus`/`sellerSku` are ignored); else with `sellerSkus`, those (and `sellerSku`
//! is ignored); else with `sellerSku`, that one; else all. Summaries come 50 a page in `sellerSku` order, and a
//! `nextToken` stands for the request's filter plus the last SKU served, so a SKU changing between pages neither
//! repeats nor shifts the others. "The string token will expire 30 seconds after being created" (on the sandbox
//! clock), and it must come with the same filter parameters as the request that produced it.
//!
//! `lastUpdatedTime` is "the date and time that any quantity was last updated", but the model warns that for
//! `startDateTime` "changes in inboundWorkingQuantity, inboundShippedQuantity and inboundReceivingQuantity are not
//! detected": each SKU keeps both times, and a change to inbound quantities alone moves only the first.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Months, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{UPPER_ALNUM, derived_chars, stable_hash};
use crate::error::ApiError;
use crate::search::QueryParams;
use crate::time::{format_iso, parse_utc, truncate_to_hour, truncate_to_second};
use crate::tokens::TokenStore;

/// Summaries per page.
pub const PAGE_SIZE: usize = 50;
/// "You may specify up to 50 SKUs."
pub const MAX_SELLER_SKUS: usize = 50;
/// "You must specify a date and time that is no earlier than 18 months prior to the date and time when you call."
const MAX_LOOKBACK_MONTHS: u32 = 18;

/// The answer to a nextToken that expired or does not belong to the request, as Amazon words it
/// (amzn/selling-partner-api-models#4946).
pub const INVALID_NEXT_TOKEN: &str = "Next token is invalid or expired";

/// Amazon's answer to a `startDateTime` that is not a date-time (amzn/selling-partner-api-docs#1595).
pub const INVALID_START_DATE_TIME: &str = "Query parameter [startDateTime] value is not a valid ISO date-time object";

/// What the seller holds of one SKU in Amazon's fulfillment network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryItem {
    pub seller_sku: String,
    pub fn_sku: String,
    pub asin: String,
    pub product_name: String,
    pub fulfillable: u32,
    pub inbound_working: u32,
    pub inbound_shipped: u32,
    pub inbound_receiving: u32,
    /// Reserved for customer orders, fulfillment orders included.
    pub pending_customer_order: u32,
    pub pending_transshipment: u32,
    pub fc_processing: u32,
    /// Being researched in the short, mid and long term.
    pub researching: [u32; 3],
    pub unfulfillable: Unfulfillable,
    pub last_updated_time: DateTime<Utc>,
    /// When a quantity that `startDateTime` detects last changed (all but the inbound ones).
    pub detected_change_time: DateTime<Utc>,
    /// Shipping weight of one unit in tenths of a pound (getFulfillmentPreview's estimates).
    pub unit_weight_tenths_lb: u32,
}

/// Units in unsellable condition, by disposition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unfulfillable {
    pub customer_damaged: u32,
    pub warehouse_damaged: u32,
    pub distributor_damaged: u32,
    pub carrier_damaged: u32,
    pub defective: u32,
    pub expired: u32,
}

impl Unfulfillable {
    fn total(&self) -> u32 {
        self.customer_damaged
            + self.warehouse_damaged
            + self.distributor_damaged
            + self.carrier_damaged
            + self.defective
            + self.expired
    }
}

/// Amazon gives every SKU the seller sends in as new this condition.
pub const CONDITION: &str = "NewItem";

const RESEARCH_TERMS: [&str; 3] =
    ["researchingQuantityInShortTerm", "researchingQuantityInMidTerm", "researchingQuantityInLongTerm"];

impl InventoryItem {
    fn reserved_total(&self) -> u32 {
        self.pending_customer_order + self.pending_transshipment + self.fc_processing
    }

    /// "The total number of units in an inbound shipment or in Amazon fulfillment centers."
    pub fn total_quantity(&self) -> u32 {
        self.fulfillable
            + self.inbound_working
            + self.inbound_shipped
            + self.inbound_receiving
            + self.reserved_total()
            + self.researching.iter().sum::<u32>()
            + self.unfulfillable.total()
    }

    /// Amazon's `InventorySummary`, with `inventoryDetails` only when asked for.
    pub fn summary(&self, details: bool) -> InventorySummary {
        InventorySummary {
            asin: self.asin.clone(),
            fn_sku: self.fn_sku.clone(),
            seller_sku: self.seller_sku.clone(),
            condition: CONDITION,
            inventory_details: details.then(|| self.details()),
            last_updated_time: format_iso(self.last_updated_time),
            product_name: self.product_name.clone(),
            total_quantity: self.total_quantity(),
        }
    }

    fn details(&self) -> InventoryDetails {
        let u = &self.unfulfillable;
        InventoryDetails {
            fulfillable_quantity: self.fulfillable,
            inbound_working_quantity: self.inbound_working,
            inbound_shipped_quantity: self.inbound_shipped,
            inbound_receiving_quantity: self.inbound_receiving,
            reserved_quantity: ReservedQuantity {
                total_reserved_quantity: self.reserved_total(),
                pending_customer_order_quantity: self.pending_customer_order,
                pending_transshipment_quantity: self.pending_transshipment,
                fc_processing_quantity: self.fc_processing,
            },
            researching_quantity: ResearchingQuantity {
                total_researching_quantity: self.researching.iter().sum(),
                researching_quantity_breakdown: RESEARCH_TERMS
                    .iter()
                    .zip(self.researching)
                    .filter(|(_, quantity)| *quantity > 0)
                    .map(|(name, quantity)| ResearchingQuantityEntry { name, quantity })
                    .collect(),
            },
            unfulfillable_quantity: UnfulfillableQuantity {
                total_unfulfillable_quantity: u.total(),
                customer_damaged_quantity: u.customer_damaged,
                warehouse_damaged_quantity: u.warehouse_damaged,
                distributor_damaged_quantity: u.distributor_damaged,
                carrier_damaged_quantity: u.carrier_damaged,
                defective_quantity: u.defective,
                expired_quantity: u.expired,
            },
        }
    }

    /// A change at `at` to a quantity `startDateTime` detects (both times move, never backwards).
    fn stamp(&mut self, at: DateTime<Utc>) {
        let at = truncate_to_second(at);
        self.last_updated_time = self.last_updated_time.max(at);
        self.detected_change_time = self.detected_change_time.max(at);
    }
}

/// Amazon's `InventorySummary`, field for field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InventorySummary {
    pub asin: String,
    pub fn_sku: String,
    pub seller_sku: String,
    pub condition: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory_details: Option<InventoryDetails>,
    pub last_updated_time: String,
    pub product_name: String,
    pub total_quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryDetails {
    pub fulfillable_quantity: u32,
    pub inbound_working_quantity: u32,
    pub inbound_shipped_quantity: u32,
    pub inbound_receiving_quantity: u32,
    pub reserved_quantity: ReservedQuantity,
    pub researching_quantity: ResearchingQuantity,
    pub unfulfillable_quantity: UnfulfillableQuantity,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservedQuantity {
    pub total_reserved_quantity: u32,
    pub pending_customer_order_quantity: u32,
    pub pending_transshipment_quantity: u32,
    pub fc_processing_quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResearchingQuantity {
    pub total_researching_quantity: u32,
    pub researching_quantity_breakdown: Vec<ResearchingQuantityEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResearchingQuantityEntry {
    pub name: &'static str,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnfulfillableQuantity {
    pub total_unfulfillable_quantity: u32,
    pub customer_damaged_quantity: u32,
    pub warehouse_damaged_quantity: u32,
    pub distributor_damaged_quantity: u32,
    pub carrier_damaged_quantity: u32,
    pub defective_quantity: u32,
    pub expired_quantity: u32,
}

/// `POST /_sandbox/inventory`: the quantities to set on one SKU (created if new), as Amazon's sandbox-only
/// createInventoryItem and addInventory would. `reserved` and `unfulfillable` are totals, held as units pending
/// customer orders and as customer-damaged units.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuantityUpdate {
    pub seller_sku: String,
    pub fulfillable: Option<u32>,
    pub inbound_working: Option<u32>,
    pub inbound_shipped: Option<u32>,
    pub inbound_receiving: Option<u32>,
    pub reserved: Option<u32>,
    pub unfulfillable: Option<u32>,
}

const ADJECTIVES: &[&str] = &["Classic", "Compact", "Deluxe", "Everyday", "Premium", "Rugged", "Slim", "Travel"];
const MATERIALS: &[&str] = &["Bamboo", "Ceramic", "Cotton", "Glass", "Leather", "Silicone", "Steel", "Wool"];
const NOUNS: &[&str] = &[
    "Water Bottle",
    "Cutting Board",
    "Phone Stand",
    "Desk Organizer",
    "Travel Mug",
    "Throw Blanket",
    "Cable Tray",
    "Plant Pot",
    "Notebook Cover",
    "Lunch Box",
];
const VARIANTS: &[&str] = &["Black", "White", "Large", "Small", "2-Pack", "Blue", "Natural", "Grey"];

/// The seller's FBA inventory, by seller SKU (the order getInventorySummaries pages in).
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    items: BTreeMap<String, InventoryItem>,
}

impl Inventory {
    /// `count` SKUs `FBA-SKU-0001`…, all derived from `seed`; update times spread over the 30 days before `now`
    /// truncated to the hour (so that one seed gives one inventory all hour long, as it gives one set of orders).
    pub fn seeded(seed: u64, count: usize, now: DateTime<Utc>) -> Self {
        let base = truncate_to_hour(now);
        let mut rng = StdRng::seed_from_u64(seed ^ 0x00FB_A1F1_7E50_0001);
        let pick = |rng: &mut StdRng, list: &[&'static str]| *list.choose(rng).unwrap_or(&"");
        let mut items = BTreeMap::new();
        for n in 1..=count {
            let seller_sku = format!("FBA-SKU-{n:04}");
            let product_name = format!(
                "{} {} {}, {}",
                pick(&mut rng, ADJECTIVES),
                pick(&mut rng, MATERIALS),
                pick(&mut rng, NOUNS),
                pick(&mut rng, VARIANTS)
            );
            let random = |rng: &mut StdRng, len| derived_chars(rng.random(), UPPER_ALNUM, len);
            let (fn_sku, asin) = (format!("X00{}", random(&mut rng, 7)), format!("B0{}", random(&mut rng, 8)));
            let fulfillable = if rng.random_bool(0.08) { 0 } else { rng.random_range(5..=200) };
            let inbound = rng.random_bool(0.25);
            let mut inbound_quantity = |max: u32| if inbound { rng.random_range(0..=max) } else { 0 };
            let (inbound_working, inbound_shipped, inbound_receiving) =
                (inbound_quantity(40), inbound_quantity(60), inbound_quantity(20));
            let (pending_customer_order, pending_transshipment, fc_processing) = if rng.random_bool(0.30) {
                (rng.random_range(1..=8), rng.random_range(0..=5), rng.random_range(0..=3))
            } else {
                (0, 0, 0)
            };
            let mut researching = [0; 3];
            if rng.random_bool(0.05) {
                researching[rng.random_range(0..3)] = rng.random_range(1..=3);
            }
            let unfulfillable = if rng.random_bool(0.15) {
                Unfulfillable {
                    customer_damaged: rng.random_range(1..=3),
                    warehouse_damaged: rng.random_range(0..=2),
                    carrier_damaged: rng.random_range(0..=1),
                    defective: rng.random_range(0..=2),
                    ..Unfulfillable::default()
                }
            } else {
                Unfulfillable::default()
            };
            let updated = base - Duration::seconds(rng.random_range(1..=30 * 24 * 3600));
            let item = InventoryItem {
                seller_sku: seller_sku.clone(),
                fn_sku,
                asin,
                product_name,
                fulfillable,
                inbound_working,
                inbound_shipped,
                inbound_receiving,
                pending_customer_order,
                pending_transshipment,
                fc_processing,
                researching,
                unfulfillable,
                last_updated_time: updated,
                detected_change_time: updated,
                unit_weight_tenths_lb: rng.random_range(2..=60),
            };
            items.insert(seller_sku, item);
        }
        Self { items }
    }

    pub fn get(&self, seller_sku: &str) -> Option<&InventoryItem> {
        self.items.get(seller_sku)
    }

    /// Every SKU, in seller SKU order.
    pub fn items(&self) -> impl Iterator<Item = &InventoryItem> {
        self.items.values()
    }

    /// Sets the given quantities of a SKU, creating it (with identifiers derived from its name) if it is new.
    pub fn update(&mut self, update: &QuantityUpdate, now: DateTime<Utc>) -> &InventoryItem {
        let now = truncate_to_second(now);
        let sku = update.seller_sku.clone();
        let created = !self.items.contains_key(&sku);
        let item = self.items.entry(sku.clone()).or_insert_with(|| {
            let hash = stable_hash(&sku);
            InventoryItem {
                seller_sku: sku.clone(),
                fn_sku: format!("X00{}", derived_chars(hash, UPPER_ALNUM, 7)),
                asin: format!("B0{}", derived_chars(hash.rotate_left(29), UPPER_ALNUM, 8)),
                product_name: format!("Sandbox product {sku}"),
                fulfillable: 0,
                inbound_working: 0,
                inbound_shipped: 0,
                inbound_receiving: 0,
                pending_customer_order: 0,
                pending_transshipment: 0,
                fc_processing: 0,
                researching: [0; 3],
                unfulfillable: Unfulfillable::default(),
                last_updated_time: now,
                detected_change_time: now,
                unit_weight_tenths_lb: 2 + (hash % 40) as u32,
            }
        });
        let set = |slot: &mut u32, value: Option<u32>| {
            if let Some(value) = value {
                *slot = value;
            }
        };
        set(&mut item.fulfillable, update.fulfillable);
        set(&mut item.inbound_working, update.inbound_working);
        set(&mut item.inbound_shipped, update.inbound_shipped);
        set(&mut item.inbound_receiving, update.inbound_receiving);
        if let Some(reserved) = update.reserved {
            (item.pending_customer_order, item.pending_transshipment, item.fc_processing) = (reserved, 0, 0);
        }
        if let Some(unfulfillable) = update.unfulfillable {
            item.unfulfillable = Unfulfillable { customer_damaged: unfulfillable, ..Unfulfillable::default() };
        }
        let detected =
            created || update.fulfillable.is_some() || update.reserved.is_some() || update.unfulfillable.is_some();
        item.last_updated_time = now;
        if detected {
            item.detected_change_time = now;
        }
        item
    }

    /// Reserves up to `wanted` fulfillable units of a SKU for a fulfillment order; returns how many it could.
    pub fn reserve(&mut self, seller_sku: &str, wanted: u32, at: DateTime<Utc>) -> u32 {
        let Some(item) = self.items.get_mut(seller_sku) else { return 0 };
        let taken = wanted.min(item.fulfillable);
        if taken > 0 {
            item.fulfillable -= taken;
            item.pending_customer_order += taken;
            item.stamp(at);
        }
        taken
    }

    /// Units a fulfillment order held go back to fulfillable (cancelled or unfulfillable order).
    pub fn release(&mut self, seller_sku: &str, units: u32, at: DateTime<Utc>) {
        let Some(item) = self.items.get_mut(seller_sku).filter(|_| units > 0) else { return };
        let units = units.min(item.pending_customer_order);
        item.pending_customer_order -= units;
        item.fulfillable += units;
        item.stamp(at);
    }

    /// Units a fulfillment order held left the fulfillment center.
    pub fn ship(&mut self, seller_sku: &str, units: u32, at: DateTime<Utc>) {
        let Some(item) = self.items.get_mut(seller_sku).filter(|_| units > 0) else { return };
        item.pending_customer_order = item.pending_customer_order.saturating_sub(units);
        item.stamp(at);
    }
}

/// Which summaries a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    All,
    ChangedSince(DateTime<Utc>),
    Skus(BTreeSet<String>),
    Sku(String),
}

impl Filter {
    fn matches(&self, item: &InventoryItem) -> bool {
        match self {
            Filter::All => true,
            Filter::ChangedSince(since) => item.detected_change_time >= *since,
            Filter::Skus(skus) => skus.contains(&item.seller_sku),
            Filter::Sku(sku) => item.seller_sku == *sku,
        }
    }
}

/// getInventorySummaries' query, read and checked (the marketplaces by the caller, who knows which are served).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummariesQuery {
    pub details: bool,
    pub granularity_id: String,
    pub marketplace_id: String,
    pub filter: Filter,
    pub next_token: Option<String>,
}

/// What a nextToken stands for: the request's filter and the last SKU served.
#[derive(Debug, Clone)]
pub(crate) struct Resume {
    granularity_id: String,
    filter: Filter,
    after: String,
}

impl SummariesQuery {
    pub fn parse(raw: Option<&str>, now: DateTime<Utc>) -> Result<Self, ApiError> {
        let params = QueryParams::parse(raw);
        let required = |name: &str| {
            params
                .scalar(name)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| ApiError::invalid_input(format!("Missing required parameter: {name}")))
        };
        let granularity_type = required("granularityType")?;
        if granularity_type != "Marketplace" {
            return Err(ApiError::invalid_input(format!(
                "Invalid value '{granularity_type}' for granularityType: the only granularity is Marketplace"
            )));
        }
        let granularity_id = required("granularityId")?;
        let marketplace_ids = params.list("marketplaceIds").unwrap_or_default();
        let marketplace_id = match marketplace_ids.as_slice() {
            [] => return Err(ApiError::invalid_input("Missing required parameter: marketplaceIds")),
            [one] => one.clone(),
            _ => return Err(ApiError::invalid_input("marketplaceIds accepts exactly one marketplace")),
        };
        let details = match params.scalar("details").map(str::trim) {
            None | Some("") => false,
            Some(raw) => raw.parse::<bool>().map_err(|_| {
                ApiError::invalid_input(format!("Invalid value '{raw}' for details: must be true or false"))
            })?,
        };
        let start = params
            .scalar("startDateTime")
            .filter(|raw| !raw.trim().is_empty())
            .map(|raw| {
                DateTime::parse_from_rfc3339(raw.trim())
                    .map(|t| t.with_timezone(&Utc))
                    .or_else(|_| parse_utc(raw).ok_or(()))
                    .map_err(|_| ApiError::invalid_input(INVALID_START_DATE_TIME))
            })
            .transpose()?;
        if let Some(start) = start {
            let earliest = now.checked_sub_months(Months::new(MAX_LOOKBACK_MONTHS)).unwrap_or(now);
            if start < earliest {
                return Err(ApiError::invalid_input(
                    "startDateTime must be no earlier than 18 months before the time of the call",
                ));
            }
        }
        let skus = params.list("sellerSkus").filter(|skus| !skus.is_empty());
        if skus.as_ref().is_some_and(|skus| skus.len() > MAX_SELLER_SKUS) {
            return Err(ApiError::invalid_input(format!("sellerSkus accepts at most {MAX_SELLER_SKUS} values")));
        }
        let sku = params.scalar("sellerSku").filter(|s| !s.is_empty()).map(str::to_owned);
        let filter = match (start, skus, sku) {
            (Some(start), _, _) => Filter::ChangedSince(start),
            (None, Some(skus), _) => Filter::Skus(skus.into_iter().collect()),
            (None, None, Some(sku)) => Filter::Sku(sku),
            (None, None, None) => Filter::All,
        };
        let next_token = params.scalar("nextToken").filter(|t| !t.is_empty()).map(str::to_owned);
        Ok(Self { details, granularity_id, marketplace_id, filter, next_token })
    }
}

impl Inventory {
    /// One page of summaries; the nextToken (if more follow) lives `lifetime` from `now`.
    pub(crate) fn summaries(
        &self,
        query: &SummariesQuery,
        tokens: &mut TokenStore<Resume>,
        now: DateTime<Utc>,
        lifetime: Duration,
    ) -> Result<(Vec<InventorySummary>, Option<String>), ApiError> {
        let after = match &query.next_token {
            None => None,
            Some(token) => {
                let resume = tokens
                    .redeem(token, now)
                    .ok()
                    .filter(|r| r.filter == query.filter && r.granularity_id == query.granularity_id)
                    .ok_or_else(|| ApiError::invalid_input(INVALID_NEXT_TOKEN))?;
                Some(resume.after)
            }
        };
        let mut matching = self
            .items
            .values()
            .filter(|item| after.as_ref().is_none_or(|after| item.seller_sku > *after))
            .filter(|item| query.filter.matches(item));
        let page: Vec<&InventoryItem> = matching.by_ref().take(PAGE_SIZE).collect();
        let more = matching.next().is_some();
        let next = match (more, page.last()) {
            (true, Some(last)) => {
                let resume = Resume {
                    granularity_id: query.granularity_id.clone(),
                    filter: query.filter.clone(),
                    after: last.seller_sku.clone(),
                };
                Some(tokens.issue_opaque(resume, now, lifetime))
            }
            _ => None,
        };
        Ok((page.iter().map(|item| item.summary(query.details)).collect(), next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        parse_utc("2026-03-10T12:34:56Z").unwrap()
    }

    fn query(raw: &str) -> Result<SummariesQuery, ApiError> {
        SummariesQuery::parse(Some(raw), now())
    }

    #[test]
    fn seeding_is_deterministic_and_plausible() {
        let a = Inventory::seeded(42, 120, now());
        let b = Inventory::seeded(42, 120, now() + Duration::minutes(10));
        assert_eq!(a.items, b.items);
        let items: Vec<&InventoryItem> = a.items().collect();
        assert_eq!(items.len(), 120);
        assert_eq!(items[0].seller_sku, "FBA-SKU-0001");
        assert_eq!(items[119].seller_sku, "FBA-SKU-0120");
        for item in &items {
            assert!(item.fn_sku.starts_with("X00") && item.fn_sku.len() == 10, "{}", item.fn_sku);
            assert!(item.asin.starts_with("B0") && item.asin.len() == 10, "{}", item.asin);
            assert!(item.last_updated_time < truncate_to_hour(now()));
            assert!(item.last_updated_time >= truncate_to_hour(now()) - Duration::days(30));
            assert!(item.fulfillable == 0 || (5..=200).contains(&item.fulfillable));
        }
        assert!(items.iter().any(|i| i.fulfillable == 0));
        assert!(items.iter().filter(|i| i.fulfillable > 0).count() > 90);
        assert!(items.iter().any(|i| i.inbound_shipped > 0));
        assert!(items.iter().any(|i| i.unfulfillable.total() > 0));
        assert_ne!(Inventory::seeded(7, 120, now()).items, a.items);
    }

    #[test]
    fn reservations_move_units_between_quantities() {
        let mut inventory = Inventory::default();
        let update = QuantityUpdate { seller_sku: "NEW-1".into(), fulfillable: Some(5), ..QuantityUpdate::default() };
        let created = inventory.update(&update, now()).clone();
        assert!(created.fn_sku.starts_with("X00") && created.asin.starts_with("B0"));
        let later = now() + Duration::hours(1);
        assert_eq!(inventory.reserve("NEW-1", 8, later), 5);
        let item = inventory.get("NEW-1").unwrap();
        assert_eq!((item.fulfillable, item.pending_customer_order, item.last_updated_time), (0, 5, later));
        inventory.release("NEW-1", 2, later);
        inventory.ship("NEW-1", 3, later);
        let item = inventory.get("NEW-1").unwrap();
        assert_eq!((item.fulfillable, item.pending_customer_order, item.total_quantity()), (2, 0, 2));
        // Inbound changes alone are not detected by startDateTime.
        let inbound =
            QuantityUpdate { seller_sku: "NEW-1".into(), inbound_shipped: Some(9), ..QuantityUpdate::default() };
        let item = inventory.update(&inbound, later + Duration::hours(1));
        assert_eq!((item.last_updated_time, item.detected_change_time), (later + Duration::hours(1), later));
    }

    #[test]
    fn validates_like_the_model() {
        let base = "granularityType=Marketplace&granularityId=ATVPDKIKX0DER&marketplaceIds=ATVPDKIKX0DER";
        assert_eq!(query(base).unwrap().filter, Filter::All);
        let missing = query("granularityId=ATVPDKIKX0DER&marketplaceIds=ATVPDKIKX0DER").unwrap_err();
        assert!(missing.message.contains("granularityType"), "{}", missing.message);
        assert!(query(&base.replace("Marketplace&", "Country&")).unwrap_err().message.contains("granularityType"));
        let two = query(&format!("{base},A2EUQ1WTGCTBG2")).unwrap_err();
        assert!(two.message.contains("marketplaceIds"), "{}", two.message);
        assert_eq!(query(&format!("{base}&startDateTime=yesterday")).unwrap_err().message, INVALID_START_DATE_TIME);
        assert!(
            query(&format!("{base}&startDateTime=2024-01-01T00:00:00Z")).unwrap_err().message.contains("18 months")
        );
        assert!(query(&format!("{base}&details=yes")).unwrap_err().message.contains("details"));
        let skus: Vec<String> = (0..51).map(|n| format!("S{n}")).collect();
        let many = query(&format!("{base}&sellerSkus={}", skus.join(","))).unwrap_err();
        assert!(many.message.contains("sellerSkus"), "{}", many.message);
        // startDateTime wins over sellerSkus, which win over sellerSku.
        let since = query(&format!("{base}&startDateTime=2026-03-01T00:00:00Z&sellerSkus=A,B&sellerSku=C")).unwrap();
        assert!(matches!(since.filter, Filter::ChangedSince(_)));
        let skus = query(&format!("{base}&sellerSkus=A,B&sellerSku=C")).unwrap();
        assert_eq!(skus.filter, Filter::Skus(["A".to_string(), "B".to_string()].into()));
        assert_eq!(query(&format!("{base}&sellerSku=C&details=true")).unwrap().filter, Filter::Sku("C".into()));
    }

    #[test]
    fn pages_by_sku_with_short_lived_tokens() {
        let inventory = Inventory::seeded(42, 120, now());
        let mut tokens = TokenStore::default();
        let base = "granularityType=Marketplace&granularityId=ATVPDKIKX0DER&marketplaceIds=ATVPDKIKX0DER";
        let first = query(base).unwrap();
        let (page, next) = inventory.summaries(&first, &mut tokens, now(), Duration::seconds(30)).unwrap();
        assert_eq!(page.len(), 50);
        assert!(page[0].inventory_details.is_none());
        let next: String = url::form_urlencoded::byte_serialize(next.unwrap().as_bytes()).collect();
        let second = query(&format!("{base}&nextToken={next}")).unwrap();
        let (page2, _) =
            inventory.summaries(&second, &mut tokens, now() + Duration::seconds(29), Duration::seconds(30)).unwrap();
        assert_eq!(page2[0].seller_sku, "FBA-SKU-0051");
        let late = inventory.summaries(&second, &mut tokens, now() + Duration::seconds(30), Duration::seconds(30));
        assert_eq!(late.unwrap_err().message, INVALID_NEXT_TOKEN);
        let other = query(&format!("{base}&sellerSku=FBA-SKU-0001&nextToken={next}")).unwrap();
        assert!(inventory.summaries(&other, &mut tokens, now(), Duration::seconds(30)).is_err());
    }
}
