use std::sync::Arc;

use lambda_http::{Error, run, service_fn};
use sellerbridge_core::domain::clock::SystemClock;
use sellerbridge_core::runtime::{Adapters, Settings, aws_config};
use sellerbridge_core::webhook::signature::SigningKey;
use shipment_webhook::{WebhookDeps, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerbridge_core::telemetry::init();
    let settings = Settings::from_env()?;
    let adapters = Adapters::new(&aws_config().await, &settings, Arc::new(SystemClock));
    let signing_key = SigningKey::new(adapters.secrets.string(&settings.webhook_secret_id).await?);
    let deps =
        WebhookDeps { store: adapters.store, queue: Arc::new(adapters.queue), signing_key, clock: adapters.clock };
    run(service_fn(|request| handle(&deps, request))).await
}
