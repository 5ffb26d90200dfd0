//! Sample data for the domain's unit tests.
use chrono::{DateTime, Utc};

use super::ids::{AmazonOrderId, ConnectionId, MarketplaceId, OrderItemId, Sku};
use super::order::{Address, AmazonOrder, Buyer, Money, Order, OrderFlags, OrderItem};
use super::status::{AmazonStatus, FulfilledBy, OrderStatus};

pub fn sample_order(imported_at: DateTime<Utc>) -> Order {
    let item = |id: &str, sku: &str, quantity: u32, gift: Option<&str>| OrderItem {
        id: OrderItemId::parse(id).unwrap(),
        sku: Some(Sku::parse(sku).unwrap()),
        asin: Some("B000000001".into()),
        title: Some("Widget".into()),
        quantity_ordered: quantity,
        quantity_shipped: 0,
        unit_price: Some(Money { amount: "12.50".into(), currency_code: "USD".into() }),
        condition: None,
        gift_message: gift.map(str::to_owned),
        gift_wrap_level: None,
    };
    let amazon = AmazonOrder {
        id: AmazonOrderId::parse("902-1106328-1059050").unwrap(),
        marketplace_id: MarketplaceId::parse("ATVPDKIKX0DER").unwrap(),
        fulfilled_by: FulfilledBy::Merchant,
        amazon_status: AmazonStatus::Unshipped,
        created_at: imported_at,
        updated_at: imported_at,
        ship_by: None,
        deliver_by: None,
        service_level: Some("Standard".into()),
        flags: OrderFlags { gift: true, ..OrderFlags::default() },
        total: Some(Money { amount: "37.50".into(), currency_code: "USD".into() }),
        items: vec![
            item("11111111111111", "SKU-A", 2, Some("Happy birthday Ada")),
            item("22222222222222", "SKU-B", 1, None),
        ],
        buyer: Some(Buyer {
            name: Some("Ada Lovelace".into()),
            email: Some("ada@marketplace.amazon.com".into()),
            company: Some("Analytical Engines Ltd".into()),
        }),
        ship_to: Some(Address {
            name: Some("Ada Lovelace".into()),
            line1: Some("1 Analytical Way".into()),
            line2: None,
            line3: None,
            city: Some("Seattle".into()),
            state_or_region: Some("WA".into()),
            postal_code: Some("98109".into()),
            country_code: Some("US".into()),
            phone: Some("+1-206-555-0100".into()),
            address_type: Some("RESIDENTIAL".into()),
        }),
        packages: Vec::new(),
    };
    Order::import(ConnectionId::parse("us-main").unwrap(), OrderStatus::AwaitingShipment, amazon, imported_at)
}

/// A queued package of one unit, with the carrier named as the store would (`UPS`, or any other name).
pub fn package_for_feed(order_id: &str, carrier: &str) -> super::shipment::Package {
    use super::carrier::Carrier;
    use super::ids::{PackageId, PackageReference, TrackingNumber};
    use super::shipment::{Package, PackageLine, PackageState};
    let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 3, 1, 10, 0, 0).unwrap();
    let carrier = match carrier {
        "UPS" => Carrier::Code { code: carrier.into() },
        name => Carrier::Other { name: name.into() },
    };
    Package {
        order_id: AmazonOrderId::parse(order_id).unwrap(),
        package_id: PackageId::parse("pkg-1").unwrap(),
        reference: PackageReference::first(),
        carrier,
        shipping_method: None,
        tracking_number: TrackingNumber::parse("1Z999AA10123456784").unwrap(),
        ship_date: at,
        label_created_at: at,
        lines: vec![PackageLine { order_item_id: OrderItemId::parse("11111111111111").unwrap(), quantity: 1 }],
        state: PackageState::Queued,
        throttle_deferrals: 0,
        claimed_at: None,
        send_attempts: 0,
        fingerprint: None,
        units_released: false,
        tracked: None,
        warnings: Vec::new(),
        delivered_at: None,
        by_call_only: false,
        created_at: at,
    }
}
