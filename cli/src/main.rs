use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use sellerbridge_cli::local::demo::{self, DemoConfig, Stdout};
use sellerbridge_cli::local::stack::LocalEndpoints;
use sellerbridge_cli::ops;
use sellerbridge_core::domain::carrier::{CarrierRule, CarrierRules, ShippingMethodRule};
use sellerbridge_core::domain::clock::SystemClock;
use sellerbridge_core::domain::connection::{
    ConnectionOptions, ConnectionState, DuplicateTrackingPolicy, OptionsChange, ProductIdentifier,
};
use sellerbridge_core::domain::fulfillment::{FulfillmentPolicy, ShippingSpeed};
use sellerbridge_core::domain::ids::{AmazonOrderId, ConnectionId, MarketplaceId, SellerId, Sku, StoreOrderId};
use sellerbridge_core::domain::marketplace::{Marketplace, Region};
use sellerbridge_core::domain::pii::RetentionRule;
use sellerbridge_core::domain::rate::Quota;
use sellerbridge_core::domain::tracking::TrackingRule;
use sellerbridge_core::runtime::{Adapters, Settings, aws_config};
use sellerbridge_core::store::AppCredentialsAlert;

/// The sellerbridge operator tool. Commands other than `local` work on the stack the environment
/// describes: the SELLERBRIDGE_* variables (the stack's outputs) and the usual AWS configuration.
#[derive(Parser)]
#[command(name = "sellerbridge", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    #[command(subcommand)]
    Connections(Connections),
    /// The app's own Login with Amazon credentials.
    #[command(subcommand)]
    App(App),
    /// Amazon's notifications to the stack.
    #[command(subcommand)]
    Notifications(Notifications),
    /// The key the store signs its webhooks with (and we sign order events with).
    #[command(subcommand)]
    Webhooks(Webhooks),
    /// Runs the sync now, from this machine, for one connection or all.
    SyncNow {
        #[arg(long)]
        connection: Option<ConnectionId>,
    },
    /// Shows an order's status, items and packages (no buyer PII).
    Order { order_id: AmazonOrderId },
    /// Shows a connection's FBA inventory as last read (fulfillable, inbound, reserved, unfulfillable).
    Inventory {
        #[arg(long)]
        connection: ConnectionId,
        /// Only this SKU.
        #[arg(long)]
        sku: Option<Sku>,
    },
    /// Shows the fulfillment order of a store order Amazon fulfils: state, reason, tracking (no address).
    Fulfillment {
        #[arg(long)]
        connection: ConnectionId,
        #[arg(long)]
        store_order: StoreOrderId,
    },
    /// Moves dead-lettered updates back to the updates queue to be tried again.
    Redrive {
        /// The dead-letter queue (default: the updates one, `SELLERBRIDGE_UPDATES_DLQ_URL`).
        #[arg(long)]
        dlq_url: Option<String>,
        /// The dead-letter queue is the outbound one (order events; `--dlq-url` required): its messages
        /// go back to the outbound queue.
        #[arg(long)]
        outbound: bool,
    },
    /// Lists the orders whose PII is due for redaction now, changing nothing.
    RedactionDryRun,
    /// Redacts buyer PII now, whatever the schedule says (Amazon can ask for deletion within days): of
    /// one order, or of every order of a connection.
    Redact {
        #[arg(long, conflicts_with = "connection", required_unless_present = "connection")]
        order: Option<AmazonOrderId>,
        #[arg(long)]
        connection: Option<ConnectionId>,
        /// Lists which fields of which orders would change (names, never values), changing nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Work with the local stack (DynamoDB Local, moto and the SP-API sandbox).
    #[command(subcommand)]
    Local(Local),
}

#[derive(Subcommand)]
enum App {
    /// Stores the app's current LWA client id and secret, read from standard input as
    /// {"client_id": ..., "client_secret": ...}, and clears the "credentials rejected" alert.
    SetCredentials,
}

#[derive(Subcommand)]
enum Webhooks {
    /// Makes a new signing key current; the one it replaces stays accepted until the next rotation,
    /// so the store can switch to the new key whenever suits it. Prints the new key once.
    RotateKey,
    /// Stores the Shopify app's secret, read from standard input, as the key Shopify's webhooks to
    /// /webhooks/shopify are verified with; the one it replaces stays accepted until the next change.
    SetShopifySecret,
}

#[derive(Subcommand)]
enum Notifications {
    /// Has Amazon send the connection's ORDER_CHANGE notifications (and FULFILLMENT_ORDER_STATUS, when Amazon
    /// fulfils some of its SKUs) to the stack's notifications queue
    /// (creates the SQS destination if needed, then the seller's subscription).
    Subscribe {
        #[arg(long)]
        connection: ConnectionId,
        /// The stack's NotificationsQueueArn output.
        #[arg(long, env = "SELLERBRIDGE_NOTIFICATIONS_QUEUE_ARN")]
        queue_arn: String,
    },
}

#[derive(Subcommand)]
enum Connections {
    /// Every connection with its region and state, and any stack-wide alert.
    List,
    /// One connection with all its options.
    Show {
        #[arg(long)]
        id: ConnectionId,
    },
    /// The connection's order fulfillment feeds: packages waiting for one, feeds open at Amazon, and
    /// those settled in the last 28 days.
    Feeds {
        #[arg(long)]
        id: ConnectionId,
    },
    /// Adds a connection (one seller account in one marketplace); its LWA refresh token is read from
    /// standard input.
    Add {
        #[arg(long)]
        id: ConnectionId,
        #[arg(long)]
        seller_id: SellerId,
        /// Amazon's marketplace id (amazon.com ATVPDKIKX0DER, amazon.ca A2EUQ1WTGCTBG2, amazon.co.uk
        /// A1F83G8C2ARO7P, amazon.de A1PA6795UKMFR9, amazon.co.jp A1VC38T7YXB528, ...).
        #[arg(long, default_value = "ATVPDKIKX0DER")]
        marketplace_id: MarketplaceId,
        /// NA, EU or FE: follows from the marketplace; if given, it must match.
        #[arg(long)]
        region: Option<Region>,
        /// Import orders updated since (default: 7 days ago).
        #[arg(long)]
        import_from: Option<DateTime<Utc>>,
        #[command(flatten)]
        options: OptionArgs,
    },
    /// Changes a connection's options; what is not named stays as it is.
    Set {
        #[arg(long)]
        id: ConnectionId,
        #[command(flatten)]
        options: OptionArgs,
    },
    /// Stores a new refresh token (from standard input) after the seller re-authorized, and reactivates.
    SetToken {
        #[arg(long)]
        id: ConnectionId,
    },
    /// Re-imports orders updated since `--from` on the next sync.
    ResetImportDate {
        #[arg(long)]
        id: ConnectionId,
        #[arg(long)]
        from: DateTime<Utc>,
    },
    /// Removes a connection: deletes its refresh token (no recovery window) and its record. Its orders
    /// stay; with `--redact-orders` (confirmed by typing the connection id, or `--yes`) their buyer PII
    /// is redacted now.
    Remove {
        #[arg(long)]
        id: ConnectionId,
        #[arg(long)]
        redact_orders: bool,
        /// Skips the confirmation of `--redact-orders`.
        #[arg(long)]
        yes: bool,
    },
}

/// A connection's options, as `connections add` and `connections set` take them.
#[derive(clap::Args)]
struct OptionArgs {
    /// The key the merchant's systems receive for each line: sku or asin.
    #[arg(long)]
    product_identifier: Option<ProductIdentifier>,
    /// Also import Amazon-fulfilled (FBA) orders, as shipped and without buyer data, for record keeping.
    #[arg(long)]
    import_amazon_fulfilled: Option<bool>,
    /// What a tracking number already used on another order does: warn or refuse.
    #[arg(long)]
    duplicate_tracking: Option<DuplicateTrackingPolicy>,
    /// STORE NAME=AMAZON CARRIER CODE (repeatable); replaces the connection's carrier rules.
    #[arg(long = "carrier", value_parser = parse_carrier_rule)]
    carriers: Vec<CarrierRule>,
    /// STORE METHOD=AMAZON SHIPPING METHOD (repeatable); replaces the connection's shipping method
    /// rules. Methods no rule names go to Amazon as the store wrote them.
    #[arg(long = "shipping-method", value_parser = parse_shipping_method_rule)]
    shipping_methods: Vec<ShippingMethodRule>,
    /// OPERATION=RATE:BURST, a quota Amazon granted beyond its default (repeatable).
    #[arg(long = "quota", value_parser = parse_quota_override)]
    quotas: Vec<(String, Quota)>,
    /// An operation whose quota override is removed (repeatable).
    #[arg(long = "clear-quota")]
    clear_quotas: Vec<String>,
    /// Minutes between scheduled syncs (0: every run of the schedule).
    #[arg(long)]
    sync_interval_minutes: Option<u32>,
    /// Where signed order.imported/order.updated/order.cancelled events are posted ("" stops them).
    #[arg(long)]
    outbound_url: Option<String>,
    /// Switches the connection off (false) or on again (true).
    #[arg(long)]
    enabled: Option<bool>,
    /// Days buyer PII of an unshipped order is kept after import (at most Amazon's 14).
    #[arg(long, value_parser = retention_days(RetentionRule::Unshipped))]
    pii_days_unshipped: Option<u32>,
    /// Days after delivery (tracked shipments; at most 30).
    #[arg(long, value_parser = retention_days(RetentionRule::AfterDelivery))]
    pii_days_after_delivery: Option<u32>,
    /// Days after the ship date (tracked shipments; at most 30).
    #[arg(long, value_parser = retention_days(RetentionRule::AfterShipDate))]
    pii_days_after_ship_date: Option<u32>,
    /// Days after the label was created (tracked shipments; at most 44).
    #[arg(long, value_parser = retention_days(RetentionRule::AfterLabel))]
    pii_days_after_label: Option<u32>,
    /// Days after an untracked shipment (at most 30).
    #[arg(long, value_parser = retention_days(RetentionRule::Untracked))]
    pii_days_untracked: Option<u32>,
    /// CARRIER[/METHOD]=tracked|untracked (repeatable; replaces the connection's tracking rules): whether
    /// that carrier's service reports tracking, before the built-in table. It picks the PII rule.
    #[arg(long = "tracking-rule", value_parser = parse_tracking_rule)]
    tracking_rules: Vec<TrackingRule>,
    /// Removes every tracking rule of the connection (the built-in table alone decides).
    #[arg(long, conflicts_with = "tracking_rules")]
    clear_tracking_rules: bool,
    /// A seller SKU Amazon fulfils (Multi-Channel Fulfillment; repeatable). It must be in Amazon's FBA
    /// inventory for the marketplace under exactly this SKU; its FNSKU is stored.
    #[arg(long = "fba-sku")]
    fba_skus: Vec<Sku>,
    /// A SKU Amazon no longer fulfils (repeatable).
    #[arg(long = "remove-fba-sku")]
    remove_fba_skus: Vec<Sku>,
    /// STORE RATE NAME=Standard|Expedited|Priority (repeatable): the Amazon shipping speed a store rate
    /// means, before the built-in names; "NAME=" forgets the name.
    #[arg(long = "shipping-speed", value_parser = parse_shipping_speed)]
    shipping_speeds: Vec<(String, Option<ShippingSpeed>)>,
    /// Ask Amazon for a fulfillment preview (fees, arrival, what cannot ship) before each fulfillment order.
    #[arg(long)]
    fulfillment_preview: Option<bool>,
    /// What Amazon does with units it cannot ship: FillOrKill (nothing ships), FillAll or FillAllAvailable.
    #[arg(long, value_parser = parse_fulfillment_policy)]
    fulfillment_policy: Option<FulfillmentPolicy>,
    /// Read the FBA inventory on each sync and post inventory.updated with the SKUs that changed.
    #[arg(long)]
    sync_inventory: Option<bool>,
}

/// `RATE NAME=SPEED`, e.g. `Next Day Air=Priority`; `RATE NAME=` forgets the name.
fn parse_shipping_speed(raw: &str) -> Result<(String, Option<ShippingSpeed>), String> {
    let (rate, speed) = raw.rsplit_once('=').ok_or_else(|| format!("expected RATE NAME=SPEED, got '{raw}'"))?;
    if rate.trim().is_empty() {
        return Err(format!("no rate name in '{raw}'"));
    }
    let speed = match speed.trim() {
        "" => None,
        name => Some(
            ShippingSpeed::parse(name)
                .ok_or_else(|| format!("unknown shipping speed '{name}' (expected Standard, Expedited or Priority)"))?,
        ),
    };
    Ok((rate.trim().to_owned(), speed))
}

fn parse_fulfillment_policy(raw: &str) -> Result<FulfillmentPolicy, String> {
    FulfillmentPolicy::parse(raw)
        .ok_or_else(|| format!("unknown fulfillment policy '{raw}' (expected FillOrKill, FillAll or FillAllAvailable)"))
}

/// `CARRIER[/METHOD]=tracked|untracked`, e.g. `Royal Mail/2nd Class=untracked`.
fn parse_tracking_rule(raw: &str) -> Result<TrackingRule, String> {
    let (service, verdict) =
        raw.rsplit_once('=').ok_or_else(|| format!("expected CARRIER[/METHOD]=tracked|untracked, got '{raw}'"))?;
    let tracked = match verdict.trim() {
        "tracked" => true,
        "untracked" => false,
        other => return Err(format!("expected tracked or untracked after '=', got '{other}'")),
    };
    let (carrier, method) = service.split_once('/').unwrap_or((service, ""));
    if carrier.trim().is_empty() {
        return Err(format!("no carrier in '{raw}'"));
    }
    Ok(TrackingRule { carrier: carrier.trim().to_owned(), shipping_method: method.trim().to_owned(), tracked })
}

/// A retention flag's value: whole days, no longer than Amazon allows for `rule`.
fn retention_days(rule: RetentionRule) -> impl Fn(&str) -> Result<u32, String> + Clone + Send + Sync + 'static {
    move |raw| {
        let days: u32 = raw.trim().parse().map_err(|_| format!("expected a whole number of days, got '{raw}'"))?;
        rule.checked(days).map_err(|e| e.to_string())
    }
}

impl OptionArgs {
    /// The change, and the SKUs to check against Amazon's inventory before they are marked.
    fn into_change(mut self) -> Result<(OptionsChange, Vec<Sku>)> {
        let fba_skus = std::mem::take(&mut self.fba_skus);
        Ok((self.change()?, fba_skus))
    }

    fn change(self) -> Result<OptionsChange> {
        let carrier_rules = match self.carriers {
            rules if rules.is_empty() => None,
            rules => Some(CarrierRules::new(rules)?),
        };
        Ok(OptionsChange {
            product_identifier: self.product_identifier,
            import_amazon_fulfilled: self.import_amazon_fulfilled,
            duplicate_tracking: self.duplicate_tracking,
            carrier_rules,
            shipping_methods: (!self.shipping_methods.is_empty()).then_some(self.shipping_methods),
            set_quotas: self.quotas,
            clear_quotas: self.clear_quotas,
            sync_interval_minutes: self.sync_interval_minutes.map(|minutes| (minutes > 0).then_some(minutes)),
            outbound_webhook_url: self.outbound_url.as_deref().map(ops::outbound_url).transpose()?,
            enabled: self.enabled,
            retention: [
                (RetentionRule::Unshipped, self.pii_days_unshipped),
                (RetentionRule::AfterDelivery, self.pii_days_after_delivery),
                (RetentionRule::AfterShipDate, self.pii_days_after_ship_date),
                (RetentionRule::AfterLabel, self.pii_days_after_label),
                (RetentionRule::Untracked, self.pii_days_untracked),
            ]
            .into_iter()
            .filter_map(|(rule, days)| Some((rule, days?)))
            .collect(),
            tracking_rules: match (self.clear_tracking_rules, self.tracking_rules) {
                (true, _) => Some(Vec::new()),
                (false, rules) if rules.is_empty() => None,
                (false, rules) => Some(rules),
            },
            // Marked once Amazon's inventory confirms them ([`ops::mark_amazon_fulfilled`]).
            mark_amazon_fulfilled: Vec::new(),
            unmark_amazon_fulfilled: self.remove_fba_skus,
            shipping_speeds: self.shipping_speeds,
            fulfillment_preview: self.fulfillment_preview,
            fulfillment_policy: self.fulfillment_policy,
            sync_inventory: self.sync_inventory,
        })
    }
}

fn parse_quota_override(raw: &str) -> Result<(String, Quota), String> {
    ops::parse_quota_override(raw).map_err(|e| format!("{e:#}"))
}

fn parse_carrier_rule(raw: &str) -> Result<CarrierRule, String> {
    ops::parse_carrier_rule(raw).map_err(|e| format!("{e:#}"))
}

fn parse_shipping_method_rule(raw: &str) -> Result<ShippingMethodRule, String> {
    let (store, amazon) =
        raw.split_once('=').ok_or_else(|| format!("expected STORE METHOD=AMAZON METHOD, got '{raw}'"))?;
    ShippingMethodRule::new(store, amazon).map_err(|e| e.to_string())
}

#[derive(Subcommand)]
enum Local {
    /// Runs the end-to-end demo through the real handlers and prints one summary line.
    Demo {
        #[arg(long)]
        sandbox_url: String,
        /// The sandbox's --time-scale.
        #[arg(long, default_value_t = 2.0)]
        time_scale: f64,
        #[arg(long, default_value = "sandbox-client-id")]
        lwa_client_id: String,
        #[arg(long, default_value = "sandbox-client-secret")]
        lwa_client_secret: String,
        #[arg(long, default_value = "Atzr|sandbox-refresh-token")]
        refresh_token: String,
        /// Where the handlers' JSON logs go.
        #[arg(long, default_value = ".local/logs/demo-handlers.log")]
        log_file: PathBuf,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Local(Local::Demo {
            sandbox_url,
            time_scale,
            lwa_client_id,
            lwa_client_secret,
            refresh_token,
            log_file,
        }) => {
            if let Some(dir) = log_file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let file = std::fs::File::create(&log_file)?;
            tracing::subscriber::set_global_default(sellerbridge_core::telemetry::subscriber(std::sync::Mutex::new(
                file,
            )))?;
            println!("[demo] handler logs: {}", log_file.display());
            let config = DemoConfig {
                endpoints: LocalEndpoints::from_env(sandbox_url)?,
                time_scale,
                lwa_client_id,
                lwa_client_secret,
                refresh_token,
                sender_concurrency: 2,
            };
            let summary = demo::run(&config, &Stdout).await?;
            println!("{summary}");
            Ok(())
        }
        command => operate(command).await,
    }
}

async fn operate(command: Command) -> Result<()> {
    sellerbridge_core::telemetry::init();
    let settings = Settings::from_env()?;
    let sdk = aws_config().await;
    let adapters = Adapters::new(&sdk, &settings, Arc::new(SystemClock));
    let store = &adapters.store;
    let print = |value: serde_json::Value| println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
    match command {
        Command::Connections(Connections::List) => {
            if let Some(alert) = store.app_credentials_alert().await? {
                println!("ALERT since {}: {}\n\t{}", alert.since, alert.detail, AppCredentialsAlert::HINT);
            }
            for c in store.list_connections().await? {
                let region = Marketplace::find(&c.marketplace_id).map_or("?".into(), |m| m.region.to_string());
                println!(
                    "{}\t{}\t{}\t{}\t{:?}\timport from {}",
                    c.id, c.seller_id, c.marketplace_id, region, c.state, c.import_from
                );
                if matches!(c.state, ConnectionState::NeedsReauthorization { .. }) {
                    println!("\t{}", c.reauthorization_hint());
                }
            }
        }
        Command::Connections(Connections::Show { id }) => {
            let connection = store.get_connection(&id).await?.with_context(|| format!("no connection {id}"))?;
            print(serde_json::to_value(connection)?);
        }
        Command::Connections(Connections::Feeds { id }) => print(ops::feeds_summary(store, &id).await?),
        Command::Connections(Connections::Add { id, seller_id, marketplace_id, region, import_from, options }) => {
            let import_from = import_from.unwrap_or_else(|| Utc::now() - chrono::Duration::days(7));
            let (change, fba_skus) = options.into_change()?;
            let connection =
                ops::new_connection(id, seller_id, marketplace_id, region, import_from, ConnectionOptions::default())?
                    .changed(&change, Utc::now());
            ops::put_secret(
                &aws_sdk_secretsmanager::Client::new(&sdk),
                &connection.refresh_token_secret_id,
                &refresh_token_json()?,
            )
            .await?;
            store.put_connection(&connection).await?;
            println!("connection {} added", connection.id);
            if !fba_skus.is_empty() {
                let change = ops::mark_amazon_fulfilled(&adapters, &settings, &connection, &fba_skus).await?;
                ops::change_connection(store, &connection.id, &change, Utc::now()).await?;
                println!("{} SKUs marked Amazon-fulfilled", fba_skus.len());
            }
        }
        Command::Connections(Connections::Set { id, options }) => {
            let (mut change, fba_skus) = options.into_change()?;
            if !fba_skus.is_empty() {
                let connection = store.get_connection(&id).await?.with_context(|| format!("no connection {id}"))?;
                let marked = ops::mark_amazon_fulfilled(&adapters, &settings, &connection, &fba_skus).await?;
                change.mark_amazon_fulfilled = marked.mark_amazon_fulfilled;
            }
            let connection = ops::change_connection(store, &id, &change, Utc::now()).await?;
            print(serde_json::to_value(connection)?);
        }
        Command::Inventory { connection, sku } => {
            print(ops::inventory_summary(store, &connection, sku.as_ref()).await?)
        }
        Command::Fulfillment { connection, store_order } => {
            print(ops::fulfillment_summary(store, &connection, &store_order).await?)
        }
        Command::Notifications(Notifications::Subscribe { connection, queue_arn }) => {
            let spapi = adapters.spapi_client(&settings);
            print(serde_json::to_value(
                ops::subscribe_order_changes(&adapters, &spapi, &connection, &queue_arn).await?,
            )?);
        }
        Command::Webhooks(Webhooks::RotateKey) => {
            let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
            let key = ops::rotate_webhook_key(&secrets, &settings.webhook_secret_id).await?;
            println!("{key}");
            eprintln!(
                "the new key is current: give it to the store; webhooks signed with the previous key are accepted \
                 until the next rotation"
            );
        }
        Command::Webhooks(Webhooks::SetShopifySecret) => {
            let secret_id = settings
                .shopify_secret_id
                .as_deref()
                .context("SELLERBRIDGE_SHOPIFY_SECRET_ID is not set (the stack's ShopifyWebhookSecretArn output)")?;
            let mut secret = String::new();
            std::io::stdin().read_to_string(&mut secret).context("reading the Shopify secret from standard input")?;
            anyhow::ensure!(!secret.trim().is_empty(), "the Shopify secret read from standard input is empty");
            ops::put_secret(&aws_sdk_secretsmanager::Client::new(&sdk), secret_id, secret.trim()).await?;
            println!(
                "Shopify's webhooks are verified with the new secret (and the previous one until the next change)"
            );
        }
        Command::App(App::SetCredentials) => {
            let mut credentials = String::new();
            std::io::stdin().read_to_string(&mut credentials).context("reading the credentials from standard input")?;
            let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
            ops::set_app_credentials(store, &secrets, &settings.lwa_secret_id, credentials.trim()).await?;
            println!("the app's credentials are stored; every connection uses them from its next run");
        }
        Command::Connections(Connections::SetToken { id }) => {
            let secret_id = ops::refresh_token_secret_id(&id);
            ops::put_secret(&aws_sdk_secretsmanager::Client::new(&sdk), &secret_id, &refresh_token_json()?).await?;
            ops::reactivate_with_new_credentials(store, &id).await?;
            println!("connection {id} has a new refresh token and is active again");
        }
        Command::Redact { order, connection, dry_run } => {
            let target = match (order, connection) {
                (Some(order), _) => ops::RedactTarget::Order(order),
                (None, Some(connection)) => ops::RedactTarget::Connection(connection),
                (None, None) => anyhow::bail!("name --order or --connection"),
            };
            print(ops::redact_now(store, &target, dry_run, Utc::now()).await?);
        }
        Command::Connections(Connections::Remove { id, redact_orders, yes }) => {
            if redact_orders && !yes {
                eprintln!("This redacts the buyer data of every order of {id} now. Type the connection id to confirm:");
                let mut typed = String::new();
                std::io::stdin().read_line(&mut typed)?;
                anyhow::ensure!(typed.trim() == id.as_str(), "not confirmed: nothing was removed");
            }
            let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
            print(ops::remove_connection(store, &secrets, &id, redact_orders, Utc::now()).await?);
        }
        Command::Connections(Connections::ResetImportDate { id, from }) => {
            ops::reset_import_date(store, &id, from).await?;
            println!("connection {id} will re-import orders updated since {from} on its next sync");
        }
        Command::SyncNow { connection } => {
            let spapi = adapters.spapi_client(&settings);
            let deps = order_sync::SyncDeps { adapters: adapters.clone(), spapi, settings: Default::default() };
            let stop_at = tokio::time::Instant::now() + std::time::Duration::from_secs(600);
            let report = order_sync::sync(&deps, connection.as_ref(), stop_at).await?;
            print(serde_json::to_value(report)?);
        }
        Command::Order { order_id } => print(ops::order_summary(store, &order_id).await?),
        Command::Redrive { dlq_url, outbound } => {
            let (dlq_url, target) = match (dlq_url, outbound) {
                (Some(dlq), true) => (dlq, ops::Redrive::OrderEvents(&settings.outbound_queue_url)),
                (None, true) => anyhow::bail!("--outbound needs --dlq-url (the OutboundDeadLetterQueueUrl output)"),
                (dlq, false) => (
                    dlq.or_else(|| std::env::var("SELLERBRIDGE_UPDATES_DLQ_URL").ok())
                        .context("--dlq-url or SELLERBRIDGE_UPDATES_DLQ_URL names the updates dead-letter queue")?,
                    ops::Redrive::Confirmations(&settings.updates_queue_url),
                ),
            };
            let moved = ops::redrive_dead_letters(store, &adapters_sqs(&sdk), &dlq_url, target).await?;
            println!("{moved} updates moved back to the queue");
        }
        Command::RedactionDryRun => {
            let deps = pii_redactor::RedactorDeps { store: store.clone(), clock: adapters.clock.clone() };
            print(serde_json::to_value(ops::redaction_dry_run(&deps).await?)?);
        }
        Command::Local(_) => unreachable!("handled in main"),
    }
    Ok(())
}

fn adapters_sqs(sdk: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(sdk)
}

/// The refresh token from standard input (never an argument: it would land in the shell history).
fn refresh_token_json() -> Result<String> {
    let mut token = String::new();
    std::io::stdin().read_to_string(&mut token).context("reading the refresh token from standard input")?;
    let token = token.trim();
    anyhow::ensure!(token.starts_with("Atzr|"), "standard input does not hold an LWA refresh token (Atzr|...)");
    Ok(serde_json::json!({"refresh_token": token}).to_string())
}
