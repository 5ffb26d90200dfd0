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
            company: None,
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
