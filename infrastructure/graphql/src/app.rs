//! The example todo app, a client of this GraphQL API: `/app` (and `/` and `/app/`, which
//! redirect there). One HTML page, one stylesheet and plain ES modules, no build step; the
//! WebSocket client is graphql-ws, vendored (see `assets/app/README.md`). Everything is
//! compiled into the binary, so the app works offline.
//!
//! The page gets the strict content security policy: scripts, styles and connections from
//! the app's own origin only, and no inline script or style at all.

use axum::{
    Router,
    http::{HeaderValue, header},
    response::Redirect,
    routing::get,
};

use crate::assets::{self, Asset, CSS, JAVASCRIPT};

const ASSETS: [Asset; 7] = [
    Asset {
        path: "/app/app.css",
        content_type: CSS,
        body: include_bytes!("../assets/app/app.css"),
    },
    Asset {
        path: "/app/app.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../assets/app/app.js"),
    },
    Asset {
        path: "/app/api.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../assets/app/api.js"),
    },
    Asset {
        path: "/app/live.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../assets/app/live.js"),
    },
    Asset {
        path: "/app/view.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../assets/app/view.js"),
    },
    Asset {
        path: "/app/vendor/graphql-ws/client.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../assets/app/vendor/graphql-ws/client.js"),
    },
    Asset {
        path: "/app/vendor/graphql-ws/common-CGW11Fyb.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../assets/app/vendor/graphql-ws/common-CGW11Fyb.js"),
    },
];

/// `/`, `/app/`, `/app` and the app's files, with the strict headers of a browser page.
pub(crate) fn routes() -> Router {
    let page = get(|| async {
        (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            include_str!("../assets/app/index.html"),
        )
    });
    let router = Router::new()
        .route("/", get(|| async { Redirect::to("/app") }))
        .route("/app/", get(|| async { Redirect::to("/app") }))
        .route("/app", page);
    // `no-cache`: a browser asks again each time, so a new binary's modules are never
    // mixed with an old one's. They are small, and a page loads each once.
    assets::serve(router, &ASSETS, "no-cache").layer(axum::middleware::map_response(
        driving_http::strict_browser_page_headers,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Every module the page or a module imports, by its path on the server.
    fn imports(from: &str, source: &str) -> Vec<String> {
        let base = &from[..=from.rfind('/').unwrap()];
        source
            .lines()
            .filter(|line| line.starts_with("import ") || line.starts_with("export "))
            .filter_map(|line| line.split(" from ").nth(1))
            .map(|target| target.trim().trim_end_matches(';').trim_matches('\''))
            .map(|target| match target.strip_prefix("./") {
                Some(relative) => format!("{base}{relative}"),
                None => target.to_owned(),
            })
            .collect()
    }

    #[test]
    fn every_module_the_app_imports_is_served() {
        let page = include_str!("../assets/app/index.html");
        let mut wanted: Vec<String> = page
            .split("src=\"")
            .skip(1)
            .chain(page.split("href=\"").skip(1))
            .filter_map(|rest| rest.split('"').next())
            .filter(|path| path.starts_with("/app/"))
            .map(str::to_owned)
            .collect();
        assert!(
            wanted.len() >= 2,
            "the page loads its script and its stylesheet"
        );
        for asset in &ASSETS {
            let source = std::str::from_utf8(asset.body).unwrap();
            wanted.extend(imports(asset.path, source));
        }
        for path in &wanted {
            assert!(
                ASSETS.iter().any(|asset| asset.path == path),
                "{path} is loaded by the app but not served"
            );
        }
    }

    #[test]
    fn nothing_in_the_app_points_off_the_machine() {
        let page = include_str!("../assets/app/index.html");
        let ours = ASSETS
            .iter()
            .filter(|asset| !asset.path.contains("/vendor/"))
            .map(|asset| std::str::from_utf8(asset.body).unwrap());
        for source in ours.chain([page]) {
            assert!(!source.contains("http://") && !source.contains("https://"));
            assert!(
                !source.contains("style="),
                "no inline style: the policy refuses it"
            );
            assert!(
                !source.contains("<style"),
                "no inline style: the policy refuses it"
            );
        }
        assert!(
            !page.contains("<script>"),
            "no inline script: the policy refuses it"
        );
    }
}
