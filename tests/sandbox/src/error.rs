//! Error bodies in Amazon's shapes: SP-API `{"errors":[…]}` and LWA `{"error","error_description"}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An SP-API error response (`ErrorList`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidInput", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::FORBIDDEN, "Unauthorized", "Access to requested resource is denied.")
    }

    pub fn quota_exceeded() -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "QuotaExceeded", "You exceeded your quota for the requested resource.")
    }

    /// Response for an injected fault with an arbitrary status.
    pub fn for_status(status: StatusCode) -> Self {
        match status.as_u16() {
            429 => Self::quota_exceeded(),
            403 => Self::unauthorized(),
            404 => Self::not_found("Resource not found"),
            400 => Self::invalid_input("Invalid input"),
            s if s >= 500 => {
                Self::new(status, "InternalFailure", "We encountered an internal error. Please try again.")
            }
            _ => Self::new(status, "Fault", "Injected fault"),
        }
    }

    fn details(&self) -> &'static str {
        // Amazon's 403 carries a hint in `details`; the other errors send an empty string.
        if self.code == "Unauthorized" { "The access token you provided is revoked, malformed or invalid." } else { "" }
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
            ErrorList { errors: [ErrorEntry { code: self.code, message: &self.message, details: self.details() }] };
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
