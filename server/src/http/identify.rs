//! The middleware that establishes who calls, once per request, before any
//! handler or server function runs: the operator and the moviegoer named by
//! genuine, unexpired sessions (a bearer token, or the cookies browsers
//! send). Handlers read it as the request's `Caller` extension;
//! operator-only ones ask for a `SignedInOperator`.

use super::error::HttpError;
use crate::auth::sessions::Role;
use crate::auth::SessionKeys;
use app::access::{Caller, MOVIEGOER_COOKIE, OPERATOR_COOKIE};
use app::session::cookie;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

pub async fn identify(
    State(keys): State<Arc<SessionKeys>>,
    mut request: Request,
    next: Next,
) -> Response {
    let caller = caller(&keys, request.headers(), chrono::Utc::now().timestamp());
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The request's caller, as a handler's argument.
pub struct CallerOf(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for CallerOf {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, HttpError> {
        Ok(CallerOf(
            parts
                .extensions
                .get::<Caller>()
                .cloned()
                .unwrap_or_default(),
        ))
    }
}

/// An extractor that lets only a signed-in operator's request through: 401
/// for anyone else, 403 for a moviegoer, in the API's error shape.
pub struct SignedInOperator(pub String);

impl<S: Send + Sync> FromRequestParts<S> for SignedInOperator {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, HttpError> {
        let CallerOf(caller) = CallerOf::from_request_parts(parts, state).await?;
        Ok(SignedInOperator(caller.require_operator()?.to_string()))
    }
}

fn caller(keys: &SessionKeys, headers: &HeaderMap, now: i64) -> Caller {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let session = |role: Role, cookie_name: &str| {
        let from_bearer = bearer.and_then(|token| keys.verify(role, token, now));
        from_bearer.or_else(|| {
            let token = cookie(headers, cookie_name)?;
            keys.verify(role, &token, now)
        })
    };
    Caller {
        moviegoer: session(Role::Moviegoer, MOVIEGOER_COOKIE),
        operator: session(Role::Operator, OPERATOR_COOKIE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use axum::http::header::COOKIE;
    use axum::http::HeaderValue;

    #[test]
    fn a_caller_is_known_by_genuine_sessions_only() {
        let keys = SessionKeys::new(&Secret::new("s"));
        let now = 1_800_000_000;
        let operator = keys.issue_operator("ada", now).token;
        let moviegoer = keys.issue_moviegoer("u-1", "Bo", now).token;
        let with = |name, value: String| {
            let mut headers = HeaderMap::new();
            headers.insert(name, HeaderValue::from_str(&value).unwrap());
            caller(&keys, &headers, now)
        };
        let who = |moviegoer: Option<&str>, operator: Option<&str>| Caller {
            moviegoer: moviegoer.map(str::to_string),
            operator: operator.map(str::to_string),
        };
        assert_eq!(
            with(AUTHORIZATION, format!("Bearer {operator}")),
            who(None, Some("ada"))
        );
        assert_eq!(
            with(AUTHORIZATION, format!("Bearer {moviegoer}")),
            who(Some("u-1"), None)
        );
        assert_eq!(
            with(
                COOKIE,
                format!("{OPERATOR_COOKIE}={operator}; {MOVIEGOER_COOKIE}={moviegoer}")
            ),
            who(Some("u-1"), Some("ada"))
        );
        let forged = SessionKeys::new(&Secret::new("x"))
            .issue_operator("ada", now)
            .token;
        assert_eq!(
            with(AUTHORIZATION, format!("Bearer {forged}")),
            who(None, None)
        );
        // A user id set by hand, as before sessions, names no one.
        assert_eq!(
            with(COOKIE, "mb_user=u-1; mb_name=Bo".into()),
            who(None, None)
        );
        assert_eq!(caller(&keys, &HeaderMap::new(), now), who(None, None));
    }
}
