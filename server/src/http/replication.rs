//! The replication API: `GET /api/replication` (the mode in force) and
//! `PUT /api/replication {"strategy", "consistency"}`, which switches the
//! whole cluster at one agreed point; `GET /api/replicas`, every node's
//! replica; `GET /api/replication/progress`, what this node's replication
//! has done since it started (read from memory only).

use super::control::NodeControl;
use super::error::HttpError;
use super::identify::SignedInOperator;
use super::openapi::ErrorBody;
use app::model::{ReplicasView, ReplicationMode, ReplicationProgress};
use app::service::ClusterControl;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes under `/api`.
pub fn router<S: Clone + Send + Sync + 'static>(control: NodeControl) -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(mode, switch))
        .routes(routes!(replicas))
        .routes(routes!(progress))
        .with_state(control)
}

/// The replication mode in force.
#[utoipa::path(get, path = "/replication", tag = "replication", responses(
    (status = 200, description = "The mode in force", body = ReplicationMode),
))]
async fn mode(State(control): State<NodeControl>) -> Json<ReplicationMode> {
    Json(control.replication_mode())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SwitchRequest {
    #[schema(pattern = "^(master-slave|multi-master|gossip)$")]
    strategy: String,
    #[schema(pattern = "^(strong|causal|eventual)$")]
    consistency: String,
}

/// Switches the whole cluster's replication mode at one agreed point
/// (operators).
#[utoipa::path(put, path = "/replication", tag = "replication", request_body = SwitchRequest,
    security(("operator" = [])), responses(
    (status = 200, description = "The mode now in force", body = ReplicationMode),
    (status = 409, description = "Another switch is under way", body = ErrorBody),
    (status = 422, description = "An unknown strategy or consistency, or a pair that does not go together", body = ErrorBody),
))]
async fn switch(
    State(control): State<NodeControl>,
    _: SignedInOperator,
    body: Result<Json<SwitchRequest>, JsonRejection>,
) -> Result<Json<ReplicationMode>, HttpError> {
    let Json(request) = body?;
    let switched = control
        .switch_replication(&request.strategy, &request.consistency)
        .await?;
    Ok(Json(switched))
}

/// Every node's replica as the answering node finds it, and the latest
/// seat conflicts settled.
#[utoipa::path(get, path = "/replicas", tag = "replication", responses(
    (status = 200, description = "The replicas", body = ReplicasView),
))]
async fn replicas(State(control): State<NodeControl>) -> Result<Json<ReplicasView>, HttpError> {
    Ok(Json(control.replicas().await?))
}

/// What the answering node's replication has done since it started: what
/// it has applied, copies merged and the transactions that merged them,
/// calls sent, bookings written, and a histogram of replication lag on
/// real time. Reads nothing from the database.
#[utoipa::path(get, path = "/replication/progress", tag = "replication", responses(
    (status = 200, description = "This node's progress", body = ReplicationProgress),
))]
async fn progress(State(control): State<NodeControl>) -> Json<ReplicationProgress> {
    Json(control.replication.progress())
}
