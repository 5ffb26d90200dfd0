use std::sync::Arc;

use lambda_runtime::{Error, run, service_fn};
use pii_redactor::{RedactorDeps, handle};
use sellerbridge_core::domain::clock::SystemClock;
use sellerbridge_core::runtime::{Adapters, Settings, aws_config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerbridge_core::telemetry::init();
    let settings = Settings::from_env()?;
    let adapters = Adapters::new(&aws_config().await, &settings, Arc::new(SystemClock));
    let deps = RedactorDeps { store: adapters.store, clock: adapters.clock };
    run(service_fn(|event| handle(&deps, event))).await
}
