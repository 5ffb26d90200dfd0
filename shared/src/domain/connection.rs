//! A connection: one seller account in one marketplace, with its options. Connections are data in the
//! table, so adding a marketplace or a seller needs no redeploy.
use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::carrier::{CarrierRules, ShippingMethodRule};
use super::fulfillment::{AmazonFulfilledSku, FulfillmentPolicy, FulfillmentSettings, ShippingSpeed};
use super::ids::{ConnectionId, MarketplaceId, SellerId, Sku};
use super::pii::{Retention, RetentionRule};
use super::rate::Quota;
use super::tracking::{self, TrackingRule};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductIdentifier {
    #[default]
    Sku,
    Asin,
}

impl FromStr for ProductIdentifier {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sku" => Ok(Self::Sku),
            "asin" => Ok(Self::Asin),
            other => Err(format!("unknown product identifier '{other}' (expected sku or asin)")),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateTrackingPolicy {
    #[default]
    Warn,
    Refuse,
}

impl FromStr for DuplicateTrackingPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "warn" => Ok(Self::Warn),
            "refuse" => Ok(Self::Refuse),
            other => Err(format!("unknown duplicate-tracking policy '{other}' (expected warn or refuse)")),
        }
    }
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
    /// Minutes between scheduled syncs of this connection (none: every run of the schedule). "Sync
    /// now" does not wait for it.
    #[serde(default)]
    pub sync_interval_minutes: Option<u32>,
    /// Where signed `order.imported`, `order.updated` and `order.cancelled` events are posted (none:
    /// the merchant reads orders from the read endpoint instead).
    #[serde(default)]
    pub outbound_webhook_url: Option<String>,
    /// How long its orders' buyer PII is kept: Amazon's maximums, or shorter.
    #[serde(default, skip_serializing_if = "Retention::is_amazons")]
    pub retention: Retention,
    /// Multi-Channel Fulfillment and FBA inventory.
    #[serde(default, skip_serializing_if = "FulfillmentSettings::is_default")]
    pub fulfillment: FulfillmentSettings,
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
    /// Switched off by the operator: no sync, updates held until it is switched on again.
    Disabled {
        since: DateTime<Utc>,
    },
}

/// What an operator changes on a connection (`sellerbridge connections set`); whatever is left `None`
/// or empty stays as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OptionsChange {
    pub product_identifier: Option<ProductIdentifier>,
    pub import_amazon_fulfilled: Option<bool>,
    pub duplicate_tracking: Option<DuplicateTrackingPolicy>,
    /// Replaces the connection's carrier rules (its shipping method rules stay).
    pub carrier_rules: Option<CarrierRules>,
    /// Replaces the connection's shipping method rules.
    pub shipping_methods: Option<Vec<ShippingMethodRule>>,
    pub set_quotas: Vec<(String, Quota)>,
    pub clear_quotas: Vec<String>,
    /// `Some(None)` goes back to every run of the schedule.
    pub sync_interval_minutes: Option<Option<u32>>,
    /// `Some(None)` stops the outbound webhooks.
    pub outbound_webhook_url: Option<Option<String>>,
    pub enabled: Option<bool>,
    /// Retention periods to set, each already [checked](RetentionRule::checked).
    pub retention: Vec<(RetentionRule, u32)>,
    /// Replaces the connection's tracking rules.
    pub tracking_rules: Option<Vec<TrackingRule>>,
    /// SKUs to mark Amazon-fulfilled, each already checked against Amazon's inventory.
    pub mark_amazon_fulfilled: Vec<(Sku, AmazonFulfilledSku)>,
    pub unmark_amazon_fulfilled: Vec<Sku>,
    /// Store rate names and the speed each means (`None`: forget the name).
    pub shipping_speeds: Vec<(String, Option<ShippingSpeed>)>,
    pub fulfillment_preview: Option<bool>,
    pub fulfillment_policy: Option<FulfillmentPolicy>,
    pub sync_inventory: Option<bool>,
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

    /// This connection with `change` applied at `now`.
    pub fn changed(&self, change: &OptionsChange, now: DateTime<Utc>) -> Self {
        let mut next = self.clone();
        let options = &mut next.options;
        if let Some(identifier) = change.product_identifier {
            options.product_identifier = identifier;
        }
        if let Some(import) = change.import_amazon_fulfilled {
            options.import_amazon_fulfilled = import;
        }
        if let Some(policy) = change.duplicate_tracking {
            options.duplicate_tracking = policy;
        }
        if let Some(rules) = &change.carrier_rules {
            options.carrier_rules.rules = rules.rules.clone();
        }
        if let Some(methods) = &change.shipping_methods {
            options.carrier_rules.shipping_methods = methods.clone();
        }
        for (operation, quota) in &change.set_quotas {
            options.quota_overrides.insert(operation.clone(), *quota);
        }
        for operation in &change.clear_quotas {
            options.quota_overrides.remove(operation);
        }
        for (rule, days) in &change.retention {
            options.retention = options.retention.with(*rule, *days);
        }
        if let Some(rules) = &change.tracking_rules {
            options.tracking_rules.clone_from(rules);
        }
        let fulfillment = &mut options.fulfillment;
        for (sku, marked) in &change.mark_amazon_fulfilled {
            fulfillment.amazon_fulfilled.insert(sku.clone(), marked.clone());
        }
        for sku in &change.unmark_amazon_fulfilled {
            fulfillment.amazon_fulfilled.remove(sku);
        }
        for (rate, speed) in &change.shipping_speeds {
            match speed {
                Some(speed) => drop(fulfillment.shipping_speeds.insert(rate.clone(), *speed)),
                None => drop(fulfillment.shipping_speeds.remove(rate)),
            }
        }
        if let Some(preview) = change.fulfillment_preview {
            fulfillment.preview = preview;
        }
        if let Some(policy) = change.fulfillment_policy {
            fulfillment.policy = policy;
        }
        if let Some(sync) = change.sync_inventory {
            fulfillment.sync_inventory = sync;
        }
        if let Some(url) = &change.outbound_webhook_url {
            options.outbound_webhook_url = url.clone();
        }
        if let Some(interval) = change.sync_interval_minutes {
            options.sync_interval_minutes = interval.filter(|minutes| *minutes > 0);
        }
        let disabled = matches!(next.state, ConnectionState::Disabled { .. });
        match change.enabled {
            Some(false) if !disabled => next.state = ConnectionState::Disabled { since: now },
            // Switching on never clears a need to re-authorize: only a new refresh token does.
            Some(true) if disabled => next.state = ConnectionState::Active,
            _ => {}
        }
        next
    }

    /// Whether a scheduled run should sync this connection, its last window having ended at
    /// `synced_until` and the next one able to end at `could_sync_until`.
    pub fn sync_due(&self, synced_until: DateTime<Utc>, could_sync_until: DateTime<Utc>) -> bool {
        let interval = self.options.sync_interval_minutes.map_or(0, i64::from);
        could_sync_until - synced_until >= chrono::Duration::minutes(interval)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn connection() -> Connection {
        Connection {
            id: ConnectionId::parse("us-main").unwrap(),
            seller_id: SellerId::parse("A1SELLER").unwrap(),
            marketplace_id: MarketplaceId::parse("ATVPDKIKX0DER").unwrap(),
            refresh_token_secret_id: "secret".into(),
            options: ConnectionOptions::default(),
            state: ConnectionState::Active,
            import_from: DateTime::from_timestamp(1_780_000_000, 0).unwrap(),
            credentials_version: 0,
        }
    }

    #[test]
    fn an_options_change_touches_only_what_it_names() {
        let now = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let mut before = connection();
        before.options.quota_overrides.insert("getOrder".into(), Quota::new(1.0, 5.0));
        let change = OptionsChange {
            product_identifier: Some(ProductIdentifier::Asin),
            set_quotas: vec![("confirmShipment".into(), Quota::new(4.0, 20.0))],
            sync_interval_minutes: Some(Some(15)),
            ..OptionsChange::default()
        };
        let after = before.changed(&change, now);
        assert_eq!(after.options.product_identifier, ProductIdentifier::Asin);
        assert_eq!(after.options.quota_overrides.len(), 2, "the other override stays");
        assert_eq!(after.options.sync_interval_minutes, Some(15));
        assert_eq!(after.options.import_amazon_fulfilled, before.options.import_amazon_fulfilled);
        let cleared =
            after.changed(&OptionsChange { clear_quotas: vec!["getOrder".into()], ..OptionsChange::default() }, now);
        assert_eq!(cleared.options.quota_overrides.keys().collect::<Vec<_>>(), ["confirmShipment"]);
    }

    #[test]
    fn switching_a_connection_off_and_on() {
        let now = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let off = connection().changed(&OptionsChange { enabled: Some(false), ..OptionsChange::default() }, now);
        assert_eq!(off.state, ConnectionState::Disabled { since: now });
        assert!(!off.is_active());
        let on = off.changed(&OptionsChange { enabled: Some(true), ..OptionsChange::default() }, now);
        assert!(on.is_active());
        let revoked = connection().needing_reauthorization(now, "invalid_grant".into());
        let still = revoked.changed(&OptionsChange { enabled: Some(true), ..OptionsChange::default() }, now);
        assert_eq!(still.state, revoked.state, "switching on does not stand for a new refresh token");
    }

    #[test]
    fn a_sync_interval_spaces_scheduled_runs() {
        let mut connection = connection();
        let t = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        assert!(connection.sync_due(t, t + chrono::Duration::minutes(1)), "no interval: every run");
        connection.options.sync_interval_minutes = Some(30);
        assert!(!connection.sync_due(t, t + chrono::Duration::minutes(29)));
        assert!(connection.sync_due(t, t + chrono::Duration::minutes(30)));
    }

    #[test]
    fn options_parse_from_the_words_the_cli_takes() {
        assert_eq!("ASIN".parse::<ProductIdentifier>(), Ok(ProductIdentifier::Asin));
        assert_eq!("refuse".parse::<DuplicateTrackingPolicy>(), Ok(DuplicateTrackingPolicy::Refuse));
        assert!("upc".parse::<ProductIdentifier>().unwrap_err().contains("upc"));
    }
}
