//! The worker's wake-up on Postgres: `LISTEN` on the channel that the outbox's trigger
//! notifies when a transaction that recorded jobs commits (see the `outbox_notify`
//! migration).

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use async_trait::async_trait;
use domain::ports::JobSignal;
use sqlx::{
    PgPool,
    postgres::{PgListener, PgPoolOptions},
};
use tokio::sync::Notify;
use tokio_util::task::AbortOnDropHandle;

/// The channel the outbox trigger notifies.
pub(crate) const CHANNEL: &str = "outbox_recorded";

/// The first pause before listening again after the connection was lost, doubled on each
/// failure up to [`RETRY_MAX`].
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// [`JobSignal`] on Postgres.
///
/// It listens on a connection of its own, outside the pool that requests use: a listener
/// holds its connection for as long as it lives, and must not take one from them. It
/// starts on the first wait, so a process that never delivers (an API replica with the
/// worker elsewhere) never opens it, and it stops when the signal is dropped.
///
/// A notification sent while the connection is down is lost: each time the listener
/// (re)connects it signals once, so that the worker claims whatever was recorded meanwhile.
#[derive(Debug)]
pub struct PgJobSignal {
    pool: PgPool,
    recorded: Arc<Notify>,
    listener: OnceLock<AbortOnDropHandle<()>>,
}

impl PgJobSignal {
    /// A signal over the database `pool` connects to (its connection options, not its
    /// connections).
    pub fn new(pool: &PgPool) -> Self {
        let own = PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with(pool.connect_options().as_ref().clone());
        Self {
            pool: own,
            recorded: Arc::new(Notify::new()),
            listener: OnceLock::new(),
        }
    }
}

#[async_trait]
impl JobSignal for PgJobSignal {
    async fn recorded(&self) {
        self.listener.get_or_init(|| {
            AbortOnDropHandle::new(tokio::spawn(listen(
                self.pool.clone(),
                self.recorded.clone(),
            )))
        });
        self.recorded.notified().await;
    }
}

/// Listens until the task is aborted, reconnecting with a backoff whenever the connection
/// is lost, and turns every notification into a permit on `recorded` (one permit at most:
/// a burst while the worker is busy wakes it once).
async fn listen(pool: PgPool, recorded: Arc<Notify>) {
    let mut pause = RETRY_MIN;
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => {
                    tracing::debug!(channel = CHANNEL, "listening for recorded jobs");
                    pause = RETRY_MIN;
                    // Whatever was recorded while nobody listened, the next claim finds.
                    recorded.notify_one();
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(_)) => recorded.notify_one(),
                            // The connection dropped; listen again on a new one.
                            Ok(None) => break,
                            Err(error) => {
                                tracing::warn!(
                                    error = &error as &dyn std::error::Error,
                                    "lost the connection that listens for recorded jobs; polling until it is back"
                                );
                                break;
                            }
                        }
                    }
                }
                Err(error) => tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "cannot listen for recorded jobs; polling until it can"
                ),
            },
            Err(error) => tracing::warn!(
                error = &error as &dyn std::error::Error,
                "cannot connect to listen for recorded jobs; polling until it can"
            ),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(RETRY_MAX);
    }
}
