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

/// Whether `request` is a gRPC call: its media type is `application/grpc`, or one of its
/// `+codec` forms (`application/grpc+proto`), in any case and with any parameters
/// (`application/grpc; charset=utf-8`), as media types may be written. gRPC-Web
/// (`application/grpc-web`) is not: this server does not speak it, and such a request is
/// HTTP like any other, as is one with no content type.
pub fn is_grpc<B>(request: &Request<B>) -> bool {
    const GRPC: &str = "application/grpc";
    let Some(value) = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let media_type = value.split(';').next().unwrap_or_default().trim();
    // `get`, as a value may be shorter than the prefix (`to_str` admits visible ASCII only,
    // so the cut is never inside a character).
    media_type
        .get(..GRPC.len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(GRPC))
        && matches!(media_type.as_bytes().get(GRPC.len()), None | Some(b'+'))
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
    use axum::http::HeaderValue;

    use super::*;

    fn with_type(content_type: &str) -> Request<()> {
        Request::post("/todo.v1.TodoService/GetTodo")
            .header(header::CONTENT_TYPE, content_type)
            .body(())
            .unwrap()
    }

    #[test]
    fn grpc_calls_are_told_by_their_media_type() {
        for grpc in [
            "application/grpc",
            "application/grpc+proto",
            "application/grpc+json",
            "Application/GRPC",
            "APPLICATION/GRPC+PROTO",
            "application/grpc; charset=utf-8",
            "application/grpc;charset=utf-8",
            "application/grpc+proto; charset=utf-8",
            "application/grpc ",
            " application/grpc",
        ] {
            assert!(is_grpc(&with_type(grpc)), "{grpc:?}");
        }
        for other in [
            "application/grpc-web",
            "application/grpc-web+proto",
            "application/grpc-web; charset=utf-8",
            "application/json",
            "application/grpcx",
            "application/grp",
            "text/plain; application/grpc",
            "",
        ] {
            assert!(!is_grpc(&with_type(other)), "{other:?}");
        }
        // Opaque bytes, not visible ASCII: not gRPC.
        let opaque = Request::post("/x")
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_bytes(b"application/gr\xc3\xa9c").unwrap(),
            )
            .body(())
            .unwrap();
        assert!(!is_grpc(&opaque));
        let untyped = Request::post("/todo.v1.TodoService/GetTodo")
            .body(())
            .unwrap();
        assert!(!is_grpc(&untyped));
    }
}
