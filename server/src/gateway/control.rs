//! The operator's controls at the gateway of `moviebook up`, which
//! supervises the node processes: `POST /api/nodes/{id}/kill`, `.../restart`
//! and `.../pause {"seconds"}`; `POST /api/heal`, which resumes paused
//! nodes, restarts stopped ones and heals every node's link faults and
//! clock skews; and `PUT /gateway/strategy {"strategy"}`, the balancing
//! strategy. Operator-only (the same sessions the nodes accept); a gateway
//! started alone, which neither runs its nodes nor can tell an operator's
//! session, answers 409.

use super::Shared;
use crate::auth::{SessionKeys, SignedInOperator};
use crate::http::HttpError;
use crate::launcher::supervisor::{Change, Supervisor};
use app::error::{ApiError, ErrorCode};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::Json;
use cluster::balancer::Strategy;
use cluster::NodeId;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// What lets a gateway kill, pause and restart nodes: the processes it
/// supervises, and the keys to tell an operator's session.
#[derive(Clone)]
pub struct NodeControl {
    pub supervisor: Arc<Supervisor>,
    pub keys: Arc<SessionKeys>,
}

pub async fn kill(
    State(shared): State<Arc<Shared>>,
    _: SignedInOperator,
    Path(id): Path<NodeId>,
) -> Result<Json<Value>, HttpError> {
    let view = supervisor(&shared)?.kill(id).await?;
    Ok(Json(json!(view)))
}

pub async fn restart(
    State(shared): State<Arc<Shared>>,
    _: SignedInOperator,
    Path(id): Path<NodeId>,
) -> Result<Json<Value>, HttpError> {
    let view = supervisor(&shared)?.restart(id).await?;
    Ok(Json(json!(view)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    seconds: u64,
}

pub async fn pause(
    State(shared): State<Arc<Shared>>,
    _: SignedInOperator,
    Path(id): Path<NodeId>,
    body: Result<Json<PauseRequest>, JsonRejection>,
) -> Result<Json<Value>, HttpError> {
    let Json(request) = body?;
    let lasting = Duration::from_secs(request.seconds);
    let view = supervisor(&shared)?.pause(id, lasting).await?;
    Ok(Json(json!(view)))
}

/// Everything back to health: processes first, so that the nodes whose
/// faults are then healed answer.
pub async fn heal(
    State(shared): State<Arc<Shared>>,
    _: SignedInOperator,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let processes = supervisor(&shared)?.heal().await;
    let mut healed: Vec<Value> = processes
        .iter()
        .map(|(node, change)| json!({"nodeId": node, "change": change}))
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
                healed.push(json!({"nodeId": node, "change": "notHealed", "status": refused.status().as_u16()}));
                continue;
            }
            Err(_) => {
                healed.push(json!({"nodeId": node, "change": "notReached"}));
                continue;
            }
        };
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        for fault in body["healed"].as_array().into_iter().flatten() {
            healed.push(json!({"nodeId": node, "change": "linkHealed", "fault": fault}));
        }
        if body["skewEnded"] == true {
            healed.push(json!({"nodeId": node, "change": "skewEnded"}));
        }
    }
    Ok(Json(json!({ "healed": healed })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyRequest {
    strategy: String,
}

/// Switches how the gateway spreads requests over the nodes, from the next
/// request on.
pub async fn switch_strategy(
    State(shared): State<Arc<Shared>>,
    _: SignedInOperator,
    body: Result<Json<StrategyRequest>, JsonRejection>,
) -> Result<Json<Value>, HttpError> {
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
    Ok(Json(json!({ "strategy": name })))
}

/// The middleware in front of every operator control on a gateway started
/// alone: it answers for them.
pub async fn not_supervised(_: axum::extract::Request, _: axum::middleware::Next) -> HttpError {
    HttpError(not_running_its_nodes())
}

fn supervisor(shared: &Shared) -> Result<&Supervisor, ApiError> {
    shared
        .control
        .as_ref()
        .map(|control| control.supervisor.as_ref())
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
pub fn announce_changes(shared: Arc<Shared>, supervisor: &Supervisor) {
    let mut changes = supervisor.changes();
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
