//! How the browser app's files and the pages travel: compressed (brotli
//! or gzip, whichever the browser accepts) when they are HTML, styles,
//! scripts, WebAssembly or SVG; the API's JSON is not (small answers, on
//! the booking path the benchmarks measure). Static files say how long a
//! browser may keep them: the app's bundle under its build's path
//! (`/build/<id>/pkg/`, see `bundle`), which pages link, for a year and
//! never checked again; the same files at `/pkg/`, whose names do not
//! change between builds, are checked again on every use, cheaply, by
//! their modification time; posters and icons are kept for a day.

use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, Version};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::compression::CompressionLayer;

/// The content types worth compressing.
const COMPRESSED: [&str; 6] = [
    "text/html",
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/wasm",
    "image/svg+xml",
];

pub fn compression() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new().compress_when(DefaultPredicate::new().and(worth_compressing))
}

fn worth_compressing(_: StatusCode, _: Version, headers: &HeaderMap, _: &Extensions) -> bool {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    COMPRESSED.iter().any(|kind| content_type.starts_with(kind))
}

/// The middleware that says how long a static file may be kept.
pub async fn cache_headers(request: Request, next: Next) -> Response {
    let policy = cache_policy(request.uri().path());
    let mut response = next.run(request).await;
    if let Some(policy) = policy.filter(|_| response.status().is_success()) {
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}

fn cache_policy(path: &str) -> Option<&'static str> {
    let file = path.rsplit('/').next().unwrap_or_default();
    if path.starts_with(super::BUILD_PATHS) {
        Some("public, max-age=31536000, immutable")
    } else if path.starts_with("/pkg/") {
        Some("no-cache")
    } else if file.contains('.') && !path.starts_with("/api/") {
        Some("public, max-age=86400")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_is_kept_for_good_the_bundle_checked_again_and_pictures_kept_a_day() {
        assert_eq!(
            cache_policy("/build/0123456789abcdef/pkg/moviebook_split_1.wasm"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(cache_policy("/pkg/moviebook.wasm"), Some("no-cache"));
        assert_eq!(cache_policy("/pkg/moviebook.css"), Some("no-cache"));
        assert_eq!(
            cache_policy("/posters/lighthouse.svg"),
            Some("public, max-age=86400")
        );
        assert_eq!(cache_policy("/favicon.svg"), Some("public, max-age=86400"));
        assert_eq!(cache_policy("/movies/1"), None);
        assert_eq!(cache_policy("/api/movies"), None);
    }

    #[test]
    fn pages_and_the_app_are_compressed_and_json_is_not() {
        let with = |kind: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
            worth_compressing(
                StatusCode::OK,
                Version::HTTP_11,
                &headers,
                &Extensions::new(),
            )
        };
        assert!(with("text/html; charset=utf-8"));
        assert!(with("application/wasm"));
        assert!(with("text/css"));
        assert!(with("image/svg+xml"));
        assert!(!with("application/json"));
        assert!(!with("image/png"));
    }
}
