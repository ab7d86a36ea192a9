//! The REST API's description, OpenAPI 3.1 at `GET /api/openapi.json`.
//! It is not written beside the handlers: each handler's `#[utoipa::path]`
//! names its parameters, body and answers by the types it uses, and the
//! routes are registered from those same annotations (`utoipa_axum`), so a
//! route cannot exist without its description. This module adds what every
//! operation shares: the error shape, the answers any request may get, and
//! how callers sign in.

use app::error::ApiError;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr};
use utoipa::ToSchema;

/// Every error answer's body.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ApiError,
}

/// The security schemes' names, as operations' `security` refer to them.
pub const OPERATOR: &str = "operator";
pub const MOVIEGOER: &str = "moviegoer";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "MovieBook",
        description = "Movies, showtimes, seats and bookings, and the cluster that keeps them. \
            Every node answers the whole API; the gateway forwards it to a node, and adds \
            the operations tagged `gateway`, its own. Errors are \
            `{\"error\": {\"code\", \"message\"}}` with the status the code stands for.",
        license(name = "MIT")
    ),
    components(schemas(ErrorBody))
)]
struct Base;

/// The description of `api` (the routes under `/api`, with their paths
/// relative to it), whole.
pub fn describe(api: OpenApi) -> OpenApi {
    with_shared_answers(<Base as utoipa::OpenApi>::openapi().nest("/api", api))
}

/// `api` with what every operation may answer besides its own, and the
/// sessions callers show.
pub fn with_shared_answers(mut api: OpenApi) -> OpenApi {
    utoipa::Modify::modify(&SharedAnswers, &mut api);
    api
}

/// The description as the body of its answer, serialized once.
pub fn body(description: &OpenApi) -> axum::body::Bytes {
    serde_json::to_vec_pretty(description)
        .unwrap_or_default()
        .into()
}

/// `GET /api/openapi.json`.
pub fn serve<S: Clone + Send + Sync + 'static>(
    body: axum::body::Bytes,
) -> axum::routing::MethodRouter<S> {
    axum::routing::get(move || {
        let body = body.clone();
        async move { ([(CONTENT_TYPE, "application/json")], body).into_response() }
    })
}

/// What every operation may answer besides its own: 401 and 403 for one
/// only operators may call; 429 when the gateway limits the caller's rate,
/// 503 when the node cannot answer now (no majority, a client's read
/// frontier naming writes it has not caught up with, its database out of
/// reach, no node behind the gateway); and for one with a body, 400 when
/// it is not the JSON asked for and 413 when it is too large. And the
/// sessions a caller shows as a bearer token (browsers send the same as a
/// cookie).
struct SharedAnswers;

impl utoipa::Modify for SharedAnswers {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = || {
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "The token of a session from POST /api/sessions (a moviegoer) or \
                     POST /api/operator/session (an operator).",
                ))
                .build()
        };
        components.add_security_scheme(MOVIEGOER, SecurityScheme::Http(bearer()));
        components.add_security_scheme(OPERATOR, SecurityScheme::Http(bearer()));
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                let takes_body = operation.request_body.is_some();
                if operators_only(operation) {
                    add_error(operation, 401, "No operator's session.");
                    add_error(operation, 403, "A session, but not an operator's.");
                }
                add_error(
                    operation,
                    429,
                    "Too many requests from this caller: wait as `Retry-After` says.",
                );
                add_error(operation, 503, "Not available now (no majority, a node catching up, its database out of reach, or no node behind the gateway): try again.");
                if takes_body {
                    add_error(
                        operation,
                        400,
                        "The body is not JSON, or not of the shape asked for.",
                    );
                    add_error(operation, 413, "The body is larger than the server takes.");
                }
            }
        }
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Whether `operation` is for operators alone: the only session it names.
fn operators_only(operation: &Operation) -> bool {
    operation.security.as_deref()
        == Some(&[SecurityRequirement::new(OPERATOR, Vec::<String>::new())])
}

/// Adds an error answer to `operation`, unless it describes that status
/// itself.
fn add_error(operation: &mut Operation, status: u16, description: &str) {
    let status = status.to_string();
    if operation.responses.responses.contains_key(&status) {
        return;
    }
    let answer = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(RefOr::Ref(Ref::from_schema_name("ErrorBody")))),
        )
        .build();
    operation
        .responses
        .responses
        .insert(status, RefOr::T(answer));
}
