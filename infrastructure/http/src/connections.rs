//! What the server shares with the handlers about the connection a request came on.

use std::{fmt::Debug, sync::Arc};

/// The place a connection holds among those the server keeps open at once
/// (`HTTP_MAX_CONNECTIONS`), given back when the last clone is dropped.
///
/// The server puts a clone in every request's extensions. A handler that takes the
/// connection over, as a WebSocket upgrade does, keeps its clone for as long as the socket
/// lives: the socket still counts as an open connection after hyper lets go of it.
#[derive(Debug, Clone)]
pub struct ConnectionSlot(#[allow(dead_code)] Arc<dyn Debug + Send + Sync>);

impl ConnectionSlot {
    /// The slot `held` stands for: whatever the server gives back when it is dropped (a
    /// semaphore permit, a gauge to lower).
    pub fn new(held: impl Debug + Send + Sync + 'static) -> Self {
        Self(Arc::new(held))
    }
}
