//! Who may do what. The server establishes who calls (`Caller`) from the
//! request before any handler runs; operator-only actions, through the REST
//! API and the pages' server functions alike, ask `require_operator`.

use crate::error::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};

/// The cookie that carries an operator's session.
pub const OPERATOR_COOKIE: &str = "mb_operator";

/// How long an operator's session lasts: a working day.
pub const OPERATOR_SESSION_SECONDS: i64 = 8 * 3600;

/// Who makes a request, as the server established it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Caller {
    /// No session, or one that is forged or expired.
    Anonymous,
    /// A moviegoer, by user id.
    Moviegoer(String),
    /// A signed-in operator, by name.
    Operator(String),
}

impl Caller {
    /// The operator's name; 401 for a caller who has not signed in as one,
    /// 403 for a moviegoer.
    pub fn require_operator(&self) -> Result<&str, ApiError> {
        match self {
            Caller::Operator(name) => Ok(name),
            Caller::Anonymous => Err(ApiError::new(
                ErrorCode::SignInRequired,
                "Only a signed-in operator may do this: sign in on the monitor first.",
            )),
            Caller::Moviegoer(_) => Err(ApiError::new(
                ErrorCode::Forbidden,
                "Only an operator may do this.",
            )),
        }
    }
}

/// A session an operator was given on signing in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperatorSession {
    pub name: String,
    /// Sent back as a bearer token by API clients (browsers use the cookie).
    pub token: String,
    /// Seconds since the Unix epoch.
    pub expires_at: i64,
}

/// The `Set-Cookie` value that gives the browser `session`.
pub fn operator_cookie(session: &OperatorSession) -> String {
    format!(
        "{OPERATOR_COOKIE}={}; Path=/; Max-Age={OPERATOR_SESSION_SECONDS}; SameSite=Strict; HttpOnly",
        session.token
    )
}

/// The `Set-Cookie` value that ends the browser's operator session.
pub fn cleared_operator_cookie() -> String {
    format!("{OPERATOR_COOKIE}=; Path=/; Max-Age=0; SameSite=Strict; HttpOnly")
}

/// The caller of the server function being run.
#[cfg(feature = "ssr")]
pub async fn caller() -> Result<Caller, ApiError> {
    let extensions: http::Extensions = leptos_axum::extract()
        .await
        .map_err(|_| ApiError::internal())?;
    extensions
        .get::<Caller>()
        .cloned()
        .ok_or_else(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_operators_pass_and_others_are_told_why() {
        let op = Caller::Operator("ada".into());
        assert_eq!(op.require_operator(), Ok("ada"));
        let anonymous = Caller::Anonymous.require_operator().unwrap_err();
        assert_eq!(anonymous.code.http_status(), 401);
        let moviegoer = Caller::Moviegoer("u-1".into())
            .require_operator()
            .unwrap_err();
        assert_eq!(moviegoer.code.http_status(), 403);
    }
}
