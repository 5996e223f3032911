//! Entry point: load configuration, start telemetry, run the chosen command.

use anyhow::Context;
use backend::telemetry;

/// mimalloc instead of the system allocator: a request allocates and frees many small
/// objects on whichever worker thread runs it, and glibc's malloc serialises such threads on
/// its arena locks (visible as futex waits under load). See bench/README.md for the figures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    load_dotenv()?;
    let (command, config) = backend::cli::parse()?;
    let traced = command.runs_until_stopped();
    let telemetry = telemetry::init(config.log_format, &config.log_filter, traced)?;
    let result = backend::cli::run(command, &config).await;
    telemetry.shutdown().await;
    result
}

/// Loads `.env` from the working directory or its parents, for local development. Real
/// environment variables win over the file. A missing file is fine; a broken one is not.
fn load_dotenv() -> anyhow::Result<()> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        Err(e) => Err(e).context("cannot read .env"),
    }
}
