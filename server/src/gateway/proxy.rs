//! Forwarding: each request goes to the node the balancer picks, or, for a
//! write in master-slave, to the leader (`writes.rs`). A node that
//! refuses the connection never saw the request, so the request is tried on
//! the next live node and the dead one leaves the rotation. A node that took
//! the request and then failed is retried elsewhere only for GET, HEAD and
//! OPTIONS: anything else might already have booked seats there. A file of
//! the browser app's bundle that a node does not have (`/build/<id>/`, a
//! build it does not serve: nodes part-way through a rolling update) is
//! asked of the next node, so a page gets its build's files from whichever
//! node serves that build.

use super::writes::{self, Request, Route};
use super::Shared;
use crate::http::HttpError;
use app::error::{ApiError, ErrorCode};
use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use cluster::NodeId;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest request body the gateway forwards.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long a request aimed at one node waits for it: a paused node
/// accepts connections but answers nothing.
const PINNED_PATIENCE: Duration = Duration::from_secs(5);

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
    let body = match read_body(body) {
        Ok(body) => body,
        Err(refused) => return refused.into_response(),
    };
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    let forwarded_headers = end_to_end(&headers);
    let safe_to_repeat = matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    let request = Request::of(&method, uri.path());

    let mut tried: Vec<NodeId> = Vec::new();
    loop {
        let cluster = shared.cluster_view();
        let (chosen, to_leader) = {
            let mut balancer = shared.balancer();
            let route = writes::route(request, &cluster, |id| balancer.is_live(id), &tried);
            match route {
                Route::Leader(leader) => (Some(leader), true),
                Route::Balanced => (balancer.choose(&tried), false),
            }
        };
        // With no node in rotation (all failed their last health check, or
        // none has been checked yet), try the others anyway: a node that
        // answers is better than a 503.
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
        let answer = ask(
            &shared,
            (node, address),
            &method,
            path_and_query,
            &forwarded_headers,
            body.clone(),
        )
        .await;
        match answer {
            Ok(response)
                if is_another_build(&response, uri.path()) && tried.len() < shared.nodes.len() =>
            {
                tracing::debug!(
                    node,
                    path = uri.path(),
                    "node serves another build; trying another"
                );
            }
            Ok(response) => {
                let routed = Routed {
                    node,
                    to_leader,
                    started,
                };
                answered(&shared, routed, (&method, uri.path()), &response);
                return response;
            }
            Err(e) if e.is_connect() => {
                metrics::counter!("moviebook_gateway_retries_total", "node" => node.to_string())
                    .increment(1);
                tracing::warn!(node, error = %e, "node refused the connection; trying another");
                shared.balancer().set_live(node, false);
            }
            // A connection that died under the request (the node was killed
            // after the gateway last used it): harmless to repeat a read.
            Err(e) if safe_to_repeat && !e.is_timeout() => {
                metrics::counter!("moviebook_gateway_retries_total", "node" => node.to_string())
                    .increment(1);
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

/// `/api/nodes/{id}/...`: the request goes to node `id` alone, as
/// `/api/...` (an operator aims a fault at a chosen node this way, and
/// reads what one node says), with no retry elsewhere.
pub async fn pinned(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let body = match read_body(body) {
        Ok(body) => body,
        Err(refused) => return refused.into_response(),
    };
    let Some((node, path_and_query)) =
        pinned_target(uri.path_and_query().map_or("/", |p| p.as_str()))
    else {
        let error = ApiError::new(ErrorCode::NotFound, "Name a node: /api/nodes/{id}/...");
        return HttpError(error).into_response();
    };
    let Some(address) = shared.nodes.get(&node) else {
        let ids: Vec<String> = shared.nodes.keys().map(|id| id.to_string()).collect();
        let error = ApiError::new(
            ErrorCode::NotFound,
            format!("There is no node {node}: the nodes are {}.", ids.join(", ")),
        );
        return HttpError(error).into_response();
    };
    let answer = tokio::time::timeout(
        PINNED_PATIENCE,
        ask(
            &shared,
            (node, address),
            &method,
            &path_and_query,
            &end_to_end(&headers),
            body,
        ),
    )
    .await;
    match answer {
        Ok(Ok(response)) => {
            let routed = Routed {
                node,
                to_leader: false,
                started,
            };
            answered(&shared, routed, (&method, uri.path()), &response);
            response
        }
        Ok(Err(e)) if !e.is_connect() && !e.is_timeout() => {
            tracing::warn!(node, error = %e, "node failed to answer");
            let message = format!("node-{node} failed while answering; please try again.");
            HttpError(ApiError::new(ErrorCode::Unavailable, message)).into_response()
        }
        _ => {
            let message =
                format!("node-{node} does not answer (it may be stopped, paused or cut off).");
            HttpError(ApiError::new(ErrorCode::Unavailable, message)).into_response()
        }
    }
}

/// The request's body, or the answer that refuses it.
fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, HttpError> {
    match body {
        Ok(body) => Ok(body),
        Err(BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_))) => {
            let error = ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("The request body is larger than {MAX_BODY_BYTES} bytes."),
            );
            Err(HttpError(error))
        }
        Err(rejection) => {
            let message = format!(
                "The request body could not be read: {}",
                rejection.body_text()
            );
            Err(HttpError(ApiError::bad_request(message)))
        }
    }
}

/// The node and the node's own path of a pinned request's path and query.
fn pinned_target(path_and_query: &str) -> Option<(NodeId, String)> {
    let rest = path_and_query.strip_prefix("/api/nodes/")?;
    let (id, rest) = rest.split_once('/')?;
    let id: NodeId = id.parse().ok()?;
    Some((id, format!("/api/{rest}")))
}

/// Sends one request to one node and reads its answer; the node counts as
/// having it in flight until then (or until the browser gives up and this
/// future is dropped).
async fn ask(
    shared: &Shared,
    (node, address): (NodeId, &str),
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, reqwest::Error> {
    let _in_flight = InFlight::start(shared, node);
    let mut headers = headers.clone();
    let request_id = crate::request_id::current().and_then(|id| HeaderValue::from_str(&id).ok());
    if let Some(id) = request_id {
        headers.insert(crate::request_id::REQUEST_ID_HEADER, id);
    }
    let response = shared
        .client
        .request(method.clone(), format!("http://{address}{path_and_query}"))
        .headers(headers)
        .body(body)
        .send()
        .await?;
    read_answer(response).await
}

/// Where a request went, and since when.
struct Routed {
    node: NodeId,
    /// Sent to the leader as a write, rather than by the balancer.
    to_leader: bool,
    started: Instant,
}

/// Counts a node's answer, and puts it on the feed if it answered a page
/// or an API call.
fn answered(
    shared: &Shared,
    Routed {
        node,
        to_leader,
        started,
    }: Routed,
    (method, path): (&Method, &str),
    response: &Response,
) {
    if let Some(count) = shared.forwarded.get(&node) {
        count.fetch_add(1, Ordering::Relaxed);
    }
    let status = response.status().as_u16().to_string();
    metrics::counter!("moviebook_gateway_routed_total", "node" => node.to_string(), "status" => status)
        .increment(1);
    metrics::histogram!("moviebook_gateway_request_duration_seconds", "node" => node.to_string())
        .record(started.elapsed().as_secs_f64());
    if to_leader {
        metrics::counter!("moviebook_gateway_writes_to_leader_total", "node" => node.to_string())
            .increment(1);
    }
    if is_page_or_api(path) {
        shared.publish(json!({
            "kind": "routing",
            "method": method.as_str(),
            "path": path,
            "target": node,
            "strategy": shared.strategy_name(),
            "toLeader": to_leader,
            "status": response.status().as_u16(),
            "durationMs": started.elapsed().as_secs_f64() * 1000.0,
        }));
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

/// The headers that say who the caller is, to act on a node in their name.
pub fn credentials(headers: &HeaderMap) -> HeaderMap {
    let mut credentials = HeaderMap::new();
    for name in [
        axum::http::header::AUTHORIZATION,
        axum::http::header::COOKIE,
    ] {
        for value in headers.get_all(&name) {
            credentials.append(name.clone(), value.clone());
        }
    }
    credentials
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

/// Whether `response` is a node's 404 for a file of a build's bundle: that
/// node serves another build.
fn is_another_build(response: &Response, path: &str) -> bool {
    response.status() == axum::http::StatusCode::NOT_FOUND
        && path.starts_with(crate::http::BUILD_PATHS)
}

/// Pages, server functions and API calls are worth a routing event; the
/// static files a page pulls in (scripts, styles, posters) are not.
fn is_page_or_api(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or_default();
    !path.starts_with("/pkg/") && !path.starts_with(crate::http::BUILD_PATHS) && !last.contains('.')
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
        assert!(!is_page_or_api(
            "/build/0123456789abcdef/pkg/moviebook.wasm"
        ));
        assert!(!is_page_or_api("/posters/lighthouse.svg"));
        assert!(!is_page_or_api("/favicon.ico"));
    }

    #[test]
    fn a_pinned_path_names_its_node_and_the_node_path() {
        assert_eq!(
            pinned_target("/api/nodes/2/faults?x=1"),
            Some((2, "/api/faults?x=1".to_string()))
        );
        assert_eq!(
            pinned_target("/api/nodes/3/faults/clock"),
            Some((3, "/api/faults/clock".to_string()))
        );
        assert_eq!(pinned_target("/api/nodes/two/faults"), None);
        assert_eq!(pinned_target("/api/nodes/2"), None);
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
