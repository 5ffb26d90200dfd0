//! Amazon `CarrierCode` values accepted by confirmShipment (spapi-reference.md §6).
//!
//! Kept apart from sellerbridge-core's list on purpose: the sandbox stands in for Amazon, and must not
//! accept a code merely because our own mapping produces it.

/// 2012 `amzn-base.xsd` enumeration.
const CARRIERS_2012: &[&str] = &[
    "USPS",
    "UPS",
    "UPSMI",
    "FedEx",
    "DHL",
    "Fastway",
    "GLS",
    "GO!",
    "Hermes Logistik Gruppe",
    "Royal Mail",
    "Parcelforce",
    "City Link",
    "TNT",
    "Target",
    "SagawaExpress",
    "NipponExpress",
    "YamatoTransport",
    "DHL Global Mail",
    "UPS Mail Innovations",
    "FedEx SmartPost",
    "OSM",
    "OnTrac",
    "Streamlite",
    "Newgistics",
    "Canada Post",
    "Blue Package",
    "Chronopost",
    "Deutsche Post",
    "DPD",
    "La Poste",
    "Parcelnet",
    "Poste Italiane",
    "SDA",
    "Smartmail",
    "FEDEX_JP",
    "JP_EXPRESS",
    "NITTSU",
    "SAGAWA",
    "YAMATO",
    "BlueDart",
    "AFL/Fedex",
    "Aramex",
    "India Post",
    "Professional",
    "DTDC",
    "Overnite Express",
    "First Flight",
    "Delhivery",
    "Lasership",
    "Yodel",
    "Other",
];

/// Additions in the current XSD.
const CARRIERS_CURRENT: &[&str] = &[
    "Amazon Shipping",
    "AMZL",
    "AMZL_UK",
    "4PX",
    "ABF",
    "APC",
    "Asendia",
    "Australia Post",
    "BPOST",
    "BRT",
    "China Post",
    "Colissimo",
    "Correios",
    "Correos",
    "Couriers Please",
    "DB Schenker",
    "DHL eCommerce",
    "DHL Express",
    "DHL Parcel UK",
    "DPD Local",
    "Estes",
    "GEODIS",
    "Hermes",
    "InPost",
];

/// Exact (case-sensitive) match, as Amazon requires.
pub fn is_known_carrier(code: &str) -> bool {
    CARRIERS_2012.contains(&code) || CARRIERS_CURRENT.contains(&code)
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
    }
}
