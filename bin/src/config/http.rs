//! The listener's settings: where it listens, and the bounds on every connection and
//! request that comes in, whatever its protocol.

use std::{net::SocketAddr, time::Duration};

use clap::Args;
use ipnet::IpNet;

use super::values::{at_least, millis, network, origin, parsed, seconds};

/// The HTTP server's settings.
#[derive(Debug, Clone, Args)]
pub struct HttpConfig {
    /// Where `serve` listens (port 0: any free port).
    #[arg(id = "HTTP_ADDR", long, default_value = "127.0.0.1:8080", value_parser = parsed::<SocketAddr>)]
    pub addr: SocketAddr,
    /// A request taking longer gets 503.
    #[arg(id = "HTTP_REQUEST_TIMEOUT_MS", long, default_value = "10000", value_parser = millis(1))]
    pub request_timeout: Duration,
    /// On shutdown, how long in-flight requests may take to finish before the server stops
    /// anyway.
    #[arg(id = "HTTP_DRAIN_TIMEOUT_SECS", long, default_value = "20", value_parser = seconds(0))]
    pub drain_timeout: Duration,
    /// Comma-separated browser origins, such as `https://app.example.org`, allowed to call
    /// the API. Unset: CORS off.
    #[arg(id = "HTTP_CORS_ALLOWED_ORIGINS", long, value_delimiter = ',', value_parser = origin)]
    pub cors_allowed_origins: Vec<String>,
    /// The most requests handled at once, each counted until its response is made and its
    /// client has made room for it (so answers a client takes nothing of count, until the
    /// send timeout), REST, GraphQL and
    /// unary gRPC together; past it, 503 `overloaded` with `Retry-After: 1` (gRPC:
    /// `UNAVAILABLE` with a `RetryInfo`) rather than a queue. The probes, `/metrics`, gRPC
    /// health and reflection, and the live streams (capped by `WATCH_MAX_*`) are never
    /// shed. 0: no limit.
    #[arg(id = "HTTP_MAX_IN_FLIGHT", long, default_value = "1024", value_parser = at_least(0usize))]
    pub max_in_flight: usize,
    /// Comma-separated networks (`10.0.0.0/8,fd00::/8`) of the reverse proxies in front of
    /// the server. A request from one of them counts, for the limits per address, as coming
    /// from the rightmost address in `X-Forwarded-For` that is not a trusted proxy (the
    /// entry a trusted proxy wrote; the client can write anything to its left). Unset: the
    /// TCP peer, whatever the header says. An IPv6 client counts by its /64, which one host
    /// usually holds whole.
    #[arg(id = "TRUSTED_PROXIES", long, value_delimiter = ',', value_parser = network)]
    pub trusted_proxies: Vec<IpNet>,
    /// Connections open at once, WebSockets included; past it a new one is closed at once.
    /// Keep it under the process's file-descriptor limit (`ulimit -n`), with room for the
    /// pools, and under its memory: an idle connection costs some 20 KiB (HTTP/1.1) to
    /// 25 KiB (HTTP/2), measured by `bench/connection-memory.sh`.
    #[arg(id = "HTTP_MAX_CONNECTIONS", long, default_value = "10000", value_parser = at_least(1usize))]
    pub max_connections: usize,
    /// The most bytes that made answers may hold in memory, all connections together,
    /// until they are written (a page of todos, a GraphQL document; not a compiled-in
    /// asset). Past it, each time an answer is made and every second, connections whose
    /// clients have taken nothing for five seconds are closed, as the send timeout would
    /// close them later, until what is left fits; past twice it, any connections. Each
    /// time, one of the client that holds the most (an address, an IPv6 one by its /64),
    /// its largest. A client that reads a few bytes now and then, or opens many HTTP/2
    /// streams or connections and reads none, cannot hold the process's memory. Keep it
    /// well above what clients that read hold at your peak, and above twice the largest
    /// answer. 0: no limit.
    #[arg(id = "HTTP_MAX_UNSENT_BYTES", long, default_value = "33554432", value_parser = at_least(0usize))]
    pub max_unsent_bytes: usize,
    /// A new connection's first request head (or HTTP/2 preface), and each later HTTP/1.1
    /// head from its first byte, must arrive within it, or the connection is dropped.
    #[arg(id = "HTTP_HEADER_READ_TIMEOUT_MS", long, default_value = "10000", value_parser = millis(1))]
    pub header_read_timeout: Duration,
    /// A connection with no request in progress this long is closed gracefully (longer
    /// than a load balancer's usual 60 s, so the balancer closes first).
    #[arg(id = "HTTP_IDLE_TIMEOUT_SECS", long, default_value = "75", value_parser = seconds(1))]
    pub idle_timeout: Duration,
    /// A response with bytes ready that its client takes none of for this long (it stopped
    /// reading, or shut its HTTP/2 window) closes the connection; a live stream waiting for
    /// its next event is not waiting on its client.
    #[arg(id = "HTTP_SEND_TIMEOUT_SECS", long, default_value = "30", value_parser = seconds(1))]
    pub send_timeout: Duration,
    /// How often HTTP/2 connections and WebSockets are pinged.
    #[arg(id = "HTTP_KEEPALIVE_INTERVAL_SECS", long, default_value = "20", value_parser = seconds(1))]
    pub keepalive_interval: Duration,
    /// A peer that answers no ping for this long is gone: its connection and live streams
    /// are closed.
    #[arg(id = "HTTP_KEEPALIVE_TIMEOUT_SECS", long, default_value = "20", value_parser = seconds(1))]
    pub keepalive_timeout: Duration,
}
