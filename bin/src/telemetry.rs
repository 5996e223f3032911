//! Logging and tracing: one subscriber for the whole process, set up by `main`.

use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::LogFormat;

/// Installs the global tracing subscriber: `filter` (an env-filter directive such as
/// `info,sqlx=warn`) decides what is recorded, `format` how it is written. Logs go to
/// stderr, so stdout stays free for command output such as `config`.
///
/// Tests do not call this, so they log nothing unless they install a subscriber of their own.
///
/// # Errors
/// When `filter` does not parse, or a subscriber is already installed.
pub fn init(format: LogFormat, filter: &str) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter)
        .map_err(|e| anyhow::anyhow!("invalid RUST_LOG={filter:?}: {e}"))?;
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Pretty => registry
            .with(fmt::layer().with_writer(std::io::stderr))
            .try_init()?,
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            )
            .try_init()?,
    }
    Ok(())
}
