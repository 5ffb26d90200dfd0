mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use serde_json::{Value, json};
use spapi_sandbox::SandboxConfig;

fn pinned(seed: u64) -> SandboxConfig {
    SandboxConfig { seed, start_time: Some("2026-03-10T12:34:56Z".parse().unwrap()), ..SandboxConfig::default() }
}

#[tokio::test]
async fn same_seed_same_orders() {
    let a = Sandbox::start(pinned(42)).await;
    let b = Sandbox::start(pinned(42)).await;
    let c = Sandbox::start(pinned(43)).await;
    let get = |sb: &Sandbox| {
        let url = sb.url("/_sandbox/orders");
        let client = sb.client.clone();
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let (ja, jb, jc) = (get(&a).await, get(&b).await, get(&c).await);
    assert_eq!(ja, jb, "byte-identical for the same seed");
    assert_ne!(ja, jc);
    let orders: Vec<Value> = serde_json::from_str(&ja).unwrap();
    assert_eq!(orders.len(), 200);
    // Unpinned sandboxes started in the same hour agree as well.
    let d = Sandbox::default().await;
    let e = Sandbox::default().await;
    let (jd, je) = (get(&d).await, get(&e).await);
    if jd != je {
        // Only possible when the two starts straddle an hour boundary.
        eprintln!("hour boundary crossed between starts");
    }
    for sb in [a, b, c, d, e] {
        sb.handle.shutdown().await;
    }
}

#[tokio::test]
async fn inspection_endpoints() {
    let sb = Sandbox::start(pinned(42)).await;
    let token = sb.token().await;
    let orders = sb.all_orders().await;
    let id = orders[0]["orderId"].as_str().unwrap().to_string();

    sb.get(&format!("/orders/2026-01-01/orders/{id}"), &token, &[]).await;
    sb.search(&token, &[("marketplaceIds", MARKETPLACE.into()), ("lastUpdatedAfter", "2026-03-01T00:00:00Z".into())])
        .await;
    let r = sb.client.get(sb.url("/orders/v0/orders")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "NotFound");

    let calls = sb.sandbox_get("/_sandbox/calls").await;
    let calls = calls.as_array().unwrap();
    let ops: Vec<&str> = calls.iter().map(|c| c["operation"].as_str().unwrap()).collect();
    assert_eq!(ops, ["lwaToken", "getOrder", "searchOrders", "unknown"]);
    let seqs: Vec<u64> = calls.iter().map(|c| c["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    assert_eq!(calls[0]["requestBody"]["client_secret"], "***");
    assert_eq!(calls[0]["requestBody"]["refresh_token"], "***");
    assert_eq!(calls[0]["requestBody"]["client_id"], "sandbox-client-id");
    assert_eq!(calls[1]["orderId"], id.as_str());
    assert_eq!(calls[1]["status"], 200);
    assert_eq!(calls[1]["method"], "GET");
    assert_eq!(calls[1]["requestBody"], Value::Null);
    assert!(calls[2]["query"].as_str().unwrap().contains("marketplaceIds=ATVPDKIKX0DER"));
    assert!(calls[2]["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(calls[3]["path"], "/orders/v0/orders");

    let stats = sb.sandbox_get("/_sandbox/stats").await;
    assert_eq!(stats["orders"], 200);
    let actionable = orders.iter().filter(|o| is_actionable_mfn(o)).count();
    assert_eq!(stats["actionableMfn"], actionable);
    assert!(actionable >= 110, "~55% actionable, got {actionable}");
    assert_eq!(stats["calls"]["lwaToken"]["200"], 1);
    assert_eq!(stats["calls"]["unknown"]["404"], 1);
    assert_eq!(stats["throttled"], 0);
    assert_eq!(stats["confirmedPackages"], 0);

    // PII canaries are present in the inspection view.
    let mfn = orders.iter().find(|o| is_actionable_mfn(o)).unwrap();
    assert!(mfn["buyer"]["buyerName"].is_string());
    assert!(mfn["recipient"]["deliveryAddress"]["phone"].as_str().unwrap().starts_with("+1-555-01"));

    // Touch: status change + lastUpdatedTime = now.
    let r = sb.sandbox_post(&format!("/_sandbox/orders/{id}/touch"), json!({"fulfillmentStatus": "CANCELLED"})).await;
    assert_eq!(r.status(), 200);
    let touched: Value = r.json().await.unwrap();
    assert_eq!(status_of(&touched), "CANCELLED");
    let clock = sb.sandbox_get("/_sandbox/clock").await;
    assert_eq!(&touched["lastUpdatedTime"].as_str().unwrap()[..16], &clock["now"].as_str().unwrap()[..16]);
    let r = sb.client.post(sb.url(&format!("/_sandbox/orders/{id}/touch"))).send().await.unwrap();
    assert_eq!(r.status(), 200, "body is optional");
    assert_eq!(sb.client.get(sb.url("/_sandbox/orders/nope")).send().await.unwrap().status(), 404);

    // Clock control.
    let r = sb.sandbox_post("/_sandbox/clock", json!({"now": "2026-04-01T00:00:00Z"})).await;
    let now: Value = r.json().await.unwrap();
    assert!(now["now"].as_str().unwrap().starts_with("2026-04-01T00:00:0"));
    // Inspection calls are not logged.
    assert_eq!(sb.sandbox_get("/_sandbox/calls").await.as_array().unwrap().len(), 4);
    sb.handle.shutdown().await;
}

#[test]
fn binary_prints_listening_line() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spapi-sandbox"))
        .args(["--port", "0", "--seed", "7", "--orders", "20", "--time-scale", "600", "--rate", "confirmShipment=2:10"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn binary");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").expect("first line").to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let stats: Value =
        runtime.block_on(async { reqwest::get(format!("{url}/_sandbox/stats")).await.unwrap().json().await.unwrap() });
    assert_eq!(stats["orders"], 20);
    child.kill().unwrap();
    child.wait().unwrap();
}
