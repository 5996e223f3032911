//! The OpenAPI 3.1 document, generated from the handlers' annotations, and the docs page.
//!
//! The Swagger UI assets are compiled into the binary (utoipa-swagger-ui's `vendored`
//! feature) and served by the app itself, so `/docs` works with no internet access.

use axum::Router;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
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
        handlers::health::live, handlers::health::ready, handlers::health::metrics,
    ),
    components(schemas(driving_http::Problem, driving_http::FieldError, dto::TodoResponse, dto::UserResponse)),
    modifiers(&BearerAuth),
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

/// `/openapi.json` and the docs page at `/docs`, with the headers of a browser page.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
        .layer(axum::middleware::map_response(
            driving_http::browser_page_headers,
        ))
}
