//! Mapping the merchant's carrier names onto Amazon's accepted carrier codes.
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Amazon's `CarrierCode` values: the enumeration of the feeds schema `amzn-base.xsd`, which
/// confirmShipment accepts too (the v0 model leaves `carrierCode` a free string and points to that list).
/// Values are sent exactly as listed (Amazon compares them case-sensitively; some carriers appear in two
/// spellings, both valid). Anything else goes as `Other` with the carrier's name.
///
/// Sources: the `CarrierCode` enumeration of the current `amzn-base.xsd` (as generated into public
/// feed-client code), the additions in the January 2026 schema `amzn-base._TTH_.xsd` (as published by
/// Dropstream), and the values Seller Central's shipping-confirmation template (help G641) lists for
/// the AU and SG marketplaces.
pub const AMAZON_CARRIER_CODES: &[&str] = &[
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
    "Amazon Shipping",
    "Seur",
    "Correos",
    "MRW",
    "Endopack",
    "Chrono Express",
    "Nacex",
    "Otro",
    "Correios",
    "Toll Global Express",
    "China Post",
    "AUSSIE_POST",
    "EUB",
    "Australia Post",
    "Yun Express",
    "4PX",
    "Hermes",
    "SF Express",
    "BRT",
    "Australia Post-Consignment",
    "Australia Post-ArticleId",
    "Sendle",
    "CouriersPlease",
    "A-1",
    "AAA Cooper",
    "ABF",
    "ALLJOY",
    "Aras Kargo",
    "Arkas",
    "Arrow XL",
    "Asendia",
    "Asgard",
    "Assett",
    "AT POST",
    "ATS",
    "Balnak",
    "Beijing Quanfeng Express",
    "Best Buy",
    "Best Express",
    "BJS",
    "Bombax",
    "Cart2India",
    "CDC",
    "CELERITAS",
    "CEVA",
    "Ceva Lojistik",
    "Cititrans",
    "Coliposte",
    "Colissimo",
    "Conway",
    "Correos Express",
    "Couriers Please",
    "CTTExpress",
    "DB Schenker",
    "DHL eCommerce",
    "DHL Express",
    "DHL Freight",
    "DHL Home Delivery",
    "DHL Kargo",
    "DHL-Paket",
    "DHLPL",
    "Digital Delivery",
    "DirectLog",
    "Dotzot",
    "DSV",
    "DX Freight",
    "ECMS",
    "Ecom Express",
    "Emirates Post",
    "Energo",
    "Envialia",
    "Estafeta",
    "Estes",
    "Fedex Freight",
    "Fillo Kargo",
    "First Flight China",
    "First Mile",
    "Gati",
    "GEL Express",
    "geodis",
    "Geodis Calberson",
    "Geopost Kargo",
    "Hermes Einrichtungsservice",
    "Home Logistics",
    "Hongkong Post",
    "Horoz Lojistik",
    "HS code",
    "Hunter Logistics",
    "ICC Worldwide",
    "IDS Netzwerk",
    "InPost",
    "iParcel",
    "Japan Post",
    "JCEX",
    "Kargokar",
    "Kuehne+Nagel",
    "Landmark",
    "Metro Kargo",
    "MNG Kargo",
    "Narpost Kargo",
    "Nexive",
    "Ninjavan",
    "Old Dominion",
    "OneWorldExpress",
    "Panther",
    "Pilot",
    "Pilot Freight",
    "Polish Post",
    "Post NL",
    "PostNord",
    "PTT Kargo",
    "PUROLATOR",
    "QExpress",
    "Qxpress",
    "R+L",
    "Raben Group",
    "Rhenus",
    "Rieck",
    "Rivigo",
    "Roadrunner",
    "Safexpress",
    "Saia",
    "Seino",
    "SEINO TRANSPORTATION",
    "Selem Kargo",
    "Self Delivery",
    "SENDLE",
    "SFC",
    "Ship Delight",
    "Ship Global US",
    "ShipEconomy",
    "ShipGlobal",
    "Shree Maruti Courier",
    "Shree Tirupati Courier",
    "Shunfeng Express",
    "Singapore Post",
    "South Eastern Freight Lines",
    "Speedex",
    "Spoton",
    "StarTrack-ArticleID",
    "StarTrack-Consignment",
    "STO Express",
    "Tezel Lojistik",
    "The Professional Couriers",
    "TIPSA",
    "TNT Kargo",
    "TNTIT",
    "Total Express",
    "Trackon",
    "TransFolha",
    "Tuffnells",
    "UPS Freight",
    "Urban Express",
    "VIR",
    "VNLIN",
    "WanbExpress",
    "Watkins and Shepard",
    "Whizzard",
    "WINIT",
    "XDP",
    "XPO Freight",
    "Xpressbees",
    "YDH",
    "Yellow Freight",
    "YTO Express",
    "Yunda Express",
    "ZTO Express",
    "Tourline",
    "Centex",
    "iMile",
    "Chukou1",
    "CNE",
    "Equick",
    "UBI",
    "Sunyou",
    "COLIS PRIVE",
    "Colis Prive",
    "DASCHER",
    "DACHSER",
    "France Express",
    "Heppner",
    "Kuehne Nagel",
    "Arco Spedizioni",
    "FAST EST",
    "FERCAM",
    "Fercam",
    "Liccardi",
    "Milkman",
    "Zust Ambrosetti",
    "Yanwen",
    "ROYAL_MAIL",
    "Whistl",
    "Hermes (Corporate)",
    "AMAUK",
    "The Delivery Group",
    "RMLGB",
    "UKMail",
    "APC",
    "Jersey Post",
    "Caribou",
    "Hermes UK",
    // Hermes UK's name since 2022: Seller Central offers it beside the older code.
    "Evri",
    "DPD Local",
    "UK MAIL",
    "APC Overnight",
    "USPS",
    "DX Express",
    "DX Secure",
    "Parcel Station",
    "AMZL_UK",
    "DX",
    "APC-Overnight",
    "B2C Europe",
    "ITD Global",
    "Parcelhub",
    "HubEurope",
    "Huxloe Logistics",
    "GFS",
    "Spring GDS",
    "Verage Shipping",
    "MHI",
    "Truline",
    "Delivery Group",
    "PDC Logistics",
    "PARCEL2GO.COM",
    "DEL Deliveries",
    "Parcelink Logistics",
    "Cubyn",
    "Hotpoint Logistics",
    "AT Post",
    "GEL",
    "IDS",
    "Raben",
    "AO Deutschland",
    "MZZ-Briefdienst",
    "Der Kurier",
    "REDUR",
    "Europaczka",
    "Emons",
    "Seven Senders",
    "Sendcloud",
    "Mail Alliance",
    "Mainpost",
    "PIN",
    "Post Modern",
    "Trans-o-Flex",
    "Exapaq",
    "Trakpak",
    "BPOST",
    "UPakWeShip",
    "Mondial Relay",
    "Swiss post",
    "Consegna Mezzi Propri",
    "DACSHER",
    "GEODIS",
    "XPO",
    "NACEX",
    "Sprint",
    "Susa",
    "Zeleris",
    "TWS",
    "Sailpost",
    "WPX",
    "HRP",
    "Sending",
    "CBL",
    "DYNAMIC EXPRESS",
    "EINSA SOURCING",
    "GRUPO LOGISTIC",
    "KEAVO",
    "NTL",
    "SPRING",
    "Szendex",
    "TDN",
    "Transaragonés",
    "TSB",
    "TXT",
    "TyD",
    "Via Xpress",
    "CTT EXPRESS",
    "FRANCE EXPRESS",
    "Bartolini",
    "AMZL",
    "Andere",
    "AO",
    "B2C",
    "CargoLine",
    "Citypost",
    "Delivengo",
    "DPB",
    "EKI Trans",
    "FRACHTPOST",
    "Hellmann",
    "Hlog",
    "honesteye",
    "Huxloe",
    "Interlink",
    "Interno",
    "Intersoft",
    "JPL UPU",
    "Kybotech",
    "Landmark Global",
    "MBE",
    "Mezzi propri",
    "MZZ Briefdienst",
    "NOVEO",
    "OCS Worldwide",
    "ONTIME",
    "Palletline",
    "Palletways",
    "Parcel Hub",
    "Parcel Monkey",
    "Parcel2go",
    "ParcelDenOnline",
    "ParcelOne",
    "PostNL",
    "RBNA",
    "RR Donnelley",
    "Schweizer Post",
    "Shipmate",
    "Sonstige",
    "Stahlmann and Sachs",
    "Stampit",
    "STG",
    "Transaher",
    "Translink",
    "Transoflex",
    "Upsilon",
    // Added in the January 2026 schema.
    "360lion",
    "AMAZON HORIZON",
    "APC POSTAL LOGISTICS",
    "APG eCommerce",
    "ARAS",
    "BR1 Express",
    "Bombino Express",
    "Colis Privé",
    "DHL Parcel UK",
    "Ecom Shipping solutions PVT ltd",
    "ePost Global",
    "HNC",
    "Huahan Logisitics",
    // Listed in Seller Central's AU template in this spelling.
    "YANWEN",
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
    ("ninja van", "Ninjavan"),
    ("singpost", "Singapore Post"),
    ("yunexpress", "Yun Express"),
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
    #[error("a shipping method rule needs both names, as STORE METHOD=AMAZON METHOD")]
    EmptyShippingMethod,
    #[error("carrier name `{0}` is longer than Amazon's 50-character limit for carrierName")]
    NameTooLong(String),
    #[error("carrier rule maps `{store_name}` to `{amazon_code}`, which is not one of Amazon's carrier codes")]
    UnknownCode { store_name: String, amazon_code: String },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierRules {
    pub rules: Vec<CarrierRule>,
    /// The store's shipping method names onto the ones the seller uses at Amazon; a method no rule
    /// names is sent as the store wrote it.
    #[serde(default)]
    pub shipping_methods: Vec<ShippingMethodRule>,
}

/// A store's shipping method name (compared case- and space-insensitively) to the method sent to Amazon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingMethodRule {
    pub store_method: String,
    pub amazon_method: String,
}

impl ShippingMethodRule {
    pub fn new(store_method: &str, amazon_method: &str) -> Result<Self, CarrierError> {
        let (store_method, amazon_method) = (store_method.trim(), amazon_method.trim());
        if store_method.is_empty() || amazon_method.is_empty() {
            return Err(CarrierError::EmptyShippingMethod);
        }
        Ok(Self { store_method: store_method.to_owned(), amazon_method: amazon_method.to_owned() })
    }
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
        Ok(Self { rules, shipping_methods: Vec::new() })
    }

    /// The shipping method to send to Amazon for the store's `method`: the connection's rule for it,
    /// else the store's own words.
    pub fn shipping_method(&self, method: Option<&str>) -> Option<String> {
        let method = method.map(str::trim).filter(|m| !m.is_empty())?;
        let wanted = normalize(method);
        let mapped = self.shipping_methods.iter().find(|rule| normalize(&rule.store_method) == wanted);
        Some(mapped.map_or(method, |rule| rule.amazon_method.as_str()).to_owned())
    }

    /// The connection's rules first, then Amazon's own codes, then common aliases; else `Other` with the name.
    pub fn map(&self, store_name: &str) -> Result<Carrier, CarrierError> {
        let wanted = normalize(store_name);
        if wanted.is_empty() {
            return Err(CarrierError::Empty);
        }
        let configured = self.rules.iter().find(|r| normalize(&r.store_name) == wanted).map(|r| r.amazon_code.as_str());
        // A code spelled exactly as Amazon lists it wins over another spelling of the same carrier.
        let spelled = store_name.split_whitespace().collect::<Vec<_>>().join(" ");
        let exact = || {
            AMAZON_CARRIER_CODES
                .iter()
                .copied()
                .find(|code| *code == spelled)
                .or_else(|| AMAZON_CARRIER_CODES.iter().copied().find(|code| normalize(code) == wanted))
        };
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
    fn carriers_beyond_the_2012_list_go_out_under_their_amazon_code() {
        let rules = CarrierRules::default();
        for (store_name, amazon_code) in [
            ("Sendle", "Sendle"),
            ("Ninjavan", "Ninjavan"),
            ("Ninja Van", "Ninjavan"),
            ("Singapore Post", "Singapore Post"),
            ("SF Express", "SF Express"),
            ("Yun Express", "Yun Express"),
            ("Purolator", "PUROLATOR"),
            ("Evri", "Evri"),
            ("Australia Post-ArticleId", "Australia Post-ArticleId"),
            ("Colis Privé", "Colis Privé"),
            ("kuehne+nagel", "Kuehne+Nagel"),
        ] {
            assert_eq!(rules.map(store_name).unwrap(), code(amazon_code), "{store_name}");
        }
        let configured = ["Sendle", "Ninjavan", "Singapore Post", "SF Express", "Yun Express", "PUROLATOR", "Evri"]
            .map(|amazon_code| CarrierRule {
                store_name: format!("ours {amazon_code}"),
                amazon_code: amazon_code.into(),
            });
        assert!(CarrierRules::new(configured.to_vec()).is_ok());
    }

    #[test]
    fn an_exact_spelling_wins_over_another_spelling_of_the_same_carrier() {
        let rules = CarrierRules::default();
        assert_eq!(rules.map("SENDLE").unwrap(), code("SENDLE"));
        assert_eq!(rules.map("sendle").unwrap(), code("Sendle"));
        assert_eq!(rules.map("FERCAM").unwrap(), code("FERCAM"));
        assert_eq!(rules.map("Fercam").unwrap(), code("Fercam"));
    }

    #[test]
    fn the_code_list_is_amazons_full_list_without_repeats() {
        assert!(AMAZON_CARRIER_CODES.len() > 350, "{}", AMAZON_CARRIER_CODES.len());
        let mut seen = std::collections::BTreeSet::new();
        for code in AMAZON_CARRIER_CODES {
            assert!(seen.insert(*code), "{code} listed twice");
            assert_eq!(code.trim(), *code);
            assert!(code.chars().count() <= MAX_CARRIER_NAME, "{code}");
        }
        assert!(AMAZON_CARRIER_CODES.contains(&"Other"));
        for (_, target) in DEFAULT_ALIASES {
            assert!(AMAZON_CARRIER_CODES.contains(target), "alias target {target}");
        }
    }

    #[test]
    fn overlong_and_empty_names_are_errors() {
        assert_eq!(CarrierRules::default().map("  "), Err(CarrierError::Empty));
        assert!(matches!(CarrierRules::default().map(&"x".repeat(51)), Err(CarrierError::NameTooLong(_))));
    }

    #[test]
    fn shipping_methods_map_through_the_connections_rules_or_pass_as_written() {
        let rules = CarrierRules {
            shipping_methods: vec![
                ShippingMethodRule::new("Standard Shipping", "Ground").unwrap(),
                ShippingMethodRule::new("Express", "Next Day Air").unwrap(),
            ],
            ..CarrierRules::default()
        };
        assert_eq!(rules.shipping_method(Some("standard  shipping")), Some("Ground".into()));
        assert_eq!(rules.shipping_method(Some(" EXPRESS ")), Some("Next Day Air".into()));
        assert_eq!(
            rules.shipping_method(Some(" Priority Mail ")),
            Some("Priority Mail".into()),
            "unmapped: as written"
        );
        assert_eq!(rules.shipping_method(Some("  ")), None);
        assert_eq!(rules.shipping_method(None), None);
        assert_eq!(ShippingMethodRule::new("Express", " "), Err(CarrierError::EmptyShippingMethod));
    }
}
