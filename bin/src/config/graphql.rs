//! The GraphQL endpoint's own limits, beside the listener's that every protocol shares.

use std::time::Duration;

use clap::{ArgAction, Args};

use super::{
    ConfigError,
    values::{at_least, boolean, millis},
};

/// The GraphQL endpoint's limits.
#[derive(Debug, Clone, Args)]
pub struct GraphqlConfig {
    /// The deepest a GraphQL selection may nest (GraphiQL's introspection needs 13).
    #[arg(id = "GRAPHQL_MAX_DEPTH", long, default_value = "15", value_parser = at_least(1usize))]
    pub max_depth: usize,
    /// The most a GraphQL query may cost: one per field, times `first` per connection.
    #[arg(id = "GRAPHQL_MAX_COMPLEXITY", long, default_value = "2500", value_parser = at_least(1usize))]
    pub max_complexity: usize,
    /// The longest GraphQL query text accepted.
    #[arg(id = "GRAPHQL_MAX_QUERY_BYTES", long, default_value = "16384", value_parser = at_least(1usize))]
    pub max_query_bytes: usize,
    /// Whether GraphQL clients may introspect the schema.
    #[arg(id = "GRAPHQL_INTROSPECTION", long, action = ArgAction::Set, default_value = "true", value_parser = boolean)]
    pub introspection: bool,
    /// The largest WebSocket message a client may send; past it the socket closes with
    /// 1009. At least `GRAPHQL_MAX_QUERY_BYTES`, so that any query fits.
    #[arg(id = "GRAPHQL_WS_MAX_MESSAGE_BYTES", long, default_value = "65536", value_parser = at_least(1usize))]
    pub ws_max_message_bytes: usize,
    /// A WebSocket with no `connection_init` this long is closed with 4408.
    #[arg(id = "GRAPHQL_WS_INIT_TIMEOUT_MS", long, default_value = "10000", value_parser = millis(1))]
    pub ws_init_timeout: Duration,
}

impl GraphqlConfig {
    /// The rule between two of its settings.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.ws_max_message_bytes < self.max_query_bytes {
            return Err(ConfigError::invalid(
                "GRAPHQL_WS_MAX_MESSAGE_BYTES",
                self.ws_max_message_bytes,
                "must be at least GRAPHQL_MAX_QUERY_BYTES, so that any query fits",
            ));
        }
        Ok(())
    }
}
