//! The cluster's HTTP face: `/internal/rpc` and `/internal/call` for signed
//! messages between nodes, `/ws/events` for the live event feed, and the
//! read-and-control API under `/api` (health, election, clock sync).

use super::error::HttpError;
use crate::auth::SignedInOperator;
use crate::replication::wire::ReplicationRequest;
use crate::replication::ReplicatedCinema;
use crate::runtime::transport::{Envelope, SIGNATURE_HEADER};
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
use cluster::election::Algorithm;
use cluster::NodeId;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

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
pub fn api_router<S: Clone + Send + Sync + 'static>(cluster: ClusterHandle) -> Router<S> {
    Router::new()
        .route("/health", get(health))
        .route("/election", get(election).post(start_election))
        .route("/sync", get(sync))
        .with_state(cluster)
}

/// Accepts a message only if it is signed with the cluster secret, well
/// formed, addressed to this node and from a member.
async fn receive_message(
    State(cluster): State<ClusterHandle>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, HttpError> {
    let envelope = verified_envelope(&cluster, &headers, &body)?;
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
    let envelope: Envelope<ReplicationRequest> = verified_envelope(&cluster, &headers, &body)?;
    through_injected_faults(&cluster, envelope.from).await?;
    cluster
        .clocks
        .lock()
        .merge_receive(envelope.lamport, &envelope.vclock);
    let (caller, call_seq) = (envelope.from, envelope.seq);
    let reply = replication.handle(caller, envelope.body).await?;
    let answer = cluster.stamper.reply(caller, call_seq, reply);
    let bytes = serde_json::to_vec(&answer).map_err(|_| ApiError::internal())?;
    let signature = cluster.signer.sign(&bytes);
    Ok((
        [
            (SIGNATURE_HEADER, signature),
            ("content-type", "application/json".to_string()),
        ],
        bytes,
    )
        .into_response())
}

/// Checks an incoming request envelope: signed with the cluster secret,
/// well formed, addressed to this node, from a member, and never taken
/// before (`runtime::replay`). Anything else is refused and has no effect.
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

fn verified_envelope<Body: DeserializeOwned>(
    cluster: &ClusterHandle,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Envelope<Body>, HttpError> {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !cluster.signer.verify(body, signature) {
        return Err(ApiError::new(
            ErrorCode::BadSignature,
            "The message is not signed with the cluster secret.",
        )
        .into());
    }
    let envelope: Envelope<Body> = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("The message is not a valid envelope: {e}")))?;
    if envelope.to != cluster.config.node_id {
        return Err(ApiError::invalid("The message is addressed to another node.").into());
    }
    if !cluster.config.peers.contains_key(&envelope.from) {
        return Err(ApiError::new(ErrorCode::Forbidden, "The sender is not a member.").into());
    }
    if envelope.in_reply_to.is_some() {
        return Err(ApiError::invalid("An answer to a call cannot be sent as a request.").into());
    }
    let admitted = cluster
        .replays
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .admit(
            envelope.from,
            envelope.incarnation,
            envelope.seq,
            envelope.sent_at_ms,
            real_time_ms(),
        );
    if let Err(refusal) = admitted {
        return Err(ApiError::new(ErrorCode::StaleMessage, refusal.explain()).into());
    }
    Ok(envelope)
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

/// Every member as this node sees it, in the original MovieBook's shape.
async fn health(State(cluster): State<ClusterHandle>) -> Json<serde_json::Value> {
    let snapshot = cluster.snapshot();
    let leader = snapshot.leader.map(|(id, _)| id);
    let nodes: Vec<serde_json::Value> = snapshot
        .members
        .iter()
        .map(|m| {
            let (host, port) = split_address(m.address.as_deref());
            json!({
                "nodeId": m.node_id,
                "host": host,
                "port": port,
                "status": if m.alive { "healthy" } else { "down" },
                "isLeader": leader == Some(m.node_id),
                "isSelf": m.is_self,
                "load": m.load,
                "lastHeartbeat": m.heartbeat_age_ms,
            })
        })
        .collect();
    let alive = snapshot.members.iter().filter(|m| m.alive).count();
    Json(json!({
        "nodeId": snapshot.node_id,
        "nodes": nodes,
        "summary": {
            "total": snapshot.members.len(),
            "healthy": alive,
            "down": snapshot.members.len() - alive,
            "leader": leader,
            "epoch": snapshot.epoch,
        },
    }))
}

async fn election(State(cluster): State<ClusterHandle>) -> Json<serde_json::Value> {
    Json(election_view(&cluster.snapshot()))
}

fn election_view(snapshot: &ClusterSnapshot) -> serde_json::Value {
    let leader = snapshot.leader.map(|(id, epoch)| {
        let address = snapshot
            .members
            .iter()
            .find(|m| m.node_id == id)
            .and_then(|m| m.address.clone());
        let (host, port) = split_address(address.as_deref());
        json!({"id": id, "host": host, "port": port, "epoch": epoch})
    });
    let last = snapshot.last_election.as_ref().map(|log| {
        json!({
            "algorithm": log.algorithm,
            "startedAtMs": log.started_at_ms,
            "durationMs": log.duration_ms(),
            "leader": log.leader,
            "epoch": log.epoch,
            "messages": log.messages,
            "droppedMessages": log.dropped_messages,
        })
    });
    json!({
        "nodeId": snapshot.node_id,
        "leader": leader,
        "epoch": snapshot.epoch,
        "algorithm": snapshot.algorithm,
        "electing": snapshot.electing,
        "lastElection": last,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ElectionRequest {
    algorithm: Algorithm,
}

/// `POST /api/election {"algorithm": "bully" | "ring"}` starts an election now.
async fn start_election(
    State(cluster): State<ClusterHandle>,
    _: SignedInOperator,
    body: Result<Json<ElectionRequest>, JsonRejection>,
) -> Result<Response, HttpError> {
    let Json(request) = body?;
    cluster.start_election(request.algorithm);
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"started": true, "algorithm": request.algorithm, "nodeId": cluster.config.node_id})),
    )
        .into_response())
}

/// This node's clocks, and the last Berkeley round it led (offsets of every
/// node before and after).
async fn sync(State(cluster): State<ClusterHandle>) -> Json<serde_json::Value> {
    let snapshot = cluster.snapshot();
    let clocks = cluster.clocks.lock();
    Json(json!({
        "nodeId": snapshot.node_id,
        "lamport": clocks.lamport(),
        "vectorClock": clocks.vector(),
        "physicalTimeMs": clocks.physical_ms(),
        "offsetMs": clocks.offset_ms(),
        "lastRound": snapshot.last_berkeley_round,
    }))
}

fn split_address(address: Option<&str>) -> (Option<String>, Option<u16>) {
    match address.and_then(|a| a.rsplit_once(':')) {
        Some((host, port)) => (Some(host.to_string()), port.parse().ok()),
        None => (None, None),
    }
}
