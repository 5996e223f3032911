//! The gRPC services' own limits, beside the listener's that every protocol shares.

use std::time::Duration;

use clap::Args;

use super::values::{at_least, millis};

/// The gRPC services' limits.
#[derive(Debug, Clone, Args)]
pub struct GrpcConfig {
    /// The largest gRPC message accepted or sent (`RESOURCE_EXHAUSTED` beyond).
    #[arg(id = "GRPC_MAX_MESSAGE_BYTES", long, default_value = "4194304", value_parser = at_least(1usize))]
    pub max_message_bytes: usize,
    /// How often gRPC health re-checks readiness.
    #[arg(id = "GRPC_HEALTH_INTERVAL_MS", long, default_value = "5000", value_parser = millis(1))]
    pub health_interval: Duration,
}
