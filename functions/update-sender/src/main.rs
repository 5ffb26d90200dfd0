use std::sync::Arc;

use lambda_runtime::{Error, run, service_fn};
use sellerbridge_core::domain::clock::SystemClock;
use sellerbridge_core::runtime::{Adapters, Settings, aws_config};
use sellerbridge_core::webhook::keyring::KeyRing;
use update_sender::{SenderDeps, SenderSettings, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerbridge_core::telemetry::init();
    let settings = Settings::from_env()?;
    let adapters = Adapters::new(&aws_config().await, &settings, Arc::new(SystemClock));
    let spapi = adapters.spapi_client(&settings);
    let queue = Arc::new(adapters.queue.clone());
    let signing_keys =
        Arc::new(KeyRing::new(adapters.secrets.clone(), &settings.webhook_secret_id, adapters.clock.clone()));
    let deps = SenderDeps { adapters, queue, spapi, settings: SenderSettings::default(), signing_keys };
    run(service_fn(|event| handle(&deps, event))).await
}
