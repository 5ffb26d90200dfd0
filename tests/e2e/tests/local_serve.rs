//! `sellerbridge local serve`: a development store talks to one localhost port over real HTTP, and the
//! schedules and pollers running behind it carry orders in and confirmations out to the sandbox.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sellerbridge_cli::local::demo::{Progress, SandboxInspector, packages_for, shipment_event};
use sellerbridge_cli::local::serve::{self, Amazon, ServeConfig};
use sellerbridge_core::domain::ids::AmazonOrderId;
use sellerbridge_core::webhook::signature::SIGNATURE_HEADER;
use sellerbridge_e2e::runtime_api::{Profile, binary};
use sellerbridge_e2e::{SandboxThread, actionable, sandbox};

/// The lines `serve` tells, as the terminal would show them.
#[derive(Default)]
struct Told(Mutex<Vec<String>>);

impl Progress for Told {
    fn line(&self, text: &str) {
        self.0.lock().unwrap().push(text.to_owned());
    }
}

impl Told {
    fn any(&self, prefix: &str) -> bool {
        self.0.lock().unwrap().iter().any(|line| line.starts_with(prefix))
    }
}

/// Waits (up to a minute) until `done` holds.
async fn eventually<F, Fut>(what: &str, done: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..600 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within a minute");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_pointed_at_the_local_port_sees_orders_arrive_and_its_shipments_confirmed_at_amazon() {
    let sandbox = SandboxThread::start(sandbox(10, 31, 1.0));
    let env_file = std::env::temp_dir().join(format!("serve-{}.env", uuid::Uuid::new_v4().simple()));
    let config = ServeConfig {
        dynamodb: std::env::var("SELLERBRIDGE_DYNAMODB_ENDPOINT").expect("run with `make test`"),
        moto: std::env::var("SELLERBRIDGE_MOTO_ENDPOINT").expect("run with `make test`"),
        amazon: Amazon::Sandbox(sandbox.url.clone()),
        name: format!("serve-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        port: 0,
        sync_every: Duration::from_secs(1),
        redact_every: Duration::from_secs(3600),
        poll_every: Duration::from_millis(200),
        env_file: Some(env_file.clone()),
    };
    let told = Arc::new(Told::default());
    let serving = serve::start(&config, told.clone()).await.unwrap();
    let http = reqwest::Client::new();

    // The schedule imports the sandbox's orders; the read endpoint lists them on the port.
    let to_ship = actionable(&SandboxInspector::new(&sandbox.url).orders().await.unwrap());
    let listed = || async {
        let answer = http
            .get(format!("{}/orders?connection=us-main&limit=100", serving.url))
            .header("x-api-key", &serving.api_key)
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = answer.json().await.unwrap();
        body["orders"].as_array().map_or(0, Vec::len) == to_ship.len()
    };
    eventually("the import", listed).await;
    eventually("the sync telling it", || async { told.any("[sync] us-main:") }).await;

    // The store ships an order through the webhook port; the updates poller confirms it at Amazon.
    let order_id = AmazonOrderId::parse(to_ship.iter().next().unwrap()).unwrap();
    let order = serving.stack.adapters.store.get_order(&order_id).await.unwrap().unwrap().value;
    let lines = &packages_for(&order)[0];
    let (body, signature) = shipment_event(&serving.stack.signing_key, &order, 1, lines, chrono::Utc::now());
    let answer = http
        .post(format!("{}/webhooks/shipments", serving.url))
        .header(SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202, "{}", answer.text().await.unwrap());
    let inspector = SandboxInspector::new(&sandbox.url);
    let confirmed = || async {
        inspector.confirmed_packages().await.unwrap().iter().any(|(order, _, _)| order == order_id.as_str())
    };
    eventually("the confirmation at Amazon", confirmed).await;
    eventually("the poller telling it", || async { told.any("[updates] 1 message handled") }).await;

    // The other commands find the stack through the variables it wrote.
    let script = format!(
        "set -e; . '{}'; exec '{}' order {order_id}",
        env_file.display(),
        binary("sellerbridge", Profile::Debug).display()
    );
    let shown = std::process::Command::new("bash").args(["-c", &script]).env_clear().output().unwrap();
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["packages"].as_array().unwrap().len(), 1, "{shown}");
    std::fs::remove_file(env_file).unwrap();
}
