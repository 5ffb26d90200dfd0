//! The webhook signing keys as Secrets Manager holds them, kept fresh in a warm container.
//!
//! A merchant rotates by putting a new secret value: Secrets Manager moves the old one to
//! `AWSPREVIOUS`, and requests signed with either are accepted until the next rotation. A container
//! re-reads the secret every few minutes, and at once (at most every ten seconds) when a request matches
//! neither key it holds, so a rotation is seen without a redeploy and a flood of bad signatures cannot
//! turn into a flood of Secrets Manager reads.
use chrono::{DateTime, Duration, Utc};
use tokio::sync::Mutex;

use super::signature::{SigningKey, SigningKeys};
use crate::domain::clock::SharedClock;
use crate::secrets::{SecretError, SecretStore};

const REFRESH_EVERY: Duration = Duration::minutes(5);
const RELOAD_AT_MOST_EVERY: Duration = Duration::seconds(10);

pub struct KeyRing {
    secrets: SecretStore,
    secret_id: String,
    clock: SharedClock,
    loaded: Mutex<Option<(SigningKeys, DateTime<Utc>)>>,
}

impl KeyRing {
    /// Reads nothing yet: the first request loads the keys.
    pub fn new(secrets: SecretStore, secret_id: impl Into<String>, clock: SharedClock) -> Self {
        Self { secrets, secret_id: secret_id.into(), clock, loaded: Mutex::new(None) }
    }

    /// The keys in force, read again when they are older than a few minutes.
    pub async fn keys(&self) -> Result<SigningKeys, SecretError> {
        self.keys_not_older_than(REFRESH_EVERY).await
    }

    /// The key new signatures are made with.
    pub async fn current(&self) -> Result<SigningKey, SecretError> {
        Ok(self.keys().await?.current)
    }

    /// After a request matched none of the keys: the keys read again if the last read is over ten
    /// seconds old; `None` when they were read too recently to try again.
    pub async fn reloaded_after_mismatch(&self) -> Result<Option<SigningKeys>, SecretError> {
        let before = self.loaded.lock().await.as_ref().map(|(_, at)| *at);
        let keys = self.keys_not_older_than(RELOAD_AT_MOST_EVERY).await?;
        let after = self.loaded.lock().await.as_ref().map(|(_, at)| *at);
        Ok((before != after).then_some(keys))
    }

    async fn keys_not_older_than(&self, age: Duration) -> Result<SigningKeys, SecretError> {
        let now = self.clock.now();
        let mut loaded = self.loaded.lock().await;
        if let Some((keys, at)) = loaded.as_ref()
            && now - *at < age
        {
            return Ok(keys.clone());
        }
        let (current, previous) = self.secrets.current_and_previous(&self.secret_id).await?;
        let keys = SigningKeys { current: SigningKey::new(current), previous: previous.map(SigningKey::new) };
        *loaded = Some((keys.clone(), now));
        Ok(keys)
    }
}
