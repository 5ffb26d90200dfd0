//! Feed documents and their presigned URLs: the sandbox's stand-in for the S3 bucket behind the Feeds API.
//!
//! A URL is `{host}/_documents/{feedDocumentId}?X-Amz-Algorithm=…&X-Amz-Date=…&X-Amz-SignedHeaders=…&X-Amz-Expires=300
//! &X-Amz-Credential=…&X-Amz-Signature=…`, shaped like Amazon's (`tortuga-prod-na.s3-external-1.amazonaws.com/…`).
//! The signature is random and remembered: it grants one transfer (PUT for an upload URL, GET for a download URL)
//! of one document for five minutes of sandbox time. As with S3, the method and (for uploads) the Content-Type are
//! part of what was signed, so using the URL otherwise is `SignatureDoesNotMatch`; an expired URL is
//! `AccessDenied` "Request has expired". Errors are S3's XML bodies, not the SP-API's JSON.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{Read, Write};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use flate2::Compression as GzLevel;
use flate2::write::GzEncoder;
use rand::Rng;
use rand::distr::Alphanumeric;

/// A presigned URL's life (Amazon's model: "This URL expires after 5 minutes").
pub const URL_LIFETIME_SECS: i64 = 300;
/// The S3-style access key the URLs name; no secret stands behind it.
const ACCESS_KEY_ID: &str = "AKIASANDBOXFEEDS0000";
/// Processing reports are served as Amazon writes them.
const REPORT_CONTENT_TYPE: &str = "text/xml; charset=UTF-8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// From createFeedDocument, uploaded by the client.
    Input,
    /// A processing report the sandbox wrote.
    Report,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
}

#[derive(Debug, Clone)]
pub struct Document {
    pub id: String,
    pub region: &'static str,
    pub kind: DocumentKind,
    pub content_type: String,
    /// `None` until uploaded.
    pub content: Option<Vec<u8>>,
    pub compression: Option<Compression>,
    /// A feed was created from it: its content can no longer change.
    pub locked: bool,
}

/// The two things a presigned URL can be for: a PUT (upload) or a GET (download).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    Upload,
    Download,
}

/// What one signature allows.
#[derive(Debug, Clone)]
struct Grant {
    document_id: String,
    transfer: Transfer,
    /// `X-Amz-Date` as signed.
    amz_date: String,
    expires_at: DateTime<Utc>,
    /// getFeedDocument's `enableContentEncodingUrlHeader`: serve gzip with `Content-Encoding: gzip`.
    content_encoding_gzip: bool,
}

#[derive(Default)]
pub(crate) struct Documents {
    by_id: HashMap<String, Document>,
    /// Signature → what it grants.
    grants: HashMap<String, Grant>,
}

/// Amazon's document ids: `amzn1.tortuga.3.<uuid>.T<13 characters>`.
fn document_id() -> String {
    let suffix: String =
        rand::rng().sample_iter(&Alphanumeric).take(13).map(|c| char::from(c).to_ascii_uppercase()).collect();
    format!("amzn1.tortuga.3.{}.T{suffix}", uuid::Uuid::new_v4())
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes).map(|_| format!("{:02x}", rng.random::<u8>())).collect()
}

impl Documents {
    pub fn get(&self, id: &str) -> Option<&Document> {
        self.by_id.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Document> {
        self.by_id.get_mut(id)
    }

    /// createFeedDocument: an empty document waiting for its upload.
    pub fn create_input(&mut self, content_type: &str, region: &'static str) -> String {
        let id = document_id();
        let document = Document {
            id: id.clone(),
            region,
            kind: DocumentKind::Input,
            content_type: content_type.to_string(),
            content: None,
            compression: None,
            locked: false,
        };
        self.by_id.insert(id.clone(), document);
        id
    }

    /// A processing report, gzipped if asked.
    pub fn store_report(&mut self, report: Vec<u8>, compression: Option<Compression>, region: &'static str) -> String {
        let id = document_id();
        let content = match compression {
            Some(Compression::Gzip) => gzip(&report),
            None => report,
        };
        let document = Document {
            id: id.clone(),
            region,
            kind: DocumentKind::Report,
            content_type: REPORT_CONTENT_TYPE.into(),
            content: Some(content),
            compression,
            locked: true,
        };
        self.by_id.insert(id.clone(), document);
        id
    }

    /// A URL granting one kind of transfer of a document for five minutes from `now`; `base` is the host the
    /// client called (`http://127.0.0.1:PORT`).
    pub fn presign(
        &mut self,
        base: &str,
        document_id: &str,
        transfer: Transfer,
        now: DateTime<Utc>,
        content_encoding_gzip: bool,
    ) -> String {
        let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let credential = format!("{ACCESS_KEY_ID}/{}/us-east-1/s3/aws4_request", now.format("%Y%m%d"));
        let signature = random_hex(32);
        // Only uploads sign the Content-Type: that is what makes S3 refuse another one.
        let signed_headers = match transfer {
            Transfer::Upload => "content-type;host",
            Transfer::Download => "host",
        };
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if content_encoding_gzip {
            query.append_pair("response-content-encoding", "gzip");
        }
        query
            .append_pair("X-Amz-Algorithm", "AWS4-HMAC-SHA256")
            .append_pair("X-Amz-Date", &amz_date)
            .append_pair("X-Amz-SignedHeaders", signed_headers)
            .append_pair("X-Amz-Expires", &URL_LIFETIME_SECS.to_string())
            .append_pair("X-Amz-Credential", &credential)
            .append_pair("X-Amz-Signature", &signature);
        let grant = Grant {
            document_id: document_id.to_string(),
            transfer,
            amz_date,
            expires_at: now + Duration::seconds(URL_LIFETIME_SECS),
            content_encoding_gzip,
        };
        self.grants.insert(signature, grant);
        format!("{}/_documents/{document_id}?{}", base.trim_end_matches('/'), query.finish())
    }

    /// Checks a transfer against its URL's grant, in S3's order: signature known, not expired, then what was signed.
    fn authorize(
        &self,
        document_id: &str,
        query: Option<&str>,
        transfer: Transfer,
        content_type: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<&Grant, S3Error> {
        let params: HashMap<String, String> =
            url::form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect();
        let provided = params.get("X-Amz-Signature").cloned().unwrap_or_default();
        let mismatch = || S3Error::signature_does_not_match(&provided);
        let grant = self.grants.get(&provided).filter(|g| g.document_id == document_id).ok_or_else(mismatch)?;
        let signed_expiry = URL_LIFETIME_SECS.to_string();
        if params.get("X-Amz-Date") != Some(&grant.amz_date) || params.get("X-Amz-Expires") != Some(&signed_expiry) {
            return Err(mismatch());
        }
        if now > grant.expires_at {
            return Err(S3Error::expired(grant.expires_at, now));
        }
        if grant.transfer != transfer {
            return Err(mismatch());
        }
        if transfer == Transfer::Upload {
            let expected = self.by_id.get(document_id).map(|d| d.content_type.trim());
            if content_type.map(str::trim) != expected {
                return Err(mismatch());
            }
        }
        Ok(grant)
    }

    /// A PUT on an upload URL: stores the bytes (again, until a feed uses the document).
    pub fn upload(
        &mut self,
        document_id: &str,
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Response, S3Error> {
        self.authorize(document_id, query, Transfer::Upload, content_type, now)?;
        let document = self.by_id.get_mut(document_id).ok_or_else(|| S3Error::no_such_key(document_id))?;
        if document.locked {
            // The feed has its copy; the sandbox does not let the bytes it was created from change under it.
            return Err(S3Error::access_denied());
        }
        document.content = Some(body.to_vec());
        let mut response = StatusCode::OK.into_response();
        if let Ok(etag) = HeaderValue::from_str(&etag(body)) {
            response.headers_mut().insert(header::ETAG, etag);
        }
        Ok(response)
    }

    /// A GET on a download URL: the document's bytes as stored (gzipped reports stay gzipped).
    pub fn download(&self, document_id: &str, query: Option<&str>, now: DateTime<Utc>) -> Result<Response, S3Error> {
        let grant = self.authorize(document_id, query, Transfer::Download, None, now)?;
        let document = self.by_id.get(document_id).ok_or_else(|| S3Error::no_such_key(document_id))?;
        let content = document.content.clone().ok_or_else(|| S3Error::no_such_key(document_id))?;
        let mut response = content.into_response();
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&document.content_type) {
            headers.insert(header::CONTENT_TYPE, value);
        }
        if document.compression == Some(Compression::Gzip) {
            // Amazon: `identity` unless getFeedDocument was asked for `enableContentEncodingUrlHeader`.
            let encoding = if grant.content_encoding_gzip { "gzip" } else { "identity" };
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        Ok(response)
    }
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), GzLevel::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// The content of a stored document as text (gzip undone), for `/_sandbox` inspection.
pub(crate) fn gunzip(document: &Document) -> Option<String> {
    let content = document.content.as_ref()?;
    let bytes = match document.compression {
        Some(Compression::Gzip) => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(content.as_slice()).read_to_end(&mut out).ok()?;
            out
        }
        None => content.clone(),
    };
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// S3 says an ETag is opaque (only sometimes an MD5); the sandbox's is a hash of the content.
fn etag(body: &[u8]) -> String {
    let hash = |salt: u8| {
        let mut hasher = DefaultHasher::new();
        (salt, body).hash(&mut hasher);
        hasher.finish()
    };
    format!("\"{:016x}{:016x}\"", hash(1), hash(2))
}

/// An S3 error response: `<Error><Code>…</Code><Message>…</Message>…</Error>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Further elements after `Message`, in order.
    pub fields: Vec<(&'static str, String)>,
}

impl S3Error {
    fn new(status: StatusCode, code: &'static str, message: &str) -> Self {
        Self { status, code, message: message.to_string(), fields: Vec::new() }
    }

    pub fn signature_does_not_match(provided: &str) -> Self {
        let mut error = Self::new(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        );
        error.fields = vec![("AWSAccessKeyId", ACCESS_KEY_ID.into()), ("SignatureProvided", provided.into())];
        error
    }

    pub fn expired(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        let mut error = Self::new(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired");
        let at = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        error.fields = vec![
            ("X-Amz-Expires", URL_LIFETIME_SECS.to_string()),
            ("Expires", at(expires_at)),
            ("ServerTime", at(now)),
        ];
        error
    }

    pub fn access_denied() -> Self {
        Self::new(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied")
    }

    pub fn no_such_key(key: &str) -> Self {
        let mut error = Self::new(StatusCode::NOT_FOUND, "NoSuchKey", "The specified key does not exist.");
        error.fields = vec![("Key", key.into())];
        error
    }

    pub fn entity_too_large() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
    }

    /// An injected fault on a transfer, as S3 would answer it.
    pub fn for_status(status: StatusCode) -> Self {
        let mut error = match status.as_u16() {
            503 => Self::new(status, "SlowDown", "Please reduce your request rate."),
            403 => Self::access_denied(),
            404 => Self::new(status, "NoSuchKey", "The specified key does not exist."),
            s if s >= 500 => Self::new(status, "InternalError", "We encountered an internal error. Please try again."),
            _ => Self::new(status, "InvalidRequest", "Injected fault"),
        };
        error.status = status;
        error
    }

    pub fn to_xml(&self, request_id: &str) -> String {
        let escape = |s: &str| quick_xml::escape::partial_escape(s).into_owned();
        let mut xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>",
            self.code,
            escape(&self.message)
        );
        for (name, value) in &self.fields {
            xml.push_str(&format!("<{name}>{}</{name}>", escape(value)));
        }
        xml.push_str(&format!("<RequestId>{request_id}</RequestId><HostId>{}</HostId></Error>", random_hex(24)));
        xml
    }
}

impl IntoResponse for S3Error {
    fn into_response(self) -> Response {
        let request_id = random_hex(8).to_ascii_uppercase();
        let mut response = (self.status, self.to_xml(&request_id)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
        if let Ok(id) = HeaderValue::from_str(&request_id) {
            headers.insert("x-amz-request-id", id);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query_of(url: &str) -> String {
        url.split_once('?').unwrap().1.to_string()
    }

    #[test]
    fn urls_grant_one_transfer_for_five_minutes() {
        let now = crate::time::parse_utc("2026-03-10T12:00:00Z").unwrap();
        let mut documents = Documents::default();
        let id = documents.create_input("text/xml; charset=UTF-8", "NA");
        assert!(id.starts_with("amzn1.tortuga.3."), "{id}");
        let url = documents.presign("http://127.0.0.1:9", &id, Transfer::Upload, now, false);
        assert!(url.starts_with(&format!("http://127.0.0.1:9/_documents/{id}?X-Amz-Algorithm=AWS4-HMAC-SHA256")));
        assert!(url.contains("X-Amz-Date=20260310T120000Z") && url.contains("X-Amz-Expires=300"), "{url}");
        assert!(url.contains("X-Amz-SignedHeaders=content-type%3Bhost"), "{url}");
        let query = query_of(&url);
        let ok = documents.upload(&id, Some(&query), Some("text/xml; charset=UTF-8"), b"<x/>", now);
        assert_eq!(ok.unwrap().status(), 200);

        let code = |r: Result<Response, S3Error>| r.err().map(|e| e.code);
        let late = now + Duration::seconds(301);
        assert_eq!(
            code(documents.upload(&id, Some(&query), Some("text/xml; charset=UTF-8"), b"", late)),
            Some("AccessDenied")
        );
        assert_eq!(
            code(documents.upload(&id, Some(&query), Some("text/plain"), b"", now)),
            Some("SignatureDoesNotMatch")
        );
        assert_eq!(code(documents.upload(&id, Some(&query), None, b"", now)), Some("SignatureDoesNotMatch"));
        assert_eq!(code(documents.download(&id, Some(&query), now)), Some("SignatureDoesNotMatch"));
        let tampered = query.replace("X-Amz-Expires=300", "X-Amz-Expires=3000");
        assert_eq!(
            code(documents.upload(&id, Some(&tampered), Some("text/xml; charset=UTF-8"), b"", now)),
            Some("SignatureDoesNotMatch")
        );
        assert_eq!(
            code(documents.upload(&id, None, Some("text/xml; charset=UTF-8"), b"", now)),
            Some("SignatureDoesNotMatch")
        );

        let download = documents.presign("http://h", &id, Transfer::Download, now, false);
        let response = documents.download(&id, Some(&query_of(&download)), now).unwrap();
        assert_eq!(response.status(), 200);
    }

    #[test]
    fn s3_errors_are_escaped_xml() {
        let xml = S3Error::no_such_key("a<b").to_xml("REQ");
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"), "{xml}");
        assert!(xml.contains("<Key>a&lt;b</Key><RequestId>REQ</RequestId>"), "{xml}");
    }
}
