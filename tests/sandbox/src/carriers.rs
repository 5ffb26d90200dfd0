//! Amazon `CarrierCode` values accepted by confirmShipment (spapi-reference.md §6).
//!
//! Kept apart from sellerbridge-core's list on purpose: the sandbox stands in for Amazon, and must not
//! accept a code merely because our own mapping produces it.

/// Amazon's current `amzn-base.xsd` `CarrierCode` enumeration (the 2012 list, its later additions, and
/// the codes Seller Central's shipping-confirmation template offers), one code a line.
const CARRIER_CODES: &str = include_str!("carrier_codes.txt");

/// Exact (case-sensitive) match, as Amazon requires.
pub fn is_known_carrier(code: &str) -> bool {
    CARRIER_CODES.lines().any(|known| known == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carriers() {
        assert!(is_known_carrier("UPS"));
        assert!(is_known_carrier("Amazon Shipping"));
        assert!(is_known_carrier("Other"));
        assert!(!is_known_carrier("ups"));
        assert!(!is_known_carrier("Pony Express"));
        for newer in ["Sendle", "Ninjavan", "Singapore Post", "SF Express", "Yun Express", "PUROLATOR", "Evri"] {
            assert!(is_known_carrier(newer), "{newer}");
        }
    }
}
