//! A minimal Lambda Runtime API on 127.0.0.1, enough to run the real function binaries (their
//! `main.rs` and `lambda_runtime::run`) the way the Lambda service does: one invocation at a time.
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use tokio::sync::{Mutex as AsyncMutex, mpsc, oneshot};

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Result<serde_json::Value, serde_json::Value>>>>>;

#[derive(Clone)]
struct Api {
    next: Arc<AsyncMutex<mpsc::Receiver<(String, serde_json::Value)>>>,
    pending: Pending,
    first_next: Arc<Mutex<Option<Instant>>>,
}

pub struct RuntimeApi {
    pub address: String,
    invocations: mpsc::Sender<(String, serde_json::Value)>,
    pending: Pending,
    first_next: Arc<Mutex<Option<Instant>>>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let (invocations, next) = mpsc::channel(8);
        let pending: Pending = Arc::default();
        let first_next: Arc<Mutex<Option<Instant>>> = Arc::default();
        let api =
            Api { next: Arc::new(AsyncMutex::new(next)), pending: pending.clone(), first_next: first_next.clone() };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(respond))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(api);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind runtime API");
        let address = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Self { address, invocations, pending, first_next, server }
    }

    /// When the function first asked for an invocation: the end of its initialisation.
    pub async fn first_next(&self) -> Instant {
        let started = Instant::now();
        loop {
            if let Some(at) = *self.first_next.lock().unwrap() {
                return at;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "the function never asked for an invocation");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Hands `event` to the function and waits for its response (`Err` for an invocation error).
    pub async fn invoke(&self, event: serde_json::Value) -> Result<serde_json::Value, serde_json::Value> {
        let id = uuid::Uuid::new_v4().to_string();
        let (done, result) = oneshot::channel();
        self.pending.lock().unwrap().insert(id.clone(), done);
        self.invocations.send((id, event)).await.expect("runtime API running");
        tokio::time::timeout(Duration::from_secs(60), result)
            .await
            .expect("function answered in time")
            .expect("answer delivered")
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next_invocation(State(api): State<Api>) -> (HeaderMap, String) {
    api.first_next.lock().unwrap().get_or_insert_with(Instant::now);
    // None: the test dropped its runtime API and the server is going away; the function waits like it
    // would for an invocation that never comes.
    let Some((id, event)) = api.next.lock().await.recv().await else { return std::future::pending().await };
    let deadline = std::time::SystemTime::now() + Duration::from_secs(60);
    let deadline_ms = deadline.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis().to_string();
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", HeaderValue::from_str(&id).unwrap());
    headers.insert("lambda-runtime-deadline-ms", HeaderValue::from_str(&deadline_ms).unwrap());
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:us-east-1:000000000000:function:local"),
    );
    headers.insert("lambda-runtime-trace-id", HeaderValue::from_static("Root=1-00000000-000000000000000000000000"));
    (headers, event.to_string())
}

async fn respond(State(api): State<Api>, Path(id): Path<String>, body: String) -> StatusCode {
    finish(&api, &id, Ok(serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body))))
}

async fn fail(State(api): State<Api>, Path(id): Path<String>, body: String) -> StatusCode {
    finish(&api, &id, Err(serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body))))
}

async fn init_error(body: String) -> StatusCode {
    panic!("function failed to initialise: {body}");
}

fn finish(api: &Api, id: &str, result: Result<serde_json::Value, serde_json::Value>) -> StatusCode {
    match api.pending.lock().unwrap().remove(id) {
        Some(done) => {
            let _ = done.send(result);
            StatusCode::ACCEPTED
        }
        None => StatusCode::NOT_FOUND,
    }
}

/// The function binary's path, building the workspace's binaries first. The build selects the whole
/// workspace, as `make test` does before running the tests, so features resolve the same way and
/// nothing is rebuilt.
pub fn function_binary(name: &str) -> PathBuf {
    binary(name, Profile::Debug)
}

/// How the binaries are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Debug,
    /// As deployed; a quarter of an hour to build on a small machine.
    Release,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Release => "release",
        }
    }
}

/// The workspace binary `name` built with `profile`, building every binary of the workspace first (once).
pub fn binary(name: &str, profile: Profile) -> PathBuf {
    static DEBUG: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    static RELEASE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let built = if profile == Profile::Release { &RELEASE } else { &DEBUG };
    built.get_or_init(|| {
        // Only a shell's essentials: the variables cargo sets for a test process would make build scripts
        // that watch them run again, and rebuild half the workspace.
        let keep = ["PATH", "HOME", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "CARGO_TARGET_DIR"];
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--workspace", "--bins"])
            .args((profile == Profile::Release).then_some("--release"))
            .current_dir(&workspace)
            .env_clear()
            .envs(std::env::vars().filter(|(name, _)| keep.contains(&name.as_str())))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the function binaries");
    });
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace.join("target"));
    target.join(profile.name()).join(name)
}

/// Starts the function binary against `api` with the given environment; killed when dropped.
pub fn spawn_function(name: &str, api: &RuntimeApi, env: &[(&str, String)]) -> tokio::process::Child {
    spawn_binary(&function_binary(name), name, api, env)
}

/// Starts `binary` as function `name` against `api`; killed when dropped.
pub fn spawn_binary(
    binary: &std::path::Path,
    name: &str,
    api: &RuntimeApi,
    env: &[(&str, String)],
) -> tokio::process::Child {
    tokio::process::Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("function binary starts")
}
