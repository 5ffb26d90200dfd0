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

/// A parser's error message with every quoted string value removed. serde quotes the offending value
/// ("invalid type: string \"1 Main St\", expected ..."), which for an order can be buyer PII; field
/// names (in backticks), types and positions stay.
pub fn without_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    // serde quotes a value Debug-style: `\"` inside it is part of the value, not its end.
    let mut escaped = false;
    for c in message.chars() {
        match (c, quoted) {
            ('"', false) => {
                quoted = true;
                out.push_str("\"…");
            }
            (_, true) if escaped => escaped = false,
            ('\\', true) => escaped = true,
            ('"', true) => {
                quoted = false;
                out.push('"');
            }
            (_, true) => {}
            (c, false) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_are_removed_and_field_names_kept() {
        let err = serde_json::from_str::<std::collections::HashMap<String, u32>>(r#"{"qty": "1 Analytical Way"}"#)
            .unwrap_err();
        let safe = without_quoted_values(&err.to_string());
        assert!(!safe.contains("Analytical"), "{safe}");
        assert!(safe.starts_with("invalid type: string \"…\", expected u32"), "{safe}");
        assert_eq!(without_quoted_values("missing field `buyerName`"), "missing field `buyerName`");
    }

    /// Found by `tests/fuzz.rs`: a value with a quote in it (escaped as `\"` in serde's message) ended
    /// the removal early and the rest of the value was kept.
    #[test]
    fn quotes_and_backslashes_inside_a_value_do_not_end_it() {
        let err = serde_json::from_str::<std::collections::HashMap<String, u32>>(
            r#"{"qty": "Ada \"Countess\" Lovelace \\ 1 Infinite Loop\\"}"#,
        )
        .unwrap_err();
        let safe = without_quoted_values(&err.to_string());
        assert!(["Ada", "Countess", "Lovelace", "Infinite"].iter().all(|pii| !safe.contains(pii)), "{safe}");
        assert!(safe.starts_with("invalid type: string \"…\", expected u32"), "{safe}");
    }
}
