//! Identifier newtypes. Each is parsed once at the edge, so a value of the type is always well formed.
use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid {kind}: {reason}")]
pub struct InvalidId {
    pub kind: &'static str,
    pub reason: String,
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: impl Into<String>) -> Result<Self, InvalidId> {
                let raw = raw.into();
                let check: fn(&str) -> Result<(), String> = $check;
                check(&raw).map_err(|reason| InvalidId { kind: $kind, reason })?;
                Ok(Self(raw))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;
            fn from_str(raw: &str) -> Result<Self, InvalidId> {
                Self::parse(raw)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(raw: String) -> Result<Self, InvalidId> {
                Self::parse(raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

fn non_empty_token(max_len: usize) -> impl Fn(&str) -> Result<(), String> {
    move |raw: &str| {
        if raw.trim().is_empty() {
            Err("must not be empty".into())
        } else if raw.len() > max_len {
            Err(format!("longer than {max_len} characters"))
        } else if raw.chars().any(|c| c.is_control()) {
            Err("contains control characters".into())
        } else {
            Ok(())
        }
    }
}

fn amazon_order_id(raw: &str) -> Result<(), String> {
    // Amazon order ids look like 3-7-7 digits (e.g. 902-1106328-1059050).
    let parts: Vec<&str> = raw.split('-').collect();
    let well_formed = parts.len() == 3
        && [3, 7, 7].iter().zip(&parts).all(|(len, part)| part.len() == *len)
        && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if well_formed { Ok(()) } else { Err(format!("`{raw}` is not of the form 123-1234567-1234567")) }
}

fn digits(raw: &str) -> Result<(), String> {
    if !raw.is_empty() && raw.len() <= 30 && raw.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!("`{raw}` is not a numeric id"))
    }
}

string_id!(
    /// An Amazon order id (`123-1234567-1234567`).
    AmazonOrderId, "Amazon order id", amazon_order_id
);
string_id!(
    /// Amazon's id of one line on an order (numeric, sent back in confirmShipment).
    OrderItemId, "order item id", digits
);
string_id!(
    /// A seller SKU.
    Sku, "SKU", |raw| non_empty_token(40)(raw)
);
string_id!(
    /// An Amazon Standard Identification Number: 10 letters and digits (e.g. B0C1XYZ123, or an ISBN-10
    /// for books). Amazon writes ASINs in capitals; matching ignores case.
    Asin, "ASIN", |raw| {
        if raw.len() == 10 && raw.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(())
        } else {
            Err(format!("`{}` is not 10 letters and digits", raw.chars().take(40).collect::<String>()))
        }
    }
);
string_id!(
    /// A carrier tracking number.
    TrackingNumber, "tracking number", |raw| {
        non_empty_token(60)(raw)?;
        if raw.chars().any(char::is_whitespace) { Err("contains white space".into()) } else { Ok(()) }
    }
);
string_id!(
    /// The merchant's own id for one package of a shipment: our idempotency key per package.
    PackageId, "package id", |raw| non_empty_token(100)(raw)
);
string_id!(
    /// The id of an inbound webhook event, used to acknowledge repeats without re-queueing.
    EventId, "event id", |raw| non_empty_token(200)(raw)
);
string_id!(
    /// One Amazon connection: a seller account in one marketplace.
    ConnectionId, "connection id", |raw| {
        non_empty_token(64)(raw)?;
        if raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            Ok(())
        } else {
            Err("may hold only letters, digits, - and _".into())
        }
    }
);
string_id!(
    /// An Amazon marketplace id (e.g. ATVPDKIKX0DER).
    MarketplaceId, "marketplace id", |raw| {
        if (8..=20).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(())
        } else {
            Err(format!("`{raw}` is not a marketplace id"))
        }
    }
);
string_id!(
    /// The selling partner id of a seller account.
    SellerId, "seller id", |raw| non_empty_token(40)(raw)
);

string_id!(
    /// The store's own id of an order it asks Amazon to fulfil (Multi-Channel Fulfillment).
    StoreOrderId, "store order id", |raw| non_empty_token(100)(raw)
);
string_id!(
    /// Our id of a fulfillment order at Amazon (`sellerFulfillmentOrderId`): at most 40 letters, digits,
    /// `-` and `_`, unique per seller, and Amazon's idempotency key for creating it.
    SellerFulfillmentOrderId, "seller fulfillment order id", |raw| {
        non_empty_token(40)(raw)?;
        if raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            Ok(())
        } else {
            Err("may hold only letters, digits, - and _".into())
        }
    }
);
string_id!(
    /// Amazon's fulfillment network SKU of a product in its warehouses.
    Fnsku, "FNSKU", |raw| {
        if (1..=20).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(())
        } else {
            Err(format!("`{}` is not letters and digits", raw.chars().take(40).collect::<String>()))
        }
    }
);

/// Amazon's `packageReferenceId`: a positive number, sent as a string (Amazon rejects JSON numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PackageReference(u32);

impl PackageReference {
    pub fn first() -> Self {
        Self(1)
    }

    pub fn new(value: u32) -> Option<Self> {
        (value > 0).then_some(Self(value))
    }

    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for PackageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amazon_order_ids_must_have_the_3_7_7_shape() {
        assert!(AmazonOrderId::parse("902-1106328-1059050").is_ok());
        for bad in ["", "902-1106328", "90a-1106328-1059050", "9021-106328-1059050", "902-1106328-1059050-1"] {
            let err = AmazonOrderId::parse(bad).unwrap_err();
            assert_eq!(err.kind, "Amazon order id", "{bad}");
        }
    }

    #[test]
    fn ids_deserialize_through_their_parser() {
        let ok: Result<OrderItemId, _> = serde_json::from_str("\"79039765272157\"");
        assert!(ok.is_ok());
        let bad: Result<OrderItemId, _> = serde_json::from_str("\"79039-abc\"");
        assert!(bad.unwrap_err().to_string().contains("order item id"));
    }

    #[test]
    fn tracking_numbers_reject_blank_and_spaced_values() {
        assert!(TrackingNumber::parse("1Z999AA10123456784").is_ok());
        assert!(TrackingNumber::parse("  ").is_err());
        assert!(TrackingNumber::parse("1Z 999").is_err());
    }

    #[test]
    fn package_references_are_positive() {
        assert_eq!(PackageReference::new(0), None);
        assert_eq!(PackageReference::first().next().to_string(), "2");
    }

    #[test]
    fn asins_are_ten_letters_and_digits() {
        assert!(Asin::parse("B0C1XYZ123").is_ok());
        assert!(Asin::parse("059035342X").is_ok(), "ISBN-10 books");
        for bad in ["", "B0C1XYZ12", "B0C1XYZ1234", "B0C1-YZ123", "SKU-A"] {
            assert_eq!(Asin::parse(bad).unwrap_err().kind, "ASIN", "{bad}");
        }
    }

    #[test]
    fn connection_ids_are_key_safe() {
        assert!(ConnectionId::parse("us-main_1").is_ok());
        assert!(ConnectionId::parse("us#main").is_err());
    }
}
