//! Sessions through the REST API. `POST /api/sessions {"name"}` gives a
//! moviegoer an identity the server chose (a user id, in a session that is
//! both a cookie for browsers and a token API clients send as
//! `Authorization: Bearer`). `POST /api/operator/session {"name",
//! "password"}` signs an operator in the same way, `GET` says who is
//! signed in, `DELETE` signs out.

use super::error::HttpError;
use super::identify::{CallerOf, SignedInOperator};
use super::openapi::ErrorBody;
use app::access::{
    cleared_operator_cookie, moviegoer_cookie, operator_cookie, MoviegoerSession, OperatorSession,
};
use app::service::SharedSessions;
use app::session::name_cookie;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::{AppendHeaders, IntoResponse};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes under `/api`.
pub fn router<S: Clone + Send + Sync + 'static>(sessions: SharedSessions) -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(new_moviegoer))
        .routes(routes!(sign_in, signed_in, sign_out))
        .with_state(sessions)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewMoviegoer {
    /// The name to book under.
    #[schema(min_length = 1)]
    name: String,
}

/// A session for a moviegoer: for the user id of the caller's current
/// session (a new name), or a new one.
#[utoipa::path(post, path = "/sessions", tag = "sessions", request_body = NewMoviegoer, responses(
    (status = 201, description = "The session (also set as cookies)", body = MoviegoerSession),
    (status = 422, description = "The name is empty or too long", body = ErrorBody),
))]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SignIn {
    name: String,
    #[schema(min_length = 1, max_length = 256)]
    password: String,
}

/// Signs an operator in.
#[utoipa::path(post, path = "/operator/session", tag = "sessions", request_body = SignIn, responses(
    (status = 201, description = "The session (also set as a cookie)", body = OperatorSession),
    (status = 401, description = "No operator has that name and password", body = ErrorBody),
    (status = 422, description = "The name is not an operator's name (a letter, then up to 31 letters, digits, '-' or '_')", body = ErrorBody),
))]
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

/// Who is signed in.
#[derive(Serialize, ToSchema)]
struct SignedIn {
    name: String,
}

/// The operator the caller's session names.
#[utoipa::path(get, path = "/operator/session", tag = "sessions", security(("operator" = [])), responses(
    (status = 200, description = "The operator signed in", body = SignedIn),
))]
async fn signed_in(SignedInOperator(name): SignedInOperator) -> Json<SignedIn> {
    Json(SignedIn { name })
}

/// Signs out: clears the browser's operator cookie.
#[utoipa::path(delete, path = "/operator/session", tag = "sessions", responses(
    (status = 204, description = "Signed out"),
))]
async fn sign_out() -> impl IntoResponse {
    (
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, cleared_operator_cookie())],
    )
}
