//! `spapi-sandbox` binary: runs the sandbox until killed.

use std::io::Write;

use clap::Parser;
use spapi_sandbox::{Operation, SandboxConfig, parse_rate_override, start};

#[derive(Debug, Parser)]
#[command(name = "spapi-sandbox", about = "Local stand-in for Login with Amazon + SP-API orders, feeds and FBA")]
struct Args {
    /// Port on 127.0.0.1 (0 = pick a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Number of seeded orders.
    #[arg(long, default_value_t = 200)]
    orders: usize,
    /// Speed-up factor for rate-limit refills.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Override a usage plan: OPERATION=RATE:BURST, e.g. confirmShipment=2:10 (repeatable).
    #[arg(long = "rate", value_parser = parse_rate_override)]
    rates: Vec<(Operation, (f64, f64))>,
    #[arg(long, default_value = "sandbox-client-id")]
    client_id: String,
    #[arg(long, default_value = "sandbox-client-secret")]
    client_secret: String,
    /// Accepted LWA refresh token (repeatable).
    #[arg(long = "refresh-token", default_values_t = ["Atzr|sandbox-refresh-token".to_string()])]
    refresh_tokens: Vec<String>,
    /// A marketplace orders are sold in (repeatable; all of one region).
    #[arg(long = "marketplace-id", default_values_t = [spapi_sandbox::DEFAULT_MARKETPLACE_ID.to_string()])]
    marketplace_ids: Vec<String>,
    /// Initial sandbox time (ISO 8601, Z); seeded timestamps derive from it.
    #[arg(long)]
    start_time: Option<String>,
    /// Life of an access token in sandbox seconds (Amazon: 3600; `expires_in` says 3600 regardless).
    #[arg(long, default_value_t = spapi_sandbox::ACCESS_TOKEN_EXPIRES_IN_SECS)]
    access_token_lifetime_secs: i64,
    /// Life of a searchOrders pagination token in sandbox seconds (Amazon: 24 hours).
    #[arg(long, default_value_t = 24 * 3600)]
    pagination_token_lifetime_secs: i64,
    /// How pagination tokens continue a search: keyset or offset (Amazon does not document which).
    #[arg(long, default_value = "keyset")]
    paging: spapi_sandbox::search::Paging,
    /// The selling partner the refresh tokens belong to (named in notifications).
    #[arg(long, default_value = spapi_sandbox::config::DEFAULT_SELLER_ID)]
    seller_id: String,
    /// Where SQS destinations live (moto): ORDER_CHANGE and FULFILLMENT_ORDER_STATUS notifications are sent there.
    #[arg(long)]
    sqs_endpoint: Option<String>,
    /// Divide both token lifetimes by --time-scale, as if tokens aged as fast as quotas refill.
    #[arg(long)]
    scale_token_lifetimes: bool,
    /// Sandbox seconds a feed stays IN_QUEUE.
    #[arg(long, default_value_t = 60)]
    feed_queue_secs: i64,
    /// Sandbox seconds a feed stays IN_PROGRESS before it is DONE or FATAL.
    #[arg(long, default_value_t = 120)]
    feed_processing_secs: i64,
    /// Gzip feed processing reports (getFeedDocument then says compressionAlgorithm GZIP).
    #[arg(long)]
    compress_feed_reports: bool,
    /// Number of seeded FBA inventory SKUs (FBA-SKU-0001…).
    #[arg(long, default_value_t = 120)]
    inventory_skus: usize,
    /// Life of a getInventorySummaries nextToken in sandbox seconds (Amazon: 30).
    #[arg(long, default_value_t = 30)]
    inventory_token_lifetime_secs: i64,
    /// Sandbox seconds after its receivedDate a fulfillment order turns Planning.
    #[arg(long, default_value_t = 600)]
    fulfillment_planning_secs: i64,
    /// Sandbox seconds after its receivedDate a fulfillment order turns Processing (its shipment PENDING).
    #[arg(long, default_value_t = 1800)]
    fulfillment_processing_secs: i64,
    /// Sandbox seconds after its receivedDate a fulfillment order's shipment leaves (Complete).
    #[arg(long, default_value_t = 7200)]
    fulfillment_complete_secs: i64,
}

impl Args {
    fn into_config(self) -> Result<SandboxConfig, String> {
        let start_time = self
            .start_time
            .as_deref()
            .map(|raw| spapi_sandbox::time::parse_utc(raw).ok_or_else(|| format!("invalid --start-time '{raw}'")))
            .transpose()?;
        if let Some(unknown) = self.marketplace_ids.iter().find(|id| spapi_sandbox::sites::Site::find(id).is_none()) {
            return Err(format!("unknown --marketplace-id '{unknown}'"));
        }
        let fulfillment = spapi_sandbox::fulfillment::FulfillmentSettings {
            planning_after_seconds: self.fulfillment_planning_secs,
            processing_after_seconds: self.fulfillment_processing_secs,
            complete_after_seconds: self.fulfillment_complete_secs,
        };
        fulfillment.check()?;
        let config = SandboxConfig {
            seed: self.seed,
            order_count: self.orders,
            time_scale: self.time_scale,
            client_id: self.client_id,
            client_secret: self.client_secret,
            refresh_tokens: self.refresh_tokens,
            marketplace_ids: self.marketplace_ids,
            rate_overrides: self.rates.into_iter().collect(),
            port: self.port,
            start_time,
            access_token_lifetime: chrono::Duration::seconds(self.access_token_lifetime_secs),
            pagination_token_lifetime: chrono::Duration::seconds(self.pagination_token_lifetime_secs),
            paging: self.paging,
            seller_id: self.seller_id,
            sqs_endpoint: self.sqs_endpoint,
            feeds: spapi_sandbox::feeds::FeedSettings {
                queue_seconds: self.feed_queue_secs,
                processing_seconds: self.feed_processing_secs,
                compress_reports: self.compress_feed_reports,
            },
            inventory_sku_count: self.inventory_skus,
            inventory_token_lifetime: chrono::Duration::seconds(self.inventory_token_lifetime_secs),
            fulfillment,
        };
        Ok(if self.scale_token_lifetimes { config.with_scaled_token_lifetimes() } else { config })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let config = Args::parse().into_config()?;
    let handle = start(config).await?;
    // Scripts wait for this exact first line to learn the port.
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {}", handle.base_url())?;
    stdout.flush()?;

    tokio::select! {
        result = shutdown_signal() => result?,
        result = handle.wait() => result?,
    }
    Ok(())
}

#[cfg(unix)]
async fn shutdown_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = term.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn shutdown_signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}
