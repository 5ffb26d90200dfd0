use std::sync::Arc;

use lambda_runtime::{Error, run, service_fn};
use order_notifications::{DEAD_LETTERS_URL, NotificationDeps, handle};
use sellerbridge_core::domain::clock::SystemClock;
use sellerbridge_core::runtime::{Adapters, Settings, aws_config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerbridge_core::telemetry::init();
    let settings = Settings::from_env()?;
    let dead_letters_url =
        std::env::var(DEAD_LETTERS_URL).map_err(|_| format!("environment variable {DEAD_LETTERS_URL} is not set"))?;
    let adapters = Adapters::new(&aws_config().await, &settings, Arc::new(SystemClock));
    let spapi = adapters.spapi_client(&settings);
    let dead_letters = adapters.dead_letters(dead_letters_url);
    let deps = NotificationDeps { adapters, spapi, dead_letters };
    run(service_fn(|event| handle(&deps, event))).await
}
