//! SP-API sandbox: an in-process/stand-alone HTTP stand-in for Login with Amazon and the
//! Selling Partner API operations sellerbridge uses (searchOrders, getOrder, confirmShipment, the
//! Notifications API, and the Feeds API 2021-06-30 with the XML order feeds), with seeded deterministic
//! orders, Amazon-shaped errors, rate limiting, fault injection and inspection endpoints under `/_sandbox/`.
//!
//! Feeds ([`feeds`]): createFeedDocument answers with a presigned-style URL on the sandbox's own listener
//! (`/_documents/{feedDocumentId}?X-Amz-…`, S3's part: no access token, no usage plan, S3's XML errors, valid
//! five minutes of sandbox time); createFeed queues the document, and the feed moves IN_QUEUE → IN_PROGRESS →
//! DONE | FATAL on the sandbox clock (`/_sandbox/feeds/settings`). When it finishes, its messages are applied
//! to the orders (shipments with confirmShipment's rules, cancellations, refunds), each change raising
//! ORDER_CHANGE, and its XML processing report becomes the result document.
//!
//! Multi-Channel Fulfillment ([`fulfillment`]): a seeded FBA inventory behind getInventorySummaries (FBA Inventory
//! v1), and fulfillment orders (Fulfillment Outbound 2020-07-01: preview, create, get, list, cancel and the
//! sandbox-only status update) that reserve it and move Received → Planning → Processing → Complete on the sandbox
//! clock (`/_sandbox/fulfillment/settings`), shipping with carrier and tracking; each status and shipment change
//! raises FULFILLMENT_ORDER_STATUS for a seller subscribed to it.

pub mod carriers;
pub mod config;
pub mod error;
pub mod feeds;
pub mod fulfillment;
mod inspect;
pub mod notifications;
pub mod orders;
pub mod quota;
mod routes;
pub mod search;
pub mod sites;
pub mod state;
pub mod time;
pub mod tokens;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{ACCESS_TOKEN_EXPIRES_IN_SECS, DEFAULT_MARKETPLACE_ID, Operation, SandboxConfig, parse_rate_override};
pub use state::{CallRecord, Fault, SandboxState, Stats};

/// A running sandbox server: one listener per SP-API region its marketplaces are in (each standing for
/// that region's host, all sharing one state, as Amazon's hosts share one Login with Amazon).
pub struct SandboxHandle {
    addr: SocketAddr,
    region_addrs: BTreeMap<&'static str, SocketAddr>,
    state: Arc<SandboxState>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

/// How often (real time) feeds and fulfillment orders catch up with the clock between requests, so that a client
/// waiting for the ORDER_CHANGE notifications of a feed (or the FULFILLMENT_ORDER_STATUS ones of a fulfillment order)
/// gets them without calling anything.
const FEED_TICK: Duration = Duration::from_millis(200);

/// Builds the state, binds `127.0.0.1:config.port` for the first marketplace's region (and a free port
/// for each other region) and serves in background tasks.
pub async fn start(config: SandboxConfig) -> std::io::Result<SandboxHandle> {
    let primary = config.region();
    let mut regions: Vec<&'static str> = vec![primary];
    for site in config.sites() {
        if !regions.contains(&site.region) {
            regions.push(site.region);
        }
    }
    let port = config.port;
    let state = Arc::new(SandboxState::new(config));
    let (shutdown, stopped) = watch::channel(false);
    let (mut region_addrs, mut tasks) = (BTreeMap::new(), Vec::new());
    for region in regions {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, if region == primary { port } else { 0 })).await?;
        region_addrs.insert(region, listener.local_addr()?);
        let app = routes::router(state.clone(), region);
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    // Resolves on an explicit shutdown or when the handle is dropped.
                    let _ = stopped.changed().await;
                })
                .await
        }));
    }
    tasks.push(tokio::spawn(tick_clock(state.clone(), stopped)));
    let addr = region_addrs[primary];
    tracing::info!(%addr, ?region_addrs, "spapi sandbox listening");
    Ok(SandboxHandle { addr, region_addrs, state, shutdown, tasks })
}

async fn tick_clock(state: Arc<SandboxState>, mut stopped: watch::Receiver<bool>) -> std::io::Result<()> {
    let mut interval = tokio::time::interval(FEED_TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {
                state.advance();
                state.deliver_notifications().await;
            }
            _ = stopped.changed() => return Ok(()),
        }
    }
}

impl SandboxHandle {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The host of one region (`NA`, `EU`, `FE`), if the sandbox sells there.
    pub fn region_url(&self, region: &str) -> Option<String> {
        self.region_addrs.get(region).map(|addr| format!("http://{addr}"))
    }

    /// Direct access to orders, call log, clock, faults...
    pub fn state(&self) -> Arc<SandboxState> {
        self.state.clone()
    }

    /// Stops accepting connections and waits for in-flight requests to finish.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Waits until the servers stop on their own (they normally never do).
    pub async fn wait(self) -> std::io::Result<()> {
        let _keep_alive = self.shutdown;
        for task in self.tasks {
            task.await.map_err(std::io::Error::other)??;
        }
        Ok(())
    }
}
