//! Which requests are gRPC calls, and what a call gets for a method nobody serves.
//!
//! The listener sends every gRPC call to the gRPC routes and every other request to the
//! HTTP ones, by content type ([`is_grpc`]). An unknown method of a known service already
//! gets UNIMPLEMENTED from tonic; a call to a service nobody serves (or to a REST path) is
//! answered by [`unknown_method`], the gRPC routes' fallback, with the same status and the
//! `unimplemented` reason, never with REST's 404 problem document, which a gRPC client
//! cannot read.

use axum::{
    body::Body,
    http::{Request, Uri, header},
    response::Response,
};
use tonic::Code;

use crate::status::{grpc_codes, refusal};

/// Whether `request` is a gRPC call: `application/grpc`, or one of its `+codec` forms
/// (`application/grpc+proto`). gRPC-Web (`application/grpc-web`) is not: this server does
/// not speak it, and such a request is HTTP like any other.
pub fn is_grpc<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "application/grpc" || v.starts_with("application/grpc+"))
}

/// The gRPC routes' fallback: UNIMPLEMENTED, naming the path that has no method.
pub(crate) async fn unknown_method(uri: Uri) -> Response {
    refusal(
        Code::Unimplemented,
        grpc_codes::UNIMPLEMENTED,
        format!("this server has no method {}", uri.path()),
    )
    .into_http::<Body>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_type(content_type: &str) -> Request<()> {
        Request::post("/todo.v1.TodoService/GetTodo")
            .header(header::CONTENT_TYPE, content_type)
            .body(())
            .unwrap()
    }

    #[test]
    fn grpc_calls_are_told_by_their_content_type() {
        for grpc in [
            "application/grpc",
            "application/grpc+proto",
            "application/grpc+json",
        ] {
            assert!(is_grpc(&with_type(grpc)), "{grpc}");
        }
        for other in [
            "application/grpc-web",
            "application/grpc-web+proto",
            "application/json",
            "application/grpcx",
            "",
        ] {
            assert!(!is_grpc(&with_type(other)), "{other}");
        }
        let untyped = Request::post("/todo.v1.TodoService/GetTodo")
            .body(())
            .unwrap();
        assert!(!is_grpc(&untyped));
    }
}
