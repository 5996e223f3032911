//! The limits of the GraphQL endpoint and its WebSocket: plain data, filled from
//! configuration by the composition root and read by the schema and the transports.

use std::time::Duration;

/// The limits of one GraphQL request, from configuration.
#[derive(Debug, Clone)]
pub struct GraphqlSettings {
    /// The deepest a selection may nest. GraphiQL's introspection query needs 13.
    pub max_depth: usize,
    /// The most a query may cost: one per field, times `first` for each connection.
    pub max_complexity: usize,
    /// The longest query text accepted, in bytes.
    pub max_query_bytes: usize,
    /// Whether clients may introspect the schema (GraphiQL's docs explorer needs it).
    pub introspection: bool,
    /// The WebSocket's limits.
    pub ws: WsSettings,
}

impl Default for GraphqlSettings {
    fn default() -> Self {
        Self {
            max_depth: 15,
            max_complexity: 2_500,
            max_query_bytes: 16 * 1024,
            introspection: true,
            ws: WsSettings::default(),
        }
    }
}

/// The limits of one socket, from configuration.
#[derive(Debug, Clone)]
pub struct WsSettings {
    /// The largest message a client may send, in bytes.
    pub max_message_bytes: usize,
    /// How long a client has to send `connection_init` after the upgrade.
    pub init_timeout: Duration,
    /// How often the server pings a quiet socket.
    pub keepalive_interval: Duration,
    /// How long a ping may go unanswered, or a message unsent, before the peer counts as
    /// gone.
    pub keepalive_timeout: Duration,
}

impl Default for WsSettings {
    fn default() -> Self {
        Self {
            max_message_bytes: 64 * 1024,
            init_timeout: Duration::from_secs(10),
            keepalive_interval: Duration::from_secs(20),
            keepalive_timeout: Duration::from_secs(20),
        }
    }
}
