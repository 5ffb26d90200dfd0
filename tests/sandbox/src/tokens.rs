//! Tokens Amazon hands out and checks later: LWA access tokens and searchOrders pagination tokens.
//! Both live on the sandbox clock, so moving the clock (or shortening a lifetime) expires them.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Serialize;

/// Why an access token was refused; Amazon says which in the 403's `details`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessDenied {
    Missing,
    Expired,
    /// Unknown to Amazon: forged, truncated, or issued by another sandbox.
    Invalid,
}

/// One issued token as `GET /_sandbox/tokens` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    /// Access tokens: a number (the call log names tokens by it); pagination tokens: the token itself.
    pub id: String,
    #[serde(with = "crate::time::iso")]
    pub issued_at: DateTime<Utc>,
    #[serde(with = "crate::time::iso")]
    pub expires_at: DateTime<Utc>,
    /// Times a request presented it (successfully or not).
    pub presented: u64,
}

struct Issued<T> {
    value: T,
    info: TokenInfo,
}

/// Tokens of one kind, each with a value, an issue time and an expiry.
pub struct TokenStore<T> {
    by_token: HashMap<String, Issued<T>>,
}

impl<T> Default for TokenStore<T> {
    fn default() -> Self {
        Self { by_token: HashMap::new() }
    }
}

/// A token that is unknown or past its lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Unknown,
    Expired,
}

impl<T: Clone> TokenStore<T> {
    fn insert(&mut self, token: String, id: String, value: T, now: DateTime<Utc>, lifetime: Duration) {
        let info = TokenInfo { id, issued_at: now, expires_at: now + lifetime, presented: 0 };
        self.by_token.insert(token, Issued { value, info });
    }

    /// A new pagination token for `value`, named by itself.
    pub fn issue_opaque(&mut self, value: T, now: DateTime<Utc>, lifetime: Duration) -> String {
        let token = opaque_token();
        self.insert(token.clone(), token.clone(), value, now, lifetime);
        token
    }

    /// The token's value if it is known and still valid at `now`; counts the presentation either way.
    pub fn redeem(&mut self, token: &str, now: DateTime<Utc>) -> Result<T, Refused> {
        let issued = self.by_token.get_mut(token).ok_or(Refused::Unknown)?;
        issued.info.presented += 1;
        if issued.info.expires_at <= now {
            return Err(Refused::Expired);
        }
        Ok(issued.value.clone())
    }

    pub fn info(&self, token: &str) -> Option<&TokenInfo> {
        self.by_token.get(token).map(|i| &i.info)
    }

    /// Ends every token's life now, as if its lifetime had passed; returns how many were still valid.
    pub fn expire_all(&mut self, now: DateTime<Utc>) -> usize {
        let mut expired = 0;
        for issued in self.by_token.values_mut().filter(|i| i.info.expires_at > now) {
            issued.info.expires_at = now;
            expired += 1;
        }
        expired
    }

    /// Every token issued, oldest first.
    pub fn list(&self) -> Vec<TokenInfo> {
        let mut all: Vec<TokenInfo> = self.by_token.values().map(|i| i.info.clone()).collect();
        all.sort_by(|a, b| (a.issued_at, a.id.len(), &a.id).cmp(&(b.issued_at, b.id.len(), &b.id)));
        all
    }
}

impl TokenStore<()> {
    /// A new `Atza|…` access token, numbered in issue order.
    pub fn issue_access_token(&mut self, now: DateTime<Utc>, lifetime: Duration) -> String {
        let suffix: String = rand::rng().sample_iter(&Alphanumeric).take(64).map(char::from).collect();
        let token = format!("Atza|{suffix}");
        let id = (self.by_token.len() + 1).to_string();
        self.insert(token.clone(), id, (), now, lifetime);
        token
    }

    /// Checks the `x-amz-access-token` a request presented.
    pub fn check_access(&mut self, token: Option<&str>, now: DateTime<Utc>) -> Result<(), AccessDenied> {
        let token = token.filter(|t| !t.is_empty()).ok_or(AccessDenied::Missing)?;
        match self.redeem(token, now) {
            Ok(_) => Ok(()),
            Err(Refused::Expired) => Err(AccessDenied::Expired),
            Err(Refused::Unknown) => Err(AccessDenied::Invalid),
        }
    }
}

/// Shaped like Amazon's pagination tokens: a long standard-base64 string with `=` padding and always at
/// least one `+` and `/`, so a client that does not URL-encode it exactly once presents a different token.
fn opaque_token() -> String {
    // 190 ≡ 1 (mod 3) bytes encode to a string ending in "==".
    let bytes: Vec<u8> = (0..190).map(|_| rand::rng().random()).collect();
    let mut token = STANDARD.encode(bytes);
    token.replace_range(40..41, "+");
    token.replace_range(80..81, "/");
    token
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_utc;

    #[test]
    fn pagination_tokens_need_encoding_and_expire() {
        let now = parse_utc("2026-03-10T12:00:00Z").unwrap();
        let mut store: TokenStore<u32> = TokenStore::default();
        let token = store.issue_opaque(7, now, Duration::hours(24));
        assert!(token.len() > 200 && token.contains('+') && token.contains('/') && token.ends_with("=="));
        assert_eq!(store.redeem(&token, now + Duration::hours(23)), Ok(7));
        assert_eq!(store.redeem(&token, now + Duration::hours(24)), Err(Refused::Expired));
        assert_eq!(store.redeem(&token.replace('+', " "), now), Err(Refused::Unknown));
        assert_eq!(store.info(&token).unwrap().presented, 2);
    }

    #[test]
    fn access_tokens() {
        let now = parse_utc("2026-03-10T12:00:00Z").unwrap();
        let mut store = TokenStore::default();
        let token = store.issue_access_token(now, Duration::seconds(3600));
        assert_eq!(store.check_access(Some(&token), now + Duration::seconds(3599)), Ok(()));
        assert_eq!(store.check_access(Some(&token), now + Duration::seconds(3600)), Err(AccessDenied::Expired));
        assert_eq!(store.check_access(Some("Atza|x"), now), Err(AccessDenied::Invalid));
        assert_eq!(store.check_access(None, now), Err(AccessDenied::Missing));
        assert_eq!(store.expire_all(now), 1);
        assert_eq!(store.check_access(Some(&token), now), Err(AccessDenied::Expired));
        assert_eq!(store.list()[0].id, "1");
    }
}
