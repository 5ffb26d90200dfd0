//! Amazon's marketplaces and the SP-API region each belongs to: a connection's region, and so the host
//! its calls go to, follows from its marketplace.
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ids::MarketplaceId;

/// An SP-API region: one host serves every marketplace in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Region {
    #[serde(rename = "NA")]
    NorthAmerica,
    #[serde(rename = "EU")]
    Europe,
    #[serde(rename = "FE")]
    FarEast,
}

impl Region {
    pub const ALL: [Region; 3] = [Region::NorthAmerica, Region::Europe, Region::FarEast];

    pub fn code(self) -> &'static str {
        match self {
            Self::NorthAmerica => "NA",
            Self::Europe => "EU",
            Self::FarEast => "FE",
        }
    }

    /// The production SP-API host of the region.
    pub fn host(self) -> &'static str {
        match self {
            Self::NorthAmerica => "https://sellingpartnerapi-na.amazon.com",
            Self::Europe => "https://sellingpartnerapi-eu.amazon.com",
            Self::FarEast => "https://sellingpartnerapi-fe.amazon.com",
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown SP-API region '{0}' (expected NA, EU or FE)")]
pub struct UnknownRegion(String);

impl FromStr for Region {
    type Err = UnknownRegion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Region::ALL.into_iter().find(|r| r.code().eq_ignore_ascii_case(s.trim())).ok_or_else(|| UnknownRegion(s.into()))
    }
}

/// One of Amazon's marketplaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marketplace {
    pub id: &'static str,
    pub country: &'static str,
    pub region: Region,
    /// The currency its amounts come in (never converted).
    pub currency: &'static str,
}

const fn marketplace(id: &'static str, country: &'static str, region: Region, currency: &'static str) -> Marketplace {
    Marketplace { id, country, region, currency }
}

use Region::{Europe as EU, FarEast as FE, NorthAmerica as NA};

/// Amazon's "Marketplace IDs" page.
pub const MARKETPLACES: [Marketplace; 23] = [
    marketplace("ATVPDKIKX0DER", "US", NA, "USD"),
    marketplace("A2EUQ1WTGCTBG2", "CA", NA, "CAD"),
    marketplace("A1AM78C64UM0Y8", "MX", NA, "MXN"),
    marketplace("A2Q3Y263D00KWC", "BR", NA, "BRL"),
    marketplace("A1F83G8C2ARO7P", "GB", EU, "GBP"),
    marketplace("A1PA6795UKMFR9", "DE", EU, "EUR"),
    marketplace("A13V1IB3VIYZZH", "FR", EU, "EUR"),
    marketplace("APJ6JRA9NG5V4", "IT", EU, "EUR"),
    marketplace("A1RKKUPIHCS9HS", "ES", EU, "EUR"),
    marketplace("A1805IZSGTT6HS", "NL", EU, "EUR"),
    marketplace("AMEN7PMS3EDWL", "BE", EU, "EUR"),
    marketplace("A28R8C7NBKEWEA", "IE", EU, "EUR"),
    marketplace("A2NODRKZP88ZB9", "SE", EU, "SEK"),
    marketplace("A1C3SOZRARQ6R3", "PL", EU, "PLN"),
    marketplace("A33AVAJ2PDY3EV", "TR", EU, "TRY"),
    marketplace("A2VIGQ35RCS4UG", "AE", EU, "AED"),
    marketplace("A17E79C6D8DWNP", "SA", EU, "SAR"),
    marketplace("ARBP9OOSHTCHU", "EG", EU, "EGP"),
    marketplace("AE08WJ6YKNBMC", "ZA", EU, "ZAR"),
    marketplace("A21TJRUUN4KGV", "IN", EU, "INR"),
    marketplace("A1VC38T7YXB528", "JP", FE, "JPY"),
    marketplace("A39IBJ37TRP1C6", "AU", FE, "AUD"),
    marketplace("A19VAU5U5O7RUS", "SG", FE, "SGD"),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown marketplace id '{0}': expected one of Amazon's marketplace ids (ATVPDKIKX0DER for amazon.com, \
     A1F83G8C2ARO7P for amazon.co.uk, A1PA6795UKMFR9 for amazon.de, A1VC38T7YXB528 for amazon.co.jp, ...)"
)]
pub struct UnknownMarketplace(pub String);

impl Marketplace {
    pub fn find(id: &MarketplaceId) -> Result<&'static Marketplace, UnknownMarketplace> {
        MARKETPLACES.iter().find(|m| m.id == id.as_str()).ok_or_else(|| UnknownMarketplace(id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region_of(id: &str) -> Result<Region, UnknownMarketplace> {
        Marketplace::find(&MarketplaceId::parse(id).unwrap()).map(|m| m.region)
    }

    #[test]
    fn each_marketplace_belongs_to_its_region() {
        assert_eq!(region_of("ATVPDKIKX0DER"), Ok(Region::NorthAmerica));
        assert_eq!(region_of("A2EUQ1WTGCTBG2"), Ok(Region::NorthAmerica), "amazon.ca is its own connection in NA");
        assert_eq!(region_of("A1F83G8C2ARO7P"), Ok(Region::Europe));
        assert_eq!(region_of("A1PA6795UKMFR9"), Ok(Region::Europe));
        assert_eq!(region_of("A21TJRUUN4KGV"), Ok(Region::Europe), "India is served from the EU host");
        assert_eq!(region_of("A1VC38T7YXB528"), Ok(Region::FarEast));
        assert_eq!(region_of("A19VAU5U5O7RUS"), Ok(Region::FarEast));
    }

    #[test]
    fn an_unknown_marketplace_is_refused_by_name() {
        let error = region_of("A0NOTAMARKET").unwrap_err();
        assert!(error.to_string().contains("A0NOTAMARKET"), "{error}");
    }

    #[test]
    fn regions_parse_from_their_codes_and_name_their_hosts() {
        assert_eq!("eu".parse::<Region>(), Ok(Region::Europe));
        assert!("APAC".parse::<Region>().is_err());
        assert_eq!(Region::FarEast.host(), "https://sellingpartnerapi-fe.amazon.com");
        let ids: std::collections::BTreeSet<_> = MARKETPLACES.iter().map(|m| m.id).collect();
        assert_eq!(ids.len(), MARKETPLACES.len(), "no marketplace listed twice");
    }
}
