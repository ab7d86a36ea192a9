//! The HTTP side of read frontiers, reads that never go into the past
//! (`replication::read_frontier`): reads what a client has seen from its
//! `x-moviebook-seen` header (API clients) or `mb_seen` cookie (browsers),
//! makes the node catch up to it before the request runs, and hands back
//! what the client has seen after it, in both. A malformed header is a 400;
//! a malformed cookie is replaced. Eventual consistency keeps no read
//! frontiers.

use super::error::HttpError;
use crate::replication::{read_frontier, ReplicatedCinema};
use app::error::ApiError;
use axum::extract::{Request, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cluster::replication::Frontier;
use std::sync::Arc;

pub const SEEN_HEADER: &str = "x-moviebook-seen";
const SEEN_COOKIE: &str = "mb_seen";

pub async fn track(
    State(replication): State<Arc<ReplicatedCinema>>,
    request: Request,
    next: Next,
) -> Response {
    if !replication.mode().keeps_read_frontiers() || !carries_read_frontier(request.uri().path()) {
        return next.run(request).await;
    }
    let seen = match seen_by(request.headers()) {
        Ok(seen) => seen,
        Err(error) => return HttpError(error).into_response(),
    };
    if let Err(error) = replication.catch_up_to(&seen).await {
        return HttpError(error).into_response();
    }
    let (mut response, seen) = read_frontier::within(seen, next.run(request)).await;
    let seen = replication.seen_after(&seen).to_string();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&seen) {
        headers.insert(SEEN_HEADER, value);
    }
    let cookie = format!("{SEEN_COOKIE}={seen}; Path=/; SameSite=Lax; HttpOnly");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.append(SET_COOKIE, value);
    }
    response
}

/// The API, server functions and pages; not node messages, the event feed
/// or static files, nor what reads or steers the node itself rather than
/// the bookings (its health, its election, its faults): a node cut off
/// from the others cannot catch up to what a client saw elsewhere, and
/// must still say how it is and be healed.
fn carries_read_frontier(path: &str) -> bool {
    const ABOUT_THE_NODE: [&str; 3] = ["/api/health", "/api/election", "/api/faults"];
    let file = path.rsplit('/').next().unwrap_or_default();
    !(path.starts_with("/internal/")
        || path.starts_with("/ws/")
        || path.starts_with("/pkg/")
        || path.starts_with(super::BUILD_PATHS)
        || ABOUT_THE_NODE.iter().any(|about| path.starts_with(about))
        || file.contains('.'))
}

/// What the client says it has seen: the header if it sent one, else the
/// cookie.
fn seen_by(headers: &HeaderMap) -> Result<Frontier, ApiError> {
    if let Some(value) = headers.get(SEEN_HEADER) {
        let text = value.to_str().unwrap_or("\u{0}");
        return text.parse().map_err(|why| {
            ApiError::bad_request(format!(
                "{SEEN_HEADER} must list node:count pairs such as 1:12,3:4 ({why})."
            ))
        });
    }
    Ok(app::session::cookie(headers, SEEN_COOKIE)
        .and_then(|text| text.parse().ok())
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_api_pages_and_server_functions_carry_a_read_frontier() {
        for path in [
            "/",
            "/api/bookings",
            "/sfn/get_seat_map123",
            "/movies/2",
            "/bookings",
        ] {
            assert!(carries_read_frontier(path), "{path}");
        }
        for path in [
            "/internal/call",
            "/ws/events",
            "/pkg/moviebook.wasm",
            "/build/0123456789abcdef/pkg/moviebook.wasm",
            "/favicon.ico",
            "/api/health",
            "/api/election",
            "/api/faults",
            "/api/faults/clock",
        ] {
            assert!(!carries_read_frontier(path), "{path}");
        }
    }

    #[test]
    fn the_header_wins_and_must_be_well_formed() {
        let mut headers = HeaderMap::new();
        headers.insert("cookie", HeaderValue::from_static("mb_seen=1:4"));
        assert_eq!(seen_by(&headers).unwrap(), Frontier::from([(1, 4)]));
        headers.insert(SEEN_HEADER, HeaderValue::from_static("2:7"));
        assert_eq!(seen_by(&headers).unwrap(), Frontier::from([(2, 7)]));
        headers.insert(SEEN_HEADER, HeaderValue::from_static("2:x"));
        assert!(seen_by(&headers).is_err());
        let mut junk_cookie = HeaderMap::new();
        junk_cookie.insert("cookie", HeaderValue::from_static("mb_seen=garbage"));
        assert_eq!(seen_by(&junk_cookie).unwrap(), Frontier::default());
    }
}
