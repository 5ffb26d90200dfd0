//! `X-Sellerbridge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.
//!
//! Signing the timestamp with the body lets a stale or replayed request be refused without trusting
//! any unsigned header. The HMAC is computed once per request and compared against each `v1` value in
//! constant time; at most [`MAX_SIGNATURES`] values are considered, so a header cannot make us do more work.
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Duration, Utc};
use hmac::digest::{CtOutput, Output};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

pub const SIGNATURE_HEADER: &str = "x-sellerbridge-signature";
pub const TOLERANCE: Duration = Duration::minutes(5);
/// Most `v1` values one header may carry: enough for a key rotation (old and new key) with room to spare.
pub const MAX_SIGNATURES: usize = 4;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl SigningKey {
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self(secret.into())
    }

    fn mac(&self, timestamp: i64, body: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// Shopify's scheme: the base64 HMAC-SHA256 of the raw body, no timestamp.
    pub fn sign_base64(&self, body: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(body);
        BASE64.encode(mac.finalize().into_bytes())
    }

    /// Checks a [`Self::sign_base64`] value; `Malformed` when it is not base64.
    pub fn verify_base64(&self, value: &str, body: &[u8]) -> Result<(), SignatureError> {
        let candidate = BASE64.decode(value.trim()).map_err(|_| SignatureError::Malformed)?;
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(body);
        if same_mac(&mac.finalize(), &candidate) { Ok(()) } else { Err(SignatureError::Mismatch) }
    }

    /// The header value for `body` signed at `at`.
    pub fn sign(&self, at: DateTime<Utc>, body: &[u8]) -> String {
        let timestamp = at.timestamp();
        format!("t={timestamp},v1={}", hex::encode(self.mac(timestamp, body).finalize().into_bytes()))
    }

    pub fn verify(&self, header: Option<&str>, body: &[u8], now: DateTime<Utc>) -> Result<(), SignatureError> {
        let header = header.ok_or(SignatureError::Missing)?;
        let mut timestamp = None;
        let mut candidates = Vec::new();
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
                Some(("v1", value)) => candidates.push(value),
                _ => {}
            }
        }
        // Counted before anything is decoded or hashed.
        if candidates.len() > MAX_SIGNATURES {
            return Err(SignatureError::TooManySignatures { count: candidates.len() });
        }
        let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
        if candidates.is_empty() {
            return Err(SignatureError::Malformed);
        }
        let signatures = candidates
            .into_iter()
            .map(|value| hex::decode(value).map_err(|_| SignatureError::Malformed))
            .collect::<Result<Vec<_>, _>>()?;
        // One HMAC over the body, compared against every value in constant time (several v1 values allow
        // a key rotation without downtime); a value of the wrong length can never match.
        let expected = self.mac(timestamp, body).finalize();
        let matches = signatures.iter().fold(false, |found, sig| same_mac(&expected, sig) | found);
        if !matches {
            return Err(SignatureError::Mismatch);
        }
        let signed_at = DateTime::from_timestamp(timestamp, 0).ok_or(SignatureError::Malformed)?;
        if (now - signed_at).abs() > TOLERANCE {
            return Err(SignatureError::Stale { signed_at });
        }
        Ok(())
    }
}

/// The keys a request may be signed with: the current one and, while a rotation is under way, the one
/// before it, so a merchant can switch their store to the new key whenever suits them.
/// Whether `candidate` is the MAC `expected`, compared in constant time.
fn same_mac(expected: &CtOutput<HmacSha256>, candidate: &[u8]) -> bool {
    candidate.len() == Output::<HmacSha256>::default().len()
        && CtOutput::<HmacSha256>::new(Output::<HmacSha256>::clone_from_slice(candidate)) == *expected
}

#[derive(Clone)]
pub struct SigningKeys {
    pub current: SigningKey,
    pub previous: Option<SigningKey>,
}

impl SigningKeys {
    pub fn single(key: SigningKey) -> Self {
        Self { current: key, previous: None }
    }

    /// `check` with the current key, then with the previous one if the current one did not match.
    pub fn either<E>(
        &self,
        check: impl Fn(&SigningKey) -> Result<(), E>,
        mismatch: impl Fn(&E) -> bool,
    ) -> Result<(), E> {
        match (check(&self.current), &self.previous) {
            (Err(e), Some(previous)) if mismatch(&e) => check(previous),
            (result, _) => result,
        }
    }

    /// Our scheme's header signed with every key in force (`t=…,v1=<current>,v1=<previous>`), so a
    /// receiver still holding the previous key verifies it during a rotation.
    pub fn sign(&self, at: DateTime<Utc>, body: &[u8]) -> String {
        let mut header = self.current.sign(at, body);
        if let Some(previous) = &self.previous {
            let signed = previous.sign(at, body);
            header.push_str(&signed[signed.find(",v1=").unwrap_or(signed.len())..]);
        }
        header
    }

    /// Verifies our own scheme ([`SigningKey::verify`]) against either key.
    pub fn verify(&self, header: Option<&str>, body: &[u8], now: DateTime<Utc>) -> Result<(), SignatureError> {
        self.either(|key| key.verify(header, body, now), |e| *e == SignatureError::Mismatch)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    #[error("missing {SIGNATURE_HEADER} header")]
    Missing,
    #[error("malformed {SIGNATURE_HEADER} header: expected t=<unix seconds>,v1=<hex>")]
    Malformed,
    #[error("signature does not match the body")]
    Mismatch,
    #[error("{SIGNATURE_HEADER} header carries {count} v1 signatures; at most {MAX_SIGNATURES} are accepted")]
    TooManySignatures { count: usize },
    #[error("stale timestamp: signed at {signed_at}, outside the 5-minute window")]
    Stale { signed_at: DateTime<Utc> },
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn a_signed_body_verifies() {
        let key = SigningKey::new("s3cret");
        let header = key.sign(now(), b"{\"a\":1}");
        assert_eq!(key.verify(Some(&header), b"{\"a\":1}", now() + Duration::seconds(30)), Ok(()));
    }

    #[test]
    fn a_changed_body_or_other_key_fails() {
        let key = SigningKey::new("s3cret");
        let header = key.sign(now(), b"{\"a\":1}");
        assert_eq!(key.verify(Some(&header), b"{\"a\":2}", now()), Err(SignatureError::Mismatch));
        assert_eq!(SigningKey::new("other").verify(Some(&header), b"{\"a\":1}", now()), Err(SignatureError::Mismatch));
    }

    #[test]
    fn the_timestamp_is_signed_and_bounded() {
        let key = SigningKey::new("s3cret");
        let header = key.sign(now(), b"x");
        assert!(matches!(
            key.verify(Some(&header), b"x", now() + Duration::minutes(6)),
            Err(SignatureError::Stale { .. })
        ));
        let forged = header.replace(&format!("t={}", now().timestamp()), &format!("t={}", now().timestamp() + 60));
        assert_eq!(key.verify(Some(&forged), b"x", now()), Err(SignatureError::Mismatch));
    }

    #[test]
    fn missing_and_malformed_headers_are_told_apart() {
        let key = SigningKey::new("s3cret");
        assert_eq!(key.verify(None, b"x", now()), Err(SignatureError::Missing));
        assert_eq!(key.verify(Some("v1=zz"), b"x", now()), Err(SignatureError::Malformed));
        assert_eq!(key.verify(Some("t=1"), b"x", now()), Err(SignatureError::Malformed));
    }

    #[test]
    fn more_than_four_v1_values_are_refused_before_any_hmac() {
        let key = SigningKey::new("s3cret");
        let header = key.sign(now(), b"x");
        let good = header.split_once("v1=").unwrap().1.to_owned();
        let wrong = format!("v1={}", "00".repeat(32));
        // Four values, the right one last: accepted.
        let four = format!("t={},{wrong},{wrong},{wrong},v1={good}", now().timestamp());
        assert_eq!(key.verify(Some(&four), b"x", now()), Ok(()));
        // Five, even with a valid one among them: refused, with a message saying why.
        let five = format!("t={},{wrong},{wrong},{wrong},{wrong},v1={good}", now().timestamp());
        let err = key.verify(Some(&five), b"x", now()).unwrap_err();
        assert_eq!(err, SignatureError::TooManySignatures { count: 5 });
        assert!(err.to_string().contains("at most 4"), "{err}");
        // A flood of values is refused the same way.
        let flood = format!("t={},{}", now().timestamp(), vec![wrong.as_str(); 10_000].join(","));
        assert_eq!(key.verify(Some(&flood), b"x", now()), Err(SignatureError::TooManySignatures { count: 10_000 }));
    }

    #[test]
    fn during_a_rotation_either_key_verifies_and_no_other() {
        let (old, new) = (SigningKey::new("old"), SigningKey::new("new"));
        let rotating = SigningKeys { current: new.clone(), previous: Some(old.clone()) };
        for key in [&old, &new] {
            assert_eq!(rotating.verify(Some(&key.sign(now(), b"x")), b"x", now()), Ok(()));
        }
        let stranger = SigningKey::new("stranger").sign(now(), b"x");
        assert_eq!(rotating.verify(Some(&stranger), b"x", now()), Err(SignatureError::Mismatch));
        // What we sign during a rotation verifies with either key alone.
        let both = rotating.sign(now(), b"x");
        assert_eq!(both.matches("v1=").count(), 2);
        assert_eq!(old.verify(Some(&both), b"x", now()), Ok(()));
        assert_eq!(new.verify(Some(&both), b"x", now()), Ok(()));
        // After the rotation ends only the current key is accepted.
        let settled = SigningKeys::single(new);
        assert_eq!(settled.verify(Some(&old.sign(now(), b"x")), b"x", now()), Err(SignatureError::Mismatch));
        // A stale request stays stale whichever key signed it.
        let stale = old.sign(now() - Duration::minutes(10), b"x");
        assert!(matches!(rotating.verify(Some(&stale), b"x", now()), Err(SignatureError::Stale { .. })));
    }
}
