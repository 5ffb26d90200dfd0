//! `sellerbridge`: parses the command line ([`sellerbridge_cli::args`]) and carries the command out on the
//! stack it names.
use std::io::Read;
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::Parser;
use indicatif::{ProgressBar, ProgressFinish, ProgressStyle};
use sellerbridge_cli::args::{App, Cli, Command, Connections, Local, Notifications, Shipments, Webhooks};
use sellerbridge_cli::local::demo::{self, DemoConfig, Stdout};
use sellerbridge_cli::local::serve;
use sellerbridge_cli::local::stack::LocalEndpoints;
use sellerbridge_cli::ops;
use sellerbridge_cli::target::{self, Selection, Target};
use sellerbridge_core::domain::clock::SystemClock;
use sellerbridge_core::domain::connection::{ConnectionOptions, ConnectionState};
use sellerbridge_core::domain::marketplace::Marketplace;
use sellerbridge_core::runtime::{Adapters, Settings};
use sellerbridge_core::store::AppCredentialsAlert;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let selection = Selection { stack: cli.stack, profile: cli.profile, region: cli.aws_region };
    match run(selection, cli.command).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", target::one_line(&error));
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(selection: Selection, command: Command) -> Result<()> {
    match command {
        Command::Local(Local::Demo {
            sandbox_url,
            time_scale,
            lwa_client_id,
            lwa_client_secret,
            refresh_token,
            log_file,
        }) => {
            log_to(&log_file)?;
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
        Command::Local(Local::Serve {
            sandbox_url,
            amazon,
            port,
            name,
            sync_every_secs,
            redact_every_secs,
            env_file,
            log_file,
        }) => {
            let amazon = match (sandbox_url, amazon) {
                (Some(url), _) => serve::Amazon::Sandbox(url),
                (None, _) => {
                    eprintln!(
                        "reading the app's credentials from standard input: {{\"client_id\": ..., \"client_secret\": ...}}"
                    );
                    let mut credentials = String::new();
                    std::io::stdin().read_to_string(&mut credentials).context("reading the app's credentials")?;
                    let app: serde_json::Value = serde_json::from_str(&credentials)
                        .context("standard input does not hold {\"client_id\": ..., \"client_secret\": ...}")?;
                    let field = |name: &str| {
                        app[name]
                            .as_str()
                            .map(str::to_owned)
                            .with_context(|| format!("the app's credentials lack {name}"))
                    };
                    serve::Amazon::Live {
                        lwa_client_id: field("client_id")?,
                        lwa_client_secret: field("client_secret")?,
                    }
                }
            };
            let endpoints = LocalEndpoints::from_env("http://127.0.0.1:9")?;
            log_to(&log_file)?;
            let config = serve::ServeConfig {
                dynamodb: endpoints.dynamodb,
                moto: endpoints.moto,
                amazon,
                name,
                port,
                sync_every: std::time::Duration::from_secs(sync_every_secs),
                redact_every: std::time::Duration::from_secs(redact_every_secs),
                poll_every: std::time::Duration::from_secs(1),
                env_file: Some(env_file),
            };
            let serving = serve::start(&config, Arc::new(Stdout)).await?;
            println!("[serve] handler logs: {}", log_file.display());
            println!("[serve] webhook signing key: {}", serving.signing_key);
            println!("[serve] running at {}; Ctrl-C stops", serving.url);
            tokio::signal::ctrl_c().await?;
            Ok(())
        }
        command => operate(&Target::resolve(&selection).await?, command).await,
    }
}

/// A progress bar on standard error over `what` (drawn only on a terminal).
fn counting(what: &str) -> ProgressBar {
    let style = ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {what} ({{eta}} left)"))
        .expect("a valid template");
    ProgressBar::new(0).with_style(style).with_finish(ProgressFinish::AndClear)
}

/// A spinner on standard error while `what` goes on (drawn only on a terminal).
fn waiting(what: &str) -> ProgressBar {
    spinner(&format!("{{spinner}} {what} ({{elapsed}})"))
}

/// A spinner counting what `what` got done so far, when the total is not known beforehand.
fn tallying(what: &str) -> ProgressBar {
    spinner(&format!("{{spinner}} {what}: {{pos}} ({{elapsed}})"))
}

fn spinner(template: &str) -> ProgressBar {
    let spinner =
        ProgressBar::new_spinner().with_style(ProgressStyle::with_template(template).expect("a valid template"));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    spinner
}

/// The handlers' JSON logs into `file` (the terminal shows the local runner's own lines).
fn log_to(file: &std::path::Path) -> Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::File::create(file)?;
    tracing::subscriber::set_global_default(sellerbridge_core::telemetry::subscriber(std::sync::Mutex::new(file)))?;
    Ok(())
}

async fn operate(target: &Target, command: Command) -> Result<()> {
    // Standard output carries the command's answer; the handlers' logs (warnings, unless RUST_LOG asks
    // for more) go to standard error.
    let rust_log = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned());
    let _ = tracing::subscriber::set_global_default(sellerbridge_core::telemetry::subscriber_filtered(
        std::io::stderr,
        Some(&rust_log),
    ));
    let settings = target.settings()?;
    let sdk = &target.sdk;
    let adapters = Adapters::new(sdk, &settings, Arc::new(SystemClock));
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
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
            print(serde_json::to_value(ops::existing_connection(store, &id).await?)?);
        }
        Command::Connections(Connections::Feeds { id }) => print(ops::feeds_summary(store, &id).await?),
        Command::Connections(Connections::Add { id, seller_id, marketplace_id, region, import_from, options }) => {
            let import_from = import_from.unwrap_or_else(|| Utc::now() - chrono::Duration::days(7));
            let (change, fba_skus) = options.into_change()?;
            let connection_secrets = target.connection_secrets()?;
            let connection = ops::new_connection(
                id,
                seller_id,
                marketplace_id,
                region,
                import_from,
                ConnectionOptions::default(),
                &connection_secrets,
            )?
            .changed(&change, Utc::now());
            anyhow::ensure!(
                store.get_connection(&connection.id).await?.is_none(),
                "connection {} already exists: change it with `sellerbridge connections set`, or remove it first",
                connection.id
            );
            let token = refresh_token_json()?;
            connection_secrets.put(&secrets, &connection.refresh_token_secret_id, &token).await?;
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
                let connection = ops::existing_connection(store, &id).await?;
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
            let queue_arn = match queue_arn {
                Some(arn) => arn,
                None => target.value(target::NOTIFICATIONS_QUEUE_ARN)?.to_owned(),
            };
            let spapi = adapters.spapi_client(&settings);
            print(serde_json::to_value(
                ops::subscribe_order_changes(&adapters, &spapi, &connection, &queue_arn).await?,
            )?);
        }
        Command::Webhooks(Webhooks::RotateKey) => {
            let key = ops::rotate_webhook_key(&secrets, &settings.webhook_secret_id).await?;
            println!("{key}");
            eprintln!(
                "the new key is current: give it to the store; webhooks signed with the previous key are accepted \
                 until the next rotation"
            );
        }
        Command::Webhooks(Webhooks::SetShopifySecret) => {
            let secret_id = target.value(Settings::SHOPIFY_SECRET_ID)?;
            let mut secret = String::new();
            std::io::stdin().read_to_string(&mut secret).context("reading the Shopify secret from standard input")?;
            anyhow::ensure!(!secret.trim().is_empty(), "the Shopify secret read from standard input is empty");
            ops::put_secret(&secrets, secret_id, secret.trim()).await?;
            println!(
                "Shopify's webhooks are verified with the new secret (and the previous one until the next change)"
            );
        }
        Command::App(App::SetCredentials) => {
            let mut credentials = String::new();
            std::io::stdin().read_to_string(&mut credentials).context("reading the credentials from standard input")?;
            ops::set_app_credentials(store, &secrets, &settings.lwa_secret_id, credentials.trim()).await?;
            println!("the app's credentials are stored; every connection uses them from its next run");
        }
        Command::Connections(Connections::SetToken { id }) => {
            let token = refresh_token_json()?;
            ops::store_new_token(store, &secrets, &target.connection_secrets()?, &id, &token).await?;
            println!("connection {id} has a new refresh token and is active again");
        }
        Command::Redact { order, connection, dry_run } => {
            let scope = match (order, connection) {
                (Some(order), _) => ops::RedactTarget::Order(order),
                (None, Some(connection)) => ops::RedactTarget::Connection(connection),
                (None, None) => anyhow::bail!("name --order or --connection"),
            };
            let progress = counting("orders");
            let redacted = ops::redact_now(store, &scope, dry_run, Utc::now(), &progress).await?;
            progress.finish_and_clear();
            print(redacted);
        }
        Command::Connections(Connections::Remove { id, redact_orders, yes }) => {
            if redact_orders && !yes {
                eprintln!("This redacts the buyer data of every order of {id} now. Type the connection id to confirm:");
                let mut typed = String::new();
                std::io::stdin().read_line(&mut typed)?;
                anyhow::ensure!(typed.trim() == id.as_str(), "not confirmed: nothing was removed");
            }
            let progress = counting("orders");
            let removed = ops::remove_connection(store, &secrets, &id, redact_orders, Utc::now(), &progress).await?;
            progress.finish_and_clear();
            print(removed);
        }
        Command::Connections(Connections::ScopeSecrets) => {
            let progress = counting("connections");
            let moved =
                ops::scope_connection_secrets(store, &secrets, &target.connection_secrets()?, &progress).await?;
            progress.finish_and_clear();
            println!("{} connections moved under {}", moved.len(), target.value(target::CONNECTION_SECRET_PREFIX)?);
        }
        Command::Connections(Connections::ResetImportDate { id, from }) => {
            ops::reset_import_date(store, &id, from).await?;
            println!("connection {id} will re-import orders updated since {from} on its next sync");
        }
        Command::SyncNow { connection, here } => {
            if let Some(id) = &connection {
                ops::existing_connection(store, id).await?;
            }
            let report = if here {
                let spapi = adapters.spapi_client(&settings);
                let deps = order_sync::SyncDeps { adapters: adapters.clone(), spapi, settings: Default::default() };
                let stop_at = tokio::time::Instant::now() + std::time::Duration::from_secs(600);
                let waiting = waiting("syncing on this machine");
                let report = order_sync::sync(&deps, connection.as_ref(), stop_at).await?;
                waiting.finish_and_clear();
                serde_json::to_value(report)?
            } else {
                let function = target
                    .value(target::SYNC_FUNCTION)
                    .context("the deployed sync function is not known (run it on this machine with --here)")?;
                let waiting = waiting(&format!("{function} ({}) is syncing; up to 5 minutes", target.describe()));
                let report = ops::invoke_sync(&aws_sdk_lambda::Client::new(sdk), function, connection.as_ref()).await?;
                waiting.finish_and_clear();
                report
            };
            print(report.clone());
            let unsynced = ops::unsynced_connections(&report);
            anyhow::ensure!(unsynced.is_empty(), "not synced: {} (the report above says why)", unsynced.join(", "));
        }
        Command::Shipments(Shipments::Retry { order, package }) => {
            print(ops::retry_shipments(store, &adapters.queue, &order, package.as_ref()).await?)
        }
        Command::Order { order_id } => print(ops::order_summary(store, &order_id).await?),
        Command::Redrive { dlq_url, outbound } => {
            let (default_dlq, destination) = match outbound {
                true => (target::OUTBOUND_DLQ_URL, ops::Redrive::OrderEvents(&settings.outbound_queue_url)),
                false => (target::UPDATES_DLQ_URL, ops::Redrive::Confirmations(&settings.updates_queue_url)),
            };
            let dlq_url = match dlq_url {
                Some(url) => url,
                None => target.value(default_dlq)?.to_owned(),
            };
            let progress = tallying("moved back");
            let sqs = aws_sdk_sqs::Client::new(sdk);
            let moved = ops::redrive_dead_letters(store, &sqs, &dlq_url, destination, &progress).await?;
            progress.finish_and_clear();
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

/// The refresh token from standard input (never an argument: it would land in the shell history).
fn refresh_token_json() -> Result<String> {
    let mut token = String::new();
    std::io::stdin().read_to_string(&mut token).context("reading the refresh token from standard input")?;
    let token = token.trim();
    anyhow::ensure!(token.starts_with("Atzr|"), "standard input does not hold an LWA refresh token (Atzr|...)");
    Ok(serde_json::json!({"refresh_token": token}).to_string())
}
