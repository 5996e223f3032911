//! The example app at `/app`, served by the real server: the redirect from `/`, the page
//! and each of its modules, under the strict content security policy. What the app does in
//! a browser is checked by `scripts/browser-check/app.mjs`, in headless Chromium.

use crate::support;

use reqwest::{StatusCode, header};
use support::server::spawn_app;

const MODULES: [&str; 6] = [
    "/app/app.js",
    "/app/api.js",
    "/app/live.js",
    "/app/view.js",
    "/app/vendor/graphql-ws/client.js",
    "/app/vendor/graphql-ws/common-CGW11Fyb.js",
];

/// The policy of the app's page: the app's own files only, and no inline script or style.
fn assert_strict_page_headers(headers: &header::HeaderMap) {
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'self'",
        "script-src 'self';",
        "style-src 'self';",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} not in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_and_the_app_with_a_slash_redirect_to_the_app() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    for path in ["/", "/app/"] {
        let answer = client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();

        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(answer.headers()[header::LOCATION], "/app", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_every_module_are_served_under_the_strict_policy() {
    let app = spawn_app().await;
    let page = app
        .client
        .get(format!("{}/app", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_strict_page_headers(page.headers());
    assert_eq!(
        page.headers()[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"<script type="module" src="/app/app.js">"#),
        "{html}"
    );
    assert!(html.contains(r#"href="/app/app.css""#), "{html}");

    let css = app
        .client
        .get(format!("{}/app/app.css", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(
        css.headers()[header::CONTENT_TYPE],
        "text/css; charset=utf-8"
    );
    for module in MODULES {
        let response = app
            .client
            .get(format!("{}{module}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{module}");
        // A module script is refused by the browser unless it is served as JavaScript.
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8",
            "{module}"
        );
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-cache");
        assert_strict_page_headers(response.headers());
        let source = response.text().await.unwrap();
        assert!(
            source.contains("export ") || source.contains("import "),
            "{module}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_answers_only_gets_for_its_own_files() {
    let app = spawn_app().await;

    let post = app
        .client
        .post(format!("{}/app", app.base))
        .body("x")
        .send()
        .await
        .unwrap();
    let missing = app
        .client
        .get(format!("{}/app/secret.js", app.base))
        .send()
        .await
        .unwrap();
    let outside = app
        .client
        .get(format!("{}/app/../../Cargo.toml", app.base))
        .send()
        .await
        .unwrap();

    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    // The files are compiled in: no path reaches the file system.
    assert_eq!(outside.status(), StatusCode::NOT_FOUND);
}
