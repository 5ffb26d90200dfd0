//! Tokens as Amazon treats them: pagination tokens that need URL-encoding, are bound to the original
//! parameters and expire after 24 hours; access tokens that expire and are refused with Amazon's texts.
mod common;

use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use common::*;
use serde_json::{Value, json};
use spapi_sandbox::error::INVALID_PAGINATION_TOKEN;
use spapi_sandbox::{Operation, SandboxConfig};

fn unlimited() -> SandboxConfig {
    let mut config = SandboxConfig::default();
    config.rate_overrides.insert(Operation::SearchOrders, (1000.0, 1000.0));
    config
}

fn first_page(sb: &Sandbox) -> Vec<(&'static str, String)> {
    let after = sb.handle.state().now() - Duration::days(30);
    vec![
        ("marketplaceIds", MARKETPLACE.to_string()),
        ("lastUpdatedAfter", after.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        ("fulfilledBy", "MERCHANT".into()),
        ("maxResultsPerPage", "10".into()),
    ]
}

fn with(query: &[(&'static str, String)], extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut query = query.to_vec();
    for (name, value) in extra {
        query.retain(|(n, _)| n != name);
        query.push((name, value.to_string()));
    }
    query
}

async fn next_token(sb: &Sandbox, token: &str, query: &[(&'static str, String)]) -> String {
    let r = sb.search(token, query).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["pagination"]["nextToken"].as_str().expect("a next page").to_string()
}

async fn assert_token_refused(response: reqwest::Response, why: &str) {
    let (status, code, message) = error_code(response).await;
    assert_eq!((status, code.as_str(), message.as_str()), (400, "InvalidInput", INVALID_PAGINATION_TOKEN), "{why}");
}

#[tokio::test]
async fn pagination_tokens_look_like_amazons_and_need_encoding_once() {
    let sb = Sandbox::start(unlimited()).await;
    let token = sb.token().await;
    let first = first_page(&sb);
    let next = next_token(&sb, &token, &first).await;
    assert!(next.len() > 200, "long and opaque: {next}");
    assert!(next.contains('+') && next.contains('/') && next.ends_with('='), "{next}");

    // Encoded once (reqwest's query encoding): the next page.
    assert_eq!(sb.search(&token, &with(&first, &[("paginationToken", &next)])).await.status(), 200);

    // Not encoded: `+` arrives as a space, and the token is someone else's.
    let raw = format!(
        "{}?{}&paginationToken={next}",
        sb.url("/orders/2026-01-01/orders"),
        url_query(&first).trim_start_matches('?')
    );
    let r = sb.client.get(raw).header("x-amz-access-token", &token).send().await.unwrap();
    assert_token_refused(r, "unencoded").await;

    // Encoded twice.
    let twice: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    assert_token_refused(sb.search(&token, &with(&first, &[("paginationToken", &twice)])).await, "encoded twice").await;
    sb.handle.shutdown().await;
}

fn url_query(query: &[(&'static str, String)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in query {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

#[tokio::test]
async fn a_pagination_token_needs_the_original_parameters() {
    let sb = Sandbox::start(unlimited()).await;
    let token = sb.token().await;
    let first = first_page(&sb);
    let next = next_token(&sb, &token, &first).await;

    // Only the token (what a v0-style client sends): refused.
    let alone = vec![("marketplaceIds", MARKETPLACE.to_string()), ("paginationToken", next.clone())];
    assert_token_refused(sb.search(&token, &alone).await, "token alone").await;
    // A filter changed: refused.
    let changed = with(&first, &[("paginationToken", &next), ("fulfilledBy", "AMAZON")]);
    assert_token_refused(sb.search(&token, &changed).await, "other fulfilledBy").await;
    let bounded = with(&first, &[("paginationToken", &next), ("lastUpdatedBefore", "2026-01-01T00:00:00Z")]);
    assert_token_refused(sb.search(&token, &bounded).await, "added lastUpdatedBefore").await;

    // maxResultsPerPage and includedData may change between pages.
    let resized = with(&first, &[("paginationToken", &next), ("maxResultsPerPage", "3"), ("includedData", "BUYER")]);
    let r = sb.search(&token, &resized).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["orders"].as_array().unwrap().len(), 3);
    assert!(body["orders"][0]["buyer"].is_object());
    // And a token may be presented again (a retried page).
    assert_eq!(sb.search(&token, &with(&first, &[("paginationToken", &next)])).await.status(), 200);

    let tokens = sb.sandbox_get("/_sandbox/tokens").await;
    let issued = tokens["paginationTokens"].as_array().unwrap();
    let presented = issued.iter().find(|t| t["id"] == next.as_str()).unwrap();
    assert_eq!(presented["presented"], 5);
    assert!(presented["expiresAt"].is_string() && presented["issuedAt"].is_string());
    sb.handle.shutdown().await;
}

#[tokio::test]
async fn pagination_tokens_expire_after_24_hours_on_the_sandbox_clock() {
    let sb = Sandbox::start(unlimited()).await;
    let token = sb.token().await;
    let first = first_page(&sb);
    let next = next_token(&sb, &token, &first).await;
    let state = sb.handle.state();

    state.set_now(state.now() + Duration::hours(23));
    let token = sb.token().await; // the access token's hour is long gone
    assert_eq!(sb.search(&token, &with(&first, &[("paginationToken", &next)])).await.status(), 200);
    state.set_now(state.now() + Duration::hours(1));
    let token = sb.token().await;
    assert_token_refused(sb.search(&token, &with(&first, &[("paginationToken", &next)])).await, "24 h old").await;
    // A new first page works again.
    assert_eq!(sb.search(&token, &first).await.status(), 200);
    sb.handle.shutdown().await;
}

#[tokio::test]
async fn pagination_token_lifetime_is_configurable_and_tokens_can_be_expired_now() {
    let config = SandboxConfig { pagination_token_lifetime: Duration::minutes(10), ..unlimited() };
    let sb = Sandbox::start(config).await;
    let token = sb.token().await;
    let first = first_page(&sb);
    let next = next_token(&sb, &token, &first).await;
    let state = sb.handle.state();
    state.set_now(state.now() + Duration::minutes(10));
    assert_token_refused(sb.search(&token, &with(&first, &[("paginationToken", &next)])).await, "10 min").await;

    let next = next_token(&sb, &token, &first).await;
    let r = sb.sandbox_post("/_sandbox/pagination-tokens/expire", json!({})).await;
    assert_eq!(r.json::<Value>().await.unwrap()["expired"], 1);
    assert_token_refused(sb.search(&token, &with(&first, &[("paginationToken", &next)])).await, "expired now").await;
    sb.handle.shutdown().await;
}

#[tokio::test]
async fn access_tokens_expire_and_the_call_log_names_the_token_used() {
    // 3600 s / 3600 = one real second; `expires_in` still says what Amazon says.
    let config = SandboxConfig { time_scale: 3600.0, ..unlimited() }.with_scaled_token_lifetimes();
    let sb = Sandbox::start(config).await;
    let query = first_page(&sb);
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", REFRESH_TOKEN),
        ("client_id", "sandbox-client-id"),
        ("client_secret", "sandbox-client-secret"),
    ];
    let body: Value = sb.client.post(sb.url("/auth/o2/token")).form(&form).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["expires_in"], 3600);
    let first = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(sb.search(&first, &query).await.status(), 200);

    let started = Instant::now();
    tokio::time::sleep(StdDuration::from_millis(1100)).await;
    assert!(started.elapsed() >= StdDuration::from_secs(1));
    let r = sb.search(&first, &query).await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "Unauthorized");
    assert_eq!(body["errors"][0]["details"], "The access token you provided has expired.");

    // The control endpoint ends every token's life at once.
    let second = sb.token().await;
    assert_eq!(sb.search(&second, &query).await.status(), 200);
    let r = sb.sandbox_post("/_sandbox/access-tokens/expire", json!({})).await;
    assert_eq!(r.json::<Value>().await.unwrap()["expired"], 1);
    assert_eq!(sb.search(&second, &query).await.status(), 403);

    let calls = sb.sandbox_get("/_sandbox/calls").await;
    let searches: Vec<(u64, Value)> = calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["operation"] == "searchOrders")
        .map(|c| (c["status"].as_u64().unwrap(), c["accessTokenId"].clone()))
        .collect();
    assert_eq!(
        searches,
        vec![(200, json!("1")), (403, json!("1")), (200, json!("2")), (403, json!("2"))],
        "which token each call presented"
    );
    let forged = sb.search("Atza|forged", &query).await;
    assert_eq!(forged.status(), 403);
    let calls = sb.sandbox_get("/_sandbox/calls").await;
    assert!(calls.as_array().unwrap().last().unwrap().get("accessTokenId").is_none(), "unknown tokens have no id");
    let tokens = sb.sandbox_get("/_sandbox/tokens").await;
    let access = tokens["accessTokens"].as_array().unwrap();
    assert_eq!(access.iter().map(|t| t["presented"].as_u64().unwrap()).collect::<Vec<_>>(), [2, 2]);
    assert!(!tokens.to_string().contains("Atza|"), "the tokens themselves are not shown");
    sb.handle.shutdown().await;
}
