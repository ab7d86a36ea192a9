//! The replication API: `GET /api/replication` (the mode in force) and
//! `PUT /api/replication {"strategy", "consistency"}`, which switches the
//! whole cluster at one agreed point; `GET /api/replicas`, every node's
//! replica.

use super::control::NodeControl;
use super::error::HttpError;
use crate::auth::SignedInOperator;
use app::model::{ReplicasView, ReplicationMode};
use app::service::ClusterControl;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

/// Routes under `/api`.
pub fn router<S: Clone + Send + Sync + 'static>(control: NodeControl) -> Router<S> {
    Router::new()
        .route("/replication", get(mode).put(switch))
        .route("/replicas", get(replicas))
        .with_state(control)
}

async fn mode(State(control): State<NodeControl>) -> Json<ReplicationMode> {
    Json(control.replication_mode())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SwitchRequest {
    strategy: String,
    consistency: String,
}

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

async fn replicas(State(control): State<NodeControl>) -> Result<Json<ReplicasView>, HttpError> {
    Ok(Json(control.replicas().await?))
}
