//! The headers of the pages a browser renders (`/docs`, `/graphiql`, the example app at
//! `/app`): what the page may load, and what the browser may guess.

use axum::{
    http::{HeaderName, HeaderValue, header},
    response::Response,
};

/// Only the app's own scripts, styles, fonts, images and connections, nothing framed and
/// nothing posted elsewhere. Styles allow `'unsafe-inline'` because both UIs set `style`
/// attributes from their scripts and ship a few inline style blocks; scripts, the part
/// that matters against injection, are the app's own files only.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The example app's policy: [`CONTENT_SECURITY_POLICY`] without `'unsafe-inline'` for
/// styles. The app is ours, so it styles through classes in its own stylesheet and never
/// sets a `style` attribute.
const STRICT_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Marks a response whose body is compiled into the binary (a page's script or style): it
/// holds no memory while its client takes it, so the listener does not count it against
/// its budget for what answers hold (`HTTP_MAX_UNSENT_BYTES`).
#[derive(Debug, Clone, Copy)]
pub struct BodyInBinary;

/// Adds the browser-page headers to `response`: a content security policy that allows only
/// the app's own assets, `X-Content-Type-Options: nosniff` and `Referrer-Policy:
/// no-referrer`. For `axum::middleware::map_response` on the routers of such pages.
pub async fn browser_page_headers(response: Response) -> Response {
    with_page_headers(response, CONTENT_SECURITY_POLICY)
}

/// [`browser_page_headers`] with no inline style allowed either: for pages whose every
/// style is in their own stylesheet.
pub async fn strict_browser_page_headers(response: Response) -> Response {
    with_page_headers(response, STRICT_CONTENT_SECURITY_POLICY)
}

fn with_page_headers(mut response: Response, policy: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    response
}
