use std::sync::Arc;

use lambda_http::{Error, run, service_fn};
use order_api::{API_KEY_SECRET_ID, ApiDeps, ApiKey, handle};
use sellerbridge_core::domain::clock::SystemClock;
use sellerbridge_core::runtime::{Adapters, Settings, aws_config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerbridge_core::telemetry::init();
    let settings = Settings::from_env()?;
    let secret_id =
        std::env::var(API_KEY_SECRET_ID).map_err(|_| format!("environment variable {API_KEY_SECRET_ID} is not set"))?;
    let adapters = Adapters::new(&aws_config().await, &settings, Arc::new(SystemClock));
    let api_key = ApiKey::new(adapters.secrets.string(&secret_id).await?);
    let deps = ApiDeps { store: adapters.store, api_key };
    run(service_fn(|request| handle(&deps, request))).await
}
