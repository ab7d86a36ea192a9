//! The cluster's HTTP face: `/internal/rpc` and `/internal/call` for signed
//! messages between nodes, `/ws/events` for the live event feed, and the
//! read-and-control API under `/api` (health, election, clock sync).

use super::error::HttpError;
use super::identify::SignedInOperator;
use crate::replication::wire::ReplicationRequest;
use crate::replication::ReplicatedCinema;
use crate::runtime::envelope::{seal, Envelope, SIGNATURE_HEADER};
use crate::runtime::{ClusterHandle, ClusterSnapshot};
use crate::service::real_time_ms;
use app::error::{ApiError, ErrorCode};
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cluster::clock::berkeley::BerkeleyResult;
use cluster::election::{Algorithm, Epoch, LoggedMessage};
use cluster::NodeId;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes at the root: `/internal/rpc`, `/internal/call` and `/ws/events`.
pub fn root_router<S: Clone + Send + Sync + 'static>(
    cluster: ClusterHandle,
    replication: Arc<ReplicatedCinema>,
) -> Router<S> {
    let calls = Router::new()
        .route("/internal/call", post(answer_call))
        .with_state((cluster.clone(), replication));
    Router::new()
        .route("/internal/rpc", post(receive_message))
        .route("/ws/events", get(event_feed))
        .with_state(cluster)
        .merge(calls)
}

/// Routes under `/api`.
pub fn api_router<S: Clone + Send + Sync + 'static>(cluster: ClusterHandle) -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(election, start_election))
        .routes(routes!(sync))
        .with_state(cluster)
}

/// Accepts a message only if it is signed with the cluster secret, well
/// formed, addressed to this node and from a member.
async fn receive_message(
    State(cluster): State<ClusterHandle>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, HttpError> {
    let envelope = opened_envelope(&cluster, &headers, &body)?;
    through_injected_faults(&cluster, envelope.from).await?;
    cluster.deliver(envelope);
    Ok(StatusCode::ACCEPTED)
}

/// Answers a replication call with a signed envelope, after the same checks.
async fn answer_call(
    State((cluster, replication)): State<(ClusterHandle, Arc<ReplicatedCinema>)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, HttpError> {
    let envelope: Envelope<ReplicationRequest> = opened_envelope(&cluster, &headers, &body)?;
    through_injected_faults(&cluster, envelope.from).await?;
    cluster
        .clocks
        .lock()
        .merge_receive(envelope.lamport, &envelope.vclock);
    let (caller, call_seq) = (envelope.from, envelope.seq);
    let reply = replication.handle(caller, envelope.body).await?;
    let answer = cluster.stamper.reply(caller, call_seq, reply);
    let sealed = seal(&cluster.signer, &answer).map_err(|_| ApiError::internal())?;
    Ok((
        [
            (SIGNATURE_HEADER, sealed.signature),
            ("content-type", "application/json".to_string()),
        ],
        sealed.json,
    )
        .into_response())
}

/// A message from `peer` through the faults injected into this node's link
/// to it: a delayed one waits; one the link loses is never answered in
/// time, as on a link that is down (the sender gives up first), then
/// refused.
async fn through_injected_faults(cluster: &ClusterHandle, peer: NodeId) -> Result<(), HttpError> {
    const LOST_FOR: Duration = Duration::from_secs(10);
    if let Err(lost) = cluster.faults.pass(peer).await {
        tokio::time::sleep(LOST_FOR).await;
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            format!(
                "This node's link to node {} is cut by an injected fault.",
                lost.0
            ),
        )
        .into());
    }
    Ok(())
}

/// Opens a peer's request (`runtime::envelope`): anything but a genuine,
/// new envelope for this node from a member is refused and has no effect.
fn opened_envelope<Body: DeserializeOwned>(
    cluster: &ClusterHandle,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Envelope<Body>, HttpError> {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    Ok(cluster.opener.open(body, signature, real_time_ms())?)
}

async fn event_feed(State(cluster): State<ClusterHandle>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| stream_events(socket, cluster))
}

/// Sends every event to the socket. It reads the socket too: that is what
/// answers the gateway's pings, and notices a client that went away.
async fn stream_events(mut socket: WebSocket, cluster: ClusterHandle) {
    let mut events = cluster.feed.subscribe();
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    let Ok(text) = serde_json::to_string(&event) else {
                        continue;
                    };
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                // A slow reader missed some events; it keeps the newer ones.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// A member of the cluster as the answering node sees it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct NodeHealth {
    node_id: NodeId,
    host: Option<String>,
    port: Option<u16>,
    /// "healthy" or "down".
    status: &'static str,
    is_leader: bool,
    is_self: bool,
    /// Requests it was serving, as its last heartbeat said.
    load: u32,
    /// Milliseconds since its last heartbeat.
    last_heartbeat: Option<u64>,
}

#[derive(Serialize, ToSchema)]
struct HealthSummary {
    total: usize,
    healthy: usize,
    down: usize,
    leader: Option<NodeId>,
    epoch: Epoch,
}

/// Every member as one node sees it, in the original MovieBook's shape.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Health {
    node_id: NodeId,
    nodes: Vec<NodeHealth>,
    summary: HealthSummary,
}

/// Every member as this node sees it.
#[utoipa::path(get, path = "/health", tag = "cluster", responses(
    (status = 200, description = "The members, alive or down, and the leader", body = Health),
))]
async fn health(State(cluster): State<ClusterHandle>) -> Json<Health> {
    let snapshot = cluster.snapshot();
    let leader = snapshot.leader.map(|(id, _)| id);
    let nodes: Vec<NodeHealth> = snapshot
        .members
        .iter()
        .map(|m| {
            let (host, port) = split_address(m.address.as_deref());
            NodeHealth {
                node_id: m.node_id,
                host,
                port,
                status: if m.alive { "healthy" } else { "down" },
                is_leader: leader == Some(m.node_id),
                is_self: m.is_self,
                load: m.load,
                last_heartbeat: m.heartbeat_age_ms,
            }
        })
        .collect();
    let alive = snapshot.members.iter().filter(|m| m.alive).count();
    Json(Health {
        node_id: snapshot.node_id,
        nodes,
        summary: HealthSummary {
            total: snapshot.members.len(),
            healthy: alive,
            down: snapshot.members.len() - alive,
            leader,
            epoch: snapshot.epoch,
        },
    })
}

#[derive(Serialize, ToSchema)]
struct LeaderView {
    id: NodeId,
    host: Option<String>,
    port: Option<u16>,
    epoch: Epoch,
}

/// The latest election this node took part in.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct LastElection {
    algorithm: Algorithm,
    started_at_ms: u64,
    duration_ms: Option<u64>,
    leader: Option<NodeId>,
    epoch: Option<Epoch>,
    messages: Vec<LoggedMessage>,
    dropped_messages: usize,
}

/// The leader as one node knows it, and its latest election.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ElectionView {
    node_id: NodeId,
    leader: Option<LeaderView>,
    epoch: Epoch,
    algorithm: Algorithm,
    electing: bool,
    last_election: Option<LastElection>,
}

/// The leader as this node knows it, and its latest election.
#[utoipa::path(get, path = "/election", tag = "cluster", responses(
    (status = 200, description = "The leader, the epoch, the latest election", body = ElectionView),
))]
async fn election(State(cluster): State<ClusterHandle>) -> Json<ElectionView> {
    Json(election_view(&cluster.snapshot()))
}

fn election_view(snapshot: &ClusterSnapshot) -> ElectionView {
    let leader = snapshot.leader.map(|(id, epoch)| {
        let address = snapshot
            .members
            .iter()
            .find(|m| m.node_id == id)
            .and_then(|m| m.address.clone());
        let (host, port) = split_address(address.as_deref());
        LeaderView {
            id,
            host,
            port,
            epoch,
        }
    });
    let last_election = snapshot.last_election.as_ref().map(|log| LastElection {
        algorithm: log.algorithm,
        started_at_ms: log.started_at_ms,
        duration_ms: log.duration_ms(),
        leader: log.leader,
        epoch: log.epoch,
        messages: log.messages.clone(),
        dropped_messages: log.dropped_messages,
    });
    ElectionView {
        node_id: snapshot.node_id,
        leader,
        epoch: snapshot.epoch,
        algorithm: snapshot.algorithm,
        electing: snapshot.electing,
        last_election,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ElectionRequest {
    algorithm: Algorithm,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ElectionStarted {
    started: bool,
    algorithm: Algorithm,
    node_id: NodeId,
}

/// Starts an election now, from the answering node (operators).
#[utoipa::path(post, path = "/election", tag = "cluster", request_body = ElectionRequest,
    security(("operator" = [])), responses(
    (status = 202, description = "The election has started", body = ElectionStarted),
))]
async fn start_election(
    State(cluster): State<ClusterHandle>,
    _: SignedInOperator,
    body: Result<Json<ElectionRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<ElectionStarted>), HttpError> {
    let Json(request) = body?;
    cluster.start_election(request.algorithm);
    Ok((
        StatusCode::ACCEPTED,
        Json(ElectionStarted {
            started: true,
            algorithm: request.algorithm,
            node_id: cluster.config.node_id,
        }),
    ))
}

/// One node's clocks, and the last Berkeley round it led.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ClockView {
    node_id: NodeId,
    lamport: u64,
    vector_clock: BTreeMap<String, u64>,
    physical_time_ms: f64,
    offset_ms: f64,
    last_round: Option<BerkeleyResult>,
}

/// This node's clocks, and the last Berkeley round it led (offsets of
/// every node before and after).
#[utoipa::path(get, path = "/sync", tag = "cluster", responses(
    (status = 200, description = "The clocks and the last round", body = ClockView),
))]
async fn sync(State(cluster): State<ClusterHandle>) -> Json<ClockView> {
    let snapshot = cluster.snapshot();
    let clocks = cluster.clocks.lock();
    Json(ClockView {
        node_id: snapshot.node_id,
        lamport: clocks.lamport(),
        vector_clock: clocks.vector().entries().clone(),
        physical_time_ms: clocks.physical_ms(),
        offset_ms: clocks.offset_ms(),
        last_round: snapshot.last_berkeley_round.clone(),
    })
}

fn split_address(address: Option<&str>) -> (Option<String>, Option<u16>) {
    match address.and_then(|a| a.rsplit_once(':')) {
        Some((host, port)) => (Some(host.to_string()), port.parse().ok()),
        None => (None, None),
    }
}
