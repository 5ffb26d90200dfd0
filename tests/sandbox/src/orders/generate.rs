//! Deterministic seeded order generation.
//!
//! Everything derives from one `StdRng` seeded with the configured seed and from a fixed base
//! time (sandbox start truncated to the hour), so the same inputs yield byte-identical orders.
//! PII values embed a per-order tag so tests can grep logs for them unambiguously.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use super::model::*;
use crate::sites::{SITES, Site};
use crate::time::{format_iso, truncate_to_hour};

/// Result of seeding: the orders plus the "actionable as seeded" count reported by `/_sandbox/stats`.
#[derive(Debug, Clone)]
pub struct GeneratedOrders {
    pub orders: Vec<Order>,
    pub actionable_mfn: usize,
}

const FIRST_NAMES: &[&str] = &[
    "Olivia", "Liam", "Amara", "Noah", "Sofia", "Mateo", "Harper", "Elijah", "Yuki", "Priya", "Lucas", "Zara", "Ezra",
    "Ingrid", "Kofi", "Maren", "Dmitri", "Leilani", "Tobias", "Anouk",
];
const LAST_NAMES: &[&str] = &[
    "Marchetti",
    "Okonkwo",
    "Lindqvist",
    "Haverford",
    "Castellanos",
    "Nakamura",
    "Brightwater",
    "Delacroix",
    "Fitzgerald",
    "Ramanathan",
    "Kowalczyk",
    "Abernathy",
    "Quintero",
    "Vasquez",
    "Thornbury",
    "Achterberg",
    "Mbeki",
    "Sorensen",
    "Valentini",
    "Whitcombe",
];
const STREETS: &[&str] = &[
    "Larkspur",
    "Juniper",
    "Maple Hollow",
    "Quarry",
    "Wexford",
    "Birchwood",
    "Cobalt",
    "Heron",
    "Saffron",
    "Tamarack",
    "Osprey",
    "Linden",
];
/// (city, state, ZIP prefix)
const CITIES: &[(&str, &str, &str)] = &[
    ("Seattle", "WA", "981"),
    ("Portland", "OR", "972"),
    ("Austin", "TX", "787"),
    ("Denver", "CO", "802"),
    ("Columbus", "OH", "432"),
    ("Raleigh", "NC", "276"),
    ("Madison", "WI", "537"),
    ("Tucson", "AZ", "857"),
    ("Boise", "ID", "837"),
    ("Albany", "NY", "122"),
    ("Savannah", "GA", "314"),
    ("Burlington", "VT", "054"),
];
const PRODUCTS: &[&str] = &[
    "Stainless Steel Water Bottle 750ml",
    "Bamboo Cutting Board Set",
    "Wireless Charging Pad",
    "Organic Cotton Bath Towel",
    "LED Desk Lamp with USB Port",
    "Ceramic Pour-Over Coffee Dripper",
    "Yoga Mat Non-Slip 6mm",
    "Cast Iron Skillet 10 inch",
    "Noise Cancelling Earbuds",
    "Hiking Daypack 20L",
    "Silicone Baking Mat (2 Pack)",
    "Mechanical Keyboard Keycap Set",
    "Aromatherapy Essential Oil Diffuser",
    "Insulated Lunch Tote",
    "Merino Wool Hiking Socks",
    "Adjustable Dumbbell Handle",
    "Glass Food Storage Containers",
    "Portable Bluetooth Speaker",
    "Linen Throw Pillow Cover",
    "Kids Watercolor Paint Set",
    "Phone Tripod with Remote",
    "Reusable Beeswax Wraps",
    "Cordless Handheld Vacuum",
    "Leather Card Wallet",
];

struct Product {
    asin: String,
    sku: String,
    title: &'static str,
    price_cents: u64,
}

/// Generates `count` orders spread over `sites` in turn, with timestamps before `now`.
pub fn generate_orders(seed: u64, count: usize, sites: &[&'static Site], now: DateTime<Utc>) -> GeneratedOrders {
    let mut generator = Generator::new(seed, sites, truncate_to_hour(now));
    let mut orders: Vec<Order> = (0..count).map(|i| generator.order(i)).collect();
    orders.sort_by(|a, b| (a.created_time, &a.order_id).cmp(&(b.created_time, &b.order_id)));
    let actionable_mfn = orders.iter().filter(|o| o.is_actionable_mfn()).count();
    GeneratedOrders { orders, actionable_mfn }
}

fn pick_weighted<T: Copy>(rng: &mut StdRng, choices: &[(T, u32)]) -> T {
    let total: u32 = choices.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total.max(1));
    for (value, weight) in choices {
        if roll < *weight {
            return *value;
        }
        roll -= weight;
    }
    choices[choices.len() - 1].0
}

fn random_chars(rng: &mut StdRng, alphabet: &[u8], len: usize) -> String {
    (0..len).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect()
}

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &[u8] = b"0123456789";

/// A generated person with a unique tag embedded in every PII value.
struct Person {
    first: &'static str,
    full_name: String,
}

struct Generator {
    rng: StdRng,
    base: DateTime<Utc>,
    sites: Vec<&'static Site>,
    /// The site of the order being generated.
    site: &'static Site,
    catalogue: Vec<Product>,
    order_ids: HashSet<String>,
    item_ids: HashSet<String>,
    phone_offset: usize,
}

impl Generator {
    fn new(seed: u64, sites: &[&'static Site], base: DateTime<Utc>) -> Self {
        let sites = if sites.is_empty() { vec![&SITES[0]] } else { sites.to_vec() };
        let mut rng = StdRng::seed_from_u64(seed);
        let catalogue = PRODUCTS
            .iter()
            .enumerate()
            .map(|(n, title)| Product {
                asin: format!("B0{}", random_chars(&mut rng, UPPER_ALNUM, 8)),
                sku: format!("SB-{:03}-{}", n + 1, random_chars(&mut rng, UPPER, 3)),
                title,
                price_cents: rng.random_range(599..=14_999),
            })
            .collect();
        let phone_offset = rng.random_range(0..100_000);
        Self {
            rng,
            base,
            site: sites[0],
            sites,
            catalogue,
            order_ids: HashSet::new(),
            item_ids: HashSet::new(),
            phone_offset,
        }
    }

    fn order(&mut self, index: usize) -> Order {
        self.site = self.sites[index % self.sites.len()];
        let fulfilled_by = if self.rng.random_bool(0.72) { FulfilledBy::Merchant } else { FulfilledBy::Amazon };
        let mut status = self.status_for(fulfilled_by);
        let mut items = self.items();
        let total_units: u32 = items.iter().map(|i| i.quantity_ordered).sum();
        if status == FulfillmentStatus::PartiallyShipped && total_units < 2 {
            // A single unit cannot be partially shipped.
            status = FulfillmentStatus::Unshipped;
        }
        let (created, last_updated) = self.timestamps(status);
        let service_level =
            pick_weighted(&mut self.rng, &[("STANDARD", 70), ("EXPEDITED", 15), ("SECOND_DAY", 8), ("NEXT_DAY", 7)]);
        let programs = self.programs();
        let priced = status != FulfillmentStatus::Pending;
        let shipping_cents = if service_level == "STANDARD" { 0 } else { 599 };
        let tag = format!("{}{:04}", random_chars(&mut self.rng, UPPER, 2), index);
        let buyer = self.person(&tag);
        let gift_recipient = (priced && self.rng.random_bool(0.10)).then(|| self.person(&format!("G{tag}")));

        if !priced {
            items.iter_mut().for_each(|i| i.product.price = None);
        }
        if let Some(recipient) = &gift_recipient {
            let message = format!("Happy birthday {}! With love from {} ({tag})", recipient.first, buyer.first);
            if let Some(fulfillment) = items[0].fulfillment.as_mut() {
                fulfillment.packing = Some(ItemPacking {
                    gift_option: GiftOption { gift_message: Some(message), gift_wrap_level: Some("Classic".into()) },
                });
            }
        }
        let packages = self.ship_items(&mut items, status, fulfilled_by, last_updated);
        let proceeds = priced.then(|| OrderProceeds {
            grand_total: Money::in_currency(
                items.iter().map(|i| self.unit_cents(i) * u64::from(i.quantity_ordered)).sum::<u64>() + shipping_cents,
                self.site,
            ),
        });
        let ship_days = if matches!(service_level, "NEXT_DAY" | "EXPEDITED") { 1 } else { 2 };
        let deliver_days = match service_level {
            "NEXT_DAY" => 1,
            "SECOND_DAY" | "EXPEDITED" => 2,
            _ => 5,
        };
        let ship_by = created + Duration::days(ship_days);
        let fulfillment = OrderFulfillment {
            fulfillment_status: status,
            fulfilled_by,
            fulfillment_service_level: service_level.into(),
            ship_by_window: DateTimeRange {
                earliest_date_time: Some(format_iso(created)),
                latest_date_time: Some(format_iso(ship_by)),
            },
            deliver_by_window: DateTimeRange {
                earliest_date_time: Some(format_iso(ship_by + Duration::days(1))),
                latest_date_time: Some(format_iso(ship_by + Duration::days(deliver_days))),
            },
        };
        let ship_to = gift_recipient.as_ref().unwrap_or(&buyer);
        let (buyer_info, recipient) = match fulfilled_by {
            FulfilledBy::Merchant => {
                self.mfn_pii(index, &tag, &buyer, ship_to, status, programs.iter().any(|p| p == "AMAZON_BUSINESS"))
            }
            FulfilledBy::Amazon => (None, (status != FulfillmentStatus::Pending).then(|| self.afn_recipient())),
        };

        Order {
            order_id: self.order_id(),
            created_time: created,
            last_updated_time: last_updated,
            programs,
            sales_channel: SalesChannel {
                // `channelName` is AMAZON or NON_AMAZON; the site's name goes in `marketplaceName`.
                channel_name: "AMAZON".into(),
                marketplace_id: self.site.marketplace_id.into(),
                marketplace_name: self.site.name.into(),
            },
            buyer: buyer_info,
            recipient,
            proceeds,
            fulfillment: Some(fulfillment),
            order_items: items,
            packages,
        }
    }

    fn status_for(&mut self, by: FulfilledBy) -> FulfillmentStatus {
        use FulfillmentStatus::*;
        match by {
            // MFN is what sellerbridge acts on: mostly waiting to be shipped.
            FulfilledBy::Merchant => pick_weighted(
                &mut self.rng,
                &[(Unshipped, 68), (PartiallyShipped, 14), (Shipped, 8), (Pending, 5), (Cancelled, 5)],
            ),
            FulfilledBy::Amazon => pick_weighted(
                &mut self.rng,
                &[(Shipped, 60), (Unshipped, 15), (Pending, 10), (Cancelled, 10), (PartiallyShipped, 5)],
            ),
        }
    }

    /// created within the previous 7 days; lastUpdated ≥ created and ≤ base − 6 min (< now − 5 min).
    fn timestamps(&mut self, status: FulfillmentStatus) -> (DateTime<Utc>, DateTime<Utc>) {
        use FulfillmentStatus::*;
        let created = self.base - Duration::seconds(self.rng.random_range(15 * 60..7 * 24 * 3600));
        let (min_delay, max_delay) = match status {
            Pending => (0, 10 * 60),
            Unshipped => (60, 60 * 60),
            PartiallyShipped => (2 * 3600, 36 * 3600),
            Shipped => (4 * 3600, 72 * 3600),
            _ => (10 * 60, 24 * 3600),
        };
        let updated = created + Duration::seconds(self.rng.random_range(min_delay..=max_delay));
        let latest = self.base - Duration::minutes(6);
        (created, updated.min(latest).max(created))
    }

    fn programs(&mut self) -> Vec<String> {
        let mut programs = Vec::new();
        if self.rng.random_bool(0.30) {
            programs.push("PRIME".to_string());
        }
        if self.rng.random_bool(0.10) {
            programs.push("AMAZON_BUSINESS".to_string());
        }
        programs
    }

    fn items(&mut self) -> Vec<OrderItem> {
        let count = pick_weighted(&mut self.rng, &[(1usize, 40), (2, 30), (3, 20), (4, 10)]);
        let chosen: Vec<usize> = rand::seq::index::sample(&mut self.rng, self.catalogue.len(), count).into_vec();
        chosen
            .into_iter()
            .map(|p| {
                let quantity = pick_weighted(&mut self.rng, &[(1u32, 70), (2, 20), (3, 10)]);
                let product = &self.catalogue[p];
                let (asin, sku, title, cents) =
                    (product.asin.clone(), product.sku.clone(), product.title, product.price_cents);
                OrderItem {
                    order_item_id: self.item_id(),
                    quantity_ordered: quantity,
                    product: ItemProduct {
                        asin,
                        title: title.into(),
                        seller_sku: sku,
                        // The model's enum values (`NEW`), not Seller Central's display names ("New").
                        condition: ItemCondition {
                            condition_type: "NEW".into(),
                            condition_subtype: Some("NEW".into()),
                        },
                        price: Some(ItemPrice { unit_price: Money::in_currency(cents, self.site) }),
                    },
                    cancellation: None,
                    fulfillment: Some(ItemFulfillment {
                        quantity_fulfilled: 0,
                        quantity_unfulfilled: quantity,
                        packing: None,
                    }),
                }
            })
            .collect()
    }

    fn unit_cents(&self, item: &OrderItem) -> u64 {
        self.catalogue.iter().find(|p| p.asin == item.product.asin).map_or(0, |p| p.price_cents)
    }

    /// Marks shipped quantities on the items; returns the packages (MFN only) covering them.
    fn ship_items(
        &mut self,
        items: &mut [OrderItem],
        status: FulfillmentStatus,
        by: FulfilledBy,
        shipped_at: DateTime<Utc>,
    ) -> Option<Vec<OrderPackage>> {
        let shipped: Vec<PackageItem> = match status {
            FulfillmentStatus::Shipped => items
                .iter()
                .map(|i| PackageItem { order_item_id: i.order_item_id.clone(), quantity: i.quantity_ordered })
                .collect(),
            FulfillmentStatus::PartiallyShipped => {
                // Multi-item: the first item went out in full; single item: one unit went out.
                let first = &items[0];
                let quantity = if items.len() > 1 { first.quantity_ordered } else { 1 };
                vec![PackageItem { order_item_id: first.order_item_id.clone(), quantity }]
            }
            _ => Vec::new(),
        };
        for package_item in &shipped {
            if let Some(f) = items
                .iter_mut()
                .find(|i| i.order_item_id == package_item.order_item_id)
                .and_then(|i| i.fulfillment.as_mut())
            {
                f.quantity_fulfilled = package_item.quantity;
                f.quantity_unfulfilled -= package_item.quantity;
            }
        }
        if by == FulfilledBy::Amazon {
            return None;
        }
        if shipped.is_empty() {
            return Some(Vec::new());
        }
        Some(vec![self.package(shipped, shipped_at)])
    }

    fn package(&mut self, package_items: Vec<PackageItem>, shipped_at: DateTime<Utc>) -> OrderPackage {
        let (carrier, service) = *[("UPS", "UPS Ground"), ("USPS", "Priority Mail"), ("FedEx", "FedEx Home Delivery")]
            .choose(&mut self.rng)
            .unwrap_or(&("UPS", "UPS Ground"));
        let tracking_number = match carrier {
            "UPS" => format!("1Z{}", random_chars(&mut self.rng, UPPER_ALNUM, 16)),
            "USPS" => format!("9400{}", random_chars(&mut self.rng, DIGITS, 18)),
            _ => random_chars(&mut self.rng, DIGITS, 12),
        };
        OrderPackage {
            // High numbers so they never collide with a client's own "1", "2", ... references.
            package_reference_id: self.rng.random_range(900_000..1_000_000u32).to_string(),
            created_time: format_iso(shipped_at),
            package_status: PackageStatus { status: "SHIPPED".into() },
            carrier: carrier.into(),
            ship_time: format_iso(shipped_at),
            shipping_service: Some(service.into()),
            tracking_number,
            package_items,
        }
    }

    fn person(&mut self, tag: &str) -> Person {
        let first = *FIRST_NAMES.choose(&mut self.rng).unwrap_or(&"Alex");
        let last = *LAST_NAMES.choose(&mut self.rng).unwrap_or(&"Smith");
        Person { first, full_name: format!("{first} {last} {tag}") }
    }

    fn mfn_pii(
        &mut self,
        index: usize,
        tag: &str,
        buyer: &Person,
        ship_to: &Person,
        status: FulfillmentStatus,
        business: bool,
    ) -> (Option<Buyer>, Option<Recipient>) {
        if status == FulfillmentStatus::Pending {
            return (None, None);
        }
        let email =
            format!("{}{}@marketplace.amazon.com", random_chars(&mut self.rng, LOWER_ALNUM, 12), tag.to_lowercase());
        let buyer_info = Buyer {
            buyer_name: Some(buyer.full_name.clone()),
            buyer_email: Some(email),
            buyer_company_name: business
                .then(|| format!("{} Supply Co {tag}", buyer.full_name.split(' ').nth(1).unwrap_or("Acme"))),
        };
        if status == FulfillmentStatus::Cancelled {
            // Like v0, no shipping address once an order is cancelled.
            return (Some(buyer_info), None);
        }
        let (city, state, zip) = *CITIES.choose(&mut self.rng).unwrap_or(&CITIES[0]);
        let street = *STREETS.choose(&mut self.rng).unwrap_or(&"Main");
        let house = (index + 1) * 10 + self.rng.random_range(0..10);
        let phone_number = index + self.phone_offset;
        let address = CustomerAddress {
            name: Some(ship_to.full_name.clone()),
            address_line1: Some(format!("{house} {street} St")),
            address_line2: self.rng.random_bool(0.3).then(|| format!("Apt {}", self.rng.random_range(1..999))),
            city: city.into(),
            state_or_region: state.into(),
            postal_code: format!("{zip}{:02}", self.rng.random_range(0..100)),
            country_code: self.site.country.into(),
            phone: Some(format!("+1-555-01{:02}-{:04}", (phone_number / 10_000) % 100, phone_number % 10_000)),
            address_type: Some(if business { "COMMERCIAL" } else { "RESIDENTIAL" }.into()),
        };
        (Some(buyer_info), Some(Recipient { delivery_address: address }))
    }

    /// FBA orders expose only coarse location data.
    fn afn_recipient(&mut self) -> Recipient {
        let (city, state, zip) = *CITIES.choose(&mut self.rng).unwrap_or(&CITIES[0]);
        Recipient {
            delivery_address: CustomerAddress {
                name: None,
                address_line1: None,
                address_line2: None,
                city: city.into(),
                state_or_region: state.into(),
                postal_code: format!("{zip}{:02}", self.rng.random_range(0..100)),
                country_code: self.site.country.into(),
                phone: None,
                address_type: None,
            },
        }
    }

    fn order_id(&mut self) -> String {
        loop {
            let id = format!(
                "{}-{:07}-{:07}",
                self.rng.random_range(111..=114),
                self.rng.random_range(0..10_000_000),
                self.rng.random_range(0..10_000_000)
            );
            if self.order_ids.insert(id.clone()) {
                return id;
            }
        }
    }

    fn item_id(&mut self) -> String {
        loop {
            let id = self.rng.random_range(10_000_000_000_000u64..100_000_000_000_000).to_string();
            if self.item_ids.insert(id.clone()) {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_utc;

    fn sample() -> GeneratedOrders {
        let now = parse_utc("2026-03-10T12:34:56Z").unwrap();
        generate_orders(42, 300, &[&SITES[0]], now)
    }

    #[test]
    fn deterministic() {
        let a = serde_json::to_string(&sample().orders).unwrap();
        let b = serde_json::to_string(&sample().orders).unwrap();
        assert_eq!(a, b);
        let other = generate_orders(7, 300, &[&SITES[0]], parse_utc("2026-03-10T12:34:56Z").unwrap());
        assert_ne!(a, serde_json::to_string(&other.orders).unwrap());
    }

    #[test]
    fn mix_and_invariants() {
        let now = parse_utc("2026-03-10T12:34:56Z").unwrap();
        let generated = sample();
        let orders = &generated.orders;
        let n = orders.len() as f64;
        let mfn = orders.iter().filter(|o| o.fulfilled_by() == Some(FulfilledBy::Merchant)).count() as f64;
        assert!((0.6..0.85).contains(&(mfn / n)), "mfn share {}", mfn / n);
        assert!(generated.actionable_mfn as f64 / n >= 0.5, "actionable {}", generated.actionable_mfn);
        for status in [
            FulfillmentStatus::Pending,
            FulfillmentStatus::Unshipped,
            FulfillmentStatus::PartiallyShipped,
            FulfillmentStatus::Shipped,
            FulfillmentStatus::Cancelled,
        ] {
            assert!(orders.iter().any(|o| o.status() == Some(status)), "missing {status}");
        }
        let ids: HashSet<_> = orders.iter().map(|o| &o.order_id).collect();
        assert_eq!(ids.len(), orders.len());
        let names: HashSet<_> = orders.iter().filter_map(|o| o.buyer.as_ref()?.buyer_name.clone()).collect();
        assert_eq!(names.len(), orders.iter().filter(|o| o.buyer.is_some()).count());
        for o in orders {
            assert!(o.last_updated_time >= o.created_time);
            assert!(o.last_updated_time < now - Duration::minutes(5));
            assert!(o.created_time > now - Duration::days(8));
            assert!((1..=4).contains(&o.order_items.len()));
            assert_eq!(o.order_id.len(), 19);
            for item in &o.order_items {
                assert_eq!(item.order_item_id.len(), 14);
                let f = item.fulfillment.as_ref().unwrap();
                assert_eq!(f.quantity_fulfilled + f.quantity_unfulfilled, item.quantity_ordered);
            }
            if o.status() == Some(FulfillmentStatus::Pending) {
                assert!(o.recipient.is_none() && o.proceeds.is_none());
                assert!(o.order_items.iter().all(|i| i.product.price.is_none()));
            }
            if o.fulfilled_by() == Some(FulfilledBy::Amazon) {
                assert!(o.buyer.is_none());
                if let Some(r) = &o.recipient {
                    assert!(r.delivery_address.name.is_none() && r.delivery_address.phone.is_none());
                }
            }
            if o.status() == Some(FulfillmentStatus::PartiallyShipped)
                && o.fulfilled_by() == Some(FulfilledBy::Merchant)
            {
                assert_eq!(o.packages.as_ref().unwrap().len(), 1);
            }
        }
        let gifts = orders
            .iter()
            .filter(|o| o.order_items.iter().any(|i| i.fulfillment.as_ref().is_some_and(|f| f.packing.is_some())))
            .count();
        assert!(gifts > 0);
        assert!(orders.iter().any(|o| o.programs.iter().any(|p| p == "PRIME")));
        assert!(orders.iter().any(|o| o.programs.iter().any(|p| p == "AMAZON_BUSINESS")));
    }
}
