#![allow(dead_code)]
//! Helpers shared by the integration tests.

use reqwest::{Client, Response};
use serde_json::Value;
use spapi_sandbox::{SandboxConfig, SandboxHandle, start};

pub const MARKETPLACE: &str = "ATVPDKIKX0DER";
pub const REFRESH_TOKEN: &str = "Atzr|sandbox-refresh-token";

pub struct Sandbox {
    pub handle: SandboxHandle,
    pub client: Client,
    pub base: String,
}

impl Sandbox {
    pub async fn start(config: SandboxConfig) -> Self {
        let handle = start(config).await.expect("start sandbox");
        let base = handle.base_url();
        Self { handle, client: Client::new(), base }
    }

    pub async fn default() -> Self {
        Self::start(SandboxConfig::default()).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The LWA token endpoint's answer to the seeded refresh token, whatever it is.
    pub async fn token_response(&self) -> Response {
        self.client
            .post(self.url("/auth/o2/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", REFRESH_TOKEN),
                ("client_id", "sandbox-client-id"),
                ("client_secret", "sandbox-client-secret"),
            ])
            .send()
            .await
            .unwrap()
    }

    pub async fn token(&self) -> String {
        let response = self.token_response().await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    pub async fn get(&self, path: &str, token: &str, query: &[(&str, String)]) -> Response {
        self.client.get(self.url(path)).header("x-amz-access-token", token).query(query).send().await.unwrap()
    }

    pub async fn search(&self, token: &str, query: &[(&str, String)]) -> Response {
        self.get("/orders/2026-01-01/orders", token, query).await
    }

    pub async fn confirm(&self, token: &str, order_id: &str, body: &Value) -> Response {
        self.client
            .post(self.url(&format!("/orders/v0/orders/{order_id}/shipmentConfirmation")))
            .header("x-amz-access-token", token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn sandbox_get(&self, path: &str) -> Value {
        self.client.get(self.url(path)).send().await.unwrap().json().await.unwrap()
    }

    pub async fn sandbox_post(&self, path: &str, body: Value) -> Response {
        self.client.post(self.url(path)).json(&body).send().await.unwrap()
    }

    /// All orders with every dataset, straight from the inspection API.
    pub async fn all_orders(&self) -> Vec<Value> {
        self.sandbox_get("/_sandbox/orders").await.as_array().unwrap().clone()
    }
}

pub fn status_of(order: &Value) -> &str {
    order["fulfillment"]["fulfillmentStatus"].as_str().unwrap_or("")
}

pub fn fulfilled_by(order: &Value) -> &str {
    order["fulfillment"]["fulfilledBy"].as_str().unwrap_or("")
}

pub fn is_actionable_mfn(order: &Value) -> bool {
    fulfilled_by(order) == "MERCHANT" && matches!(status_of(order), "UNSHIPPED" | "PARTIALLY_SHIPPED")
}

pub async fn error_code(response: Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["errors"][0]["code"].as_str().unwrap_or_default().to_string(),
        body["errors"][0]["message"].as_str().unwrap_or_default().to_string(),
    )
}
