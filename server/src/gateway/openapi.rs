//! The API description the gateway serves at `/api/openapi.json`: a live
//! node's, for the API the gateway forwards, with the gateway's own
//! operations added (`control.rs` and `/gateway/status`, described by
//! their handlers' annotations, as a node's are). With no node answering,
//! a 503, as for any forwarded request.

use super::Shared;
use crate::http::openapi;
use crate::http::HttpError;
use app::error::{ApiError, ErrorCode};
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use std::sync::Arc;
use utoipa::openapi::OpenApi;

/// `GET /api/openapi.json` at the gateway, adding `own`, the gateway's
/// operations, to a node's description.
pub fn serve(own: OpenApi) -> axum::routing::MethodRouter<Arc<Shared>> {
    let own = Arc::new(openapi::with_shared_answers(own));
    axum::routing::get(move |State(shared): State<Arc<Shared>>| {
        let own = own.clone();
        async move {
            let mut whole = nodes_description(&shared).await?;
            whole.merge((*own).clone());
            Ok::<_, HttpError>(([(CONTENT_TYPE, "application/json")], openapi::body(&whole)))
        }
    })
}

/// The description the first live node gives.
async fn nodes_description(shared: &Shared) -> Result<OpenApi, HttpError> {
    let live: Vec<&String> = {
        let balancer = shared.balancer();
        shared
            .nodes
            .iter()
            .filter(|(id, _)| balancer.is_live(**id))
            .map(|(_, address)| address)
            .collect()
    };
    for address in live {
        let answer = shared
            .client
            .get(format!("http://{address}/api/openapi.json"))
            .send()
            .await;
        let Ok(answer) = answer.and_then(|answer| answer.error_for_status()) else {
            continue;
        };
        if let Ok(description) = answer.json::<OpenApi>().await {
            return Ok(description);
        }
    }
    Err(HttpError(ApiError::new(
        ErrorCode::Unavailable,
        "No node behind the gateway answers now, so neither does its API description: \
         try again in a moment.",
    )))
}
