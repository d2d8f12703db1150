//! Logging: `tracing` events to stderr as text (for people) or JSON lines (for log pipelines),
//! filtered by `RUST_LOG` when set, else by the configured level (default `info`). Spans
//! (a reconcile's namespace and Rollout) are on every line.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LoggingConfig};

/// Installs the log subscriber; call once, at the start of a long-running command.
pub fn init(logging: &LoggingConfig) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(logging.level.as_str()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second call (tests, embedding) keeps the first subscriber: that is fine.
    let _ = match logging.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
