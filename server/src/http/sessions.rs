//! Sessions through the REST API. `POST /api/sessions {"name"}` gives a
//! moviegoer an identity the server chose (a user id, in a session that is
//! both a cookie for browsers and a token API clients send as
//! `Authorization: Bearer`). `POST /api/operator/session {"name",
//! "password"}` signs an operator in the same way, `GET` says who is
//! signed in, `DELETE` signs out.

use super::error::HttpError;
use crate::auth::{CallerOf, SignedInOperator};
use app::access::{cleared_operator_cookie, moviegoer_cookie, operator_cookie};
use app::service::SharedSessions;
use app::session::name_cookie;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::{AppendHeaders, IntoResponse};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

/// Routes under `/api`.
pub fn router<S: Clone + Send + Sync + 'static>(sessions: SharedSessions) -> Router<S> {
    Router::new()
        .route("/sessions", post(new_moviegoer))
        .route(
            "/operator/session",
            post(sign_in).get(signed_in).delete(sign_out),
        )
        .with_state(sessions)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMoviegoer {
    name: String,
}

/// A session for a moviegoer: for the user id of the caller's current
/// session (a new name), or a new one.
async fn new_moviegoer(
    State(sessions): State<SharedSessions>,
    CallerOf(caller): CallerOf,
    body: Result<Json<NewMoviegoer>, JsonRejection>,
) -> Result<impl IntoResponse, HttpError> {
    let Json(request) = body?;
    let session = sessions.moviegoer(caller.moviegoer.as_deref(), &request.name)?;
    let cookies = [
        (SET_COOKIE, moviegoer_cookie(&session)),
        (SET_COOKIE, name_cookie(&session.user_name)),
    ];
    Ok((StatusCode::CREATED, AppendHeaders(cookies), Json(session)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    name: String,
    password: String,
}

async fn sign_in(
    State(sessions): State<SharedSessions>,
    body: Result<Json<SignIn>, JsonRejection>,
) -> Result<impl IntoResponse, HttpError> {
    let Json(request) = body?;
    let session = sessions
        .sign_in_operator(&request.name, &request.password)
        .await?;
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
