//! `sellerbridge local serve`: a stack running on this machine, to point a development store (or curl)
//! at and watch orders flow. The table, queues and secrets live in DynamoDB Local and moto; the real
//! handlers run as AWS would run them: the webhooks and the read endpoint behind one HTTP port on
//! 127.0.0.1 (each request an API Gateway event), the sync and the redactor on their schedules, and
//! pollers standing in for the queues' event source mappings. It calls the SP-API sandbox, or Amazon
//! with the operator's own app and seller credentials.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use order_api::ApiDeps;
use sellerbridge_core::domain::clock::SystemClock;
use sellerbridge_core::spapi::Endpoints;
use shipment_webhook::WebhookDeps;
use tokio::task::JoinHandle;

use super::demo::Progress;
use super::runner;
use super::stack::{ConnectionSpec, LocalEndpoints, LocalStack};
use crate::target;

/// Where calls to Amazon go.
#[derive(Debug, Clone)]
pub enum Amazon {
    /// The project's SP-API sandbox at this URL: the app and seller credentials are the sandbox's.
    Sandbox(String),
    /// Amazon's own hosts, with the operator's app credentials; sellers are added with
    /// `sellerbridge connections add` against the stack's variables (written to `env_file`).
    Live { lwa_client_id: String, lwa_client_secret: String },
}

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub dynamodb: String,
    pub moto: String,
    pub amazon: Amazon,
    /// The local stack's name: its table, queues and secrets are kept between runs.
    pub name: String,
    /// 0: any free port.
    pub port: u16,
    pub sync_every: Duration,
    pub redact_every: Duration,
    pub poll_every: Duration,
    /// Where the stack's SELLERBRIDGE_* variables are written, for the CLI's other commands.
    pub env_file: Option<std::path::PathBuf>,
}

/// A running local stack; stopped when dropped.
pub struct Serving {
    /// `http://127.0.0.1:<port>`: POST /webhooks/shipments and /webhooks/shopify, GET /orders,
    /// /orders/{id}, /inventory and /fulfillments.
    pub url: String,
    /// The key the store signs its webhooks with (and order events are signed with).
    pub signing_key: String,
    /// The read endpoint's x-api-key.
    pub api_key: String,
    pub stack: Arc<LocalStack>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

/// The connection the sandbox's credentials belong to, and its seller (as the sandbox's notifications
/// name it).
const SANDBOX_CONNECTION: &str = "us-main";
const SANDBOX_SELLER: &str = "A1SANDBOXSELLER";

/// Starts everything and returns at once; what happens is told to `progress`, a line per change.
pub async fn start(config: &ServeConfig, progress: Arc<dyn Progress>) -> Result<Serving> {
    let (sandbox_url, client_id, client_secret) = match &config.amazon {
        Amazon::Sandbox(url) => (url.clone(), "sandbox-client-id".to_owned(), "sandbox-client-secret".to_owned()),
        Amazon::Live { lwa_client_id, lwa_client_secret } => {
            // Unused: the stack's endpoints are Amazon's (below).
            ("http://127.0.0.1:9".to_owned(), lwa_client_id.clone(), lwa_client_secret.clone())
        }
    };
    let endpoints =
        LocalEndpoints { dynamodb: config.dynamodb.clone(), moto: config.moto.clone(), sandbox: sandbox_url };
    let mut stack =
        LocalStack::provision(&endpoints, &config.name, &client_id, &client_secret, Arc::new(SystemClock)).await?;
    match config.amazon {
        Amazon::Live { .. } => {
            stack.settings.endpoints =
                Endpoints { spapi_overrides: BTreeMap::new(), lwa_token: Endpoints::LWA_TOKEN.parse()? }
        }
        Amazon::Sandbox(_) => ensure_sandbox_connection(&stack).await?,
    }
    if let Some(path) = &config.env_file {
        write_env_file(&stack, &endpoints, path).await?;
        progress
            .line(&format!("[serve] the stack's variables: source {} (then any sellerbridge command)", path.display()));
    }
    let stack = Arc::new(stack);
    let (api, api_key) = stack.api_deps().await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await.context("binding the HTTP port")?;
    let url = format!("http://{}", listener.local_addr()?);
    let app = router(Arc::new(stack.webhook_deps()), Some(Arc::new(api)));
    let mut tasks = vec![tokio::spawn(async move {
        axum::serve(listener, app).await.ok();
    })];
    tasks.extend(schedules(&stack, config, progress.clone()).await?);
    progress.line(&format!("[serve] webhooks: POST {url}/webhooks/shipments and {url}/webhooks/shopify"));
    progress.line(&format!("[serve] read endpoint: GET {url}/orders (x-api-key: {api_key})"));
    let signing_key = stack.adapters.secrets.string(&stack.settings.webhook_secret_id).await?;
    Ok(Serving { url, signing_key, api_key, stack, tasks })
}

async fn ensure_sandbox_connection(stack: &LocalStack) -> Result<()> {
    use sellerbridge_core::domain::ids::{ConnectionId, MarketplaceId, SellerId};
    let id = ConnectionId::parse(SANDBOX_CONNECTION)?;
    if stack.adapters.store.get_connection(&id).await?.is_some() {
        return Ok(());
    }
    stack
        .add_connection(ConnectionSpec {
            id,
            seller_id: SellerId::parse(SANDBOX_SELLER)?,
            marketplace_id: MarketplaceId::parse("ATVPDKIKX0DER")?,
            refresh_token: "Atzr|sandbox-refresh-token".to_owned(),
            options: Default::default(),
            import_from: chrono::Utc::now() - chrono::Duration::days(30),
        })
        .await?;
    Ok(())
}

/// The variables the CLI reads without `--stack`, pointing at this stack and the local servers.
async fn write_env_file(stack: &LocalStack, endpoints: &LocalEndpoints, path: &std::path::Path) -> Result<()> {
    let mut variables: Vec<(&str, String)> = stack.settings.to_env();
    variables.extend([
        (target::CONNECTION_SECRET_PREFIX, stack.connection_secrets()?.prefix().to_owned()),
        (target::UPDATES_DLQ_URL, stack.queues.updates_dlq_url.clone()),
        (target::OUTBOUND_DLQ_URL, stack.queue_url("OutboundDeadLetterQueue")?),
        (target::NOTIFICATIONS_QUEUE_ARN, stack.queue_arn("NotificationsQueue").await?),
    ]);
    variables.extend(endpoints.aws_env());
    let quoted = |value: &str| format!("'{}'", value.replace('\'', r"'\''"));
    let lines: Vec<String> = variables.into_iter().map(|(k, v)| format!("export {k}={}", quoted(&v))).collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, lines.join("\n") + "\n").with_context(|| format!("writing {}", path.display()))
}

/// The sync and the redactor on their schedules, and a poller per queue, each telling what it did.
async fn schedules(
    stack: &Arc<LocalStack>,
    config: &ServeConfig,
    progress: Arc<dyn Progress>,
) -> Result<Vec<JoinHandle<()>>> {
    let sync = Arc::new(stack.sync_deps(Default::default()).await?);
    let redactor = Arc::new(stack.redactor_deps());
    let sender = Arc::new(stack.sender_deps(stack.sender_settings(), None).await?);
    let notifications = Arc::new(stack.notification_deps().await?);
    let updates = stack.updates_poller();
    let outbound = stack.poller("OutboundQueue")?;
    let amazon = stack.poller("NotificationsQueue")?;
    let timeout = Duration::from_secs(60);

    let mut tasks = Vec::new();
    let (every, said) = (config.sync_every, progress.clone());
    tasks.push(tokio::spawn(repeat(every, move || {
        let (sync, said) = (sync.clone(), said.clone());
        async move {
            match runner::tick_sync(&sync, Duration::from_secs(300)).await {
                Ok(report) => {
                    for c in report.connections.iter().filter(|c| c.inserted + c.updated > 0) {
                        said.line(&format!(
                            "[sync] {}: {} orders imported, {} updated",
                            c.connection_id, c.inserted, c.updated
                        ));
                    }
                }
                Err(e) => said.line(&format!("[sync] failed: {e:#}")),
            }
        }
    })));
    let (every, said) = (config.redact_every, progress.clone());
    tasks.push(tokio::spawn(repeat(every, move || {
        let (redactor, said) = (redactor.clone(), said.clone());
        async move {
            match runner::tick_redaction(&redactor, Duration::from_secs(300), false).await {
                Ok(report) if report.redacted > 0 => {
                    said.line(&format!("[redaction] {} orders redacted", report.redacted))
                }
                Ok(_) => {}
                Err(e) => said.line(&format!("[redaction] failed: {e:#}")),
            }
        }
    })));
    for (name, poller) in [("updates", updates), ("outbound", outbound)] {
        let (sender, said) = (sender.clone(), progress.clone());
        tasks.push(tokio::spawn(repeat(config.poll_every, move || {
            let (poller, sender, said) = (poller.clone(), sender.clone(), said.clone());
            async move { tell(&*said, name, poller.poll_once(&sender, timeout).await) }
        })));
    }
    let said = progress.clone();
    tasks.push(tokio::spawn(repeat(config.poll_every, move || {
        let (poller, notifications, said) = (amazon.clone(), notifications.clone(), said.clone());
        async move { tell(&*said, "notifications", poller.poll_notifications(&notifications, timeout).await) }
    })));
    Ok(tasks)
}

fn tell(progress: &dyn Progress, queue: &str, polled: Result<runner::PollStats>) {
    match polled {
        Ok(stats) if stats.received > 0 => {
            let handled = stats.received - stats.failed;
            let noun = if handled == 1 { "message" } else { "messages" };
            progress.line(&format!("[{queue}] {handled} {noun} handled, {} left for a retry", stats.failed))
        }
        Ok(_) => {}
        Err(e) => progress.line(&format!("[{queue}] failed: {e:#}")),
    }
}

/// Runs `tick` now and then every `every` (a tick that overruns delays the next, as Lambda's schedules
/// never overlap a function with reserved concurrency 1).
async fn repeat<F, Fut>(every: Duration, tick: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        tick().await;
    }
}

/// The HTTP API's routes: POSTs to the webhook function, GETs to the read endpoint (when there is one),
/// each request handed over as the API Gateway v2 event the deployed function receives.
pub fn router(webhook: Arc<WebhookDeps>, api: Option<Arc<ApiDeps>>) -> Router {
    Router::new().fallback(route).with_state((webhook, api))
}

type Routes = (Arc<WebhookDeps>, Option<Arc<ApiDeps>>);

async fn route(
    State((webhook, api)): State<Routes>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let headers: Vec<(&str, String)> =
        headers.iter().filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?.to_owned()))).collect();
    let answer = match (method, api) {
        (Method::POST, _) => runner::post_webhook(&webhook, uri.path(), &headers, &body).await,
        (Method::GET, Some(api)) => {
            let query: Vec<(String, String)> = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect();
            let query: Vec<(&str, &str)> = query.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
            runner::get_api(&api, uri.path(), &query, &headers).await
        }
        _ => return StatusCode::METHOD_NOT_ALLOWED.into_response(),
    };
    match answer {
        Ok((status, answer)) => {
            (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY), axum::Json(answer)).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, format!("{e:#}")).into_response(),
    }
}
