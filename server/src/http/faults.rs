//! Faults through the REST API, on the node that answers (its
//! `x-moviebook-node` header says which): `GET /api/faults`, the faults in
//! force on its links, for anyone; `POST /api/faults`, an operator cuts
//! its links to chosen peers (a partition, both ways) or makes them lossy,
//! for a time, after which the fault expires by itself; `DELETE
//! /api/faults`, an operator heals them all, and ends a clock skew. `POST /api/faults/clock
//! {"offsetMs", "driftPpm", "seconds"}`: an operator skews its clock.

use super::error::HttpError;
use crate::auth::SignedInOperator;
use crate::runtime::ClusterHandle;
use app::error::ApiError;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use cluster::faults::{ClockSkew, LinkHarm};
use cluster::NodeId;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// Routes under `/api`.
pub fn router<S: Clone + Send + Sync + 'static>(cluster: ClusterHandle) -> Router<S> {
    Router::new()
        .route("/faults", get(in_force).post(inject).delete(heal))
        .route("/faults/clock", post(skew))
        .with_state(cluster)
}

/// A fault as an operator asks for it: `harm` "cut", or "lossy" with a
/// `dropShare` (0 to 1) and a `delayMs`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FaultRequest {
    peers: Vec<NodeId>,
    harm: String,
    #[serde(default)]
    drop_share: Option<f64>,
    #[serde(default)]
    delay_ms: Option<u64>,
    seconds: u64,
}

impl FaultRequest {
    fn harm(&self) -> Result<LinkHarm, ApiError> {
        match (self.harm.as_str(), self.drop_share, self.delay_ms) {
            ("cut", None, None) => Ok(LinkHarm::Cut),
            ("cut", ..) => Err(ApiError::invalid(
                "A cut link loses everything: give no dropShare or delayMs.",
            )),
            ("lossy", None, None) => Err(ApiError::invalid(
                "A lossy link needs a dropShare, a delayMs, or both.",
            )),
            ("lossy", drop_share, delay_ms) => Ok(LinkHarm::Lossy {
                drop_share: drop_share.unwrap_or(0.0),
                delay_ms: delay_ms.unwrap_or(0),
            }),
            (other, ..) => Err(ApiError::invalid(format!(
                "Unknown harm {other:?}: use cut or lossy."
            ))),
        }
    }
}

async fn in_force(State(cluster): State<ClusterHandle>) -> Json<Value> {
    Json(json!({
        "nodeId": cluster.config.node_id,
        "faults": cluster.faults.in_force(),
    }))
}

async fn inject(
    State(cluster): State<ClusterHandle>,
    _: SignedInOperator,
    body: Result<Json<FaultRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    let Json(request) = body?;
    let harm = request.harm()?;
    let this_node = cluster.config.node_id;
    let members: BTreeSet<NodeId> = cluster
        .config
        .peers
        .keys()
        .copied()
        .chain([this_node])
        .collect();
    let fault = cluster
        .faults
        .fault(
            (this_node, &members),
            request.peers.iter().copied().collect(),
            harm,
            Duration::from_secs(request.seconds),
        )
        .map_err(ApiError::invalid)?;
    let shown = cluster.inject_fault(fault);
    Ok((
        StatusCode::CREATED,
        Json(json!({ "nodeId": this_node, "fault": shown })),
    ))
}

async fn heal(State(cluster): State<ClusterHandle>, _: SignedInOperator) -> Json<Value> {
    Json(json!({
        "nodeId": cluster.config.node_id,
        "healed": cluster.heal_faults(),
        "skewEnded": cluster.heal_skew(),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SkewRequest {
    #[serde(default)]
    offset_ms: f64,
    #[serde(default)]
    drift_ppm: f64,
    seconds: u64,
}

async fn skew(
    State(cluster): State<ClusterHandle>,
    _: SignedInOperator,
    body: Result<Json<SkewRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    let Json(request) = body?;
    let lasting_ms = request.seconds.saturating_mul(1000);
    let skew = ClockSkew::new(request.offset_ms, request.drift_ppm, lasting_ms)
        .map_err(ApiError::invalid)?;
    let offset_ms = cluster.skew_clock(skew);
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "nodeId": cluster.config.node_id,
            "offsetMs": offset_ms,
            "driftPpm": request.drift_ppm,
        })),
    ))
}
