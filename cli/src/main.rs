use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use sellerbridge_cli::local::demo::{self, DemoConfig, Stdout};
use sellerbridge_cli::local::stack::LocalEndpoints;

/// The sellerbridge operator tool.
#[derive(Parser)]
#[command(name = "sellerbridge", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with the local stack (DynamoDB Local, moto and the SP-API sandbox).
    #[command(subcommand)]
    Local(Local),
}

#[derive(Subcommand)]
enum Local {
    /// Runs the end-to-end demo through the real handlers and prints one summary line.
    Demo {
        #[arg(long)]
        sandbox_url: String,
        /// The sandbox's --time-scale.
        #[arg(long, default_value_t = 20.0)]
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
    }
}
