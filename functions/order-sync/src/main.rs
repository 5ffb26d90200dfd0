use std::sync::Arc;

use lambda_runtime::{Error, run, service_fn};
use order_sync::{SyncDeps, SyncSettings, handle};
use sellerbridge_core::domain::clock::SystemClock;
use sellerbridge_core::runtime::{Adapters, Settings, aws_config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerbridge_core::telemetry::init();
    let settings = Settings::from_env()?;
    let adapters = Adapters::new(&aws_config().await, &settings, Arc::new(SystemClock));
    let spapi = adapters.spapi_client(&settings);
    let deps = SyncDeps { adapters, spapi, settings: SyncSettings::default() };
    run(service_fn(|event| handle(&deps, event))).await
}
