//! The `sellerbridge` command line: every command and flag, parsed into plain values (`main.rs` carries
//! them out). A library module, so the tests can parse every command the docs show.
use std::path::PathBuf;

use anyhow::Result;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use sellerbridge_core::domain::carrier::{CarrierRule, CarrierRules, ShippingMethodRule};
use sellerbridge_core::domain::connection::{DuplicateTrackingPolicy, OptionsChange, ProductIdentifier};
use sellerbridge_core::domain::fulfillment::{FulfillmentPolicy, ShippingSpeed};
use sellerbridge_core::domain::ids::{
    AmazonOrderId, ConnectionId, MarketplaceId, PackageId, SellerId, Sku, StoreOrderId,
};
use sellerbridge_core::domain::marketplace::Region;
use sellerbridge_core::domain::pii::RetentionRule;
use sellerbridge_core::domain::rate::Quota;
use sellerbridge_core::domain::tracking::TrackingRule;

use crate::ops;

/// The sellerbridge operator tool. Commands other than `local` work on a deployed stack named with
/// `--stack` (its CloudFormation outputs name everything else), or, without it, on the stack the
/// SELLERBRIDGE_* variables describe (`make serve` writes those of its local stack to .local/serve.env).
#[derive(Parser)]
#[command(name = "sellerbridge", version)]
pub struct Cli {
    /// The deployed stack's name (as given to `sam deploy --stack-name` or the CDK app). Without it, the
    /// SELLERBRIDGE_* variables describe the stack (`make serve` writes them to .local/serve.env).
    #[arg(long, global = true, env = "SELLERBRIDGE_STACK")]
    pub stack: Option<String>,
    /// The AWS profile to use (default: the usual AWS configuration: AWS_PROFILE, the environment, SSO).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// The AWS region the stack is deployed to (default: AWS_REGION or the profile's region).
    #[arg(long, global = true)]
    pub aws_region: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per run: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum Command {
    /// The seller accounts the stack serves: add, list, show, set options, re-authorize, remove.
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
    /// Runs the sync now, for one connection or all: invokes the deployed sync function and prints its
    /// report.
    SyncNow {
        #[arg(long)]
        connection: Option<ConnectionId>,
        /// Runs the sync on this machine instead (with this CLI's code and the operator's AWS identity).
        #[arg(long)]
        here: bool,
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
    /// Packages Amazon refused or that were dead-lettered.
    #[command(subcommand)]
    Shipments(Shipments),
    /// Moves dead-lettered updates back to the updates queue to be tried again.
    Redrive {
        /// The dead-letter queue (default: the stack's UpdatesDeadLetterQueueUrl, or with `--outbound` its
        /// OutboundDeadLetterQueueUrl).
        #[arg(long)]
        dlq_url: Option<String>,
        /// The dead-letter queue is the outbound one (order events): its messages go back to the outbound
        /// queue.
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
pub enum Shipments {
    /// Sends an order's failed or dead-lettered packages to Amazon again, once their cause is fixed (a
    /// carrier rule, the order at Amazon).
    Retry {
        #[arg(long)]
        order: AmazonOrderId,
        /// Only this package.
        #[arg(long)]
        package: Option<PackageId>,
    },
}

#[derive(Subcommand)]
pub enum App {
    /// Stores the app's current LWA client id and secret, read from standard input as
    /// {"client_id": ..., "client_secret": ...}, and clears the "credentials rejected" alert.
    SetCredentials,
}

#[derive(Subcommand)]
pub enum Webhooks {
    /// Makes a new signing key current; the one it replaces stays accepted until the next rotation,
    /// so the store can switch to the new key whenever suits it. Prints the new key once.
    RotateKey,
    /// Stores the Shopify app's secret, read from standard input, as the key Shopify's webhooks to
    /// /webhooks/shopify are verified with; the one it replaces stays accepted until the next change.
    SetShopifySecret,
}

#[derive(Subcommand)]
pub enum Notifications {
    /// Has Amazon send the connection's ORDER_CHANGE notifications (and FULFILLMENT_ORDER_STATUS, when Amazon
    /// fulfils some of its SKUs) to the stack's notifications queue
    /// (creates the SQS destination if needed, then the seller's subscription).
    Subscribe {
        #[arg(long)]
        connection: ConnectionId,
        /// The queue Amazon sends to (default: the stack's NotificationsQueueArn output).
        #[arg(long)]
        queue_arn: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum Connections {
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
    /// Once, after updating a stack deployed before connection secrets were scoped to their stack: moves
    /// each connection's refresh token from sellerbridge/connections/ under the stack's own prefix (the
    /// only one its functions may read now), within AWS, and deletes the old secret.
    ScopeSecrets,
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
pub struct OptionArgs {
    /// The key the merchant's systems receive for each line: sku or asin.
    #[arg(long)]
    pub product_identifier: Option<ProductIdentifier>,
    /// Also import Amazon-fulfilled (FBA) orders, as shipped and without buyer data, for record keeping.
    #[arg(long)]
    pub import_amazon_fulfilled: Option<bool>,
    /// What a tracking number already used on another order does: warn or refuse.
    #[arg(long)]
    pub duplicate_tracking: Option<DuplicateTrackingPolicy>,
    /// STORE NAME=AMAZON CARRIER CODE (repeatable); replaces the connection's carrier rules.
    #[arg(long = "carrier", value_parser = parse_carrier_rule)]
    pub carriers: Vec<CarrierRule>,
    /// STORE METHOD=AMAZON SHIPPING METHOD (repeatable); replaces the connection's shipping method
    /// rules. Methods no rule names go to Amazon as the store wrote them.
    #[arg(long = "shipping-method", value_parser = parse_shipping_method_rule)]
    pub shipping_methods: Vec<ShippingMethodRule>,
    /// OPERATION=RATE:BURST, a quota Amazon granted beyond its default (repeatable).
    #[arg(long = "quota", value_parser = parse_quota_override)]
    pub quotas: Vec<(String, Quota)>,
    /// An operation whose quota override is removed (repeatable).
    #[arg(long = "clear-quota")]
    pub clear_quotas: Vec<String>,
    /// Minutes between scheduled syncs (0: every run of the schedule).
    #[arg(long)]
    pub sync_interval_minutes: Option<u32>,
    /// Where signed order.imported/order.updated/order.cancelled events are posted ("" stops them).
    #[arg(long)]
    pub outbound_url: Option<String>,
    /// Switches the connection off (false) or on again (true).
    #[arg(long)]
    pub enabled: Option<bool>,
    /// Days buyer PII of an unshipped order is kept after import (at most Amazon's 14).
    #[arg(long, value_parser = retention_days(RetentionRule::Unshipped))]
    pub pii_days_unshipped: Option<u32>,
    /// Days after delivery (tracked shipments; at most 30).
    #[arg(long, value_parser = retention_days(RetentionRule::AfterDelivery))]
    pub pii_days_after_delivery: Option<u32>,
    /// Days after the ship date (tracked shipments; at most 30).
    #[arg(long, value_parser = retention_days(RetentionRule::AfterShipDate))]
    pub pii_days_after_ship_date: Option<u32>,
    /// Days after the label was created (tracked shipments; at most 44).
    #[arg(long, value_parser = retention_days(RetentionRule::AfterLabel))]
    pub pii_days_after_label: Option<u32>,
    /// Days after an untracked shipment (at most 30).
    #[arg(long, value_parser = retention_days(RetentionRule::Untracked))]
    pub pii_days_untracked: Option<u32>,
    /// CARRIER[/METHOD]=tracked|untracked (repeatable; replaces the connection's tracking rules): whether
    /// that carrier's service reports tracking, before the built-in table. It picks the PII rule.
    #[arg(long = "tracking-rule", value_parser = parse_tracking_rule)]
    pub tracking_rules: Vec<TrackingRule>,
    /// Removes every tracking rule of the connection (the built-in table alone decides).
    #[arg(long, conflicts_with = "tracking_rules")]
    pub clear_tracking_rules: bool,
    /// A seller SKU Amazon fulfils (Multi-Channel Fulfillment; repeatable). It must be in Amazon's FBA
    /// inventory for the marketplace under exactly this SKU; its FNSKU is stored.
    #[arg(long = "fba-sku")]
    pub fba_skus: Vec<Sku>,
    /// A SKU Amazon no longer fulfils (repeatable).
    #[arg(long = "remove-fba-sku")]
    pub remove_fba_skus: Vec<Sku>,
    /// STORE RATE NAME=Standard|Expedited|Priority (repeatable): the Amazon shipping speed a store rate
    /// means, before the built-in names; "NAME=" forgets the name.
    #[arg(long = "shipping-speed", value_parser = parse_shipping_speed)]
    pub shipping_speeds: Vec<(String, Option<ShippingSpeed>)>,
    /// Ask Amazon for a fulfillment preview (fees, arrival, what cannot ship) before each fulfillment order.
    #[arg(long)]
    pub fulfillment_preview: Option<bool>,
    /// What Amazon does with units it cannot ship: FillOrKill (nothing ships), FillAll or FillAllAvailable.
    #[arg(long, value_parser = parse_fulfillment_policy)]
    pub fulfillment_policy: Option<FulfillmentPolicy>,
    /// Read the FBA inventory on each sync and post inventory.updated with the SKUs that changed.
    #[arg(long)]
    pub sync_inventory: Option<bool>,
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
    pub fn into_change(mut self) -> Result<(OptionsChange, Vec<Sku>)> {
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
pub enum Local {
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
    /// Keeps a stack running on this machine until Ctrl-C: the webhooks and the read endpoint on one
    /// localhost port, the sync and the redactor on their schedules, the queues polled. Against the SP-API
    /// sandbox (`--sandbox-url`), or Amazon (`--amazon`, the app's credentials read from standard input as
    /// {"client_id": ..., "client_secret": ...}; add sellers with `sellerbridge connections add`).
    Serve {
        #[arg(long, required_unless_present = "amazon", conflicts_with = "amazon")]
        sandbox_url: Option<String>,
        #[arg(long)]
        amazon: bool,
        /// The port on 127.0.0.1 (0: any free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// The local stack's name: its table, queues and secrets are kept while the local stack runs.
        #[arg(long, default_value = "serve")]
        name: String,
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
        sync_every_secs: u64,
        #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
        redact_every_secs: u64,
        /// Where the stack's SELLERBRIDGE_* variables are written, for the other commands.
        #[arg(long, default_value = ".local/serve.env")]
        env_file: PathBuf,
        /// Where the handlers' JSON logs go.
        #[arg(long, default_value = ".local/logs/serve-handlers.log")]
        log_file: PathBuf,
    },
}
