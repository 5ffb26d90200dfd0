mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use spapi_sandbox::{Operation, SandboxConfig};

const QUOTA_BODY: &str = r#"{"errors":[{"code":"QuotaExceeded","message":"You exceeded your quota for the requested resource.","details":""}]}"#;

#[tokio::test]
async fn burst_then_429_then_scaled_refill() {
    let mut config = SandboxConfig::default();
    // 0.01/s × time_scale 100 = one token per real second; burst of 5.
    config.rate_overrides.insert(Operation::GetOrder, (0.01, 5.0));
    config.time_scale = 100.0;
    let sb = Sandbox::start(config).await;
    let token = sb.token().await;
    let id = sb.all_orders().await[0]["orderId"].as_str().unwrap().to_string();
    let path = format!("/orders/2026-01-01/orders/{id}");

    for n in 0..5 {
        let r = sb.get(&path, &token, &[]).await;
        assert_eq!(r.status(), 200, "call {n} is within the burst");
        assert_eq!(r.headers()["x-amzn-RateLimit-Limit"], "0.01");
    }
    let r = sb.get(&path, &token, &[]).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("x-amzn-RateLimit-Limit").is_none());
    assert!(r.headers().get("x-amzn-RequestId").is_some());
    assert_eq!(r.text().await.unwrap(), QUOTA_BODY);

    // Auth is checked before quota.
    assert_eq!(sb.get(&path, "Atza|bad", &[]).await.status(), 403);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(sb.get(&path, &token, &[]).await.status(), 200, "refilled one token");
    assert_eq!(sb.get(&path, &token, &[]).await.status(), 429);

    // Other operations have their own buckets; LWA is never limited.
    for _ in 0..30 {
        sb.token().await;
    }
    let stats = sb.sandbox_get("/_sandbox/stats").await;
    assert_eq!(stats["throttled"], 2);
    assert_eq!(stats["calls"]["getOrder"]["429"], 2);
    assert_eq!(stats["calls"]["getOrder"]["403"], 1);
    sb.handle.shutdown().await;
}

#[tokio::test]
async fn search_orders_default_plan_with_time_scale() {
    // 0.0056/s × 600 ≈ 3.4 tokens per real second
    let config = SandboxConfig { time_scale: 600.0, ..SandboxConfig::default() };
    let sb = Sandbox::start(config).await;
    let token = sb.token().await;
    let query = [
        ("marketplaceIds", MARKETPLACE.to_string()),
        ("lastUpdatedAfter", "2020-01-01T00:00:00Z".to_string()),
        ("maxResultsPerPage", "1".to_string()),
    ];
    let mut ok = 0;
    while sb.search(&token, &query).await.status() == 200 {
        ok += 1;
        assert!(ok < 40, "bucket never ran dry");
    }
    assert!((20..=22).contains(&ok), "burst 20 (plus refill during the loop), got {ok}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(sb.search(&token, &query).await.status(), 200);
    sb.handle.shutdown().await;
}

#[tokio::test]
async fn injected_faults() {
    let sb = Sandbox::default().await;
    let token = sb.token().await;
    let query = [("marketplaceIds", MARKETPLACE.to_string()), ("lastUpdatedAfter", "2020-01-01T00:00:00Z".to_string())];

    let r = sb.sandbox_post("/_sandbox/faults", json!({"operation": "searchOrders", "status": 503, "count": 2})).await;
    assert_eq!(r.status(), 200);
    // Unauthenticated calls don't consume the fault.
    assert_eq!(sb.search("Atza|bad", &query).await.status(), 403);
    for _ in 0..2 {
        let r = sb.search(&token, &query).await;
        assert_eq!(r.status(), 503);
        assert!(r.headers().get("x-amzn-RateLimit-Limit").is_none());
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], "InternalFailure");
    }
    assert_eq!(sb.search(&token, &query).await.status(), 200);

    // A flaky Amazon: one call in three fails, twice, and the calls between run.
    let r = sb
        .sandbox_post("/_sandbox/faults", json!({"operation": "searchOrders", "status": 500, "count": 2, "every": 3}))
        .await;
    assert_eq!(r.status(), 200);
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(sb.search(&token, &query).await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 500, 200, 200, 500, 200, 200]);

    sb.sandbox_post("/_sandbox/faults", json!({"operation": "getOrder", "status": 429, "count": 1})).await;
    let r = sb.get("/orders/2026-01-01/orders/anything", &token, &[]).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.text().await.unwrap(), QUOTA_BODY);
    assert_eq!(sb.get("/orders/2026-01-01/orders/anything", &token, &[]).await.status(), 404);

    sb.sandbox_post("/_sandbox/faults", json!({"operation": "confirmShipment", "status": 500, "count": 1})).await;
    let r = sb.confirm(&token, "anything", &json!({})).await;
    assert_eq!(r.status(), 500);

    sb.sandbox_post("/_sandbox/faults", json!({"operation": "lwaToken", "error": "invalid_grant", "count": 1})).await;
    let r = sb.token_response().await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
    sb.token().await; // back to normal

    sb.sandbox_post("/_sandbox/faults", json!({"operation": "lwaToken", "status": 503})).await;
    let r = sb.client.post(sb.url("/auth/o2/token")).form(&[("grant_type", "x")]).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "temporarily_unavailable");

    let r = sb.sandbox_post("/_sandbox/faults", json!({"operation": "nope", "status": 500})).await;
    assert_eq!(r.status(), 400);
    let stats = sb.sandbox_get("/_sandbox/stats").await;
    assert_eq!(stats["calls"]["searchOrders"]["503"], 2);
    assert_eq!(stats["throttled"], 1);
    sb.handle.shutdown().await;
}

#[tokio::test]
async fn slow_responses_are_a_fault_too() {
    let sb = Sandbox::default().await;
    let token = sb.token().await;
    let id = sb.all_orders().await[0]["orderId"].as_str().unwrap().to_string();
    let path = format!("/orders/2026-01-01/orders/{id}");

    let r = sb.sandbox_post("/_sandbox/faults", json!({"operation": "getOrder", "delayMs": 400, "count": 2})).await;
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"operation": "getOrder", "status": null, "error": null, "delayMs": 400, "count": 2})
    );
    for _ in 0..2 {
        let started = Instant::now();
        assert_eq!(sb.get(&path, &token, &[]).await.status(), 200, "slow, then the real answer");
        assert!(started.elapsed() >= Duration::from_millis(400));
    }
    let started = Instant::now();
    assert_eq!(sb.get(&path, &token, &[]).await.status(), 200);
    assert!(started.elapsed() < Duration::from_millis(400), "only `count` calls are slow");

    // Slow and then failing, like a gateway timing out.
    sb.sandbox_post("/_sandbox/faults", json!({"operation": "confirmShipment", "status": 503, "delayMs": 200})).await;
    let started = Instant::now();
    let r = sb.confirm(&token, &id, &json!({})).await;
    assert_eq!(r.status(), 503);
    assert!(started.elapsed() >= Duration::from_millis(200));
    sb.handle.shutdown().await;
}

#[tokio::test]
async fn the_lwa_endpoint_fails_transiently_then_recovers() {
    let sb = Sandbox::default().await;
    let post = || sb.token_response();
    sb.sandbox_post("/_sandbox/faults", json!({"operation": "lwaToken", "status": 503, "count": 2})).await;
    sb.sandbox_post("/_sandbox/faults", json!({"operation": "lwaToken", "error": "server_error"})).await;
    for (status, error) in [(503, "temporarily_unavailable"), (503, "temporarily_unavailable"), (500, "server_error")] {
        let r = post().await;
        assert_eq!(r.status(), status);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], error);
    }
    assert_eq!(post().await.status(), 200);
    sb.handle.shutdown().await;
}

#[tokio::test]
async fn faults_can_name_amazons_errors() {
    let sb = Sandbox::default().await;
    let token = sb.token().await;
    let r = sb
        .sandbox_post("/_sandbox/faults", json!({"operation": "confirmShipment", "error": "PackageToUpdateNotFound"}))
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], 400);
    let (status, code, message) = error_code(sb.confirm(&token, "anything", &json!({})).await).await;
    assert_eq!((status, code.as_str()), (400, "InvalidInput"));
    assert!(message.contains("PackageToUpdateNotFound"), "{message}");

    sb.sandbox_post("/_sandbox/faults", json!({"operation": "searchOrders", "error": "ExpiredAccessToken"})).await;
    let r = sb.search(&token, &[]).await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["errors"][0]["details"], "The access token you provided has expired.");

    let r = sb.sandbox_post("/_sandbox/faults", json!({"operation": "getOrder", "error": "Nope"})).await;
    assert_eq!(r.status(), 400);
    let r = sb.sandbox_post("/_sandbox/faults", json!({"operation": "getOrder"})).await;
    assert_eq!(r.status(), 400);
    sb.handle.shutdown().await;
}

#[tokio::test]
async fn an_answer_can_be_lost_after_the_call_ran() {
    let sb = Sandbox::default().await;
    let token = sb.token().await;
    let order = sb.all_orders().await.into_iter().find(is_actionable_mfn).expect("an order to ship");
    let id = order["orderId"].as_str().unwrap().to_string();
    let item = &order["orderItems"][0];
    let body = json!({"marketplaceId": order["salesChannel"]["marketplaceId"], "packageDetail": {
        "packageReferenceId": "1", "carrierCode": "UPS", "trackingNumber": "1Z999AA10123456784",
        "shipDate": "2026-03-01T10:00:00Z",
        "orderItems": [{"orderItemId": item["orderItemId"], "quantity": 1}]}});

    let r = sb
        .sandbox_post("/_sandbox/faults", json!({"operation": "confirmShipment", "status": 504, "afterRunning": true}))
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["afterRunning"], true);
    assert_eq!(sb.confirm(&token, &id, &body).await.status(), 504, "the client sees the lost answer");
    let held = sb.sandbox_get(&format!("/_sandbox/orders/{id}")).await;
    assert_eq!(held["packages"][0]["packageReferenceId"], "1", "yet Amazon did the work: {held}");
    assert_eq!(sb.confirm(&token, &id, &body).await.status(), 204, "only the one call lost its answer");

    let r =
        sb.sandbox_post("/_sandbox/faults", json!({"operation": "getOrder", "afterRunning": true, "delayMs": 1})).await;
    assert_eq!(r.status(), 400, "a lost answer needs the status it is replaced by");
    sb.handle.shutdown().await;
}
