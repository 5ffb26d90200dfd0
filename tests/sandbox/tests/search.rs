mod common;

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use common::*;
use serde_json::{Value, json};
use spapi_sandbox::{Operation, SandboxConfig};

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn unlimited() -> SandboxConfig {
    let mut config = SandboxConfig::default();
    config.rate_overrides.insert(Operation::SearchOrders, (1000.0, 1000.0));
    config.rate_overrides.insert(Operation::GetOrder, (1000.0, 1000.0));
    config
}

/// Follows nextToken until the end, resending the first page's parameters as Amazon requires; returns
/// every order id in order.
async fn collect_pages(
    sb: &Sandbox,
    token: &str,
    first: Vec<(&'static str, String)>,
    mut between: impl FnMut(usize, &[String]) -> Option<String>,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut query = first.clone();
    let mut page = 0;
    loop {
        let r = sb.search(token, &query).await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        ids.extend(body["orders"].as_array().unwrap().iter().map(|o| o["orderId"].as_str().unwrap().to_string()));
        page += 1;
        if let Some(order_id) = between(page, &ids) {
            let r = sb
                .sandbox_post(&format!("/_sandbox/orders/{order_id}/touch"), json!({"fulfillmentStatus": "CANCELLED"}))
                .await;
            assert_eq!(r.status(), 200);
        }
        match body["pagination"]["nextToken"].as_str() {
            Some(next) => query = with_token(&first, next),
            None => return ids,
        }
    }
}

fn with_token(first: &[(&'static str, String)], token: &str) -> Vec<(&'static str, String)> {
    let mut query = first.to_vec();
    query.push(("paginationToken", token.to_string()));
    query
}

#[tokio::test]
async fn keyset_pagination_survives_touches() {
    let sb = Sandbox::start(unlimited()).await;
    let token = sb.token().await;
    let now = sb.handle.state().now();
    let after = now - Duration::days(10);
    let before = now - Duration::minutes(3);
    let all = sb.all_orders().await;
    let in_window = |o: &Value| {
        let t: DateTime<Utc> = o["lastUpdatedTime"].as_str().unwrap().parse().unwrap();
        t >= after && t <= before
    };
    let expected: Vec<String> =
        all.iter().filter(|o| in_window(o)).map(|o| o["orderId"].as_str().unwrap().to_string()).collect();
    assert_eq!(expected.len(), 200);

    // Sorted by (lastUpdatedTime, orderId) so we know which orders lie ahead.
    let mut sorted: Vec<(String, String)> = all
        .iter()
        .map(|o| (o["lastUpdatedTime"].as_str().unwrap().to_string(), o["orderId"].as_str().unwrap().to_string()))
        .collect();
    sorted.sort();
    let ahead_victim = sorted[150].1.clone();
    let behind_victim = sorted[3].1.clone();

    let first = vec![
        ("marketplaceIds", MARKETPLACE.to_string()),
        ("lastUpdatedAfter", iso(after)),
        ("lastUpdatedBefore", iso(before)),
        ("maxResultsPerPage", "7".to_string()),
    ];
    let ids = collect_pages(&sb, &token, first, |page, _| match page {
        1 => Some(behind_victim.clone()), // already returned: must not come back
        2 => Some(ahead_victim.clone()),  // not yet returned: leaves the window
        _ => None,
    })
    .await;

    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no order is repeated");
    let expected_now: BTreeSet<&String> = expected.iter().filter(|id| **id != ahead_victim).collect();
    assert_eq!(unique, expected_now, "nothing else skipped");
    let expected_order: Vec<&String> = sorted.iter().map(|(_, id)| id).filter(|id| **id != ahead_victim).collect();
    assert_eq!(ids.iter().collect::<Vec<_>>(), expected_order, "sorted by (lastUpdatedTime, orderId)");

    // The next incremental window picks up both touched orders.
    let state = sb.handle.state();
    state.set_now(state.now() + Duration::minutes(3));
    let ids = collect_pages(
        &sb,
        &token,
        vec![("marketplaceIds", MARKETPLACE.into()), ("lastUpdatedAfter", iso(before))],
        |_, _| None,
    )
    .await;
    let got: BTreeSet<String> = ids.into_iter().collect();
    assert_eq!(got, [ahead_victim, behind_victim].into_iter().collect());
    sb.handle.shutdown().await;
}

/// The other way Amazon may page: by offset over the live result set. With orders changing while
/// the window is read, orders that did not change are skipped; with none changing, none are.
#[tokio::test]
async fn offset_pagination_skips_orders_when_earlier_ones_leave() {
    let sb = Sandbox::start(unlimited()).await;
    let token = sb.token().await;
    let now = sb.handle.state().now();
    let first = vec![
        ("marketplaceIds", MARKETPLACE.to_string()),
        ("lastUpdatedAfter", iso(now - Duration::days(40))),
        ("lastUpdatedBefore", iso(now - Duration::minutes(3))),
        ("maxResultsPerPage", "20".to_string()),
    ];
    let r = sb.sandbox_post("/_sandbox/search", json!({"paging": "offset"})).await;
    assert_eq!(r.status(), 200);
    let calm = collect_pages(&sb, &token, first.clone(), |_, _| None).await;
    assert_eq!(calm.iter().collect::<BTreeSet<_>>().len(), 200, "offset paging over a still set serves all");

    let r = sb.sandbox_post("/_sandbox/search", json!({"paging": "offset", "churnPerSearch": 2})).await;
    assert_eq!(r.status(), 200);
    let churned = collect_pages(&sb, &token, first, |_, _| None).await;
    let changed: BTreeSet<String> = sb
        .all_orders()
        .await
        .iter()
        .filter(|o| {
            o["lastUpdatedTime"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap() > now - Duration::minutes(3)
        })
        .map(|o| o["orderId"].as_str().unwrap().to_string())
        .collect();
    let served: BTreeSet<&String> = churned.iter().collect();
    let skipped: Vec<&String> = calm.iter().filter(|id| !served.contains(id) && !changed.contains(*id)).collect();
    assert!(!changed.is_empty());
    assert!(!skipped.is_empty(), "unchanged orders shift past the offset and are never served");
    sb.handle.shutdown().await;
}

#[tokio::test]
async fn created_window_pagination_and_bad_token() {
    let sb = Sandbox::start(unlimited()).await;
    let token = sb.token().await;
    let after = sb.handle.state().now() - Duration::days(3);
    let expected = sb
        .all_orders()
        .await
        .iter()
        .filter(|o| o["createdTime"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap() >= after)
        .count();
    let ids = collect_pages(
        &sb,
        &token,
        vec![("marketplaceIds", MARKETPLACE.into()), ("createdAfter", iso(after)), ("maxResultsPerPage", "10".into())],
        |_, _| None,
    )
    .await;
    assert_eq!(ids.len(), expected);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), expected);

    let first = vec![("marketplaceIds", MARKETPLACE.into()), ("createdAfter", iso(after))];
    let r = sb.search(&token, &with_token(&first, "not-a-token")).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "InvalidInput");
    assert_eq!(body["errors"][0]["message"], spapi_sandbox::error::INVALID_PAGINATION_TOKEN);
    sb.handle.shutdown().await;
}

#[tokio::test]
async fn two_minute_rule_and_utc_only() {
    let sb = Sandbox::start(unlimited()).await;
    let token = sb.token().await;
    let now = sb.handle.state().now();
    let base = |extra: Vec<(&'static str, String)>| {
        let mut q = vec![("marketplaceIds", MARKETPLACE.to_string())];
        q.extend(extra);
        q
    };

    let r = sb
        .search(
            &token,
            &base(vec![
                ("lastUpdatedAfter", iso(now - Duration::days(1))),
                ("lastUpdatedBefore", iso(now - Duration::seconds(60))),
            ]),
        )
        .await;
    let (status, code, message) = error_code(r).await;
    assert_eq!((status, code.as_str()), (400, "InvalidInput"));
    assert!(message.contains("lastUpdatedBefore"), "{message}");

    let r = sb
        .search(
            &token,
            &base(vec![
                ("createdAfter", iso(now - Duration::days(1))),
                ("createdBefore", iso(now - Duration::seconds(30))),
            ]),
        )
        .await;
    let (status, _, message) = error_code(r).await;
    assert_eq!(status, 400);
    assert!(message.contains("createdBefore"), "{message}");

    let r = sb
        .search(
            &token,
            &base(vec![
                ("lastUpdatedAfter", iso(now - Duration::days(1))),
                ("lastUpdatedBefore", iso(now - Duration::days(2))),
            ]),
        )
        .await;
    assert_eq!(error_code(r).await.0, 400);

    let r = sb
        .search(
            &token,
            &base(vec![
                ("lastUpdatedAfter", iso(now - Duration::days(1))),
                ("lastUpdatedBefore", iso(now - Duration::minutes(3))),
            ]),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["lastUpdatedBefore"], iso(now - Duration::minutes(3)));

    // Omitted lastUpdatedBefore defaults to now − 2 min and is echoed.
    let r = sb.search(&token, &base(vec![("lastUpdatedAfter", iso(now - Duration::days(1)))])).await;
    let body: Value = r.json().await.unwrap();
    let echoed: DateTime<Utc> = body["lastUpdatedBefore"].as_str().unwrap().parse().unwrap();
    assert!((echoed - (now - Duration::minutes(2))).num_seconds().abs() <= 2);

    let r = sb.search(&token, &base(vec![("createdAfter", "2026-01-01T00:00:00+09:00".into())])).await;
    let (status, code, message) = error_code(r).await;
    assert_eq!((status, code.as_str()), (400, "InvalidInput"));
    assert!(message.contains("createdAfter"));

    let r = sb.search(&token, &base(vec![])).await;
    assert_eq!(error_code(r).await.0, 400, "one of createdAfter/lastUpdatedAfter is required");
    let r = sb.search(&token, &[("createdAfter", iso(now - Duration::days(1)))]).await;
    assert_eq!(error_code(r).await.0, 400, "marketplaceIds is required");
    let r = sb
        .search(
            &token,
            &base(vec![
                ("createdAfter", iso(now - Duration::days(1))),
                ("lastUpdatedAfter", iso(now - Duration::days(1))),
            ]),
        )
        .await;
    assert_eq!(error_code(r).await.0, 400);
    let r = sb
        .search(&token, &base(vec![("createdAfter", iso(now - Duration::days(1))), ("maxResultsPerPage", "0".into())]))
        .await;
    assert_eq!(error_code(r).await.0, 400);
    sb.handle.shutdown().await;
}

#[tokio::test]
async fn filters_and_included_data() {
    let sb = Sandbox::start(unlimited()).await;
    let token = sb.token().await;
    let all = sb.all_orders().await;
    let after = iso(sb.handle.state().now() - Duration::days(30));
    let window = |extra: Vec<(&'static str, String)>| {
        let mut q = vec![("marketplaceIds", MARKETPLACE.to_string()), ("lastUpdatedAfter", after.clone())];
        q.extend(extra);
        q
    };
    let fetch = |q: Vec<(&'static str, String)>| {
        let sb = &sb;
        let token = token.clone();
        async move {
            let mut orders = Vec::new();
            let mut query = q.clone();
            loop {
                let r = sb.search(&token, &query).await;
                assert_eq!(r.status(), 200);
                let body: Value = r.json().await.unwrap();
                orders.extend(body["orders"].as_array().unwrap().iter().cloned());
                match body["pagination"]["nextToken"].as_str() {
                    Some(next) => query = with_token(&q, next),
                    None => return orders,
                }
            }
        }
    };

    let merchant =
        fetch(window(vec![("fulfilledBy", "MERCHANT".into()), ("includedData", "FULFILLMENT".into())])).await;
    assert_eq!(merchant.len(), all.iter().filter(|o| fulfilled_by(o) == "MERCHANT").count());
    assert!(merchant.iter().all(|o| fulfilled_by(o) == "MERCHANT"));

    let actionable = fetch(window(vec![
        ("fulfilledBy", "MERCHANT".into()),
        ("fulfillmentStatuses", "UNSHIPPED,PARTIALLY_SHIPPED".into()),
        ("includedData", "FULFILLMENT,BUYER,RECIPIENT".into()),
    ]))
    .await;
    let expected = all.iter().filter(|o| is_actionable_mfn(o)).count();
    assert_eq!(actionable.len(), expected);
    assert!(expected as f64 >= 0.5 * all.len() as f64, "actionable share {expected}/{}", all.len());
    for order in &actionable {
        assert!(is_actionable_mfn(order));
        assert!(order["buyer"]["buyerName"].is_string());
        assert!(order["buyer"]["buyerEmail"].as_str().unwrap().ends_with("@marketplace.amazon.com"));
        assert!(order["recipient"]["deliveryAddress"]["addressLine1"].is_string());
        assert!(order.get("proceeds").is_none());
        assert!(order.get("packages").is_none());
    }

    // No includedData: items only, no PII or fulfillment.
    let bare = fetch(window(vec![])).await;
    assert_eq!(bare.len(), all.len());
    for order in &bare {
        for key in ["buyer", "recipient", "proceeds", "fulfillment", "packages"] {
            assert!(order.get(key).is_none(), "{key} leaked without includedData");
        }
        assert!(!order["orderItems"].as_array().unwrap().is_empty());
        assert!(order["salesChannel"]["marketplaceId"] == MARKETPLACE);
    }

    let amazon =
        fetch(window(vec![("fulfilledBy", "AMAZON".into()), ("includedData", "BUYER,RECIPIENT,FULFILLMENT".into())]))
            .await;
    assert!(!amazon.is_empty());
    for order in &amazon {
        assert!(order.get("buyer").is_none());
        if let Some(address) = order["recipient"].get("deliveryAddress") {
            for pii in ["name", "addressLine1", "phone"] {
                assert!(address.get(pii).is_none());
            }
        }
    }

    let r = sb.search(&token, &window(vec![("includedData", "BUYER,BOGUS".into())])).await;
    assert_eq!(error_code(r).await.0, 400);
    let r = sb.search(&token, &window(vec![("fulfilledBy", "SELLER".into())])).await;
    assert_eq!(error_code(r).await.0, 400);

    // Status filter alone.
    let shipped =
        fetch(window(vec![("fulfillmentStatuses", "SHIPPED".into()), ("includedData", "FULFILLMENT,PACKAGES".into())]))
            .await;
    assert_eq!(shipped.len(), all.iter().filter(|o| status_of(o) == "SHIPPED").count());
    assert!(
        shipped.iter().filter(|o| fulfilled_by(o) == "MERCHANT").all(|o| !o["packages"].as_array().unwrap().is_empty())
    );
    sb.handle.shutdown().await;
}

#[tokio::test]
async fn get_order_gates_data_and_404s() {
    let sb = Sandbox::start(unlimited()).await;
    let token = sb.token().await;
    let all = sb.all_orders().await;
    let order = all.iter().find(|o| is_actionable_mfn(o)).unwrap();
    let id = order["orderId"].as_str().unwrap();

    let r = sb.get(&format!("/orders/2026-01-01/orders/{id}"), &token, &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-amzn-RateLimit-Limit"], "1000");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["order"]["orderId"], id);
    assert!(body["order"].get("buyer").is_none());

    let r = sb
        .get(
            &format!("/orders/2026-01-01/orders/{id}"),
            &token,
            &[("includedData", "BUYER,RECIPIENT,PROCEEDS,FULFILLMENT,PACKAGES".into())],
        )
        .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(&body["order"], order, "all datasets = inspection view");

    let r = sb.get("/orders/2026-01-01/orders/999-0000000-0000000", &token, &[]).await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"errors":[{"code":"NotFound","message":"Order 999-0000000-0000000 not found","details":""}]}"#
    );
    sb.handle.shutdown().await;
}

/// A sandbox selling in two regions stands for both hosts; each knows only its own marketplaces.
#[tokio::test]
async fn each_regional_host_serves_only_its_own_marketplaces() {
    let mut config = unlimited();
    config.marketplace_ids = vec![MARKETPLACE.into(), "A1F83G8C2ARO7P".into()];
    let sb = Sandbox::start(config).await;
    let token = sb.token().await;
    let eu = sb.handle.region_url("EU").expect("an EU host");
    assert!(sb.handle.region_url("FE").is_none());
    let now = sb.handle.state().now();
    let query = |marketplace: &str| {
        vec![("marketplaceIds", marketplace.to_string()), ("lastUpdatedAfter", iso(now - Duration::days(40)))]
    };
    let at_eu = |query: Vec<(&'static str, String)>| {
        sb.client
            .get(format!("{eu}/orders/2026-01-01/orders"))
            .header("x-amz-access-token", &token)
            .query(&query)
            .send()
    };
    let uk: Value = at_eu(query("A1F83G8C2ARO7P")).await.unwrap().json().await.unwrap();
    let uk_orders = uk["orders"].as_array().unwrap();
    assert!(!uk_orders.is_empty());
    assert!(
        uk_orders.iter().all(|o| o["proceeds"]["grandTotal"]["currencyCode"] == "GBP" || o["proceeds"].is_null()),
        "UK amounts in pounds"
    );
    let refused = at_eu(query(MARKETPLACE)).await.unwrap();
    assert_eq!(refused.status(), 400, "the EU host does not serve amazon.com");
    let refused: Value = refused.json().await.unwrap();
    assert!(refused["errors"][0]["message"].as_str().unwrap().contains("NA"), "{refused}");

    let uk_order = uk_orders[0]["orderId"].as_str().unwrap();
    let at_na = sb.get(&format!("/orders/2026-01-01/orders/{uk_order}"), &token, &[]).await;
    assert_eq!(at_na.status(), 404, "the NA host does not know a UK order");
    sb.handle.shutdown().await;
}
