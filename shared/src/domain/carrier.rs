//! Mapping the merchant's carrier names onto Amazon's accepted carrier codes.
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Amazon's `CarrierCode` values (amzn-base.xsd), the ones a US/EU/JP merchant meets in practice.
pub const AMAZON_CARRIER_CODES: &[&str] = &[
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
    "Other",
];

/// Common ways stores spell a carrier, checked after the connection's own rules.
const DEFAULT_ALIASES: &[(&str, &str)] = &[
    ("united parcel service", "UPS"),
    ("ups ground", "UPS"),
    ("federal express", "FedEx"),
    ("fedex ground", "FedEx"),
    ("fedex home delivery", "FedEx"),
    ("us postal service", "USPS"),
    ("united states postal service", "USPS"),
    ("stamps.com", "USPS"),
    ("dhl express (usa)", "DHL Express"),
    ("amazon", "Amazon Shipping"),
];

const MAX_CARRIER_NAME: usize = 50;

/// What is sent to Amazon as the carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Carrier {
    /// One of Amazon's carrier codes.
    Code { code: String },
    /// `carrierCode = Other` with the carrier's own name.
    Other { name: String },
}

impl Carrier {
    pub fn code(&self) -> &str {
        match self {
            Self::Code { code } => code,
            Self::Other { .. } => "Other",
        }
    }

    pub fn other_name(&self) -> Option<&str> {
        match self {
            Self::Code { .. } => None,
            Self::Other { name } => Some(name),
        }
    }
}

/// One configurable rule: a store's carrier name (compared case- and space-insensitively) to an Amazon code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierRule {
    pub store_name: String,
    pub amazon_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CarrierError {
    #[error("carrier name is empty")]
    Empty,
    #[error("carrier name `{0}` is longer than Amazon's 50-character limit for carrierName")]
    NameTooLong(String),
    #[error("carrier rule maps `{store_name}` to `{amazon_code}`, which is not one of Amazon's carrier codes")]
    UnknownCode { store_name: String, amazon_code: String },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierRules {
    pub rules: Vec<CarrierRule>,
}

impl CarrierRules {
    /// Rules are checked against Amazon's list when they are configured, not when a shipment arrives.
    pub fn new(rules: Vec<CarrierRule>) -> Result<Self, CarrierError> {
        for rule in &rules {
            if !AMAZON_CARRIER_CODES.contains(&rule.amazon_code.as_str()) {
                return Err(CarrierError::UnknownCode {
                    store_name: rule.store_name.clone(),
                    amazon_code: rule.amazon_code.clone(),
                });
            }
        }
        Ok(Self { rules })
    }

    /// The connection's rules first, then Amazon's own codes, then common aliases; else `Other` with the name.
    pub fn map(&self, store_name: &str) -> Result<Carrier, CarrierError> {
        let wanted = normalize(store_name);
        if wanted.is_empty() {
            return Err(CarrierError::Empty);
        }
        let configured = self.rules.iter().find(|r| normalize(&r.store_name) == wanted).map(|r| r.amazon_code.as_str());
        let exact = || AMAZON_CARRIER_CODES.iter().copied().find(|code| normalize(code) == wanted);
        let alias = || DEFAULT_ALIASES.iter().find(|(alias, _)| *alias == wanted).map(|(_, code)| *code);
        match configured.or_else(exact).or_else(alias) {
            Some("Other") | None => {
                let name = store_name.trim();
                if name.chars().count() > MAX_CARRIER_NAME {
                    return Err(CarrierError::NameTooLong(name.to_owned()));
                }
                Ok(Carrier::Other { name: name.to_owned() })
            }
            Some(code) => Ok(Carrier::Code { code: code.to_owned() }),
        }
    }
}

fn normalize(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(c: &str) -> Carrier {
        Carrier::Code { code: c.into() }
    }

    #[test]
    fn amazon_codes_match_regardless_of_case_and_spacing() {
        let rules = CarrierRules::default();
        assert_eq!(rules.map("ups").unwrap(), code("UPS"));
        assert_eq!(rules.map("  Royal   mail ").unwrap(), code("Royal Mail"));
        assert_eq!(rules.map("FEDEX").unwrap(), code("FedEx"));
    }

    #[test]
    fn common_aliases_map_to_codes() {
        assert_eq!(CarrierRules::default().map("United Parcel Service").unwrap(), code("UPS"));
        assert_eq!(CarrierRules::default().map("US Postal Service").unwrap(), code("USPS"));
    }

    #[test]
    fn configured_rules_win_over_defaults() {
        let rules =
            CarrierRules::new(vec![CarrierRule { store_name: "UPS".into(), amazon_code: "UPSMI".into() }]).unwrap();
        assert_eq!(rules.map("ups").unwrap(), code("UPSMI"));
    }

    #[test]
    fn unknown_carriers_go_out_as_other_with_their_name() {
        let carrier = CarrierRules::default().map("Bob's Courier").unwrap();
        assert_eq!(carrier.code(), "Other");
        assert_eq!(carrier.other_name(), Some("Bob's Courier"));
    }

    #[test]
    fn rules_naming_a_code_amazon_does_not_accept_are_refused() {
        let err =
            CarrierRules::new(vec![CarrierRule { store_name: "x".into(), amazon_code: "Fedex".into() }]).unwrap_err();
        assert!(err.to_string().contains("not one of Amazon's carrier codes"));
    }

    #[test]
    fn overlong_and_empty_names_are_errors() {
        assert_eq!(CarrierRules::default().map("  "), Err(CarrierError::Empty));
        assert!(matches!(CarrierRules::default().map(&"x".repeat(51)), Err(CarrierError::NameTooLong(_))));
    }
}
