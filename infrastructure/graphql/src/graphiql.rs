//! The GraphiQL page, served entirely by the app: its scripts and styles are compiled into
//! the binary (see `assets/README.md` for where they come from), so it works offline and
//! never asks a CDN for anything.

use axum::{
    Router,
    http::{HeaderValue, header},
    response::IntoResponse,
    routing::get,
};

/// One vendored file and its media type.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: [Asset; 5] = [
    Asset {
        path: "/graphiql/graphiql.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/graphiql.min.js"),
    },
    Asset {
        path: "/graphiql/graphiql.min.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../assets/graphiql.min.css"),
    },
    Asset {
        path: "/graphiql/react.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/react.production.min.js"),
    },
    Asset {
        path: "/graphiql/react-dom.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/react-dom.production.min.js"),
    },
    Asset {
        path: "/graphiql/init.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/init.js"),
    },
];

/// `/graphiql` and its assets, with the headers of a browser page.
pub(crate) fn routes() -> Router {
    let page = get(|| async {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            include_str!("../assets/graphiql.html"),
        )
    });
    let mut router = Router::new().route("/graphiql", page);
    for asset in ASSETS {
        router = router.route(
            asset.path,
            get(move || async move {
                (
                    [
                        (
                            header::CONTENT_TYPE,
                            HeaderValue::from_static(asset.content_type),
                        ),
                        // The files change only with the binary.
                        (
                            header::CACHE_CONTROL,
                            HeaderValue::from_static("public, max-age=86400"),
                        ),
                    ],
                    asset.body,
                )
                    .into_response()
            }),
        );
    }
    router.layer(axum::middleware::map_response(
        driving_http::browser_page_headers,
    ))
}
