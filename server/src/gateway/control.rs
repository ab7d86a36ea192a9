//! The operator's controls at the gateway of `moviebook up`, which
//! supervises the node processes: `POST /api/nodes/{id}/kill`, `.../restart`
//! and `.../pause {"seconds"}`; `POST /api/heal`, which resumes paused
//! nodes, restarts stopped ones and heals every node's link faults and
//! clock skews; and `PUT /gateway/strategy {"strategy"}`, the balancing
//! strategy. Operator-only (the same sessions the nodes accept); a gateway
//! started alone, which neither runs its nodes nor can tell an operator's
//! session, answers 409. Each is described in the gateway's OpenAPI
//! description (`openapi.rs`) by the annotations here.

use super::processes::{Change, NodeProcesses, ProcessView};
use super::Shared;
use crate::auth::SessionKeys;
use crate::http::{ErrorBody, HttpError, SignedInOperator};
use crate::runtime::events::FaultView;
use app::error::{ApiError, ErrorCode};
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::Json;
use cluster::balancer::Strategy;
use cluster::NodeId;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use utoipa::ToSchema;

/// What lets a gateway kill, pause and restart nodes: the processes it
/// supervises, and the keys to tell an operator's session.
#[derive(Clone)]
pub struct NodeControl {
    pub processes: Arc<dyn NodeProcesses>,
    pub keys: Arc<SessionKeys>,
}

/// Kills a node's process at once (SIGKILL), as a crash would (operators).
#[utoipa::path(post, path = "/api/nodes/{id}/kill", tag = "gateway",
    params(("id" = NodeId, Path, description = "The node's id")),
    security(("operator" = [])), responses(
    (status = 200, description = "The node's process, stopped", body = ProcessView),
    (status = 400, description = "The id is not a number", body = ErrorBody),
    (status = 404, description = "No node has that id", body = ErrorBody),
    (status = 409, description = "This gateway does not run its nodes, or the node is stopped already", body = ErrorBody),
))]
pub async fn kill(
    State(shared): State<Arc<Shared>>,
    _: SignedInOperator,
    id: Result<Path<NodeId>, PathRejection>,
) -> Result<Json<ProcessView>, HttpError> {
    let Path(id) = id?;
    Ok(Json(processes(&shared)?.kill(id).await?))
}

/// Starts a stopped node's process again (operators).
#[utoipa::path(post, path = "/api/nodes/{id}/restart", tag = "gateway",
    params(("id" = NodeId, Path, description = "The node's id")),
    security(("operator" = [])), responses(
    (status = 200, description = "The node's process, running", body = ProcessView),
    (status = 400, description = "The id is not a number", body = ErrorBody),
    (status = 404, description = "No node has that id", body = ErrorBody),
    (status = 409, description = "This gateway does not run its nodes, or the node is not stopped", body = ErrorBody),
))]
pub async fn restart(
    State(shared): State<Arc<Shared>>,
    _: SignedInOperator,
    id: Result<Path<NodeId>, PathRejection>,
) -> Result<Json<ProcessView>, HttpError> {
    let Path(id) = id?;
    Ok(Json(processes(&shared)?.restart(id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    /// How long the node stays paused.
    #[schema(minimum = 1, maximum = 300)]
    seconds: u64,
}

/// Pauses a node's process (SIGSTOP) for some seconds, as a long garbage
/// collection or a stalled machine would (operators).
#[utoipa::path(post, path = "/api/nodes/{id}/pause", tag = "gateway",
    params(("id" = NodeId, Path, description = "The node's id")),
    request_body = PauseRequest, security(("operator" = [])), responses(
    (status = 200, description = "The node's process, paused", body = ProcessView),
    (status = 404, description = "No node has that id", body = ErrorBody),
    (status = 409, description = "This gateway does not run its nodes, or the node is stopped", body = ErrorBody),
    (status = 422, description = "A pause too short or too long", body = ErrorBody),
))]
pub async fn pause(
    State(shared): State<Arc<Shared>>,
    _: SignedInOperator,
    id: Result<Path<NodeId>, PathRejection>,
    body: Result<Json<PauseRequest>, JsonRejection>,
) -> Result<Json<ProcessView>, HttpError> {
    let Path(id) = id?;
    let Json(request) = body?;
    let lasting = Duration::from_secs(request.seconds);
    Ok(Json(processes(&shared)?.pause(id, lasting).await?))
}

/// One thing `POST /api/heal` did, or could not do, on one node.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealStep {
    node_id: NodeId,
    change: HealChange,
    /// The link fault it ended (`linkHealed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<FaultView>)]
    fault: Option<Value>,
    /// The status the node refused with (`notHealed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum HealChange {
    /// Its process, paused, runs again.
    Resumed,
    /// Its process, stopped, was started again.
    Restarted,
    LinkHealed,
    SkewEnded,
    /// It answered, but refused (`status` says how).
    NotHealed,
    /// It did not answer: try again.
    NotReached,
}

impl HealStep {
    fn new(node_id: NodeId, change: HealChange) -> Self {
        HealStep {
            node_id,
            change,
            fault: None,
            status: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct HealedEverything {
    healed: Vec<HealStep>,
}

/// Everything back to health: processes first, so that the nodes whose
/// faults are then healed answer (operators).
#[utoipa::path(post, path = "/api/heal", tag = "gateway", security(("operator" = [])), responses(
    (status = 200, description = "What was healed, node by node", body = HealedEverything),
    (status = 409, description = "This gateway does not run its nodes", body = ErrorBody),
))]
pub async fn heal(
    State(shared): State<Arc<Shared>>,
    _: SignedInOperator,
    headers: HeaderMap,
) -> Result<Json<HealedEverything>, HttpError> {
    let processes = processes(&shared)?.heal().await;
    let mut healed: Vec<HealStep> = processes
        .iter()
        .filter_map(|&(node, change)| match change {
            Change::Resumed => Some(HealStep::new(node, HealChange::Resumed)),
            Change::Restarted => Some(HealStep::new(node, HealChange::Restarted)),
            Change::Killed | Change::Paused | Change::Exited => None,
        })
        .collect();
    // A node's faults live in its memory: one restarted just now has none.
    let restarted = |node: NodeId| processes.contains(&(node, Change::Restarted));
    let credentials = super::proxy::credentials(&headers);
    let others = shared.nodes.iter().filter(|(&node, _)| !restarted(node));
    let asks = others.map(|(&node, address)| {
        let request = shared
            .client
            .request(Method::DELETE, format!("http://{address}/api/faults"))
            .headers(credentials.clone());
        async move { (node, request.send().await) }
    });
    for (node, answer) in futures::future::join_all(asks).await {
        // A node that does not answer (cut off from the gateway too, or
        // crashed meanwhile): say so, for the operator to try again.
        let answer = match answer {
            Ok(answer) if answer.status().is_success() => answer,
            Ok(refused) => {
                tracing::warn!(node, status = %refused.status(), "node refused to heal its faults");
                healed.push(HealStep {
                    status: Some(refused.status().as_u16()),
                    ..HealStep::new(node, HealChange::NotHealed)
                });
                continue;
            }
            Err(_) => {
                healed.push(HealStep::new(node, HealChange::NotReached));
                continue;
            }
        };
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        for fault in body["healed"].as_array().into_iter().flatten() {
            healed.push(HealStep {
                fault: Some(fault.clone()),
                ..HealStep::new(node, HealChange::LinkHealed)
            });
        }
        if body["skewEnded"] == true {
            healed.push(HealStep::new(node, HealChange::SkewEnded));
        }
    }
    Ok(Json(HealedEverything { healed }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StrategyRequest {
    #[schema(pattern = "^(round_robin|least_connections|weighted_round_robin)$")]
    strategy: String,
}

/// The balancing strategy in force.
#[derive(Serialize, ToSchema)]
pub struct StrategyInForce {
    /// round_robin, least_connections or weighted_round_robin.
    pub strategy: String,
}

/// Switches how the gateway spreads requests over the nodes, from the next
/// request on (operators).
#[utoipa::path(put, path = "/gateway/strategy", tag = "gateway", request_body = StrategyRequest,
    security(("operator" = [])), responses(
    (status = 200, description = "The strategy now in force", body = StrategyInForce),
    (status = 409, description = "This gateway does not run its nodes", body = ErrorBody),
    (status = 422, description = "An unknown strategy", body = ErrorBody),
))]
pub async fn switch_strategy(
    State(shared): State<Arc<Shared>>,
    _: SignedInOperator,
    body: Result<Json<StrategyRequest>, JsonRejection>,
) -> Result<Json<StrategyInForce>, HttpError> {
    let Json(request) = body?;
    let strategy: Strategy = request.strategy.trim().parse().map_err(|_| {
        ApiError::invalid(format!(
            "Unknown strategy {:?}: use round_robin, least_connections or weighted_round_robin.",
            request.strategy
        ))
    })?;
    shared.balancer().set_strategy(strategy);
    let name = shared.strategy_name();
    tracing::warn!(strategy = %name, "balancing strategy switched");
    shared.publish(json!({"kind": "strategySwitched", "strategy": name}));
    Ok(Json(StrategyInForce { strategy: name }))
}

/// The middleware in front of every operator control on a gateway started
/// alone: it answers for them.
pub async fn not_supervised(_: axum::extract::Request, _: axum::middleware::Next) -> HttpError {
    HttpError(not_running_its_nodes())
}

fn processes(shared: &Shared) -> Result<&dyn NodeProcesses, ApiError> {
    shared
        .control
        .as_ref()
        .map(|control| control.processes.as_ref())
        .ok_or_else(not_running_its_nodes)
}

fn not_running_its_nodes() -> ApiError {
    ApiError::new(
        ErrorCode::Conflict,
        "This gateway was started alone: it does not run its nodes (to kill, pause or \
         restart them) and cannot tell an operator. The gateway of `moviebook up` can.",
    )
}

/// Puts every change to a node process on the feed.
pub fn announce_changes(shared: Arc<Shared>, processes: &dyn NodeProcesses) {
    let mut changes = processes.changes();
    tokio::spawn(async move {
        loop {
            match changes.recv().await {
                Ok((node, change)) => publish(&shared, node, change),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

fn publish(shared: &Shared, node: NodeId, change: Change) {
    shared.publish(json!({"kind": "process", "peer": node, "change": change}));
}
