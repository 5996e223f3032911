//! The GraphiQL page, served entirely by the app: its scripts and styles are compiled into
//! the binary (see `assets/README.md` for where they come from), so it works offline and
//! never asks a CDN for anything.

use axum::{
    Router,
    http::{HeaderValue, header},
    routing::get,
};

use crate::assets::{self, Asset, CSS, JAVASCRIPT};

const ASSETS: [Asset; 5] = [
    Asset {
        path: "/graphiql/graphiql.min.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../assets/graphiql.min.js"),
    },
    Asset {
        path: "/graphiql/graphiql.min.css",
        content_type: CSS,
        body: include_bytes!("../assets/graphiql.min.css"),
    },
    Asset {
        path: "/graphiql/react.production.min.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../assets/react.production.min.js"),
    },
    Asset {
        path: "/graphiql/react-dom.production.min.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../assets/react-dom.production.min.js"),
    },
    Asset {
        path: "/graphiql/init.js",
        content_type: JAVASCRIPT,
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
    // The files change only with the binary.
    assets::serve(
        Router::new().route("/graphiql", page),
        &ASSETS,
        "public, max-age=86400",
    )
    .layer(axum::middleware::map_response(
        driving_http::browser_page_headers,
    ))
}
