mod common;

use chrono::Duration;
use common::*;
use serde_json::{Value, json};

/// Amazon's 403 body; only `details` says why.
fn forbidden(details: &str) -> String {
    format!(
        r#"{{"errors":[{{"code":"Unauthorized","message":"Access to requested resource is denied.","details":"{details}"}}]}}"#
    )
}

#[tokio::test]
async fn lwa_token_grants_and_errors() {
    let sb = Sandbox::default().await;
    let url = sb.url("/auth/o2/token");

    // Form-encoded success.
    let token = sb.token().await;
    assert!(token.starts_with("Atza|"));

    // JSON body is accepted too, and echoes the refresh token.
    let response = sb
        .client
        .post(&url)
        .json(&json!({"grant_type":"refresh_token","refresh_token":REFRESH_TOKEN,
            "client_id":"sandbox-client-id","client_secret":"sandbox-client-secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["refresh_token"], REFRESH_TOKEN);

    let form = |refresh: &str, id: &str, secret: &str, grant: &str| {
        vec![
            ("grant_type", grant.to_string()),
            ("refresh_token", refresh.to_string()),
            ("client_id", id.to_string()),
            ("client_secret", secret.to_string()),
        ]
    };
    let post = |fields: Vec<(&'static str, String)>| sb.client.post(&url).form(&fields).send();

    let r = post(form("Atzr|nope", "sandbox-client-id", "sandbox-client-secret", "refresh_token")).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");

    let r = post(form(REFRESH_TOKEN, "sandbox-client-id", "wrong", "refresh_token")).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");

    let r = post(form(REFRESH_TOKEN, "other-client", "sandbox-client-secret", "refresh_token")).await.unwrap();
    assert_eq!(r.status(), 401);

    let r =
        post(form(REFRESH_TOKEN, "sandbox-client-id", "sandbox-client-secret", "client_credentials")).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");

    let r =
        post(vec![("grant_type", "refresh_token".into()), ("client_id", "sandbox-client-id".into())]).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");

    // Revocation turns the refresh token into invalid_grant.
    let r = sb.sandbox_post("/_sandbox/refresh-tokens/revoke", json!({"refreshToken": REFRESH_TOKEN})).await;
    assert_eq!(r.status(), 200);
    let r = post(form(REFRESH_TOKEN, "sandbox-client-id", "sandbox-client-secret", "refresh_token")).await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"].is_string());

    // Secrets never reach the call log.
    let calls = sb.sandbox_get("/_sandbox/calls").await.to_string();
    assert!(!calls.contains("sandbox-client-secret"));
    assert!(!calls.contains(REFRESH_TOKEN));
    assert!(calls.contains("\"lwaToken\""));
    sb.handle.shutdown().await;
}

#[tokio::test]
async fn sp_api_requires_a_valid_unexpired_token() {
    let sb = Sandbox::default().await;
    let query = [("marketplaceIds", MARKETPLACE.to_string()), ("lastUpdatedAfter", "2020-01-01T00:00:00Z".into())];

    let r = sb.client.get(sb.url("/orders/2026-01-01/orders")).query(&query).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("x-amzn-RequestId").is_some());
    assert!(r.headers().get("x-amzn-RateLimit-Limit").is_none());
    assert_eq!(r.text().await.unwrap(), forbidden("Access token is missing in the request header."));

    let r = sb.search("Atza|forged", &query).await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.text().await.unwrap(), forbidden("The access token you provided is revoked, malformed or invalid."));

    let token = sb.token().await;
    let r = sb.search(&token, &query).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-amzn-RateLimit-Limit"], "0.0056");
    uuid_like(r.headers()["x-amzn-RequestId"].to_str().unwrap());

    // An hour of sandbox time later the token has expired.
    let state = sb.handle.state();
    state.set_now(state.now() + Duration::seconds(3601));
    let r = sb.search(&token, &query).await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.text().await.unwrap(), forbidden("The access token you provided has expired."));
    let r = sb
        .client
        .post(sb.url("/orders/v0/orders/111-0000000-0000000/shipmentConfirmation"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "auth is checked before anything else");
    sb.handle.shutdown().await;
}

fn uuid_like(s: &str) {
    assert_eq!(s.len(), 36, "{s}");
    assert_eq!(s.matches('-').count(), 4);
}
