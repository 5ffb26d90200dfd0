mod common;

use common::*;
use serde_json::{Value, json};
use spapi_sandbox::error::PACKAGE_TO_UPDATE_NOT_FOUND;
use spapi_sandbox::{Operation, SandboxConfig};

fn body(reference: &str, items: Value) -> Value {
    json!({
        "marketplaceId": MARKETPLACE,
        "packageDetail": {
            "packageReferenceId": reference,
            "carrierCode": "UPS",
            "shippingMethod": "UPS Ground",
            "trackingNumber": format!("1ZTEST{reference}"),
            "shipDate": "2026-01-15T10:00:00Z",
            "orderItems": items,
        }
    })
}

fn items_of(order: &Value) -> Vec<(String, u64)> {
    order["orderItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (i["orderItemId"].as_str().unwrap().to_string(), i["fulfillment"]["quantityUnfulfilled"].as_u64().unwrap())
        })
        .collect()
}

async fn inspect(sb: &Sandbox, id: &str) -> Value {
    sb.sandbox_get(&format!("/_sandbox/orders/{id}")).await
}

#[tokio::test]
async fn confirm_partial_then_full_and_idempotent() {
    let sb = Sandbox::default().await;
    let token = sb.token().await;
    let all = sb.all_orders().await;
    let order = all
        .iter()
        .find(|o| {
            status_of(o) == "UNSHIPPED"
                && fulfilled_by(o) == "MERCHANT"
                && o["orderItems"].as_array().unwrap().len() >= 2
        })
        .unwrap();
    let id = order["orderId"].as_str().unwrap();
    let items = items_of(order);
    let before_update = order["lastUpdatedTime"].as_str().unwrap().to_string();

    let first = body("1", json!([{"orderItemId": items[0].0, "quantity": items[0].1}]));
    let r = sb.confirm(&token, id, &first).await;
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["x-amzn-RateLimit-Limit"], "2");
    assert!(r.text().await.unwrap().is_empty());

    let after = inspect(&sb, id).await;
    assert_eq!(status_of(&after), "PARTIALLY_SHIPPED");
    assert_ne!(after["lastUpdatedTime"].as_str().unwrap(), before_update);
    let package = after["packages"].as_array().unwrap().iter().find(|p| p["packageReferenceId"] == "1").unwrap();
    assert_eq!(package["carrier"], "UPS");
    assert_eq!(package["trackingNumber"], "1ZTEST1");
    assert_eq!(package["shippingService"], "UPS Ground");
    assert_eq!(package["shipTime"], "2026-01-15T10:00:00Z");
    assert_eq!(package["packageStatus"]["status"], "SHIPPED");
    assert_eq!(package["packageItems"][0]["orderItemId"], items[0].0.as_str());
    assert_eq!(package["packageItems"][0]["quantity"], items[0].1);
    assert_eq!(after["orderItems"][0]["fulfillment"]["quantityUnfulfilled"], 0);
    assert_eq!(after["orderItems"][0]["fulfillment"]["quantityFulfilled"], items[0].1);

    // Identical resend: 204, nothing double-counted.
    let r = sb.confirm(&token, id, &first).await;
    assert_eq!(r.status(), 204);
    let again = inspect(&sb, id).await;
    assert_eq!(again, after);

    // Shipping the same units again under a new reference is over-shipping.
    let r = sb.confirm(&token, id, &body("2", json!([{"orderItemId": items[0].0, "quantity": 1}]))).await;
    let (status, code, message) = error_code(r).await;
    assert_eq!((status, code.as_str()), (400, "InvalidInput"));
    assert!(message.contains("exceeds"), "{message}");

    // The rest goes out in package 2.
    let rest: Vec<Value> = items[1..].iter().map(|(id, q)| json!({"orderItemId": id, "quantity": q})).collect();
    let r = sb.confirm(&token, id, &body("2", Value::Array(rest))).await;
    assert_eq!(r.status(), 204);
    let shipped = inspect(&sb, id).await;
    assert_eq!(status_of(&shipped), "SHIPPED");
    assert!(items_of(&shipped).iter().all(|(_, unshipped)| *unshipped == 0));

    // A new package on a fully shipped order: Amazon finds no package to update; resending an old one
    // still is a 204, and so is editing it.
    let r = sb.confirm(&token, id, &body("3", json!([{"orderItemId": items[0].0, "quantity": 1}]))).await;
    let (status, code, message) = error_code(r).await;
    assert_eq!((status, code.as_str(), message.as_str()), (400, "InvalidInput", PACKAGE_TO_UPDATE_NOT_FOUND));
    assert_eq!(sb.confirm(&token, id, &first).await.status(), 204);
    let mut edited = first.clone();
    edited["packageDetail"]["trackingNumber"] = json!("1ZCORRECTED");
    assert_eq!(sb.confirm(&token, id, &edited).await.status(), 204);
    let package =
        |order: &Value| order["packages"].as_array().unwrap().iter().find(|p| p["packageReferenceId"] == "1").cloned();
    assert_eq!(package(&inspect(&sb, id).await).unwrap()["trackingNumber"], "1ZCORRECTED");

    let stats = sb.sandbox_get("/_sandbox/stats").await;
    assert_eq!(stats["confirmedPackages"], 2);
    assert_eq!(stats["calls"]["confirmShipment"]["204"], 5);
    sb.handle.shutdown().await;
}

#[tokio::test]
async fn confirm_validation_errors() {
    let mut config = SandboxConfig::default();
    config.rate_overrides.insert(Operation::ConfirmShipment, (1000.0, 1000.0));
    let sb = Sandbox::start(config).await;
    let token = sb.token().await;
    let all = sb.all_orders().await;
    let order = all.iter().find(|o| status_of(o) == "UNSHIPPED" && fulfilled_by(o) == "MERCHANT").unwrap();
    let id = order["orderId"].as_str().unwrap();
    let (item, quantity) = items_of(order)[0].clone();
    let good = body("1", json!([{"orderItemId": item, "quantity": 1}]));

    let with = |path: &[&str], value: Value| {
        let mut b = good.clone();
        let mut target = &mut b;
        for key in &path[..path.len() - 1] {
            target = &mut target[*key];
        }
        target[path[path.len() - 1]] = value;
        b
    };
    let without = |key: &str| {
        let mut b = good.clone();
        b["packageDetail"].as_object_mut().unwrap().remove(key);
        b
    };

    let cases: Vec<(Value, &str)> = vec![
        (with(&["marketplaceId"], json!("A2EUQ1WTGCTBG2")), "MarketplaceId"),
        (
            with(&["packageDetail", "packageReferenceId"], json!("0")),
            "PackageReferenceId must be a positive numeric value",
        ),
        (
            with(&["packageDetail", "packageReferenceId"], json!("PKG-1")),
            "PackageReferenceId must be a positive numeric value",
        ),
        (with(&["packageDetail", "packageReferenceId"], json!(1)), "invalid type [packageDetail.packageReferenceId]"),
        (with(&["packageDetail", "carrierCode"], json!("ups")), "carrierCode"),
        (with(&["packageDetail", "carrierCode"], json!("Other")), "CarrierName"),
        (with(&["packageDetail", "trackingNumber"], json!("")), "TrackingNumber"),
        (
            with(&["packageDetail", "orderItems"], json!([{"orderItemId": "00000000000000", "quantity": 1}])),
            "OrderItemId 00000000000000 is invalid",
        ),
        (with(&["packageDetail", "orderItems"], json!([{"orderItemId": item, "quantity": 0}])), "positive integer"),
        (with(&["packageDetail", "orderItems"], json!([{"orderItemId": item, "quantity": quantity + 1}])), "exceeds"),
        (without("trackingNumber"), "Missing required field: packageDetail.trackingNumber"),
        (without("carrierCode"), "Missing required field"),
        (without("orderItems"), "Missing required field"),
        (json!({"packageDetail": good["packageDetail"]}), "Missing required field: marketplaceId"),
    ];
    for (request, expected) in cases {
        let r = sb.confirm(&token, id, &request).await;
        assert_eq!(r.headers()["x-amzn-RateLimit-Limit"], "1000");
        let text = r.text().await.unwrap();
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["errors"][0]["code"], "InvalidInput", "{text}");
        assert_eq!(parsed["errors"][0]["details"], "", "{text}");
        assert!(parsed["errors"][0]["message"].as_str().unwrap().contains(expected), "expected '{expected}' in {text}");
    }

    // Malformed JSON.
    let r = sb
        .client
        .post(sb.url(&format!("/orders/v0/orders/{id}/shipmentConfirmation")))
        .header("x-amz-access-token", &token)
        .header("content-type", "application/json")
        .body("{\"marketplaceId\":")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await.0, 400);

    // Unknown order.
    let r = sb.confirm(&token, "999-0000000-0000000", &good).await;
    let (status, code, _) = error_code(r).await;
    assert_eq!((status, code.as_str()), (404, "NotFound"));

    // Order state: AFN, cancelled, shipped.
    for predicate in [
        (|o: &Value| fulfilled_by(o) == "AMAZON" && status_of(o) == "UNSHIPPED") as fn(&Value) -> bool,
        |o: &Value| fulfilled_by(o) == "MERCHANT" && status_of(o) == "CANCELLED",
        |o: &Value| fulfilled_by(o) == "MERCHANT" && status_of(o) == "SHIPPED",
        |o: &Value| fulfilled_by(o) == "MERCHANT" && status_of(o) == "PENDING",
    ] {
        let Some(other) = all.iter().find(|o| predicate(o)) else {
            continue;
        };
        let other_id = other["orderId"].as_str().unwrap();
        let item = other["orderItems"][0]["orderItemId"].as_str().unwrap();
        let r = sb.confirm(&token, other_id, &body("1", json!([{"orderItemId": item, "quantity": 1}]))).await;
        let (status, code, message) = error_code(r).await;
        assert_eq!((status, code.as_str()), (400, "InvalidInput"), "{other_id}: {message}");
    }

    // Other + carrierName is fine; nothing above changed the order.
    assert_eq!(inspect(&sb, id).await, *order);
    let mut other_carrier = good.clone();
    other_carrier["packageDetail"]["carrierCode"] = json!("Other");
    other_carrier["packageDetail"]["carrierName"] = json!("Pony Express Local");
    assert_eq!(sb.confirm(&token, id, &other_carrier).await.status(), 204);
    let updated = inspect(&sb, id).await;
    assert_eq!(updated["packages"].as_array().unwrap().last().unwrap()["carrier"], "Pony Express Local");
    sb.handle.shutdown().await;
}
