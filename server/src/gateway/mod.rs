//! The gateway: the cluster's one public address. It serves the browser by
//! forwarding each request to a live node chosen by `cluster::balancer`
//! (`proxy.rs`), takes nodes out of rotation and back by health checks
//! (`health.rs`), sends writes straight to the leader in master-slave
//! (`writes.rs`), and merges every node's event feed into its own
//! `/ws/events`, adding its routing decisions (`feed.rs`). Run by `up`, it
//! also lets operators kill, pause and restart the nodes it supervises
//! (`control.rs`, through `processes.rs`, the interface `up`'s supervisor
//! implements); `/api/nodes/{id}/...` reaches one chosen node. Its API
//! description is a node's with its own operations added (`openapi.rs`).

mod control;
mod feed;
mod health;
mod openapi;
mod processes;
mod proxy;
mod rate_limit;
mod writes;

pub use control::NodeControl;
pub use processes::{Change, NodeProcesses, ProcessView};
pub use rate_limit::RateLimits;

use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{any, get};
use axum::{Json, Router};
use cluster::balancer::{Balancer, Strategy};
use cluster::NodeId;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::broadcast;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A node that does not accept a connection within this long is skipped.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
/// Longest a forwarded request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Events a slow feed subscriber may fall behind by before it misses some.
const FEED_CAPACITY: usize = 1024;

/// What the gateway needs to run.
#[derive(Clone)]
pub struct Gateway {
    pub bind: IpAddr,
    pub port: u16,
    /// Every node: id and the host:port its HTTP server listens on.
    pub nodes: BTreeMap<NodeId, String>,
    pub strategy: Strategy,
    /// Per-client rate limits; none if turned off.
    pub rate_limits: Option<RateLimits>,
    /// The node processes, when this gateway runs them (`up`).
    pub control: Option<NodeControl>,
}

/// The gateway's state, shared by its handlers and background tasks.
struct Shared {
    nodes: BTreeMap<NodeId, String>,
    balancer: Mutex<Balancer>,
    /// The leader and the replication mode, as the last health round heard.
    cluster: Mutex<writes::ClusterView>,
    client: reqwest::Client,
    /// Every event as JSON text, from the nodes and from the gateway itself.
    feed: broadcast::Sender<String>,
    forwarded: BTreeMap<NodeId, AtomicU64>,
    limiter: Option<rate_limit::Limiter>,
    control: Option<NodeControl>,
}

impl Shared {
    // A poisoned lock means a panic elsewhere; the balancer's counters stay
    // usable, so carry on with them.
    fn balancer(&self) -> MutexGuard<'_, Balancer> {
        self.balancer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cluster_view(&self) -> writes::ClusterView {
        *self.cluster.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes what a health round heard, and says when the leader changed.
    fn learn(&self, view: writes::ClusterView) {
        let before = std::mem::replace(
            &mut *self.cluster.lock().unwrap_or_else(|e| e.into_inner()),
            view,
        );
        if before != view {
            let strategy = view.strategy.map(|s| s.name());
            tracing::info!(leader = ?view.leader, ?strategy, "the nodes report a new leader or mode");
        }
    }

    fn strategy_name(&self) -> String {
        serde_json::to_value(self.balancer().strategy())
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Publishes a gateway event, shaped like the nodes' events (node 0).
    fn publish(&self, event: serde_json::Value) {
        // The gateway keeps no skewed clock of its own: it reports real time.
        let physical_ms = crate::service::real_time_ms() as f64;
        let stamped = json!({"node": 0, "lamport": 0, "physicalMs": physical_ms, "event": event});
        let _ = self.feed.send(stamped.to_string());
    }
}

/// Serves the gateway until `shutdown` resolves.
pub async fn run(
    gateway: Gateway,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    crate::metrics::handle();
    let ids: Vec<NodeId> = gateway.nodes.keys().copied().collect();
    let client = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let mut balancer = Balancer::new(gateway.strategy, &ids);
    // A node joins the rotation when it first passes a health check, so the
    // browser never waits on a node that is still starting.
    for &id in &ids {
        balancer.set_live(id, false);
    }
    let shared = Arc::new(Shared {
        balancer: Mutex::new(balancer),
        cluster: Mutex::default(),
        forwarded: ids.iter().map(|id| (*id, AtomicU64::new(0))).collect(),
        nodes: gateway.nodes.clone(),
        client,
        feed: broadcast::channel(FEED_CAPACITY).0,
        limiter: gateway.rate_limits.map(rate_limit::Limiter::new),
        control: gateway.control.clone(),
    });
    let address = SocketAddr::new(gateway.bind, gateway.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {address}: {e}"))?;
    let address = listener.local_addr().unwrap_or(address);

    // Background tasks end when this is sent (or dropped).
    let (stop, _) = broadcast::channel::<()>(1);
    health::start(shared.clone(), stop.subscribe());
    feed::follow_nodes(shared.clone(), stop.subscribe());
    if let Some(control) = &gateway.control {
        control::announce_changes(shared.clone(), control.processes.as_ref());
    }

    let (own, description) = own_routes(gateway.control.as_ref()).split_for_parts();
    let app = Router::new()
        .route("/ws/events", get(feed::serve))
        .route("/metrics", get(crate::metrics::render))
        .route("/api/openapi.json", openapi::serve(description))
        .route("/api/nodes/{id}/{*rest}", any(proxy::pinned))
        .merge(own)
        .fallback(proxy::forward)
        .layer(DefaultBodyLimit::max(proxy::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            rate_limit::limit,
        ))
        // The nodes' responses pass through with their headers; the
        // gateway's own (its errors, its status) get the same.
        .layer(axum::middleware::map_response(
            crate::http::security_headers::add,
        ))
        .layer(axum::middleware::from_fn(crate::request_id::track))
        .with_state(shared);
    tracing::info!("gateway listening on http://{address}");
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop.send(());
    tracing::info!("gateway stopped");
    Ok(served?)
}

/// The gateway's own operations, described: its status, and the
/// operator's controls (`/api/nodes/{id}/kill`, `restart` and `pause`,
/// `/api/heal` and `/gateway/strategy`), which a gateway started alone
/// refuses with 409.
fn own_routes(control: Option<&NodeControl>) -> OpenApiRouter<Arc<Shared>> {
    let controls = OpenApiRouter::new()
        .routes(routes!(control::kill))
        .routes(routes!(control::restart))
        .routes(routes!(control::pause))
        .routes(routes!(control::heal))
        .routes(routes!(control::switch_strategy));
    let controls = match control {
        Some(control) => controls.route_layer(axum::middleware::from_fn_with_state(
            control.keys.clone(),
            crate::http::identify,
        )),
        None => controls.route_layer(axum::middleware::from_fn(control::not_supervised)),
    };
    // A page of another site may not use them (as on the nodes).
    let controls = controls.layer(axum::middleware::from_fn(crate::http::refuse_cross_site));
    OpenApiRouter::new().routes(routes!(status)).merge(controls)
}

/// Every node as the gateway sees it.
#[derive(Serialize, ToSchema)]
struct GatewayStatus {
    /// The balancing strategy: round_robin, least_connections or
    /// weighted_round_robin.
    strategy: String,
    /// The leader the nodes report, if any.
    leader: Option<NodeId>,
    /// How the nodes report they replicate: master-slave, multi-master or
    /// gossip. In master-slave, writes go straight to the leader while it
    /// passes its health checks.
    replication: Option<&'static str>,
    nodes: Vec<NodeStatus>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct NodeStatus {
    node_id: NodeId,
    /// The host:port the gateway forwards to.
    address: String,
    /// In rotation: its last health check passed.
    live: bool,
    /// Requests forwarded to it and not answered yet.
    in_flight: u32,
    /// Its share under weighted round robin.
    weight: u32,
    /// Requests forwarded to it so far.
    forwarded: u64,
    /// Its process ("running", "paused" or "stopped"), when this gateway
    /// runs it.
    process: Option<&'static str>,
    restarts: u32,
    paused_for_ms: u64,
}

/// The balancing strategy, the leader writes go to, and every node as the
/// gateway sees it (with its process, when the gateway runs it).
#[utoipa::path(get, path = "/gateway/status", tag = "gateway", responses(
    (status = 200, description = "The gateway and its nodes", body = GatewayStatus),
))]
async fn status(State(shared): State<Arc<Shared>>) -> Json<GatewayStatus> {
    let processes = match &shared.control {
        Some(control) => control.processes.views().await,
        None => Vec::new(),
    };
    let nodes = {
        let balancer = shared.balancer();
        shared
            .nodes
            .iter()
            .map(|(&node_id, address)| {
                let process = processes.iter().find(|p| p.node_id == node_id);
                NodeStatus {
                    node_id,
                    address: address.clone(),
                    live: balancer.is_live(node_id),
                    in_flight: balancer.in_flight(node_id),
                    weight: balancer.weight(node_id),
                    forwarded: shared
                        .forwarded
                        .get(&node_id)
                        .map_or(0, |count| count.load(Ordering::Relaxed)),
                    process: process.map(|p| p.process),
                    restarts: process.map_or(0, |p| p.restarts),
                    paused_for_ms: process.map_or(0, |p| p.paused_for_ms),
                }
            })
            .collect()
    };
    let cluster = shared.cluster_view();
    Json(GatewayStatus {
        strategy: shared.strategy_name(),
        leader: cluster.leader,
        replication: cluster.strategy.map(|s| s.name()),
        nodes,
    })
}
