//! What every Lambda builds once at cold start: settings from the environment, SDK clients, the HTTP
//! client, and the SP-API client with its shared rate limiter.
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, SdkConfig};
use thiserror::Error;

use crate::domain::clock::SharedClock;
use crate::domain::connection::Connection;
use crate::domain::ids::ConnectionId;
use crate::domain::marketplace::{Marketplace, Region, UnknownMarketplace};
use crate::queue::{SqsDeadLetters, SqsUpdateQueue};
use crate::secrets::{RefreshTokenSecret, SecretError, SecretStore};
use crate::spapi::{
    AppCredentials, AppCredentialsSource, Endpoints, Grant, LwaClient, RateLimiter, SellerAuth, SpApiClient,
};
use crate::store::{DynamoRateLimiter, DynamoStore};

/// Seller credentials by connection and credentials version, with when they were read.
type CredentialsCache = HashMap<(ConnectionId, u32), (SellerAuth, Instant)>;

/// How long a connection's refresh token is kept in memory before Secrets Manager is asked again.
const CREDENTIALS_TTL: Duration = Duration::from_secs(300);

#[derive(Debug, Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

/// Why calls cannot be made for a connection. Neither heals by retrying.
#[derive(Debug, Error)]
pub enum CredentialsError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("the connection's marketplace: {0}")]
    Marketplace(#[from] UnknownMarketplace),
}

/// Names of secrets and resources, never secret values: those stay in Secrets Manager.
#[derive(Debug, Clone)]
pub struct Settings {
    pub table: String,
    pub updates_queue_url: String,
    /// Order events for the merchant's webhook URL wait here.
    pub outbound_queue_url: String,
    pub lwa_secret_id: String,
    pub webhook_secret_id: String,
    /// The Shopify app's secret that signs Shopify's webhooks; `None`: the stack takes only ours.
    pub shopify_secret_id: Option<String>,
    pub endpoints: Endpoints,
}

impl Settings {
    pub const TABLE: &'static str = "SELLERBRIDGE_TABLE";
    pub const UPDATES_QUEUE_URL: &'static str = "SELLERBRIDGE_UPDATES_QUEUE_URL";
    pub const OUTBOUND_QUEUE_URL: &'static str = "SELLERBRIDGE_OUTBOUND_QUEUE_URL";
    pub const LWA_SECRET_ID: &'static str = "SELLERBRIDGE_LWA_SECRET_ID";
    pub const WEBHOOK_SECRET_ID: &'static str = "SELLERBRIDGE_WEBHOOK_SECRET_ID";
    pub const SHOPIFY_SECRET_ID: &'static str = "SELLERBRIDGE_SHOPIFY_SECRET_ID";
    pub const SPAPI_ENDPOINT: &'static str = "SELLERBRIDGE_SPAPI_ENDPOINT";
    pub const LWA_ENDPOINT: &'static str = "SELLERBRIDGE_LWA_ENDPOINT";

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok(), |name| format!("environment variable {name} is not set"))
    }

    /// The settings from any source of the variables [`Settings::to_env`] names (the operator CLI reads
    /// a deployed stack's outputs this way); `missing` says what to do about an unset one.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        missing: impl Fn(&str) -> String,
    ) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).ok_or_else(|| ConfigError(missing(name)));
        let optional = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let lwa_token = optional(Self::LWA_ENDPOINT).unwrap_or_else(|| Endpoints::LWA_TOKEN.to_owned());
        Ok(Self {
            table: var(Self::TABLE)?,
            updates_queue_url: var(Self::UPDATES_QUEUE_URL)?,
            outbound_queue_url: var(Self::OUTBOUND_QUEUE_URL)?,
            lwa_secret_id: var(Self::LWA_SECRET_ID)?,
            webhook_secret_id: var(Self::WEBHOOK_SECRET_ID)?,
            shopify_secret_id: optional(Self::SHOPIFY_SECRET_ID),
            endpoints: Endpoints {
                spapi_overrides: match optional(Self::SPAPI_ENDPOINT) {
                    Some(raw) => parse_spapi_overrides(&raw)?,
                    None => BTreeMap::new(),
                },
                lwa_token: url::Url::parse(&lwa_token)
                    .map_err(|e| ConfigError(format!("{} is not a URL: {e}", Self::LWA_ENDPOINT)))?,
            },
        })
    }

    /// The environment [`Settings::from_env`] reads these settings back from.
    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (Self::TABLE, self.table.clone()),
            (Self::UPDATES_QUEUE_URL, self.updates_queue_url.clone()),
            (Self::OUTBOUND_QUEUE_URL, self.outbound_queue_url.clone()),
            (Self::LWA_SECRET_ID, self.lwa_secret_id.clone()),
            (Self::WEBHOOK_SECRET_ID, self.webhook_secret_id.clone()),
            (Self::SHOPIFY_SECRET_ID, self.shopify_secret_id.clone().unwrap_or_default()),
            (Self::SPAPI_ENDPOINT, format_spapi_overrides(&self.endpoints.spapi_overrides)),
            (Self::LWA_ENDPOINT, self.endpoints.lwa_token.to_string()),
        ]
    }
}

/// `SELLERBRIDGE_SPAPI_ENDPOINT`: empty for Amazon's regional hosts, one URL for every region, or
/// `NA=url,EU=url,FE=url` for some (the others keep Amazon's host).
fn parse_spapi_overrides(raw: &str) -> Result<BTreeMap<Region, url::Url>, ConfigError> {
    let invalid = |detail: String| ConfigError(format!("{}: {detail}", Settings::SPAPI_ENDPOINT));
    let parse_url = |raw: &str| url::Url::parse(raw.trim()).map_err(|e| invalid(format!("'{raw}' is not a URL: {e}")));
    if !raw.contains('=') {
        let url = parse_url(raw)?;
        return Ok(Region::ALL.into_iter().map(|region| (region, url.clone())).collect());
    }
    raw.split(',')
        .map(|entry| {
            let (region, url) =
                entry.split_once('=').ok_or_else(|| invalid(format!("expected REGION=URL, got '{entry}'")))?;
            let region: Region = region.parse().map_err(|e| invalid(format!("{e}")))?;
            Ok((region, parse_url(url)?))
        })
        .collect()
}

fn format_spapi_overrides(overrides: &BTreeMap<Region, url::Url>) -> String {
    overrides.iter().map(|(region, url)| format!("{region}={url}")).collect::<Vec<_>>().join(",")
}

/// The AWS SDK clients, possibly each pointed at a different endpoint (as on the local stack).
#[derive(Clone)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

/// The adapters a handler may need, built once and shared by every invocation.
#[derive(Clone)]
pub struct Adapters {
    pub store: DynamoStore,
    pub queue: SqsUpdateQueue,
    /// Order events for the merchant's webhook URL.
    pub outbound: SqsUpdateQueue,
    pub secrets: SecretStore,
    pub limiter: Arc<dyn RateLimiter>,
    pub http: reqwest::Client,
    pub clock: SharedClock,
    sqs: aws_sdk_sqs::Client,
    credentials: Arc<Mutex<CredentialsCache>>,
}

impl Adapters {
    pub fn new(sdk: &SdkConfig, settings: &Settings, clock: SharedClock) -> Self {
        let clients = Clients {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
        };
        Self::from_clients(clients, settings, clock)
    }

    pub fn from_clients(clients: Clients, settings: &Settings, clock: SharedClock) -> Self {
        let store = DynamoStore::new(clients.dynamodb, &settings.table);
        Self {
            limiter: Arc::new(DynamoRateLimiter::new(store.clone(), clock.clone())),
            store,
            queue: SqsUpdateQueue::new(clients.sqs.clone(), &settings.updates_queue_url),
            outbound: SqsUpdateQueue::new(clients.sqs.clone(), &settings.outbound_queue_url),
            sqs: clients.sqs,
            secrets: SecretStore::new(clients.secrets),
            http: http_client(),
            clock,
            credentials: Arc::default(),
        }
    }

    /// A dead-letter queue to park messages in with a reason.
    pub fn dead_letters(&self, queue_url: impl Into<String>) -> SqsDeadLetters {
        SqsDeadLetters::new(self.sqs.clone(), queue_url)
    }

    /// The SP-API client, with the app's LWA credentials read from Secrets Manager (and read again when
    /// Login with Amazon rejects them: the operator may have rotated them since).
    /// The SP-API client, reading the app's credentials only when it first needs a token: a cold start
    /// waits for nothing.
    pub fn spapi_client(&self, settings: &Settings) -> SpApiClient {
        let source =
            Arc::new(SecretAppCredentials { secrets: self.secrets.clone(), id: settings.lwa_secret_id.clone() });
        let lwa = LwaClient::loading_from(
            self.http.clone(),
            settings.endpoints.lwa_token.clone(),
            source,
            self.clock.clone(),
        );
        SpApiClient::new(self.http.clone(), settings.endpoints.clone(), lwa, self.limiter.clone())
    }

    /// Who calls are made for on behalf of `connection`, and in which region: its refresh token comes
    /// from its own secret, read once per credentials version and kept for a few minutes (not once per
    /// message).
    pub async fn seller_auth(&self, connection: &Connection) -> Result<SellerAuth, CredentialsError> {
        let region = Marketplace::find(&connection.marketplace_id)?.region;
        let key = (connection.id.clone(), connection.credentials_version);
        let cached = self
            .lock_credentials()
            .get(&key)
            .filter(|(_, at)| at.elapsed() < CREDENTIALS_TTL)
            .map(|(auth, _)| auth.clone());
        if let Some(mut auth) = cached {
            auth.quota_overrides = connection.options.quota_overrides.clone();
            return Ok(auth);
        }
        let secret: RefreshTokenSecret = self.secrets.json(&connection.refresh_token_secret_id).await?;
        let auth = SellerAuth {
            connection_id: connection.id.clone(),
            region,
            seller_id: connection.seller_id.clone(),
            grant: Grant::Seller(secret.refresh_token),
            quota_overrides: connection.options.quota_overrides.clone(),
        };
        self.lock_credentials().insert(key, (auth.clone(), Instant::now()));
        Ok(auth)
    }

    fn lock_credentials(&self) -> std::sync::MutexGuard<'_, CredentialsCache> {
        self.credentials.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The app's LWA credentials in their secret.
struct SecretAppCredentials {
    secrets: SecretStore,
    id: String,
}

#[async_trait::async_trait]
impl AppCredentialsSource for SecretAppCredentials {
    async fn load(&self) -> Result<AppCredentials, String> {
        self.secrets.json(&self.id).await.map_err(|e| e.to_string())
    }
}

/// Standard AWS configuration: region, credentials and per-service endpoint overrides
/// (`AWS_ENDPOINT_URL_DYNAMODB`, ...) all come from the environment.
pub async fn aws_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .connect_timeout(std::time::Duration::from_secs(5))
        .user_agent(concat!("sellerbridge/", env!("CARGO_PKG_VERSION"), " (Language=Rust)"))
        .build()
        .expect("the HTTP client's TLS backend initialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spapi_endpoint_setting_overrides_one_region_or_all() {
        let all = parse_spapi_overrides("http://127.0.0.1:9000").unwrap();
        assert_eq!(all.len(), 3);
        let some = parse_spapi_overrides("NA=http://127.0.0.1:9000,eu=http://127.0.0.1:9001").unwrap();
        assert_eq!(some[&Region::Europe].as_str(), "http://127.0.0.1:9001/");
        assert!(!some.contains_key(&Region::FarEast));
        assert_eq!(parse_spapi_overrides(&format_spapi_overrides(&some)).unwrap(), some);
        let error = parse_spapi_overrides("APAC=http://x").unwrap_err().to_string();
        assert!(error.contains("APAC") && error.contains(Settings::SPAPI_ENDPOINT), "{error}");
    }

    #[test]
    fn without_overrides_each_region_calls_amazons_host() {
        let endpoints = Endpoints::amazon();
        assert_eq!(endpoints.spapi(Region::Europe).as_str(), "https://sellingpartnerapi-eu.amazon.com/");
        assert_eq!(endpoints.lwa_token.as_str(), Endpoints::LWA_TOKEN);
    }
}
