//! The OpenAPI 3.1 document, generated from the handlers' annotations, and the docs page.
//!
//! The Swagger UI assets are compiled into the binary (utoipa-swagger-ui's `vendored`
//! feature) and served by the app itself, so `/docs` works with no internet access.

use axum::Router;
use utoipa::{
    Modify, OpenApi,
    openapi::{
        ContentBuilder, HeaderBuilder, Ref, RefOr, ResponseBuilder,
        path::Operation,
        schema::{ObjectBuilder, Type},
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};
use utoipa_swagger_ui::SwaggerUi;

use crate::{ApiState, dto, handlers};

/// The API description.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "todo-backend", description = "The todo + users example of a hexagonal Rust backend."),
    paths(
        handlers::users::register, handlers::users::log_in, handlers::users::log_out,
        handlers::users::log_out_everywhere,
        handlers::users::me, handlers::users::list,
        handlers::todos::create, handlers::todos::list, handlers::todos::get, handlers::todos::update,
        handlers::todos::delete, handlers::todos::complete, handlers::todos::reopen,
        handlers::todos::add_tag, handlers::todos::remove_tag,
        // Served on the same listener by every build, from the shared HTTP crate.
        driving_http::operations::live, driving_http::operations::ready,
        driving_http::operations::metrics_text,
    ),
    components(schemas(driving_http::Problem, driving_http::FieldError, dto::TodoResponse, dto::UserResponse)),
    modifiers(&BearerAuth, &SharedResponses),
    tags(
        (name = "users", description = "Registration, sessions and users"),
        (name = "todos", description = "A user's todos"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the operations refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The token from POST /v1/sessions"))
                    .build(),
            ),
        );
    }
}

/// The answers an operation can get from the shared layers and the extractors rather than
/// from its handler, added to every operation by what it takes, so no route can forget one:
///
/// | status | when | added to |
/// |---|---|---|
/// | 400 `malformed_request` | JSON that does not parse; a path or query that does not decode; an `If-Match` that is not one of our ETags; an `Idempotency-Key` that is not a key | operations with a body or parameters |
/// | 401 `unauthenticated` | no valid bearer token | operations with a security requirement |
/// | 413 `payload_too_large` | a body over the limit | operations with a body |
/// | 415 `unsupported_media_type` | a body that is not `application/json` | operations with a body |
/// | 422 `validation_failed` | JSON of the wrong shape (a missing field, an unknown one, a wrong type) | operations with a body |
/// | 500 `internal` | a bug or an unexpected failure; the request id finds its log | every `/v1` operation |
/// | 503 `overloaded`, `timeout`, `unavailable` | too many requests in flight (with `Retry-After`), the time limit, or a backing service down | every `/v1` operation |
///
/// A response a handler documents itself (a 422 with its own description, say) is kept.
struct SharedResponses;

impl SharedResponses {
    /// Names in `components/responses`, with their status and description.
    const SHARED: [(&'static str, &'static str, &'static str); 7] = [
        (
            "Malformed",
            "400",
            "`malformed_request`: the JSON does not parse, or a path segment or query does not decode (a parameter given twice, say), or `If-Match` is not one of our ETags, or `Idempotency-Key` is not a key",
        ),
        (
            "Unauthenticated",
            "401",
            "`unauthenticated`: the bearer token is missing, malformed, unknown or expired",
        ),
        (
            "PayloadTooLarge",
            "413",
            "`payload_too_large`: the body is over the server's limit",
        ),
        (
            "UnsupportedMediaType",
            "415",
            "`unsupported_media_type`: the body must be `application/json`",
        ),
        (
            "InvalidBody",
            "422",
            "`validation_failed`: the JSON has the wrong shape (a missing field, an unknown field, a wrong type) or invalid values; `errors` names each field",
        ),
        (
            "Internal",
            "500",
            "`internal`: an unexpected failure; quote the `request_id` to find its log",
        ),
        (
            "Unavailable",
            "503",
            "`overloaded` (too many requests in flight; `Retry-After` says when to try again), `timeout` (the request took too long), or `unavailable` (a backing service is down, or every password-hashing slot stayed busy, then with `Retry-After`)",
        ),
    ];

    fn add(operation: &mut Operation, path: &str) {
        let has_body = operation.request_body.is_some();
        let has_params = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
        let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
        let api = path.starts_with("/v1/");
        for (name, status, _) in Self::SHARED {
            let applies = match status {
                "400" => has_body || has_params,
                "401" => secured,
                "413" | "415" | "422" => has_body,
                _ => api,
            };
            if applies {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
            }
        }
    }
}

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, _, description) in Self::SHARED {
            let mut response = ResponseBuilder::new().description(description).content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            );
            if name == "Unavailable" {
                response = response.header(
                    "Retry-After",
                    HeaderBuilder::new()
                        .schema(Some(
                            ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)),
                        ))
                        .description(Some("Seconds to wait; sent with `overloaded`, and with `unavailable` when password hashing is busy"))
                        .build(),
                );
            }
            components
                .responses
                .insert(name.to_owned(), response.build().into());
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                Self::add(operation, path);
            }
        }
    }
}

/// `/openapi.json` and the docs page at `/docs`, with the headers of a browser page.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
        .layer(axum::middleware::from_fn(mark_compiled_in_assets))
        .layer(axum::middleware::map_response(
            driving_http::browser_page_headers,
        ))
}

/// Swagger UI's files under `/docs/` are compiled into the binary (its
/// `swagger-initializer.js`, which carries the document's URL, is made per request).
async fn mark_compiled_in_assets(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let compiled_in = request
        .uri()
        .path()
        .strip_prefix("/docs/")
        .is_some_and(|file| !file.is_empty() && file != "swagger-initializer.js");
    let mut response = next.run(request).await;
    if compiled_in && response.status().is_success() {
        response.extensions_mut().insert(driving_http::BodyInBinary);
    }
    response
}
