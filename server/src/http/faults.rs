//! Faults through the REST API, on the node that answers (its
//! `x-moviebook-node` header says which): `GET /api/faults`, the faults in
//! force on its links, for anyone; `POST /api/faults`, an operator cuts
//! its links to chosen peers (a partition, both ways) or makes them lossy,
//! for a time, after which the fault expires by itself; `DELETE
//! /api/faults`, an operator heals them all, and ends a clock skew. `POST /api/faults/clock
//! {"offsetMs", "driftPpm", "seconds"}`: an operator skews its clock.

use super::error::HttpError;
use super::identify::SignedInOperator;
use super::openapi::ErrorBody;
use crate::runtime::events::FaultView;
use crate::runtime::ClusterHandle;
use app::error::ApiError;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use cluster::faults::{ClockSkew, LinkHarm};
use cluster::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Duration;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes under `/api`.
pub fn router<S: Clone + Send + Sync + 'static>(cluster: ClusterHandle) -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(in_force, inject, heal))
        .routes(routes!(skew))
        .with_state(cluster)
}

/// A fault as an operator asks for it: `harm` "cut", or "lossy" with a
/// `dropShare` (0 to 1) and a `delayMs`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FaultRequest {
    /// The peers whose links to the answering node it harms.
    peers: Vec<NodeId>,
    #[schema(pattern = "^(cut|lossy)$")]
    harm: String,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1)]
    drop_share: Option<f64>,
    #[serde(default)]
    delay_ms: Option<u64>,
    /// How long it lasts.
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

/// The faults in force on one node's links.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct FaultsInForce {
    node_id: NodeId,
    faults: Vec<FaultView>,
}

/// The faults in force on the answering node's links.
#[utoipa::path(get, path = "/faults", tag = "faults", responses(
    (status = 200, description = "The faults in force", body = FaultsInForce),
))]
async fn in_force(State(cluster): State<ClusterHandle>) -> Json<FaultsInForce> {
    Json(FaultsInForce {
        node_id: cluster.config.node_id,
        faults: cluster.faults.in_force(),
    })
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct FaultInjected {
    node_id: NodeId,
    fault: FaultView,
}

/// Cuts the answering node's links to `peers`, both ways, or makes them
/// lossy, for `seconds` (operators).
#[utoipa::path(post, path = "/faults", tag = "faults", request_body = FaultRequest,
    security(("operator" = [])), responses(
    (status = 201, description = "The fault, in force", body = FaultInjected),
    (status = 422, description = "An unknown harm or peer, the node itself, a share outside 0 to 1, or a time out of range", body = ErrorBody),
))]
async fn inject(
    State(cluster): State<ClusterHandle>,
    _: SignedInOperator,
    body: Result<Json<FaultRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<FaultInjected>), HttpError> {
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
    let fault = cluster.inject_fault(fault);
    Ok((
        StatusCode::CREATED,
        Json(FaultInjected {
            node_id: this_node,
            fault,
        }),
    ))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Healed {
    node_id: NodeId,
    /// The faults it ended.
    healed: Vec<FaultView>,
    /// Whether it ended a clock skew.
    skew_ended: bool,
}

/// Ends every fault on the answering node's links, and its clock skew
/// (operators).
#[utoipa::path(delete, path = "/faults", tag = "faults", security(("operator" = [])), responses(
    (status = 200, description = "What it ended", body = Healed),
))]
async fn heal(State(cluster): State<ClusterHandle>, _: SignedInOperator) -> Json<Healed> {
    Json(Healed {
        node_id: cluster.config.node_id,
        healed: cluster.heal_faults(),
        skew_ended: cluster.heal_skew(),
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SkewRequest {
    /// Added to the node's clock at once.
    #[serde(default)]
    offset_ms: f64,
    /// How fast the clock runs off from then on, in parts per million.
    #[serde(default)]
    drift_ppm: f64,
    /// How long the skew lasts.
    seconds: u64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Skewed {
    node_id: NodeId,
    /// The node's clock offset now.
    offset_ms: f64,
    drift_ppm: f64,
}

/// Skews the answering node's clock (operators).
#[utoipa::path(post, path = "/faults/clock", tag = "faults", request_body = SkewRequest,
    security(("operator" = [])), responses(
    (status = 201, description = "The clock, skewed", body = Skewed),
    (status = 422, description = "An offset, drift or time out of range", body = ErrorBody),
))]
async fn skew(
    State(cluster): State<ClusterHandle>,
    _: SignedInOperator,
    body: Result<Json<SkewRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Skewed>), HttpError> {
    let Json(request) = body?;
    let lasting_ms = request.seconds.saturating_mul(1000);
    let skew = ClockSkew::new(request.offset_ms, request.drift_ppm, lasting_ms)
        .map_err(ApiError::invalid)?;
    let offset_ms = cluster.skew_clock(skew);
    Ok((
        StatusCode::CREATED,
        Json(Skewed {
            node_id: cluster.config.node_id,
            offset_ms,
            drift_ppm: request.drift_ppm,
        }),
    ))
}
