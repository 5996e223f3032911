//! Driving adapter: the gRPC API (tonic) over the same use cases as REST and GraphQL.
//!
//! The contract is `proto/todo/v1/*.proto`, compiled by `build.rs` (protox, so no `protoc`).
//! Services hold no business rule: each method parses its request into domain values, calls
//! one use case, and maps the result; every error goes through the application's error
//! vocabulary and [`status::to_status`], so the three protocols always agree.
//!
//! - [`api`]: the generated messages, servers and clients.
//! - `todos` and `users`: the two services.
//! - `convert`: requests to domain values, and domain values to messages.
//! - `auth`: the caller, from `authorization: Bearer`, checked once per call in a layer.
//! - [`status`]: the mapping to gRPC statuses with `google.rpc` error details.
//! - `observe`: request ids, spans, the deadline, and metrics, for every call.
//! - `health`: `grpc.health.v1.Health`, kept in step with readiness.
//! - [`is_grpc`]: which requests are gRPC calls; the listener sends them here. A call to a
//!   service nobody serves is answered UNIMPLEMENTED by this router's fallback.
//!
//! [`router`] returns an axum router, so gRPC is served on the same listener as the other
//! protocols: one port, one set of probes, one shutdown.

pub mod api {
    //! The messages, servers and clients generated from `proto/todo/v1`.
    #![allow(
        missing_docs,
        unreachable_pub,
        clippy::all,
        missing_debug_implementations
    )]
    tonic::include_proto!("todo.v1");

    /// The compiled descriptors of `proto/todo/v1`, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/todo_v1_descriptor.bin"));
}

mod auth;
mod convert;
mod fallback;
mod health;
mod observe;
pub mod status;
mod todos;
mod users;

pub use fallback::is_grpc;
pub use health::ReadinessWatch;
pub use observe::GrpcMetrics;
pub use todos::TodoApi;
pub use users::UserApi;

use std::{collections::HashSet, sync::Arc, time::Duration};

use api::{todo_service_server::TodoServiceServer, user_service_server::UserServiceServer};
use application::UseCases;
use axum::{Router, middleware};
use prost::Message;
use tonic::server::NamedService;
use tower::ServiceBuilder;

/// gRPC settings that come from configuration.
#[derive(Debug, Clone)]
pub struct GrpcSettings {
    /// The largest message accepted, or sent; larger ones are RESOURCE_EXHAUSTED.
    pub max_message_bytes: usize,
    /// The longest a call may take, whatever deadline the client sets.
    pub max_timeout: Duration,
    /// How often health re-checks readiness.
    pub health_interval: Duration,
    /// The requests in flight at once, shared with HTTP; past it, UNAVAILABLE. `None` is
    /// no limit.
    pub in_flight: Option<driving_http::InFlightLimit>,
}

impl Default for GrpcSettings {
    fn default() -> Self {
        Self {
            max_message_bytes: 4 * 1024 * 1024,
            max_timeout: Duration::from_secs(10),
            health_interval: Duration::from_secs(5),
            in_flight: None,
        }
    }
}

/// What the adapter gives the composition root: the router the listener sends gRPC calls
/// to, and the task that keeps health current.
#[derive(Debug)]
pub struct Grpc {
    /// `/todo.v1.TodoService/*`, `/todo.v1.UserService/*`, health and reflection, each behind
    /// the layers every call goes through, and UNIMPLEMENTED for any other path. The
    /// listener sends it the gRPC calls only (see [`is_grpc`]).
    pub router: Router,
    /// Run it while serving (see [`ReadinessWatch::run`]).
    pub health: ReadinessWatch,
}

/// Builds the gRPC routes over `use_cases`, recording into `metrics`. When `closing` is
/// cancelled (the server begins to shut down), open streams end with UNAVAILABLE, so that
/// they do not hold the drain open until its deadline.
///
/// # Errors
/// When the compiled descriptors cannot be read, which the tests rule out.
pub fn router(
    use_cases: Arc<UseCases>,
    settings: &GrpcSettings,
    metrics: GrpcMetrics,
    closing: tokio_util::sync::CancellationToken,
) -> Result<Grpc, tonic_reflection::server::Error> {
    let limit = settings.max_message_bytes;
    let todos = TodoServiceServer::new(TodoApi::new(use_cases.clone(), closing))
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    let users = UserServiceServer::new(UserApi::new(use_cases.clone()))
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    // The API's services, each behind the in-flight limit (before anything else is spent
    // on a call that will be shed), then the bearer-token check. The layers are put on each
    // service rather than on the router: every `Router::layer` wraps each route in one more
    // boxed service, which axum clones for every call.
    let guard = ServiceBuilder::new()
        .option_layer(
            settings
                .in_flight
                .clone()
                .map(|limit| middleware::from_fn_with_state(limit, observe::shed_load)),
        )
        .layer(middleware::from_fn_with_state(
            use_cases.clone(),
            auth::authenticate,
        ));

    // Health and reflection are open to anyone, as infrastructure expects.
    let (reporter, health) = tonic_health::server::health_reporter();
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(api::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;
    // Every call, to a method the server has or not, is observed: one layer over all the
    // routes and the fallback.
    let router = Router::new()
        .route_service(
            &route(TodoServiceServer::<TodoApi>::NAME),
            guard.service(todos),
        )
        .route_service(
            &route(UserServiceServer::<UserApi>::NAME),
            guard.service(users),
        )
        .route_service(&route(service_name(&health)), health)
        .route_service(&route(service_name(&reflection_v1)), reflection_v1)
        .route_service(
            &route(service_name(&reflection_v1alpha)),
            reflection_v1alpha,
        )
        .fallback(fallback::unknown_method)
        .layer(middleware::from_fn_with_state(
            observe::Observer {
                metrics,
                methods: Arc::new(methods()?),
                max_timeout: settings.max_timeout,
            },
            observe::observe,
        ));
    Ok(Grpc {
        router,
        health: ReadinessWatch {
            reporter,
            use_cases,
            interval: settings.health_interval,
            last: None,
        },
    })
}

/// The route of every method of `service`.
fn route(service: &str) -> String {
    format!("/{service}/{{*method}}")
}

/// The name of a generated service, from a value of it.
fn service_name<S: NamedService>(_: &S) -> &'static str {
    S::NAME
}

/// Every `service/method` the server has: the API's, from the compiled descriptors, and
/// those of health and reflection.
fn methods() -> Result<HashSet<String>, tonic_reflection::server::Error> {
    let mut methods = HashSet::from([
        "grpc.health.v1.Health/Check".to_owned(),
        "grpc.health.v1.Health/Watch".to_owned(),
        "grpc.reflection.v1.ServerReflection/ServerReflectionInfo".to_owned(),
        "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo".to_owned(),
    ]);
    let descriptors = prost_types::FileDescriptorSet::decode(api::FILE_DESCRIPTOR_SET)?;
    for file in descriptors.file {
        for service in &file.service {
            for method in &service.method {
                methods.insert(format!(
                    "{}.{}/{}",
                    file.package(),
                    service.name(),
                    method.name()
                ));
            }
        }
    }
    Ok(methods)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_methods_are_read_from_the_contract() {
        let methods = methods().unwrap();
        for expected in [
            "todo.v1.TodoService/GetTodo",
            "todo.v1.TodoService/RemoveTag",
            "todo.v1.TodoService/WatchTodos",
            "todo.v1.UserService/ListUsers",
            "grpc.health.v1.Health/Watch",
        ] {
            assert!(methods.contains(expected), "{expected}");
        }
        assert_eq!(methods.len(), 10 + 5 + 4);
    }
}
