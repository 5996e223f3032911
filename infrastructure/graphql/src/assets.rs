//! Files the browser pages load (GraphiQL's bundle, the example app's modules), compiled
//! into the binary with `include_bytes!` so that every page works offline and asks no CDN
//! for anything.

use axum::{
    Router,
    http::{HeaderValue, header},
    response::IntoResponse,
    routing::get,
};

/// One file, where it is served and as what.
pub(crate) struct Asset {
    pub(crate) path: &'static str,
    pub(crate) content_type: &'static str,
    pub(crate) body: &'static [u8],
}

pub(crate) const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
pub(crate) const CSS: &str = "text/css; charset=utf-8";

/// `router` with a `GET` route for each of `assets`, sent with `cache_control`.
pub(crate) fn serve(
    mut router: Router,
    assets: &'static [Asset],
    cache_control: &'static str,
) -> Router {
    for asset in assets {
        router = router.route(
            asset.path,
            get(move || async move {
                let mut response = (
                    [
                        (
                            header::CONTENT_TYPE,
                            HeaderValue::from_static(asset.content_type),
                        ),
                        (
                            header::CACHE_CONTROL,
                            HeaderValue::from_static(cache_control),
                        ),
                    ],
                    asset.body,
                )
                    .into_response();
                response.extensions_mut().insert(driving_http::BodyInBinary);
                response
            }),
        );
    }
    router
}
