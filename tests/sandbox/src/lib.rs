//! SP-API sandbox: an in-process/stand-alone HTTP stand-in for Login with Amazon and the
//! Selling Partner API operations sellerbridge uses (searchOrders, getOrder, confirmShipment),
//! with seeded deterministic orders, Amazon-shaped errors, rate limiting, fault injection and
//! inspection endpoints under `/_sandbox/`.

pub mod carriers;
pub mod config;
pub mod error;
mod inspect;
pub mod orders;
pub mod quota;
mod routes;
pub mod search;
pub mod state;
pub mod time;
pub mod tokens;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{ACCESS_TOKEN_EXPIRES_IN_SECS, DEFAULT_MARKETPLACE_ID, Operation, SandboxConfig, parse_rate_override};
pub use state::{CallRecord, Fault, SandboxState, Stats};

/// A running sandbox server.
pub struct SandboxHandle {
    addr: SocketAddr,
    state: Arc<SandboxState>,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

/// Builds the state, binds `127.0.0.1:config.port` and serves in a background task.
pub async fn start(config: SandboxConfig) -> std::io::Result<SandboxHandle> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port)).await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(SandboxState::new(config));
    let app = routes::router(state.clone());
    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                // Resolves on an explicit shutdown or when the handle is dropped.
                let _ = stopped.await;
            })
            .await
    });
    tracing::info!(%addr, "spapi sandbox listening");
    Ok(SandboxHandle { addr, state, shutdown, task })
}

impl SandboxHandle {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Direct access to orders, call log, clock, faults...
    pub fn state(&self) -> Arc<SandboxState> {
        self.state.clone()
    }

    /// Stops accepting connections and waits for in-flight requests to finish.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }

    /// Waits until the server stops on its own (it normally never does).
    pub async fn wait(self) -> std::io::Result<()> {
        let _keep_alive = self.shutdown;
        self.task.await.map_err(std::io::Error::other)?
    }
}
