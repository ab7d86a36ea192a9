//! The middleware that establishes who calls, once per request, before any
//! handler or server function runs: an operator by a genuine session (a
//! bearer token, or the cookie browsers send), a moviegoer by their user
//! cookie, anyone else anonymous. Handlers read it as the request's
//! `Caller` extension; operator-only ones ask for a `SignedInOperator`.

use super::SessionKeys;
use crate::http::HttpError;
use app::access::{Caller, OPERATOR_COOKIE};
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

/// An extractor that lets only a signed-in operator's request through: 401
/// for anyone else, 403 for a moviegoer, in the API's error shape.
pub struct SignedInOperator(pub String);

impl<S: Send + Sync> FromRequestParts<S> for SignedInOperator {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, HttpError> {
        let caller = parts
            .extensions
            .get::<Caller>()
            .unwrap_or(&Caller::Anonymous);
        Ok(SignedInOperator(caller.require_operator()?.to_string()))
    }
}

fn caller(keys: &SessionKeys, headers: &HeaderMap, now: i64) -> Caller {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_string);
    let token = bearer.or_else(|| app::session::cookie(headers, OPERATOR_COOKIE));
    if let Some(name) = token.and_then(|token| keys.operator(&token, now)) {
        return Caller::Operator(name);
    }
    match app::session::user_from_headers(headers) {
        Some(user) => Caller::Moviegoer(user.id),
        None => Caller::Anonymous,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use axum::http::HeaderValue;

    #[test]
    fn a_caller_is_known_by_a_genuine_session_or_cookie() {
        let keys = SessionKeys::new(&Secret::new("s"));
        let now = 1_800_000_000;
        let token = keys.issue_operator("ada", now).token;
        let with = |name, value: String| {
            let mut headers = HeaderMap::new();
            headers.insert(name, HeaderValue::from_str(&value).unwrap());
            caller(&keys, &headers, now)
        };
        let operator = Caller::Operator("ada".into());
        assert_eq!(with(AUTHORIZATION, format!("Bearer {token}")), operator);
        let cookie = axum::http::header::COOKIE;
        assert_eq!(
            with(cookie.clone(), format!("{OPERATOR_COOKIE}={token}")),
            operator
        );
        let forged = SessionKeys::new(&Secret::new("x"))
            .issue_operator("ada", now)
            .token;
        assert_eq!(
            with(AUTHORIZATION, format!("Bearer {forged}")),
            Caller::Anonymous
        );
        assert_eq!(
            with(cookie, "mb_user=u-1; mb_name=Bo".to_string()),
            Caller::Moviegoer("u-1".into())
        );
        assert_eq!(caller(&keys, &HeaderMap::new(), now), Caller::Anonymous);
    }
}
