//! Who may do what. The server establishes who calls (`Caller`) from the
//! request before any handler runs, from sessions only it can issue; the
//! REST API and the pages' server functions ask the same questions of it:
//! `require_operator`, `require_moviegoer`, `require_owner`.

use crate::error::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};

/// The cookie that carries an operator's session.
pub const OPERATOR_COOKIE: &str = "mb_operator";
/// The cookie that carries a moviegoer's session.
pub const MOVIEGOER_COOKIE: &str = "mb_user";

/// How long an operator's session lasts: a working day.
pub const OPERATOR_SESSION_SECONDS: i64 = 8 * 3600;
/// How long a moviegoer's lasts: a year, to find one's bookings next week.
pub const MOVIEGOER_SESSION_SECONDS: i64 = 365 * 24 * 3600;

/// Who makes a request, as the server established it: the moviegoer and
/// the operator its genuine, unexpired sessions name (a browser may hold
/// both), or neither.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// A moviegoer's user id.
    pub moviegoer: Option<String>,
    /// An operator's name.
    pub operator: Option<String>,
}

impl Caller {
    /// The operator's name; 401 for a caller who has not signed in as one,
    /// 403 for a moviegoer.
    pub fn require_operator(&self) -> Result<&str, ApiError> {
        match (&self.operator, &self.moviegoer) {
            (Some(name), _) => Ok(name),
            (None, Some(_)) => Err(ApiError::new(
                ErrorCode::Forbidden,
                "Only an operator may do this.",
            )),
            (None, None) => Err(ApiError::new(
                ErrorCode::SignInRequired,
                "Only a signed-in operator may do this: sign in on the monitor first.",
            )),
        }
    }

    /// The moviegoer's user id; 401 for a caller without a session.
    pub fn require_moviegoer(&self) -> Result<&str, ApiError> {
        self.moviegoer.as_deref().ok_or_else(|| {
            ApiError::new(
                ErrorCode::SignInRequired,
                "Say who you are first: POST /api/sessions with your name gives you a session.",
            )
        })
    }

    /// Passes the owner of something (a booking, a user's bookings) and
    /// operators; 401 without a session, 403 for anyone else.
    pub fn require_owner(&self, owner: &str) -> Result<(), ApiError> {
        if self.operator.is_some() {
            return Ok(());
        }
        if self.require_moviegoer()? == owner {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::Forbidden,
                "That belongs to another moviegoer.",
            ))
        }
    }
}

/// A session an operator was given on signing in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OperatorSession {
    pub name: String,
    /// Sent back as a bearer token by API clients (browsers use the cookie).
    pub token: String,
    /// Seconds since the Unix epoch.
    pub expires_at: i64,
}

/// A session the server gave a moviegoer: the user id it chose for them,
/// and the name they asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MoviegoerSession {
    pub user_id: String,
    pub user_name: String,
    /// Sent back as a bearer token by API clients (browsers use the cookie).
    pub token: String,
    /// Seconds since the Unix epoch.
    pub expires_at: i64,
}

/// The `Set-Cookie` value that gives the browser `session`. Strict: no
/// request another site starts carries it, not even a link.
pub fn operator_cookie(session: &OperatorSession) -> String {
    session_cookie(
        OPERATOR_COOKIE,
        &session.token,
        OPERATOR_SESSION_SECONDS,
        "Strict",
    )
}

/// The `Set-Cookie` value that ends the browser's operator session.
pub fn cleared_operator_cookie() -> String {
    session_cookie(OPERATOR_COOKIE, "", 0, "Strict")
}

/// The `Set-Cookie` value that gives the browser a moviegoer's session.
/// Lax, so a link from another site opens the moviegoer's own pages; what
/// another site's page sends to change anything is refused all the same
/// (`server/src/http/cross_site.rs`).
pub fn moviegoer_cookie(session: &MoviegoerSession) -> String {
    session_cookie(
        MOVIEGOER_COOKIE,
        &session.token,
        MOVIEGOER_SESSION_SECONDS,
        "Lax",
    )
}

fn session_cookie(name: &str, token: &str, max_age: i64, same_site: &str) -> String {
    format!("{name}={token}; Path=/; Max-Age={max_age}; SameSite={same_site}; HttpOnly")
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

    fn caller(moviegoer: Option<&str>, operator: Option<&str>) -> Caller {
        Caller {
            moviegoer: moviegoer.map(str::to_string),
            operator: operator.map(str::to_string),
        }
    }

    #[test]
    fn only_operators_pass_and_others_are_told_why() {
        assert_eq!(caller(None, Some("ada")).require_operator(), Ok("ada"));
        let status = |c: Caller| c.require_operator().unwrap_err().code.http_status();
        assert_eq!(status(caller(None, None)), 401);
        assert_eq!(status(caller(Some("u-1"), None)), 403);
    }

    #[test]
    fn owners_and_operators_pass_and_no_one_else() {
        assert_eq!(caller(Some("u-1"), None).require_owner("u-1"), Ok(()));
        assert_eq!(caller(None, Some("ada")).require_owner("u-1"), Ok(()));
        let status = |c: Caller| c.require_owner("u-1").unwrap_err().code.http_status();
        assert_eq!(status(caller(Some("u-2"), None)), 403);
        assert_eq!(status(caller(None, None)), 401);
    }
}
