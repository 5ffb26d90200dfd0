//! Structured JSON logs. Fields are identifiers and counts; buyer PII is never a log field.
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

const DEFAULT_FILTER: &str = "info,aws_config=warn,aws_smithy_runtime=warn,hyper=warn,reqwest=warn";

/// Installs the JSON subscriber for a Lambda. `RUST_LOG` may lower the level, but TRACE from the SDKs
/// and the runtime would dump payloads (buyer PII), so their ceilings stay in the default filter.
pub fn init() {
    let _ = tracing::subscriber::set_global_default(subscriber(std::io::stdout));
}

/// The same subscriber writing elsewhere, e.g. into a buffer a test inspects.
pub fn subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .with_writer(writer)
        .finish()
}
