//! The HTTP server: binds, serves the REST adapter's router, and shuts down gracefully.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{Router, http::HeaderValue};
use infrastructure::http::{
    self, ApiState, HttpSettings, PostgresProbe, ReadinessProbe, RedisProbe,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{app::Application, config::HttpConfig};

/// The REST API over `app`, with `/readyz` probing the backing services `app` uses. The
/// handler tests drive this router directly, without a socket.
///
/// # Errors
/// When an allowed CORS origin is not a valid header value.
pub fn router(app: &Application, config: &HttpConfig) -> anyhow::Result<Router> {
    let mut probes: Vec<Arc<dyn ReadinessProbe>> = Vec::new();
    if let Some(pool) = &app.backends.postgres {
        probes.push(Arc::new(PostgresProbe(pool.clone())));
    }
    if let Some(redis) = &app.backends.redis {
        probes.push(Arc::new(RedisProbe(redis.clone())));
    }
    let settings = HttpSettings {
        request_timeout: config.request_timeout,
        cors_allowed_origins: config
            .cors_allowed_origins
            .iter()
            .map(|o| HeaderValue::from_str(o))
            .collect::<Result<_, _>>()
            .context("invalid HTTP_CORS_ALLOWED_ORIGINS")?,
    };
    Ok(http::router(
        ApiState::new(app.use_cases.clone(), probes),
        &settings,
    ))
}

/// A bound, not yet running, HTTP server.
#[derive(Debug)]
pub struct HttpServer {
    listener: TcpListener,
    router: Router,
    drain_timeout: Duration,
}

impl HttpServer {
    /// Binds `config.addr` (port 0 picks a free port; see [`HttpServer::local_addr`]) and
    /// builds the router over `app`.
    ///
    /// # Errors
    /// When the address cannot be bound or an allowed CORS origin is not a header value.
    pub async fn bind(app: &Application, config: &HttpConfig) -> anyhow::Result<Self> {
        let router = router(app, config)?;
        let listener = TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("cannot listen on HTTP_ADDR={}", config.addr))?;
        Ok(Self {
            listener,
            router,
            drain_timeout: config.drain_timeout,
        })
    }

    /// The address the server listens on.
    ///
    /// # Errors
    /// When the operating system cannot say (practically never for a bound socket).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` is cancelled, then stops accepting connections and lets
    /// in-flight requests finish, for at most the drain timeout.
    ///
    /// # Errors
    /// When the server fails while running.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let serve = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown.clone().cancelled_owned());
        let mut serving = tokio::spawn(async move { serve.await });
        tokio::select! {
            finished = &mut serving => return finished.context("the HTTP server task failed")?.context("the HTTP server failed"),
            () = shutdown.cancelled() => {}
        }
        match tokio::time::timeout(self.drain_timeout, &mut serving).await {
            Ok(finished) => finished
                .context("the HTTP server task failed")?
                .context("the HTTP server failed")?,
            Err(_) => {
                tracing::warn!(
                    drain_timeout_secs = self.drain_timeout.as_secs(),
                    "requests still running after the drain timeout; closing them"
                );
                serving.abort();
            }
        }
        tracing::info!("HTTP server stopped");
        Ok(())
    }
}
