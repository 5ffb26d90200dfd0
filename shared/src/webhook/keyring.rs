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
    loaded: Mutex<Loaded>,
}

#[derive(Default)]
struct Loaded {
    keys: Option<SigningKeys>,
    /// The last attempt to read the secret, whether it succeeded or not.
    read_at: Option<DateTime<Utc>>,
}

impl KeyRing {
    /// Reads nothing yet: the first request loads the keys.
    pub fn new(secrets: SecretStore, secret_id: impl Into<String>, clock: SharedClock) -> Self {
        Self { secrets, secret_id: secret_id.into(), clock, loaded: Mutex::new(Loaded::default()) }
    }

    /// The keys in force, read again when they are older than a few minutes.
    pub async fn keys(&self) -> Result<SigningKeys, SecretError> {
        Ok(self.keys_not_older_than(REFRESH_EVERY).await?.0)
    }

    /// After a request matched none of the keys: the keys read again if the last read is over ten
    /// seconds old; `None` when they were read too recently to try again (or could not be read).
    pub async fn reloaded_after_mismatch(&self) -> Result<Option<SigningKeys>, SecretError> {
        let (keys, fresh) = self.keys_not_older_than(RELOAD_AT_MOST_EVERY).await?;
        Ok(fresh.then_some(keys))
    }

    /// The keys, read again if the last attempt is older than `age`; whether they were just read. When
    /// Secrets Manager fails, the keys held keep serving (a webhook is not refused for our outage).
    async fn keys_not_older_than(&self, age: Duration) -> Result<(SigningKeys, bool), SecretError> {
        let now = self.clock.now();
        let mut loaded = self.loaded.lock().await;
        if let (Some(keys), Some(at)) = (&loaded.keys, loaded.read_at)
            && now - at < age
        {
            return Ok((keys.clone(), false));
        }
        loaded.read_at = Some(now);
        match self.secrets.current_and_previous(&self.secret_id).await {
            Ok((current, previous)) => {
                let keys = SigningKeys { current: SigningKey::new(current), previous: previous.map(SigningKey::new) };
                loaded.keys = Some(keys.clone());
                Ok((keys, true))
            }
            Err(error) => match &loaded.keys {
                Some(keys) => {
                    tracing::warn!(%error, "the signing keys could not be read again; the ones held stay in force");
                    Ok((keys.clone(), false))
                }
                None => Err(error),
            },
        }
    }
}
