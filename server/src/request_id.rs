//! A request id on every request, at the gateway and at every node: kept
//! from the `x-request-id` the caller sent (the gateway, a peer, a client)
//! when it is well formed, made up otherwise. Every log line written while
//! the request is served carries it (a tracing span), the answer names it,
//! and the calls to peers the request makes pass it on, so one id follows
//! a booking from the gateway through the node to the replicas it writes
//! to (`LOG_FORMAT=json` makes those lines easy to search).

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The longest id kept from a caller.
const LONGEST_ID: usize = 64;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request this task serves, if it serves one.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(String::clone).ok()
}

/// An id a caller may give: 1 to 64 letters, digits, `-`, `_` or `.`.
fn well_formed(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= LONGEST_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A new id: this process's random prefix and its count of requests, so
/// ids never repeat across processes and cost no randomness per request.
fn made_up() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| uuid::Uuid::new_v4().simple().to_string()[..12].to_string());
    format!("{prefix}-{}", COUNT.fetch_add(1, Ordering::Relaxed) + 1)
}

/// The middleware.
pub async fn track(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| well_formed(id))
        .map_or_else(made_up, str::to_string);
    let span = tracing::info_span!("request", request_id = %id);
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let started = Instant::now();
    let served = async move {
        let response = next.run(request).await;
        tracing::debug!(
            %method,
            path,
            status = response.status().as_u16(),
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "served"
        );
        response
    };
    let mut response = REQUEST_ID.scope(id.clone(), served.instrument(span)).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_short_ids_are_kept() {
        assert!(well_formed("trace-me_42.a"));
        assert!(well_formed(&"a".repeat(64)));
        assert!(!well_formed(""));
        assert!(!well_formed(&"a".repeat(65)));
        assert!(!well_formed("two words"));
        assert!(!well_formed("quote\"d"));
        assert!(!well_formed("ünïcode"));
    }

    #[test]
    fn made_up_ids_are_well_formed_and_never_repeat() {
        let (first, second) = (made_up(), made_up());
        assert_ne!(first, second);
        assert!(
            well_formed(&first) && well_formed(&second),
            "{first} {second}"
        );
    }
}
