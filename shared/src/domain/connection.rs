//! A connection: one seller account in one marketplace, with its options. Connections are data in the
//! table, so adding a marketplace or a seller needs no redeploy.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::carrier::CarrierRules;
use super::ids::{ConnectionId, MarketplaceId, SellerId};
use super::rate::Quota;
use super::tracking::{self, TrackingRule};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductIdentifier {
    #[default]
    Sku,
    Asin,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateTrackingPolicy {
    #[default]
    Warn,
    Refuse,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionOptions {
    /// Import Amazon-fulfilled (FBA) orders, as shipped, for record keeping.
    #[serde(default)]
    pub import_amazon_fulfilled: bool,
    #[serde(default)]
    pub product_identifier: ProductIdentifier,
    #[serde(default)]
    pub carrier_rules: CarrierRules,
    #[serde(default)]
    pub duplicate_tracking: DuplicateTrackingPolicy,
    /// Per-operation quotas granted to this seller beyond Amazon's defaults, keyed by operation name.
    #[serde(default)]
    pub quota_overrides: BTreeMap<String, Quota>,
    /// Carrier services that do or do not report tracking, checked before the built-in table
    /// ([`tracking`]); it decides which PII retention rule applies to the order's packages.
    #[serde(default)]
    pub tracking_rules: Vec<TrackingRule>,
}

impl ConnectionOptions {
    /// Whether a package of this connection sent by `carrier` (an Amazon code, or the name sent with
    /// `Other`) with `shipping_method` reports tracking.
    pub fn reports_tracking(&self, carrier: &str, shipping_method: Option<&str>) -> bool {
        tracking::reports_tracking(&self.tracking_rules, carrier, shipping_method)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    Active,
    /// Amazon answered `invalid_grant`: the seller must re-authorize the app in Seller Central.
    NeedsReauthorization {
        since: DateTime<Utc>,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub id: ConnectionId,
    pub seller_id: SellerId,
    pub marketplace_id: MarketplaceId,
    /// Secrets Manager id of the secret holding this connection's LWA refresh token.
    pub refresh_token_secret_id: String,
    pub options: ConnectionOptions,
    pub state: ConnectionState,
    /// Orders updated since this time are imported ("reset the import date" moves it back).
    pub import_from: DateTime<Utc>,
    /// Bumped whenever a new refresh token is stored, so cached credentials are never used after it.
    #[serde(default)]
    pub credentials_version: u32,
}

impl Connection {
    pub fn is_active(&self) -> bool {
        self.state == ConnectionState::Active
    }

    /// This connection with a freshly stored refresh token: active again, cached credentials void.
    pub fn with_new_credentials(&self) -> Self {
        Self { state: ConnectionState::Active, credentials_version: self.credentials_version + 1, ..self.clone() }
    }

    /// This connection, stopped until the seller re-authorizes the app.
    pub fn needing_reauthorization(&self, since: DateTime<Utc>, reason: String) -> Self {
        Self { state: ConnectionState::NeedsReauthorization { since, reason }, ..self.clone() }
    }

    pub fn reauthorization_hint(&self) -> String {
        format!(
            "connection {} needs re-authorization: the seller must authorize the app again in Seller Central \
             (Apps and Services > Manage Your Apps), then store the new refresh token with \
             `sellerbridge connections set-token {}`",
            self.id, self.id
        )
    }
}
