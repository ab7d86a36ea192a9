//! Forwarding: each request goes to the node the balancer picks. A node that
//! refuses the connection never saw the request, so the request is tried on
//! the next live node and the dead one leaves the rotation. A node that took
//! the request and then failed is retried elsewhere only for GET, HEAD and
//! OPTIONS: anything else might already have booked seats there.

use super::Shared;
use crate::http::HttpError;
use app::error::{ApiError, ErrorCode};
use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use cluster::NodeId;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// Largest request body the gateway forwards.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Headers that belong to one connection, not to the request (RFC 9110
/// §7.6.1), and `host`, which must name the node rather than the gateway.
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "host",
];

pub async fn forward(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let body = match body {
        Ok(body) => body,
        Err(BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_))) => {
            let error = ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("The request body is larger than {MAX_BODY_BYTES} bytes."),
            );
            return HttpError(error).into_response();
        }
        Err(rejection) => {
            let message = format!(
                "The request body could not be read: {}",
                rejection.body_text()
            );
            return HttpError(ApiError::bad_request(message)).into_response();
        }
    };
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    let forwarded_headers = end_to_end(&headers);
    let safe_to_repeat = matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);

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
        let answer = {
            // Counted until the answer is read, or until the browser gives up
            // and this future is dropped.
            let _in_flight = InFlight::start(&shared, node);
            let sent = shared
                .client
                .request(method.clone(), format!("http://{address}{path_and_query}"))
                .headers(forwarded_headers.clone())
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(response) => read_answer(response).await,
                Err(e) => Err(e),
            }
        };
        match answer {
            Ok(response) => {
                if let Some(count) = shared.forwarded.get(&node) {
                    count.fetch_add(1, Ordering::Relaxed);
                }
                if is_page_or_api(uri.path()) {
                    shared.publish(json!({
                        "kind": "routing",
                        "method": method.as_str(),
                        "path": uri.path(),
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
            // A connection that died under the request (the node was killed
            // after the gateway last used it): harmless to repeat a read.
            Err(e) if safe_to_repeat && !e.is_timeout() => {
                tracing::warn!(node, error = %e, "node dropped the request; trying another");
            }
            Err(e) => {
                tracing::warn!(node, error = %e, "node failed to answer");
                let message = if e.is_timeout() {
                    format!("node-{node} did not answer in time; please try again.")
                } else {
                    format!("node-{node} failed while answering; please try again.")
                };
                return HttpError(ApiError::new(ErrorCode::Unavailable, message)).into_response();
            }
        }
    }
}

/// One request in flight on a node, for least connections; ends when dropped.
struct InFlight<'a> {
    shared: &'a Shared,
    node: NodeId,
}

impl<'a> InFlight<'a> {
    fn start(shared: &'a Shared, node: NodeId) -> Self {
        shared.balancer().request_started(node);
        InFlight { shared, node }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.shared.balancer().request_finished(self.node);
    }
}

/// The node's answer as a response to the browser.
async fn read_answer(response: reqwest::Response) -> Result<Response, reqwest::Error> {
    let status = response.status();
    let headers = end_to_end(response.headers());
    let bytes = response.bytes().await?;
    let mut answer = Response::new(Body::from(bytes));
    *answer.status_mut() = status;
    *answer.headers_mut() = headers;
    Ok(answer)
}

/// The headers that travel past this hop: the browser's that the node
/// should see, and the node's that the browser should.
fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let connection = connection_options(headers);
    let mut forwarded = HeaderMap::new();
    for (name, value) in headers {
        if is_end_to_end(name.as_str(), &connection) {
            forwarded.append(name, value.clone());
        }
    }
    forwarded
}

/// The extra hop-by-hop headers a `Connection` header names.
fn connection_options(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("connection")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|option| option.trim().to_ascii_lowercase())
        .filter(|option| !option.is_empty())
        .collect()
}

/// Whether a header travels on past this hop. The length is left out too:
/// the body is re-sent whole, and its length is set afresh.
fn is_end_to_end(name: &str, connection: &[String]) -> bool {
    !HOP_BY_HOP.contains(&name)
        && !name.starts_with("proxy-")
        && name != "content-length"
        && !connection.iter().any(|option| option == name)
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
    use axum::http::HeaderValue;

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

    #[test]
    fn hop_by_hop_headers_stay_behind() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("host", "gateway:3000"),
            ("connection", "keep-alive, X-Trace-Hop"),
            ("x-trace-hop", "1"),
            ("proxy-authorization", "Basic eA=="),
            ("transfer-encoding", "chunked"),
            ("content-length", "12"),
            ("cookie", "user=ada"),
            ("content-type", "application/json"),
        ] {
            headers.append(name, HeaderValue::from_static(value));
        }
        let forwarded = end_to_end(&headers);
        let mut names: Vec<&str> = forwarded.keys().map(|n| n.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["content-type", "cookie"]);
    }
}
