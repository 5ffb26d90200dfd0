//! `POST /auth/o2/token`: Login with Amazon refresh-token grant.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use super::AppState;
use super::gate::is_json;
use crate::config::ACCESS_TOKEN_EXPIRES_IN_SECS;
use crate::error::LwaError;

/// Field order as Amazon sends it.
#[derive(Serialize)]
pub(crate) struct TokenResponse {
    access_token: String,
    /// The client-credentials grant answers with the scope it granted instead of a refresh token.
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

/// The scopes of Amazon's grantless operations.
const GRANTLESS_SCOPES: [&str; 2] =
    ["sellingpartnerapi::notifications", "sellingpartnerapi::client_credential:rotation"];

pub(crate) async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match issue(&state, &headers, &body) {
        Ok(value) => Json(value).into_response(),
        Err(error) => error.into_response(),
    }
}

fn issue(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<TokenResponse, LwaError> {
    let fields = parse_fields(headers, body)?;
    let field = |name: &str| {
        fields
            .get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| LwaError::invalid_request(format!("The request is missing a required parameter : {name}")))
    };
    let grant_type = field("grant_type")?;
    if grant_type != "refresh_token" && grant_type != "client_credentials" {
        return Err(LwaError::invalid_request(format!("Unsupported grant_type: {grant_type}")));
    }
    let client_id = field("client_id")?;
    let client_secret = field("client_secret")?;
    let config = state.config();
    if *client_id != config.client_id || *client_secret != config.client_secret {
        return Err(LwaError::new("invalid_client", "Client authentication failed"));
    }
    if grant_type == "client_credentials" {
        let scope = field("scope")?;
        if !GRANTLESS_SCOPES.contains(&scope.as_str()) {
            return Err(LwaError::new("invalid_scope", "The request has an invalid parameter : scope"));
        }
        let access_token = state.issue_access_token();
        state.lock().grantless_tokens.insert(access_token.clone());
        return Ok(TokenResponse {
            access_token,
            scope: Some(scope.clone()),
            token_type: "bearer",
            expires_in: ACCESS_TOKEN_EXPIRES_IN_SECS,
            refresh_token: None,
        });
    }
    let refresh_token = field("refresh_token")?;
    if !state.is_refresh_token_valid(refresh_token) {
        return Err(LwaError::new("invalid_grant", "The request has an invalid grant parameter : refresh_token"));
    }
    Ok(TokenResponse {
        access_token: state.issue_access_token(),
        scope: None,
        token_type: "bearer",
        expires_in: ACCESS_TOKEN_EXPIRES_IN_SECS,
        refresh_token: Some(refresh_token.clone()),
    })
}

/// Accepts the documented form encoding and the JSON body Amazon's Java client sends.
fn parse_fields(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, LwaError> {
    let looks_like_json = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if is_json(headers) || looks_like_json {
        let value: Value =
            serde_json::from_slice(body).map_err(|_| LwaError::invalid_request("Malformed JSON request body"))?;
        let object =
            value.as_object().ok_or_else(|| LwaError::invalid_request("Request body must be a JSON object"))?;
        return Ok(object.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect());
    }
    Ok(url::form_urlencoded::parse(body).into_owned().collect())
}
