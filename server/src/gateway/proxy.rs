//! Forwarding: each request goes to the node the balancer picks. A node that
//! refuses the connection never saw the request, so the request is tried on
//! the next live node and the dead one leaves the rotation; a node that took
//! the request and then failed is not retried (it might have booked).

use super::Shared;
use crate::http::HttpError;
use app::error::{ApiError, ErrorCode};
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use cluster::NodeId;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// Largest request body the gateway forwards.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Headers that belong to one connection, not to the request (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-authenticate",
    "host",
];

pub async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY_BYTES).await else {
        let error = ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("The request body is larger than {MAX_BODY_BYTES} bytes."),
        );
        return HttpError(error).into_response();
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes())
        .unwrap_or(reqwest::Method::GET);
    let headers = forwardable(&parts.headers);

    let mut tried: Vec<NodeId> = Vec::new();
    loop {
        // With no node in rotation (all failed their last health check, or
        // none has been checked yet), try the others anyway: a node that
        // answers is better than a 503.
        let chosen = shared.balancer().choose(&tried);
        let fallback = || shared.nodes.keys().find(|id| !tried.contains(id)).copied();
        let Some(node) = chosen.or_else(fallback) else {
            let error = ApiError::new(
                ErrorCode::Unavailable,
                "No MovieBook node is reachable right now; please try again in a moment.",
            );
            return HttpError(error).into_response();
        };
        tried.push(node);
        let Some(address) = shared.nodes.get(&node) else {
            continue;
        };
        shared.balancer().request_started(node);
        let sent = shared
            .client
            .request(method.clone(), format!("http://{address}{path_and_query}"))
            .headers(headers.clone())
            .body(body.clone())
            .send()
            .await;
        let answer = match sent {
            Ok(response) => read_answer(response).await,
            Err(e) => Err(e),
        };
        shared.balancer().request_finished(node);
        match answer {
            Ok(response) => {
                if let Some(count) = shared.forwarded.get(&node) {
                    count.fetch_add(1, Ordering::Relaxed);
                }
                if is_page_or_api(parts.uri.path()) {
                    shared.publish(json!({
                        "kind": "routing",
                        "method": parts.method.as_str(),
                        "path": parts.uri.path(),
                        "target": node,
                        "strategy": shared.strategy_name(),
                        "status": response.status().as_u16(),
                        "durationMs": started.elapsed().as_secs_f64() * 1000.0,
                    }));
                }
                return response;
            }
            Err(e) if e.is_connect() => {
                tracing::warn!(node, error = %e, "node refused the connection; trying another");
                shared.balancer().set_live(node, false);
            }
            Err(e) => {
                tracing::warn!(node, error = %e, "node failed to answer");
                let error = ApiError::new(
                    ErrorCode::Unavailable,
                    format!("node-{node} did not answer in time; please try again."),
                );
                return HttpError(error).into_response();
            }
        }
    }
}

/// The node's answer as a response to the browser.
async fn read_answer(response: reqwest::Response) -> Result<Response, reqwest::Error> {
    let status = StatusCode::from_u16(response.status().as_u16())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = HeaderMap::new();
    for (name, value) in response.headers() {
        if !HOP_BY_HOP.contains(&name.as_str()) && name != "content-length" {
            if let Ok(name) = HeaderName::from_bytes(name.as_str().as_bytes()) {
                if let Ok(value) = axum::http::HeaderValue::from_bytes(value.as_bytes()) {
                    headers.append(name, value);
                }
            }
        }
    }
    let bytes = response.bytes().await?;
    let mut answer = Response::new(Body::from(bytes));
    *answer.status_mut() = status;
    *answer.headers_mut() = headers;
    Ok(answer)
}

fn forwardable(headers: &HeaderMap) -> reqwest::header::HeaderMap {
    let mut forwarded = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        if HOP_BY_HOP.contains(&name.as_str()) || name == "content-length" {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            reqwest::header::HeaderName::from_bytes(name.as_str().as_bytes()),
            reqwest::header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            forwarded.append(name, value);
        }
    }
    forwarded
}

/// Pages, server functions and API calls are worth a routing event; the
/// static files a page pulls in (scripts, styles, posters) are not.
fn is_page_or_api(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or_default();
    !path.starts_with("/pkg/") && !last.contains('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_files_make_no_routing_events() {
        assert!(is_page_or_api("/"));
        assert!(is_page_or_api("/showtimes/2026112710"));
        assert!(is_page_or_api("/sfn/book_seats12345"));
        assert!(is_page_or_api("/api/movies"));
        assert!(!is_page_or_api("/pkg/moviebook.wasm"));
        assert!(!is_page_or_api("/posters/lighthouse.svg"));
        assert!(!is_page_or_api("/favicon.ico"));
    }
}
