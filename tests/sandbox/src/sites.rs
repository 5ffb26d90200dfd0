//! The marketplaces the sandbox can sell in, with what differs between them: name, country, currency
//! and the SP-API region whose host serves them (Amazon's "Marketplace IDs" and "SP-API Endpoints").

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Site {
    pub marketplace_id: &'static str,
    pub name: &'static str,
    pub country: &'static str,
    pub currency: &'static str,
    /// `NA`, `EU` or `FE`.
    pub region: &'static str,
}

const fn site(
    marketplace_id: &'static str,
    name: &'static str,
    country: &'static str,
    currency: &'static str,
    region: &'static str,
) -> Site {
    Site { marketplace_id, name, country, currency, region }
}

pub const SITES: [Site; 10] = [
    site("ATVPDKIKX0DER", "Amazon.com", "US", "USD", "NA"),
    site("A2EUQ1WTGCTBG2", "Amazon.ca", "CA", "CAD", "NA"),
    site("A1AM78C64UM0Y8", "Amazon.com.mx", "MX", "MXN", "NA"),
    site("A1F83G8C2ARO7P", "Amazon.co.uk", "GB", "GBP", "EU"),
    site("A1PA6795UKMFR9", "Amazon.de", "DE", "EUR", "EU"),
    site("A13V1IB3VIYZZH", "Amazon.fr", "FR", "EUR", "EU"),
    site("APJ6JRA9NG5V4", "Amazon.it", "IT", "EUR", "EU"),
    site("A1RKKUPIHCS9HS", "Amazon.es", "ES", "EUR", "EU"),
    site("A1VC38T7YXB528", "Amazon.co.jp", "JP", "JPY", "FE"),
    site("A39IBJ37TRP1C6", "Amazon.com.au", "AU", "AUD", "FE"),
];

impl Site {
    pub fn find(marketplace_id: &str) -> Option<&'static Site> {
        SITES.iter().find(|s| s.marketplace_id == marketplace_id)
    }

    /// Digits after the decimal point in the currency's amounts (none for the yen).
    pub fn currency_decimals(&self) -> u32 {
        if self.currency == "JPY" { 0 } else { 2 }
    }
}
