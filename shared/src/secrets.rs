//! Secrets Manager: LWA credentials, refresh tokens and the webhook signing key. Values never reach a
//! log line or an error message; errors name the secret id only.
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use serde::de::DeserializeOwned;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SecretError {
    #[error("secret {id} could not be read: {message}")]
    Unavailable { id: String, message: String },
    #[error("secret {id} does not hold the expected JSON fields ({message})")]
    Malformed { id: String, message: String },
}

#[derive(Clone)]
pub struct SecretStore {
    client: Client,
}

impl SecretStore {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    pub async fn string(&self, id: &str) -> Result<String, SecretError> {
        let output = self.client.get_secret_value().secret_id(id).send().await.map_err(|e| {
            SecretError::Unavailable { id: id.to_owned(), message: DisplayErrorContext(&e).to_string() }
        })?;
        output
            .secret_string
            .ok_or_else(|| SecretError::Malformed { id: id.to_owned(), message: "no SecretString".into() })
    }

    /// The secret's current value and, after a rotation, the one it replaced (Secrets Manager's
    /// `AWSCURRENT` and `AWSPREVIOUS` stages).
    pub async fn current_and_previous(&self, id: &str) -> Result<(String, Option<String>), SecretError> {
        let current = self.string(id).await?;
        let previous = self.client.get_secret_value().secret_id(id).version_stage("AWSPREVIOUS").send().await;
        let previous = match previous {
            Ok(output) => output.secret_string,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => None,
            Err(e) => {
                let message = DisplayErrorContext(&e).to_string();
                return Err(SecretError::Unavailable { id: id.to_owned(), message });
            }
        };
        let previous = previous.filter(|previous| *previous != current);
        Ok((current, previous))
    }

    pub async fn json<T: DeserializeOwned>(&self, id: &str) -> Result<T, SecretError> {
        let raw = self.string(id).await?;
        // serde_json's error names line and column only, never the content.
        serde_json::from_str(&raw).map_err(|e| SecretError::Malformed {
            id: id.to_owned(),
            message: format!("line {} column {}", e.line(), e.column()),
        })
    }
}

/// The shape of a connection's refresh-token secret.
#[derive(serde::Deserialize)]
pub struct RefreshTokenSecret {
    pub refresh_token: crate::spapi::RefreshToken,
}
