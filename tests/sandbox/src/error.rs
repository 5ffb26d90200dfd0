//! Error bodies in Amazon's shapes: SP-API `{"errors":[…]}` and LWA `{"error","error_description"}`.

use std::borrow::Cow;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::tokens::AccessDenied;

/// An SP-API error response (`ErrorList`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Amazon sends an empty string when it has nothing to add.
    pub details: Cow<'static, str>,
}

/// searchOrders' answer to a paginationToken it does not accept (unknown, expired or used with other
/// parameters), as Amazon words it (amzn/selling-partner-api-sdk#717). Amazon has one text for all of these.
pub const INVALID_PAGINATION_TOKEN: &str = "The paginationToken you have submitted is not valid. All parameters must match the original request except maxResultsPerPage.";

/// confirmShipment's answer when the order has nothing left to ship and no package with that reference
/// (amzn/selling-partner-api-models#5037). The code field was not reported; Amazon's 400s carry InvalidInput.
pub const PACKAGE_TO_UPDATE_NOT_FOUND: &str = "Failed to create package due to not finding a matching package or order already fulfilled. ErrorMessage(errorCode=GeneralError, errorDescription=Unable to find package to update for order (), errorMetric=PackageToUpdateNotFound, packageIndex=null)";

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: Cow::Borrowed("") }
    }

    /// The same error with something in `details`.
    pub fn with_details(self, details: impl Into<Cow<'static, str>>) -> Self {
        Self { details: details.into(), ..self }
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidInput", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "Conflict", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    /// Amazon's 403 names the reason in `details` (texts as clients match them, e.g. jlevers/selling-partner-api).
    pub fn unauthorized(reason: AccessDenied) -> Self {
        let details = match reason {
            AccessDenied::Missing => "Access token is missing in the request header.",
            AccessDenied::Expired => "The access token you provided has expired.",
            AccessDenied::Invalid => "The access token you provided is revoked, malformed or invalid.",
        };
        Self::new(StatusCode::FORBIDDEN, "Unauthorized", "Access to requested resource is denied.")
            .with_details(details)
    }

    pub fn quota_exceeded() -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "QuotaExceeded", "You exceeded your quota for the requested resource.")
    }

    pub fn invalid_pagination_token() -> Self {
        Self::invalid_input(INVALID_PAGINATION_TOKEN)
    }

    pub fn package_to_update_not_found() -> Self {
        Self::invalid_input(PACKAGE_TO_UPDATE_NOT_FOUND)
    }

    /// Response for an injected fault with an arbitrary status.
    pub fn for_status(status: StatusCode) -> Self {
        match status.as_u16() {
            429 => Self::quota_exceeded(),
            403 => Self::unauthorized(AccessDenied::Invalid),
            404 => Self::not_found("Resource not found"),
            400 => Self::invalid_input("Invalid input"),
            s if s >= 500 => {
                Self::new(status, "InternalFailure", "We encountered an internal error. Please try again.")
            }
            _ => Self::new(status, "Fault", "Injected fault"),
        }
    }

    /// The names `for_error` knows.
    pub const FAULT_ERRORS: [&str; 5] = [
        "PackageToUpdateNotFound",
        "InvalidPaginationToken",
        "ExpiredAccessToken",
        "InvalidAccessToken",
        "QuotaExceeded",
    ];

    /// Response for an injected fault naming one of Amazon's errors (`PackageToUpdateNotFound`, ...).
    pub fn for_error(error: &str) -> Option<Self> {
        Some(match error {
            "PackageToUpdateNotFound" => Self::package_to_update_not_found(),
            "InvalidPaginationToken" => Self::invalid_pagination_token(),
            "ExpiredAccessToken" => Self::unauthorized(AccessDenied::Expired),
            "InvalidAccessToken" => Self::unauthorized(AccessDenied::Invalid),
            "QuotaExceeded" => Self::quota_exceeded(),
            _ => return None,
        })
    }
}

/// Structs (not `json!`) so fields keep Amazon's order: code, message, details.
#[derive(Serialize)]
struct ErrorList<'a> {
    errors: [ErrorEntry<'a>; 1],
}

#[derive(Serialize)]
struct ErrorEntry<'a> {
    code: &'a str,
    message: &'a str,
    details: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            ErrorList { errors: [ErrorEntry { code: self.code, message: &self.message, details: &self.details }] };
        (self.status, Json(body)).into_response()
    }
}

#[derive(Serialize)]
struct LwaErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

/// A Login with Amazon token endpoint error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LwaError {
    pub status: StatusCode,
    pub error: String,
    pub description: String,
}

impl LwaError {
    pub fn new(error: &str, description: impl Into<String>) -> Self {
        Self { status: Self::status_for(error), error: error.to_string(), description: description.into() }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }

    /// HTTP status Amazon uses for each OAuth error code.
    pub fn status_for(error: &str) -> StatusCode {
        match error {
            "invalid_client" => StatusCode::UNAUTHORIZED,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// OAuth error code matching an injected HTTP status.
    pub fn error_for_status(status: StatusCode) -> &'static str {
        match status.as_u16() {
            401 => "invalid_client",
            503 | 429 => "temporarily_unavailable",
            s if s >= 500 => "server_error",
            _ => "invalid_request",
        }
    }
}

impl IntoResponse for LwaError {
    fn into_response(self) -> Response {
        let body = LwaErrorBody { error: &self.error, error_description: &self.description };
        (self.status, Json(body)).into_response()
    }
}
