//! Login with Amazon: refresh token → short-lived access token, cached per connection.
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::SpApiError;
use crate::domain::clock::SharedClock;

const OPERATION: &str = "lwaToken";
/// Tokens live an hour; refresh five minutes early so a slow call never carries an expired one.
const REFRESH_MARGIN: Duration = Duration::minutes(5);

/// The app's LWA client credentials. Debug output never shows the secret.
#[derive(Clone, Deserialize)]
pub struct AppCredentials {
    pub client_id: String,
    pub client_secret: String,
}

impl fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppCredentials").field("client_id", &self.client_id).field("client_secret", &"***").finish()
    }
}

/// A connection's LWA refresh token. Debug output never shows it.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct RefreshToken(String);

impl RefreshToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(***)")
    }
}

/// What an access token is asked for with: a seller's authorization, or the app's own for a grantless
/// operation (Notifications destinations) with its scope.
#[derive(Debug, Clone)]
pub enum Grant {
    Seller(RefreshToken),
    Grantless { scope: &'static str },
}

impl Grant {
    pub const NOTIFICATIONS_SCOPE: &'static str = "sellingpartnerapi::notifications";
}

#[derive(Clone)]
struct CachedToken {
    access_token: String,
    expires_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: i64,
}

#[derive(Deserialize, Default)]
struct TokenError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// Where the app's current credentials can be read again (its secret), after Login with Amazon
/// rejected the ones in hand: the operator may have stored new ones since this container started.
#[async_trait::async_trait]
pub trait AppCredentialsSource: Send + Sync {
    async fn load(&self) -> Result<AppCredentials, String>;
}

/// The app's credentials are read again at most this often.
const RELOAD_INTERVAL: Duration = Duration::minutes(1);

pub struct LwaClient {
    http: reqwest::Client,
    token_url: url::Url,
    /// `None` until first needed when read from `source`: nothing waits for Secrets Manager at start-up.
    app: Mutex<Option<AppCredentials>>,
    source: Option<std::sync::Arc<dyn AppCredentialsSource>>,
    last_reload: Mutex<Option<DateTime<Utc>>>,
    clock: SharedClock,
    cache: Mutex<HashMap<String, CachedToken>>,
}

impl LwaClient {
    pub fn new(http: reqwest::Client, token_url: url::Url, app: AppCredentials, clock: SharedClock) -> Self {
        Self {
            http,
            token_url,
            app: Mutex::new(Some(app)),
            source: None,
            last_reload: Mutex::new(None),
            clock,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Reads the app's credentials again from `source` when Login with Amazon rejects them.
    pub fn reloading_from(self, source: std::sync::Arc<dyn AppCredentialsSource>) -> Self {
        Self { source: Some(source), ..self }
    }

    /// A client that reads the app's credentials from `source` when it first asks for a token (and again
    /// when Login with Amazon rejects them), so a cold start never waits for them.
    pub fn loading_from(
        http: reqwest::Client,
        token_url: url::Url,
        source: std::sync::Arc<dyn AppCredentialsSource>,
        clock: SharedClock,
    ) -> Self {
        Self {
            http,
            token_url,
            app: Mutex::new(None),
            source: Some(source),
            last_reload: Mutex::new(None),
            clock,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// An access token for the connection keyed `cache_key`, from the cache while it is fresh.
    pub async fn access_token(&self, cache_key: &str, grant: &Grant) -> Result<String, SpApiError> {
        let now = self.clock.now();
        if let Some(cached) = self.cached(cache_key).filter(|t| t.expires_at - REFRESH_MARGIN > now) {
            return Ok(cached.access_token);
        }
        let fresh = match self.request_token(grant).await {
            Err(SpApiError::InvalidClient(detail)) if self.reload_credentials().await => {
                tracing::info!(detail, "the app's credentials changed since they were read; asking again");
                self.request_token(grant).await?
            }
            other => other?,
        };
        let token = fresh.access_token.clone();
        self.lock_cache().insert(
            cache_key.to_owned(),
            CachedToken { access_token: fresh.access_token, expires_at: now + Duration::seconds(fresh.expires_in) },
        );
        Ok(token)
    }

    /// The clock token lifetimes (and the SP-API client's pauses) are measured on.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Forgets a token Amazon refused, so the next call fetches a new one.
    pub fn invalidate(&self, cache_key: &str) {
        self.lock_cache().remove(cache_key);
    }

    fn cached(&self, cache_key: &str) -> Option<CachedToken> {
        self.lock_cache().get(cache_key).cloned()
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedToken>> {
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads the app's credentials again (at most once a minute); whether they differ from those in hand.
    async fn reload_credentials(&self) -> bool {
        let Some(source) = &self.source else { return false };
        let now = self.clock.now();
        {
            let mut last = self.last_reload.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if last.is_some_and(|at| now - at < RELOAD_INTERVAL) {
                return false;
            }
            *last = Some(now);
        }
        match source.load().await {
            Ok(loaded) => {
                let mut app = self.app.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let changed = app
                    .as_ref()
                    .is_none_or(|app| loaded.client_id != app.client_id || loaded.client_secret != app.client_secret);
                *app = Some(loaded);
                changed
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the app's credentials again");
                false
            }
        }
    }

    /// The app's credentials, read from the source the first time they are needed.
    async fn app(&self) -> Result<AppCredentials, SpApiError> {
        if let Some(app) = self.app.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone() {
            return Ok(app);
        }
        let Some(source) = &self.source else {
            return Err(SpApiError::InvalidClient("the app's credentials were never given".into()));
        };
        let loaded = source.load().await.map_err(|e| SpApiError::Transient {
            operation: OPERATION,
            message: format!("could not read the app's credentials: {e}"),
        })?;
        *self.app.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(loaded.clone());
        Ok(loaded)
    }

    async fn request_token(&self, grant: &Grant) -> Result<TokenResponse, SpApiError> {
        let app = self.app().await?;
        let (grant_type, (name, value)) = match grant {
            Grant::Seller(refresh_token) => ("refresh_token", ("refresh_token", refresh_token.expose())),
            Grant::Grantless { scope } => ("client_credentials", ("scope", *scope)),
        };
        let form = [
            ("grant_type", grant_type),
            (name, value),
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.as_str()),
        ];
        let response = self
            .http
            .post(self.token_url.clone())
            .form(&form)
            .send()
            .await
            .map_err(|e| SpApiError::Transient { operation: OPERATION, message: e.without_url().to_string() })?;
        let status = response.status();
        if status.is_success() {
            return response
                .json::<TokenResponse>()
                .await
                .map_err(|e| SpApiError::Decode { operation: OPERATION, message: e.without_url().to_string() });
        }
        let error: TokenError = response.json().await.unwrap_or_default();
        let detail = format!("{}: {}", error.error, error.error_description);
        Err(match error.error.as_str() {
            "invalid_grant" => SpApiError::NeedsReauthorization(detail),
            "invalid_client" | "unauthorized_client" => SpApiError::InvalidClient(detail),
            _ if status.is_server_error()
                || error.error == "temporarily_unavailable"
                || error.error == "server_error" =>
            {
                SpApiError::Transient { operation: OPERATION, message: detail }
            }
            _ => SpApiError::Rejected {
                operation: OPERATION,
                status: status.as_u16(),
                code: error.error,
                message: error.error_description,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::routing::post;

    use super::*;
    use crate::domain::clock::SystemClock;

    /// Counts how often the app's credentials are read.
    #[derive(Default)]
    struct CountingSource(AtomicUsize);

    #[async_trait::async_trait]
    impl AppCredentialsSource for CountingSource {
        async fn load(&self) -> Result<AppCredentials, String> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(AppCredentials { client_id: "id".into(), client_secret: "secret".into() })
        }
    }

    #[tokio::test]
    async fn the_apps_credentials_are_read_when_a_token_is_first_needed_and_only_then() {
        let token = || async {
            axum::Json(serde_json::json!({"access_token": "Atza|test", "token_type": "bearer", "expires_in": 3600}))
        };
        let app = Router::new().route("/auth/o2/token", post(token));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url: url::Url = format!("http://{}/auth/o2/token", listener.local_addr().unwrap()).parse().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let source = Arc::new(CountingSource::default());
        let client = LwaClient::loading_from(reqwest::Client::new(), url, source.clone(), Arc::new(SystemClock));
        assert_eq!(source.0.load(Ordering::SeqCst), 0, "a cold start reads nothing");
        for connection in ["us-main", "de-main"] {
            let grant = Grant::Seller(RefreshToken::new("Atzr|token"));
            assert_eq!(client.access_token(connection, &grant).await.unwrap(), "Atza|test");
        }
        assert_eq!(source.0.load(Ordering::SeqCst), 1, "read once, when first needed");
    }
}
