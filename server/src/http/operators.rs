//! Operators' sessions through the REST API: `POST /api/operator/session
//! {"name", "password"}` signs in (the session as a cookie for browsers,
//! and a token API clients send as `Authorization: Bearer`), `GET` says who
//! is signed in, `DELETE` signs out.

use super::error::HttpError;
use crate::auth::SignedInOperator;
use app::access::{cleared_operator_cookie, operator_cookie, OperatorSession};
use app::service::SharedOperators;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

/// Routes under `/api`.
pub fn router<S: Clone + Send + Sync + 'static>(operators: SharedOperators) -> Router<S> {
    Router::new()
        .route(
            "/operator/session",
            post(sign_in).get(signed_in).delete(sign_out),
        )
        .with_state(operators)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    name: String,
    password: String,
}

async fn sign_in(
    State(operators): State<SharedOperators>,
    body: Result<Json<SignIn>, JsonRejection>,
) -> Result<impl IntoResponse, HttpError> {
    let Json(request) = body?;
    let session: OperatorSession = operators.sign_in(&request.name, &request.password).await?;
    Ok((
        StatusCode::CREATED,
        [(SET_COOKIE, operator_cookie(&session))],
        Json(session),
    ))
}

async fn signed_in(SignedInOperator(name): SignedInOperator) -> Json<serde_json::Value> {
    Json(json!({ "name": name }))
}

async fn sign_out() -> impl IntoResponse {
    (
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, cleared_operator_cookie())],
    )
}
