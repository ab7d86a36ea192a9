//! Security headers on every response, from the nodes and the gateway alike:
//! no content-type sniffing, no framing, no referrer sent to other sites,
//! and a content security policy.
//!
//! A page's policy is set by the page itself while it renders
//! (`app::shell`), since only the render knows the nonce its inline scripts
//! (the hydration script, the streamed chunks) carry. Every other response
//! (JSON, files, errors) gets a policy that allows nothing at all, which
//! costs them nothing and keeps a response opened as a document inert.

use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::HeaderValue;
use axum::response::Response;

/// For responses that are not pages.
const NOTHING_ALLOWED: &str = "default-src 'none'; frame-ancestors 'none'";

/// Adds the headers a response lacks (a page keeps the policy it set).
pub async fn add(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers
        .entry(CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(NOTHING_ALLOWED));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    response
}
