//! What every Lambda builds once at cold start: settings from the environment, SDK clients, the HTTP
//! client, and the SP-API client with its shared rate limiter.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, SdkConfig};
use thiserror::Error;

use crate::domain::clock::SharedClock;
use crate::domain::connection::Connection;
use crate::domain::ids::ConnectionId;
use crate::queue::SqsUpdateQueue;
use crate::secrets::{RefreshTokenSecret, SecretError, SecretStore};
use crate::spapi::{AppCredentials, Endpoints, LwaClient, RateLimiter, SellerAuth, SpApiClient};
use crate::store::{DynamoRateLimiter, DynamoStore};

/// Seller credentials by connection and credentials version, with when they were read.
type CredentialsCache = HashMap<(ConnectionId, u32), (SellerAuth, Instant)>;

/// How long a connection's refresh token is kept in memory before Secrets Manager is asked again.
const CREDENTIALS_TTL: Duration = Duration::from_secs(300);

#[derive(Debug, Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

/// Names of secrets and resources, never secret values: those stay in Secrets Manager.
#[derive(Debug, Clone)]
pub struct Settings {
    pub table: String,
    pub updates_queue_url: String,
    pub lwa_secret_id: String,
    pub webhook_secret_id: String,
    pub endpoints: Endpoints,
}

impl Settings {
    pub const TABLE: &'static str = "SELLERBRIDGE_TABLE";
    pub const UPDATES_QUEUE_URL: &'static str = "SELLERBRIDGE_UPDATES_QUEUE_URL";
    pub const LWA_SECRET_ID: &'static str = "SELLERBRIDGE_LWA_SECRET_ID";
    pub const WEBHOOK_SECRET_ID: &'static str = "SELLERBRIDGE_WEBHOOK_SECRET_ID";
    pub const SPAPI_ENDPOINT: &'static str = "SELLERBRIDGE_SPAPI_ENDPOINT";
    pub const LWA_ENDPOINT: &'static str = "SELLERBRIDGE_LWA_ENDPOINT";

    pub fn from_env() -> Result<Self, ConfigError> {
        let var = |name: &str| {
            std::env::var(name).map_err(|_| ConfigError(format!("environment variable {name} is not set")))
        };
        let url = |name: &str, default: &str| {
            let raw = std::env::var(name).unwrap_or_else(|_| default.to_owned());
            url::Url::parse(&raw).map_err(|e| ConfigError(format!("{name} is not a URL: {e}")))
        };
        Ok(Self {
            table: var(Self::TABLE)?,
            updates_queue_url: var(Self::UPDATES_QUEUE_URL)?,
            lwa_secret_id: var(Self::LWA_SECRET_ID)?,
            webhook_secret_id: var(Self::WEBHOOK_SECRET_ID)?,
            endpoints: Endpoints {
                spapi: url(Self::SPAPI_ENDPOINT, "https://sellingpartnerapi-na.amazon.com")?,
                lwa_token: url(Self::LWA_ENDPOINT, "https://api.amazon.com/auth/o2/token")?,
            },
        })
    }

    /// The environment [`Settings::from_env`] reads these settings back from.
    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (Self::TABLE, self.table.clone()),
            (Self::UPDATES_QUEUE_URL, self.updates_queue_url.clone()),
            (Self::LWA_SECRET_ID, self.lwa_secret_id.clone()),
            (Self::WEBHOOK_SECRET_ID, self.webhook_secret_id.clone()),
            (Self::SPAPI_ENDPOINT, self.endpoints.spapi.to_string()),
            (Self::LWA_ENDPOINT, self.endpoints.lwa_token.to_string()),
        ]
    }
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
    pub secrets: SecretStore,
    pub limiter: Arc<dyn RateLimiter>,
    pub http: reqwest::Client,
    pub clock: SharedClock,
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
            queue: SqsUpdateQueue::new(clients.sqs, &settings.updates_queue_url),
            secrets: SecretStore::new(clients.secrets),
            http: http_client(),
            clock,
            credentials: Arc::default(),
        }
    }

    /// The SP-API client, with the app's LWA credentials read from Secrets Manager.
    pub async fn spapi_client(&self, settings: &Settings) -> Result<SpApiClient, SecretError> {
        let app: AppCredentials = self.secrets.json(&settings.lwa_secret_id).await?;
        let lwa = LwaClient::new(self.http.clone(), settings.endpoints.lwa_token.clone(), app, self.clock.clone());
        Ok(SpApiClient::new(self.http.clone(), settings.endpoints.clone(), lwa, self.limiter.clone()))
    }

    /// Who calls are made for on behalf of `connection`: its refresh token comes from its own secret,
    /// read once per credentials version and kept for a few minutes (not once per message).
    pub async fn seller_auth(&self, connection: &Connection) -> Result<SellerAuth, SecretError> {
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
            seller_id: connection.seller_id.clone(),
            refresh_token: secret.refresh_token,
            quota_overrides: connection.options.quota_overrides.clone(),
        };
        self.lock_credentials().insert(key, (auth.clone(), Instant::now()));
        Ok(auth)
    }

    fn lock_credentials(&self) -> std::sync::MutexGuard<'_, CredentialsCache> {
        self.credentials.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
