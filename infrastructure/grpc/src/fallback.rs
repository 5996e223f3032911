//! What a gRPC client gets for a path nothing serves.
//!
//! The listener's last resort is the REST adapter's fallback: an HTTP 404 problem document.
//! A gRPC client cannot read that; it expects a `grpc-status`. An unknown method of a known
//! service already gets one (tonic answers UNIMPLEMENTED); an unknown service never reaches
//! tonic at all. So the fallback is chosen by content type: whatever a gRPC call gets as
//! 404 or 405 from the routes becomes UNIMPLEMENTED, with the `unimplemented` reason.

use axum::{
    body::Body,
    extract::Request,
    http::{StatusCode, header},
    middleware::Next,
    response::Response,
};
use tonic::Code;

use crate::status::{grpc_codes, refusal};

/// Whether `request` is a gRPC call: `application/grpc`, or one of its `+codec` forms.
fn is_grpc(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "application/grpc" || v.starts_with("application/grpc+"))
}

/// Middleware for the whole listener: a gRPC call that no route took is answered as gRPC,
/// with the request id the HTTP layers gave the answer it replaces.
pub async fn unknown_services(request: Request, next: Next) -> Response {
    // Only a gRPC call needs its path again; every other request passes through untouched.
    let grpc_path = is_grpc(&request).then(|| request.uri().path().to_owned());
    let response = next.run(request).await;
    match grpc_path {
        Some(path)
            if matches!(
                response.status(),
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
            ) =>
        {
            let mut answer = refusal(
                Code::Unimplemented,
                grpc_codes::UNIMPLEMENTED,
                format!("this server has no method {path}"),
            )
            .into_http::<Body>();
            if let Some(id) = response.headers().get(&driving_http::REQUEST_ID) {
                answer
                    .headers_mut()
                    .insert(driving_http::REQUEST_ID, id.clone());
            }
            answer
        }
        _ => response,
    }
}
