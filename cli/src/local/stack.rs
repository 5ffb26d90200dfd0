//! The local stand-in for a deployed stack: the table and queues created from the SAM template in
//! DynamoDB Local and moto, the secrets in moto, and the handlers' dependencies wired to them.
use std::sync::Arc;

use anyhow::{Context, Result};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use chrono::{DateTime, Utc};
use order_api::{ApiDeps, ApiKey};
use order_notifications::NotificationDeps;
use order_sync::{SyncDeps, SyncSettings};
use pii_redactor::RedactorDeps;
use sellerbridge_core::domain::clock::SharedClock;
use sellerbridge_core::domain::connection::{Connection, ConnectionOptions};
use sellerbridge_core::domain::ids::{ConnectionId, MarketplaceId, SellerId};
use sellerbridge_core::runtime::{Adapters, Clients, Settings};
use sellerbridge_core::spapi::{Endpoints, RateLimiter};
use sellerbridge_core::webhook::keyring::KeyRing;
use sellerbridge_core::webhook::signature::SigningKey;
use shipment_webhook::WebhookDeps;
use update_sender::{SenderDeps, SenderSettings};

use super::provision::{self, LocalQueues, StackDefinition};
use super::runner::SqsPoller;
use crate::ops::{ConnectionSecrets, create_secret_if_absent, new_connection, put_secret};

pub const REGION: &str = "us-east-1";

/// Where the local servers listen.
#[derive(Debug, Clone)]
pub struct LocalEndpoints {
    pub dynamodb: String,
    pub moto: String,
    pub sandbox: String,
}

impl LocalEndpoints {
    /// DynamoDB Local and moto from the variables `infra/local/stack.sh start` writes.
    pub fn from_env(sandbox: impl Into<String>) -> Result<Self> {
        let var = |name: &str| {
            std::env::var(name).with_context(|| format!("{name} is not set: start the local stack with `infra/local/stack.sh start` and source .local/stack.env"))
        };
        Ok(Self {
            dynamodb: var("SELLERBRIDGE_DYNAMODB_ENDPOINT")?,
            moto: var("SELLERBRIDGE_MOTO_ENDPOINT")?,
            sandbox: sandbox.into(),
        })
    }
}

impl LocalEndpoints {
    /// The AWS configuration, as environment variables, that points a process (a function binary, a
    /// shell running the CLI) at these servers with the static credentials they accept.
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", "local".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("AWS_ENDPOINT_URL_DYNAMODB", self.dynamodb.clone()),
            ("AWS_ENDPOINT_URL_SQS", self.moto.clone()),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", self.moto.clone()),
        ]
    }
}

/// A connection to create on the local stack.
#[derive(Debug, Clone)]
pub struct ConnectionSpec {
    pub id: ConnectionId,
    pub seller_id: SellerId,
    pub marketplace_id: MarketplaceId,
    pub refresh_token: String,
    pub options: ConnectionOptions,
    pub import_from: DateTime<Utc>,
}

pub struct LocalStack {
    pub name: String,
    pub definition: StackDefinition,
    pub settings: Settings,
    pub clients: Clients,
    pub adapters: Adapters,
    pub queues: LocalQueues,
    /// The webhook signing key as provisioned (tests sign their events with it).
    pub signing_key: SigningKey,
    /// The signing keys as the functions read them, rotations included.
    pub keys: Arc<KeyRing>,
}

impl LocalStack {
    /// Creates (idempotently) a stack named `name`: table, queues, app and webhook secrets.
    pub async fn provision(
        endpoints: &LocalEndpoints,
        name: &str,
        lwa_client_id: &str,
        lwa_client_secret: &str,
        clock: SharedClock,
    ) -> Result<Self> {
        let clients = Clients {
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk_config(&endpoints.dynamodb).await),
            sqs: aws_sdk_sqs::Client::new(&sdk_config(&endpoints.moto).await),
            secrets: aws_sdk_secretsmanager::Client::new(&sdk_config(&endpoints.moto).await),
        };
        let definition = StackDefinition::bundled()?;
        let table = format!("{name}-table");
        provision::create_table(&clients.dynamodb, &definition, &table).await?;
        let queues = provision::create_queues(&clients.sqs, &definition, &format!("{name}-")).await?;

        let lwa_secret_id = format!("{name}/lwa-app");
        let app = serde_json::json!({"client_id": lwa_client_id, "client_secret": lwa_client_secret});
        put_secret(&clients.secrets, &lwa_secret_id, &app.to_string()).await?;
        // Generated once: a stack provisioned again (`local serve` restarted) keeps the keys the store has.
        let webhook_secret_id = format!("{name}/webhook-signing");
        create_secret_if_absent(&clients.secrets, &webhook_secret_id, &random_key()).await?;
        let shopify_secret_id = format!("{name}/shopify-webhooks");
        create_secret_if_absent(&clients.secrets, &shopify_secret_id, &random_key()).await?;

        let sandbox = url::Url::parse(&endpoints.sandbox).context("sandbox URL")?;
        let settings = Settings {
            table,
            updates_queue_url: queues.updates_url.clone(),
            outbound_queue_url: queues
                .urls
                .get("OutboundQueue")
                .cloned()
                .context("the template has no OutboundQueue")?,
            lwa_secret_id,
            webhook_secret_id,
            shopify_secret_id: Some(shopify_secret_id),
            endpoints: Endpoints::all_at(&sandbox),
        };
        let adapters = Adapters::from_clients(clients.clone(), &settings, clock);
        let signing_key = SigningKey::new(adapters.secrets.string(&settings.webhook_secret_id).await?);
        let keys =
            Arc::new(KeyRing::new(adapters.secrets.clone(), &settings.webhook_secret_id, adapters.clock.clone()));
        Ok(Self { name: name.to_owned(), definition, settings, clients, adapters, queues, signing_key, keys })
    }

    /// Stores the connection and its refresh-token secret, as `sellerbridge connections add` does.
    pub async fn add_connection(&self, spec: ConnectionSpec) -> Result<Connection> {
        // Several local stacks share one moto: each keeps its own secrets, as deployed stacks do.
        let secrets = self.connection_secrets()?;
        let connection = new_connection(
            spec.id,
            spec.seller_id,
            spec.marketplace_id,
            None,
            spec.import_from,
            spec.options,
            &secrets,
        )?;
        secrets
            .put(
                &self.clients.secrets,
                &connection.refresh_token_secret_id,
                &serde_json::json!({"refresh_token": spec.refresh_token}).to_string(),
            )
            .await?;
        self.adapters.store.put_connection(&connection).await?;
        Ok(connection)
    }

    /// Where this stack's connections keep their refresh tokens.
    pub fn connection_secrets(&self) -> Result<ConnectionSecrets> {
        ConnectionSecrets::new(&format!("sellerbridge/{}/connections/", self.name))
    }

    /// The notifications consumer, parking what it cannot handle in the stack's notifications DLQ.
    pub async fn notification_deps(&self) -> Result<NotificationDeps> {
        Ok(NotificationDeps {
            adapters: self.adapters.clone(),
            spapi: self.adapters.spapi_client(&self.settings),
            dead_letters: self.adapters.dead_letters(self.queue_url("NotificationsDeadLetterQueue")?),
        })
    }

    /// The read endpoint, with a fresh API key stored as the stack stores it.
    pub async fn api_deps(&self) -> Result<(ApiDeps, String)> {
        let secret_id = format!("{}/read-api-key", self.name);
        create_secret_if_absent(&self.clients.secrets, &secret_id, &random_key()).await?;
        let key = self.adapters.secrets.string(&secret_id).await?;
        let api_key = ApiKey::new(key.clone());
        Ok((ApiDeps { store: self.adapters.store.clone(), api_key }, key))
    }

    /// The ARN of one of the template's queues, by logical id (what Amazon's destination is given).
    pub async fn queue_arn(&self, logical_id: &str) -> Result<String> {
        use aws_sdk_sqs::types::QueueAttributeName;
        let attributes = self
            .clients
            .sqs
            .get_queue_attributes()
            .queue_url(self.queue_url(logical_id)?)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await?
            .attributes
            .unwrap_or_default();
        attributes.get(&QueueAttributeName::QueueArn).cloned().with_context(|| format!("no ARN for {logical_id}"))
    }

    /// The local URL of one of the template's queues, by logical id.
    pub fn queue_url(&self, logical_id: &str) -> Result<String> {
        self.queues.urls.get(logical_id).cloned().with_context(|| format!("the template has no queue {logical_id}"))
    }

    pub async fn sync_deps(&self, settings: SyncSettings) -> Result<SyncDeps> {
        Ok(SyncDeps { adapters: self.adapters.clone(), spapi: self.adapters.spapi_client(&self.settings), settings })
    }

    pub fn webhook_deps(&self) -> WebhookDeps {
        WebhookDeps {
            store: self.adapters.store.clone(),
            queue: Arc::new(self.adapters.queue.clone()),
            outbound: Arc::new(self.adapters.outbound.clone()),
            keys: self.keys.clone(),
            shopify_keys: self
                .settings
                .shopify_secret_id
                .as_ref()
                .map(|id| Arc::new(KeyRing::new(self.adapters.secrets.clone(), id, self.adapters.clock.clone()))),
            clock: self.adapters.clock.clone(),
        }
    }

    /// The sender's dependencies; `limiter` replaces the shared DynamoDB bucket (tests use this to show
    /// what happens without it).
    pub async fn sender_deps(
        &self,
        settings: SenderSettings,
        limiter: Option<Arc<dyn RateLimiter>>,
    ) -> Result<SenderDeps> {
        let mut adapters = self.adapters.clone();
        if let Some(limiter) = limiter {
            adapters.limiter = limiter;
        }
        let spapi = adapters.spapi_client(&self.settings);
        Ok(SenderDeps {
            queue: Arc::new(adapters.queue.clone()),
            adapters,
            spapi,
            settings,
            signing_keys: self.keys.clone(),
        })
    }

    /// A poller for the updates queue with the template's visibility timeout, as the event source
    /// mapping would see it.
    pub fn updates_poller(&self) -> SqsPoller {
        self.poller(provision::UPDATES_QUEUE_ID).expect("the template has the updates queue")
    }

    /// A poller for one of the template's queues, by logical id, with its visibility timeout.
    pub fn poller(&self, logical_id: &str) -> Result<SqsPoller> {
        let visibility = self
            .definition
            .queue(logical_id)
            .and_then(|q| q.attributes.get("VisibilityTimeout"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(30);
        let mut poller = SqsPoller::new(self.clients.sqs.clone(), self.queue_url(logical_id)?);
        poller.visibility_timeout = std::time::Duration::from_secs(visibility);
        Ok(poller)
    }

    /// The sender's settings with the template's maxReceiveCount, so it knows which receive is the last.
    pub fn sender_settings(&self) -> SenderSettings {
        let max_receives = self
            .definition
            .queue(provision::UPDATES_QUEUE_ID)
            .and_then(|q| q.redrive.as_ref())
            .map(|r| r.max_receive_count);
        SenderSettings {
            max_receives: max_receives.unwrap_or(SenderSettings::default().max_receives),
            ..SenderSettings::default()
        }
    }

    pub fn redactor_deps(&self) -> RedactorDeps {
        RedactorDeps { store: self.adapters.store.clone(), clock: self.adapters.clock.clone() }
    }
}

fn random_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Static dummy credentials: the local servers accept any.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("local", "local", None, None, "sellerbridge-local"))
        .load()
        .await
}
