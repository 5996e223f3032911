//! The HTTP server: binds, serves every protocol's routes on one listener, and shuts down
//! gracefully within a deadline.

use std::{
    convert::Infallible,
    net::{IpAddr, SocketAddr},
    sync::Arc,
    task::{self, Poll},
    time::Duration,
};

use anyhow::Context;
use application::users::Client;
use axum::{
    Router,
    body::Body,
    extract::ConnectInfo,
    http::{HeaderMap, HeaderValue, Request},
    response::Response,
    routing::future::RouteFuture,
};
#[cfg(feature = "graphql")]
use driving_graphql::GraphqlSettings;
#[cfg(feature = "grpc")]
use driving_grpc::{GrpcMetrics, GrpcSettings, ReadinessWatch};
use driving_http::{
    BodyInBinary, HttpSettings, InFlightLimit, Metrics,
    operations::{Readiness, ReadinessCheck},
};
#[cfg(feature = "rest")]
use driving_rest::ApiState;
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto::Builder, graceful::GracefulConnection},
    service::TowerToHyperService,
};
use ipnet::IpNet;
use tokio::{net::TcpListener, sync::Semaphore, task::JoinSet};
use tokio_util::sync::CancellationToken;
use tower::{Service, ServiceExt};

use crate::{
    app::{Application, Jobs},
    config::{Config, HttpConfig, WorkerConfig},
    connection::{
        Activity, ConnectionMetrics, ConnectionTimeouts, Expired, TrackedBody, WatchedIo,
    },
    unsent::UnsentBudget,
    worker::{self, WorkerMetrics},
};

/// What the listener serves, and the task that keeps gRPC health current.
#[derive(Debug)]
pub struct Routes {
    /// Every protocol's routes.
    pub router: Listener,
    /// Run it while serving; the server does.
    #[cfg(feature = "grpc")]
    pub health: ReadinessWatch,
    /// The worker's metrics, registered beside the API's, when `serve` runs the worker.
    pub worker_metrics: Option<WorkerMetrics>,
    /// Cancel when shutting down: live streams end at once rather than at the drain
    /// deadline.
    pub closing: CancellationToken,
    /// The connection metrics, registered beside the rest.
    connection_metrics: ConnectionMetrics,
}

/// The listener's service: a gRPC call goes to the gRPC routes, any other request to the
/// HTTP ones (REST, GraphQL, the probes, the docs), by content type.
///
/// gRPC is not behind the shared HTTP layers (its errors are statuses, not problem
/// documents), and a gRPC call must never fall through to REST's routes: a call to a
/// service nobody serves gets the gRPC routes' UNIMPLEMENTED, not REST's 404. Telling the
/// two apart once, here, keeps each protocol's routes and layers to itself, and costs a
/// header lookup. (tower's `Steer` picks among any number of services, but clones a vector
/// of them for every request; two routers need one `if`.)
#[derive(Debug, Clone)]
pub struct Listener {
    /// The probes and `/metrics`, REST and GraphQL, behind `driving_http::with_layers`.
    http: Router,
    /// The gRPC services, behind layers of their own.
    #[cfg(feature = "grpc")]
    grpc: Router,
}

impl Service<Request<Body>> for Listener {
    type Response = Response;
    type Error = Infallible;
    type Future = RouteFuture<Infallible>;

    /// Both routers are always ready.
    fn poll_ready(&mut self, _: &mut task::Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        #[cfg(feature = "grpc")]
        if driving_grpc::is_grpc(&request) {
            return self.grpc.call(request);
        }
        self.http.call(request)
    }
}

/// Every protocol's routes over `app`: REST and GraphQL behind the shared HTTP layers,
/// gRPC behind its own (its errors are statuses, not HTTP responses), and the [`Listener`]
/// that sends each request to one or the other. Each protocol is there when its feature is
/// on (all are by default). The handler tests drive the listener's service directly,
/// without a socket.
///
/// # Errors
/// When an allowed CORS origin is not a valid header value.
pub fn router(app: &Application, config: &Config) -> anyhow::Result<Routes> {
    let mut metrics = Metrics::new();
    #[cfg(feature = "grpc")]
    let grpc_metrics = GrpcMetrics::register(metrics.registry_mut());
    let connection_metrics = ConnectionMetrics::register(metrics.registry_mut());
    let worker_metrics = config
        .worker
        .in_process
        .then(|| WorkerMetrics::register(metrics.registry_mut()));
    let metrics = Arc::new(metrics);
    // One limit for every protocol on the listener.
    let in_flight = InFlightLimit::new(config.http.max_in_flight);
    let settings = HttpSettings {
        request_timeout: config.http.request_timeout,
        cors_allowed_origins: config
            .http
            .cors_allowed_origins
            .iter()
            .map(|o| HeaderValue::from_str(o))
            .collect::<Result<_, _>>()
            .context("invalid HTTP_CORS_ALLOWED_ORIGINS")?,
        in_flight: in_flight.clone(),
    };
    let closing = CancellationToken::new();
    // The probes and `/metrics` are the process's, so every build serves them, whichever
    // protocols it has.
    let mut http = driving_http::operations::router(readiness(app), metrics.clone());
    #[cfg(feature = "rest")]
    {
        http = http.merge(driving_rest::router(ApiState::new(app.use_cases.clone())));
    }
    #[cfg(feature = "graphql")]
    {
        let graphql = graphql_settings(config);
        http = http.merge(driving_graphql::router(
            driving_graphql::build_schema(app.use_cases.clone(), &graphql),
            app.use_cases.clone(),
            &graphql,
            closing.clone(),
        ));
    }
    // REST answers unknown paths itself; without it, the same problem comes from here.
    #[cfg(not(feature = "rest"))]
    {
        http = http.fallback(driving_http::operations::no_such_route);
    }
    let http = driving_http::with_layers(http, &settings, metrics);
    #[cfg(feature = "grpc")]
    let (grpc, health) = {
        let grpc = driving_grpc::router(
            app.use_cases.clone(),
            &GrpcSettings {
                max_message_bytes: config.grpc.max_message_bytes,
                max_timeout: config.http.request_timeout,
                health_interval: config.grpc.health_interval,
                in_flight,
            },
            grpc_metrics,
            closing.clone(),
        )
        .context("cannot build the gRPC services")?;
        (grpc.router, grpc.health)
    };
    #[cfg(not(feature = "grpc"))]
    drop(in_flight);
    let router = Listener {
        http,
        #[cfg(feature = "grpc")]
        grpc,
    };
    Ok(Routes {
        router,
        #[cfg(feature = "grpc")]
        health,
        worker_metrics,
        closing,
        connection_metrics,
    })
}

/// What `/readyz` reports: the readiness use case, which gRPC health reports too.
fn readiness(app: &Application) -> ReadinessCheck {
    let use_cases = app.use_cases.clone();
    Arc::new(move || {
        let use_cases = use_cases.clone();
        Box::pin(async move {
            let report = use_cases.readiness.execute().await;
            Readiness::new(report.checks.iter().map(|check| (check.name, check.up)))
        })
    })
}

/// The GraphQL adapter's settings, from the configuration: its own, and the keep-alive
/// its WebSocket shares with HTTP/2.
#[cfg(feature = "graphql")]
pub fn graphql_settings(config: &Config) -> GraphqlSettings {
    let (http, config) = (&config.http, &config.graphql);
    GraphqlSettings {
        max_depth: config.max_depth,
        max_complexity: config.max_complexity,
        max_query_bytes: config.max_query_bytes,
        introspection: config.introspection,
        ws: driving_graphql::WsSettings {
            max_message_bytes: config.ws_max_message_bytes,
            init_timeout: config.ws_init_timeout,
            keepalive_interval: http.keepalive_interval,
            keepalive_timeout: http.keepalive_timeout,
        },
    }
}

/// A bound, not yet running, HTTP server.
#[derive(Debug)]
pub struct HttpServer {
    listener: TcpListener,
    routes: Routes,
    /// The worker to run beside the server (`WORKER_IN_PROCESS`), with its settings.
    worker: Option<(Arc<Jobs>, WorkerConfig)>,
    /// The bounds on connections, and the proxies whose `X-Forwarded-For` is believed.
    connections: HttpConfig,
}

impl HttpServer {
    /// Binds `config.addr` (port 0 picks a free port; see [`HttpServer::local_addr`]) and
    /// builds the router over `app`.
    ///
    /// # Errors
    /// When the address cannot be bound or an allowed CORS origin is not a header value.
    pub async fn bind(app: &Application, config: &Config) -> anyhow::Result<Self> {
        #[cfg_attr(not(feature = "grpc"), allow(unused_mut))]
        let mut routes = router(app, config)?;
        #[cfg(feature = "grpc")]
        routes.health.check_now().await;
        let addr = config.http.addr;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on HTTP_ADDR={addr}"))?;
        Ok(Self {
            listener,
            routes,
            connections: config.http.clone(),
            worker: config
                .worker
                .in_process
                .then(|| (app.jobs.clone(), config.worker.clone())),
        })
    }

    /// The address the server listens on.
    ///
    /// # Errors
    /// When the operating system cannot say (practically never for a bound socket).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` is cancelled; then stops accepting, asks every connection to
    /// finish its in-flight requests, and closes whatever is still open when the drain
    /// timeout ends (see [`serve`]). The in-process worker and gRPC health run beside it
    /// and stop with it.
    ///
    /// # Errors
    /// None so far: accept errors (out of file descriptors, say) are logged and retried.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self {
            listener,
            routes:
                Routes {
                    router,
                    #[cfg(feature = "grpc")]
                    health,
                    worker_metrics,
                    closing,
                    connection_metrics,
                },
            worker,
            connections,
        } = self;
        // The in-process worker stops with the server, and finishes its batch meanwhile.
        let worker = match (worker, worker_metrics) {
            (Some((jobs, settings)), Some(metrics)) => Some(tokio::spawn(worker::run(
                jobs,
                settings,
                metrics,
                shutdown.child_token(),
            ))),
            _ => None,
        };
        // gRPC health follows readiness while the server accepts, and says NOT_SERVING
        // from the moment it stops.
        #[cfg(feature = "grpc")]
        let health = tokio::spawn(health.run(shutdown.child_token()));
        serve(
            listener,
            router,
            connections,
            connection_metrics,
            shutdown,
            closing,
        )
        .await;
        #[cfg(feature = "grpc")]
        if let Err(error) = health.await {
            tracing::warn!(%error, "the gRPC health task failed");
        }
        if let Some(worker) = worker
            && let Err(error) = worker.await
        {
            tracing::warn!(%error, "the in-process worker failed");
        }
        tracing::info!("HTTP server stopped");
        Ok(())
    }
}

/// Accepts connections on `listener` and serves `service` on each, within the bounds of
/// `limits`, until `shutdown` is cancelled. Then it stops accepting, cancels `closing`
/// (live streams have no natural end), asks every connection to finish its in-flight
/// requests (HTTP/1 closes after the current response; HTTP/2 sends GOAWAY), and closes
/// whatever is still open when `limits.drain_timeout` ends. Every listener of the process
/// is served by it: the API's, and `backend worker`'s probes, which face the same clients.
///
/// This is hyper's connection loop written out, rather than `axum::serve`, for what
/// `axum::serve` cannot do:
/// - **a deadline**: `axum::serve` runs each connection as a task of its own that
///   nothing can cancel, so a request stuck on a lock would outlive any deadline (and
///   then hold a database connection while the pool is closed). Here every connection
///   is a task in one [`JoinSet`], and aborting the set drops them all;
/// - **a cap** (`HTTP_MAX_CONNECTIONS`): past it, a new connection is closed at once,
///   so the client learns it now and can try another replica, instead of waiting in
///   the listen queue, and the process never runs out of file descriptors;
/// - **time limits** on each connection (see [`crate::connection`]) and HTTP/2
///   keep-alive pings, which find peers that vanished without a FIN;
/// - **a memory budget** (`HTTP_MAX_UNSENT_BYTES`) for what answers hold until they are
///   written, which closes connections of the clients that hold the most (see
///   [`crate::unsent`]); and a small kernel send queue, so that what a client does not
///   read waits where the budget counts it ([`KERNEL_UNSENT_BYTES`]).
///
/// Accept errors (out of file descriptors, say) are logged and retried.
pub(crate) async fn serve<S>(
    listener: TcpListener,
    service: S,
    limits: HttpConfig,
    metrics: ConnectionMetrics,
    shutdown: CancellationToken,
    closing: CancellationToken,
) where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let trusted_proxies: Arc<[IpNet]> = limits.trusted_proxies.clone().into();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    // What every connection's answers hold, against HTTP_MAX_UNSENT_BYTES, looked at
    // while nothing is made too (the set aborts the look when `serve` returns).
    let budget = UnsentBudget::new(limits.max_unsent_bytes, metrics.unsent());
    let mut watching = JoinSet::new();
    watching.spawn(budget.clone().keep_watch());
    let timeouts = ConnectionTimeouts {
        header_read: limits.header_read_timeout,
        idle: limits.idle_timeout,
        send: limits.send_timeout,
    };
    let mut connections = JoinSet::new();
    let mut builder = Builder::new(TokioExecutor::new());
    // HTTP/2 gets pings that close a connection whose peer stopped answering. It does
    // not offer WebSockets (extended CONNECT, RFC 8441): browsers open WebSockets over
    // HTTP/1.1 (they never speak cleartext HTTP/2 to this server), and a WebSocket on
    // an HTTP/2 stream would outlive its request, so the connection's watchdog would
    // take the connection for idle under it. HTTP/1 gets no timer: hyper's header
    // timeout would also close idle keep-alive connections, and the watchdog in
    // `connection` times both apart.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.keepalive_interval)
        .keep_alive_timeout(limits.keepalive_timeout);
    // Whether the last connection was refused for want of a slot: the warning is
    // logged when that starts, not for every connection refused.
    let mut full = false;

    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            // Reap finished connections, so the set holds only live ones.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Usually EMFILE: wait for connections to close rather than spin.
                        tracing::warn!(%error, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    metrics.refused();
                    if !std::mem::replace(&mut full, true) {
                        tracing::warn!(
                            addr = ?listener.local_addr().ok(),
                            max_connections = limits.max_connections,
                            "the listener's connection cap is reached; closing new connections at once"
                        );
                    }
                    drop(stream);
                    continue;
                };
                full = false;
                let slot = metrics.slot(permit);
                // Small responses go out at once rather than waiting for more to send.
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%error, "cannot set TCP_NODELAY");
                }
                keep_unsent_out_of_the_kernel(&stream);
                let activity = Activity::counted_by(&budget, Client::of(peer.ip()));
                // Every request carries the client's address, for the limits counted by it
                // (the peer's, or the one a trusted proxy reports: see `client_address`),
                // and its connection's slot, which a WebSocket keeps. Its response counts
                // as in flight on the connection until it has been sent.
                let trusted = trusted_proxies.clone();
                let request_slot = slot.clone();
                let tracked = activity.clone();
                let service = service
                    .clone()
                    .map_request(move |request: axum::http::Request<Incoming>| {
                        let mut request = request.map(Body::new);
                        let client = client_address(peer.ip(), request.headers(), &trusted);
                        let extensions = request.extensions_mut();
                        extensions.insert(ConnectInfo(SocketAddr::new(client, peer.port())));
                        extensions.insert(request_slot.clone());
                        request
                    })
                    .map_future(move |response| {
                        let in_flight = tracked.request_started();
                        async move {
                            let response: axum::response::Response = response.await?;
                            // A compiled-in asset holds no memory while it is sent.
                            let counted = response.extensions().get::<BodyInBinary>().is_none();
                            Ok::<_, std::convert::Infallible>(
                                response.map(|body| TrackedBody::new(body, in_flight, counted)),
                            )
                        }
                    });
                let io = TokioIo::new(WatchedIo::new(stream, activity.clone()));
                let connection = builder
                    .serve_connection_with_upgrades(io, TowerToHyperService::new(service))
                    .into_owned();
                let (shutdown, metrics) = (shutdown.clone(), metrics.clone());
                connections.spawn(async move {
                    drive(connection, &activity, timeouts, &shutdown, &metrics).await;
                    drop(slot);
                });
            }
        }
    }

    drop(listener);
    // Live streams have no natural end: end them now, or the drain waits for its
    // deadline whenever a client is watching.
    closing.cancel();
    // Every connection holds a slot, WebSockets (which have left `connections`) included.
    let open = |slots: &Semaphore| limits.max_connections - slots.available_permits();
    tracing::info!(
        open_connections = open(&slots),
        "stopped accepting; draining"
    );
    // Each connection saw `shutdown` too, and is finishing its requests. A connection that
    // was upgraded (a WebSocket) has left hyper, and its task, but keeps its slot until its
    // socket is closed, which `closing` asked for: the drain also waits for every slot, so
    // that the process does not exit before a WebSocket has said goodbye (1001).
    // (A cap past u32::MAX connections is not one a process can reach.)
    let all_slots = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let drained = async {
        while connections.join_next().await.is_some() {}
        let _every_slot = slots.acquire_many(all_slots).await;
    };
    if tokio::time::timeout(limits.drain_timeout, drained)
        .await
        .is_err()
    {
        tracing::warn!(
            drain_timeout_secs = limits.drain_timeout.as_secs_f64(),
            open_connections = open(&slots),
            "requests or WebSockets still open after the drain timeout; closing them"
        );
        connections.abort_all();
    }
    while connections.join_next().await.is_some() {}
}

/// What the kernel may hold of a connection's answers that the network has not taken yet
/// (`TCP_NOTSENT_LOWAT`): one 16 KiB piece, enough to keep the link busy while the
/// connection's task wakes to write the next.
///
/// Without it, Linux grows a socket's send buffer to megabytes (four at most, by default),
/// and what a client does not read waits there: memory the kernel charges to the process's
/// cgroup, that no setting of ours bounds, on each of up to `HTTP_MAX_CONNECTIONS`
/// connections. With it, the rest of an answer waits in the process, where
/// `HTTP_MAX_UNSENT_BYTES` counts it and the send timeout sees a client that takes nothing.
/// Bytes sent and not yet acknowledged are not limited, so a fast link stays as fast.
#[cfg(any(target_os = "linux", target_os = "android"))]
const KERNEL_UNSENT_BYTES: u32 = 16 * 1024;

/// Sets [`KERNEL_UNSENT_BYTES`] on an accepted socket, where the system has the option.
fn keep_unsent_out_of_the_kernel(stream: &tokio::net::TcpStream) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(error) = socket2::SockRef::from(stream).set_tcp_notsent_lowat(KERNEL_UNSENT_BYTES) {
        tracing::debug!(%error, "cannot set TCP_NOTSENT_LOWAT");
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = stream;
}

/// Serves one connection until it ends: gracefully when the server shuts down or the
/// connection has been idle too long; at once when it overstays the header timeout (it
/// has no request in progress then, so nothing is cut short) or the send timeout (its
/// client has stopped taking what it asked for).
///
/// The watchdog keeps running through the server's drain, so the drain waits only for
/// requests in progress: a connection that is still sending a request's head, or that
/// has had nothing in progress for the header timeout since the drain began (an HTTP/2
/// peer that does not answer the ping that ends its graceful close, say), is closed
/// rather than left to hold shutdown until the drain timeout.
async fn drive<C>(
    connection: C,
    activity: &Activity,
    timeouts: ConnectionTimeouts,
    shutdown: &CancellationToken,
    metrics: &ConnectionMetrics,
) where
    C: GracefulConnection,
    C::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::pin!(connection);
    let watchdog = activity.watch(timeouts);
    tokio::pin!(watchdog);
    // Asked to finish: on shutdown (the watchdog keeps running, on the drain's clocks), or
    // when idle...
    let mut graceful = false;
    // ...and then, when idle, given the header timeout again to do so. (On shutdown the
    // server's drain timeout is the bound, and the watchdog ends what has nothing in
    // progress.) The watchdog stops once this is set, so while it runs, `graceful` means
    // the drain.
    let mut give_up: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            ended = connection.as_mut() => {
                if let Err(error) = ended {
                    let error: Box<dyn std::error::Error + Send + Sync> = error.into();
                    tracing::debug!(error = &*error as &dyn std::error::Error, "connection ended with an error");
                }
                return;
            }
            () = shutdown.cancelled(), if !graceful => {
                graceful = true;
                connection.as_mut().graceful_shutdown();
                // An HTTP/1 connection with nothing in progress has closed by now; an
                // HTTP/2 one has sent GOAWAY and waits for its peer's answer. It gets the
                // header timeout for that, from now.
                activity.restart_idle_clock();
                watchdog.set(activity.watch(ConnectionTimeouts {
                    idle: timeouts.idle.min(timeouts.header_read),
                    ..timeouts
                }));
            }
            expired = &mut watchdog, if give_up.is_none() => {
                metrics.expired(expired);
                match expired {
                    Expired::HeaderRead => {
                        tracing::debug!("closing a connection that sent no request head in time");
                        return;
                    }
                    // Its client takes nothing of what is ready for it: a graceful close
                    // would wait on the same client.
                    Expired::SendStalled => {
                        tracing::debug!("closing a connection whose client takes none of its responses");
                        return;
                    }
                    // The send timeout brought forward: its client holds the most while
                    // answers hold more than their budget. (Counted in /metrics; at debug, like
                    // the other closes, since clients decide how many there are.)
                    Expired::OverBudget => {
                        tracing::debug!("closing a connection of the client that holds the most while answers hold more than HTTP_MAX_UNSENT_BYTES");
                        return;
                    }
                    // Already asked to finish, and with nothing in progress it has not.
                    Expired::Idle if graceful => {
                        tracing::debug!("closing a connection that did not finish closing in the drain");
                        return;
                    }
                    Expired::Idle => {
                        tracing::debug!("closing an idle connection");
                        graceful = true;
                        give_up = Some(tokio::time::Instant::now() + timeouts.header_read);
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            () = tokio::time::sleep_until(give_up.unwrap_or_else(tokio::time::Instant::now)),
                if give_up.is_some() => return,
        }
    }
}

/// The address a request comes from, for the limits counted by address.
///
/// It is the TCP peer, unless the peer is one of the `trusted` proxies. Then it is the
/// rightmost address in `X-Forwarded-For` that is not itself a trusted proxy: each proxy
/// appends the address it received the request from, so that entry was written by a proxy
/// we trust, and everything to its left was written by the client, who can write anything.
/// A header that does not parse there counts as the proxy's own request (the strictest
/// choice: the proxy's address shares one count).
pub(crate) fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |address: &IpAddr| trusted.iter().any(|net| net.contains(address));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut hops: Vec<&str> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(value) = value.to_str() else {
            return peer;
        };
        hops.extend(value.split(',').map(str::trim));
    }
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(address) if is_trusted(&address) => continue,
            Ok(address) => return address,
            Err(_) => return peer,
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::http::HeaderValue;

    use super::*;

    fn resolve(peer: &str, forwarded: &[&str], trusted: &[&str]) -> String {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        let trusted: Vec<IpNet> = trusted.iter().map(|n| n.parse().unwrap()).collect();
        client_address(peer.parse().unwrap(), &headers, &trusted).to_string()
    }

    #[test]
    fn the_client_address_is_the_peer_unless_a_trusted_proxy_forwards_for_another() {
        let proxies = ["10.0.0.0/8"];
        // No trusted proxy: the header is the client's to write, and ignored.
        assert_eq!(
            resolve("203.0.113.9", &["198.51.100.1"], &[]),
            "203.0.113.9"
        );
        assert_eq!(
            resolve("203.0.113.9", &["198.51.100.1"], &proxies),
            "203.0.113.9"
        );
        // Through a trusted proxy: the address it appended.
        assert_eq!(
            resolve("10.0.0.2", &["198.51.100.1"], &proxies),
            "198.51.100.1"
        );
        // A client that sends its own header cannot choose its address: the rightmost
        // untrusted entry is the one the proxy wrote.
        assert_eq!(
            resolve("10.0.0.2", &["1.2.3.4, 198.51.100.1"], &proxies),
            "198.51.100.1"
        );
        // Through two trusted proxies, and with the header split over two lines.
        assert_eq!(
            resolve("10.0.0.2", &["1.2.3.4, 198.51.100.1", "10.0.0.7"], &proxies),
            "198.51.100.1"
        );
        // IPv6, and a trusted proxy with no header.
        assert_eq!(
            resolve("10.0.0.2", &["2001:db8::1"], &proxies),
            "2001:db8::1"
        );
        assert_eq!(resolve("10.0.0.2", &[], &proxies), "10.0.0.2");
        // Garbage where the proxy's entry should be: the proxy's own address.
        assert_eq!(
            resolve("10.0.0.2", &["1.2.3.4, not-an-ip"], &proxies),
            "10.0.0.2"
        );
    }

    /// What keeps a connection's slot past its response (a WebSocket's task, closing its
    /// socket once `closing` is cancelled) holds the drain until it lets go, and no longer
    /// than the drain timeout.
    #[tokio::test]
    async fn the_drain_waits_for_every_connection_slot_within_its_timeout() {
        use std::sync::atomic::{AtomicBool, Ordering};

        use driving_http::ConnectionSlot;

        /// Serves a route whose task keeps its slot for `hold` after `closing`, calls it,
        /// and shuts down: how long `serve` took to return, and whether the slot was let
        /// go by then.
        async fn drain_with_a_slot_held(hold: Duration) -> (Duration, bool) {
            let released = Arc::new(AtomicBool::new(false));
            let closing = CancellationToken::new();
            let app = axum::Router::new().route(
                "/hold",
                axum::routing::get({
                    let (closing, released) = (closing.clone(), released.clone());
                    move |axum::Extension(slot): axum::Extension<ConnectionSlot>| async move {
                        tokio::spawn(async move {
                            closing.cancelled().await;
                            tokio::time::sleep(hold).await;
                            drop(slot);
                            released.store(true, Ordering::Release);
                        });
                    }
                }),
            );
            let config = Config::from_vars(|name| {
                (name == "HTTP_DRAIN_TIMEOUT_SECS").then(|| "1".to_owned())
            })
            .unwrap();
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let shutdown = CancellationToken::new();
            let server = tokio::spawn(serve(
                listener,
                app,
                config.http.clone(),
                ConnectionMetrics::default(),
                shutdown.clone(),
                closing,
            ));
            let answer = reqwest::get(format!("http://{addr}/hold")).await.unwrap();
            assert_eq!(answer.status(), 200);
            let started = tokio::time::Instant::now();
            shutdown.cancel();
            server.await.unwrap();
            (started.elapsed(), released.load(Ordering::Acquire))
        }

        let (took, released) = drain_with_a_slot_held(Duration::from_millis(300)).await;
        assert!(
            released,
            "serve returned after {took:?}, before the slot was let go"
        );
        let (took, released) = drain_with_a_slot_held(Duration::from_secs(3600)).await;
        assert!(!released);
        assert!(took < Duration::from_secs(3), "the drain took {took:?}");
    }

    /// The probes and `/metrics` are the process's, not REST's: CI runs this test in the
    /// build of each protocol alone, and in the build with none.
    #[tokio::test]
    async fn every_build_serves_the_probes_and_metrics() {
        use http_body_util::BodyExt;

        let config = Config::from_vars(|_| None).unwrap();
        let app = Application::build(&config).await.unwrap();
        let listener = router(&app, &config).unwrap().router;
        let get = |path: &'static str| {
            let listener = listener.clone();
            async move {
                let request = Request::get(path).body(Body::empty()).unwrap();
                let response = listener.oneshot(request).await.unwrap();
                let status = response.status();
                let content_type = response
                    .headers()
                    .get(axum::http::header::CONTENT_TYPE)
                    .map(|value| value.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                let body = response.into_body().collect().await.unwrap().to_bytes();
                (
                    status,
                    content_type,
                    String::from_utf8(body.to_vec()).unwrap(),
                )
            }
        };
        let (status, _, _) = get("/healthz").await;
        assert_eq!(status, 200);
        // In memory there is no backing service to wait for.
        let (status, content_type, body) = get("/readyz").await;
        assert_eq!(
            (status.as_u16(), content_type.as_str()),
            (200, "application/json")
        );
        assert_eq!(body, r#"{"status":"ready","checks":{}}"#);
        let (status, content_type, body) = get("/metrics").await;
        assert_eq!(status, 200);
        // OpenMetrics, as the body is: `# EOF` ends it.
        assert_eq!(
            content_type,
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        assert!(body.ends_with("# EOF\n"), "{body}");
        // The shared layers counted the two probes before.
        assert!(
            body.contains(r#"http_requests_total{method="GET",route="/readyz",status="200"} 1"#),
            "{body}"
        );
        // A path nothing serves: the same problem, whichever protocols are built in.
        let (status, content_type, body) = get("/no/such/path").await;
        assert_eq!(
            (status.as_u16(), content_type.as_str()),
            (404, "application/problem+json")
        );
        let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (&problem["code"], &problem["detail"]),
            (
                &serde_json::json!("not_found"),
                &serde_json::json!("no such route")
            ),
            "{problem}"
        );
    }
}
