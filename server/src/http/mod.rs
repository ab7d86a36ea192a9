//! The HTTP face of a node: the REST API under `/api`, the server-rendered
//! pages and their server functions, and the static site files.

mod bundle;
mod cluster;
mod control;
mod cross_site;
mod error;
mod faults;
mod identify;
pub mod openapi;
mod read_frontier;
mod replication;
mod rest;
pub mod security_headers;
mod sessions;
mod static_files;

pub use bundle::BUILD_PATHS;
pub use cross_site::refuse as refuse_cross_site;
pub use error::HttpError;
pub use identify::{identify, CallerOf, SignedInOperator};
pub use openapi::ErrorBody;

use crate::auth::SessionKeys;
use crate::replication::ReplicatedCinema;
use crate::runtime::load::Load;
use crate::runtime::ClusterHandle;
use app::error::ApiError;
use app::service::{SharedCinema, SharedCluster, SharedSessions};
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;

/// Every response names the node that processed it.
pub const NODE_HEADER: &str = "x-moviebook-node";

/// The node's routes. `access`: the keys its sessions are signed with, and
/// what issues them.
pub fn router(
    replication: Arc<ReplicatedCinema>,
    cluster: ClusterHandle,
    (keys, sessions): (Arc<SessionKeys>, SharedSessions),
    node_id: &str,
    leptos_options: LeptosOptions,
) -> Router {
    let cinema: SharedCinema = replication.clone();
    let replication_for_read_frontiers = replication.clone();
    let control = control::NodeControl {
        cluster: cluster.clone(),
        replication: replication.clone(),
    };
    let routes = generate_route_list(app::App);
    let page_context = {
        let cinema = cinema.clone();
        let control: SharedCluster = Arc::new(control.clone());
        let sessions = sessions.clone();
        move || {
            provide_context(cinema.clone());
            provide_context(control.clone());
            provide_context(sessions.clone());
        }
    };
    let bundle = bundle::Bundle::read(&leptos_options.site_root);
    let bundle_root = bundle.root();
    let shell = {
        let (options, bundle_root) = (leptos_options.clone(), bundle_root.clone());
        move || app::shell(options.clone(), &bundle_root)
    };
    let node_header = HeaderValue::from_str(node_id).unwrap_or(HeaderValue::from_static("unknown"));
    let load = cluster.load.clone();
    let (api, description) = rest::router(cinema)
        .merge(cluster::api_router(cluster.clone()))
        .merge(faults::router(cluster.clone()))
        .merge(replication::router(control))
        .merge(sessions::router(sessions))
        .split_for_parts();
    let description = openapi::body(&openapi::describe(description));
    let api = api
        .route("/openapi.json", openapi::serve(description))
        .fallback(rest::unknown_endpoint)
        .method_not_allowed_fallback(rest::method_not_allowed);
    Router::<LeptosOptions>::new()
        .nest("/api", api)
        .merge(cluster::root_router(cluster, replication))
        .leptos_routes_with_context(&leptos_options, routes, page_context, shell)
        .route("/metrics", axum::routing::get(crate::metrics::render))
        .merge(bundle.router())
        .fallback(leptos_axum::file_and_error_handler(move |options| {
            app::shell(options, &bundle_root)
        }))
        .with_state(leptos_options)
        .layer(axum::middleware::from_fn(crate::metrics::http))
        .layer(axum::middleware::map_response(server_fn_error_status))
        .layer(axum::middleware::from_fn_with_state(
            replication_for_read_frontiers,
            read_frontier::track,
        ))
        .layer(axum::middleware::from_fn(move |request, next| {
            count_in_flight(load.clone(), request, next)
        }))
        .layer(axum::middleware::from_fn_with_state(
            keys,
            identify::identify,
        ))
        .layer(axum::middleware::map_response(
            move |mut response: Response| {
                let value = node_header.clone();
                async move {
                    response
                        .headers_mut()
                        .insert(HeaderName::from_static(NODE_HEADER), value);
                    response
                }
            },
        ))
        .layer(axum::middleware::from_fn(static_files::cache_headers))
        .layer(static_files::compression())
        // Outermost: a request a page of another site makes to change
        // something stops here, every answer gets the security headers, and
        // every log line of the request its id.
        .layer(axum::middleware::from_fn(cross_site::refuse))
        .layer(axum::middleware::map_response(security_headers::add))
        .layer(axum::middleware::from_fn(crate::request_id::track))
}

/// Server functions answer every error with status 500. This gives an error
/// the status its code stands for, so bad input to a server function gets a
/// 4xx like it does from the REST API.
async fn server_fn_error_status(response: Response) -> Response {
    const SERVER_FN_ERROR_HEADER: &str = "serverfnerror";
    const MAX_ERROR_BODY: usize = 64 * 1024;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key(SERVER_FN_ERROR_HEADER)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    if let Ok(error) = serde_json::from_slice::<ApiError>(&bytes) {
        parts.status = StatusCode::from_u16(error.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Counts the requests being served, the load this node reports in its
/// heartbeats (and the weight a load balancer gives it).
async fn count_in_flight(
    load: Load,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let _request = load.start_request();
    next.run(request).await
}
