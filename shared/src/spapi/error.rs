use std::time::Duration;

use thiserror::Error;

/// Every way an SP-API call can fail, and whether trying again can help.
#[derive(Debug, Error)]
pub enum SpApiError {
    /// Amazon's quota is spent (429, or our limiter knows the next call would be throttled).
    #[error("{operation} throttled: quota exhausted, next token in {retry_after:?}")]
    Throttled { operation: &'static str, retry_after: Duration },
    /// Amazon refused this seller's calls of this operation several times in a row (429 or 403): they
    /// are paused for a cool-down instead of being sent again ([`crate::domain::breaker`]).
    #[error("{operation} paused for this seller for {retry_after:?}: Amazon kept refusing it ({refusal})")]
    Paused { operation: &'static str, retry_after: Duration, refusal: Refusal },
    /// The refresh token was revoked or expired: the seller must re-authorize. Never retried.
    #[error("connection needs re-authorization: Login with Amazon answered invalid_grant ({0})")]
    NeedsReauthorization(String),
    /// The app's LWA client id or secret is wrong or rotated away.
    #[error("Login with Amazon rejected the app credentials ({0}); rotate the LWA client secret")]
    InvalidClient(String),
    /// Amazon refused the request as it is (400/404 and similar). Retrying the same request cannot help.
    #[error("{operation} rejected by Amazon ({status} {code}): {message}")]
    Rejected { operation: &'static str, status: u16, code: String, message: String },
    /// 403 after a fresh token: the app lacks a role or the seller revoked access.
    #[error("{operation} forbidden by Amazon: {message}")]
    Forbidden { operation: &'static str, message: String },
    /// 5xx, timeouts, connection failures: retry with backoff.
    #[error("{operation} failed transiently: {message}")]
    Transient { operation: &'static str, message: String },
    /// Amazon answered something we could not read.
    #[error("{operation} answered an unreadable body: {message}")]
    Decode { operation: &'static str, message: String },
}

/// Why Amazon kept refusing a seller's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 429 QuotaExceeded: another app may be spending the same quota.
    Throttled,
    /// 403 even with a fresh access token: a role withdrawn, or access revoked.
    Forbidden,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Throttled => "429 QuotaExceeded, several times in a row",
            Self::Forbidden => "403 with a fresh access token, several times in a row",
        })
    }
}

impl SpApiError {
    pub fn is_retryable(&self) -> bool {
        // A seller paused for 403s lacks a role or access: waiting alone does not cure it.
        matches!(
            self,
            Self::Throttled { .. } | Self::Paused { refusal: Refusal::Throttled, .. } | Self::Transient { .. }
        )
    }

    /// Amazon's error code, for matching "already shipped"-type answers.
    pub fn amazon_code(&self) -> Option<&str> {
        match self {
            Self::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }
}
