use std::sync::Arc;

use lambda_http::{Error, run, service_fn};
use sellerbridge_core::domain::clock::SystemClock;
use sellerbridge_core::runtime::{Adapters, Settings, aws_config};
use sellerbridge_core::webhook::keyring::KeyRing;
use shipment_webhook::{WebhookDeps, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerbridge_core::telemetry::init();
    let settings = Settings::from_env()?;
    let adapters = Adapters::new(&aws_config().await, &settings, Arc::new(SystemClock));
    let key_ring =
        |secret_id: &str| Arc::new(KeyRing::new(adapters.secrets.clone(), secret_id, adapters.clock.clone()));
    let keys = key_ring(&settings.webhook_secret_id);
    let shopify_keys = settings.shopify_secret_id.as_deref().map(key_ring);
    let deps = WebhookDeps {
        store: adapters.store,
        queue: Arc::new(adapters.queue),
        outbound: Arc::new(adapters.outbound),
        keys,
        shopify_keys,
        clock: adapters.clock,
    };
    run(service_fn(|request| handle(&deps, request))).await
}
