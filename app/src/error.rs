//! The one error type every caller sees, REST and server functions alike:
//! a stable machine-readable code and a message a person can act on.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ErrorCode {
    /// The request could not be read at all (malformed JSON, bad query string).
    BadRequest,
    /// The request was read but its content breaks a rule.
    InvalidInput,
    /// The caller must say who they are first.
    SignInRequired,
    /// A node-to-node message without a valid cluster signature.
    BadSignature,
    /// A node-to-node message seen before, or too old to tell from a replay.
    StaleMessage,
    /// The caller may not touch this resource.
    Forbidden,
    NotFound,
    /// The request body is larger than the server takes.
    PayloadTooLarge,
    /// The caller made too many requests too fast; `Retry-After` says when
    /// to try again.
    TooManyRequests,
    /// One or more requested seats are held by another booking.
    SeatsTaken,
    /// The operation conflicts with the resource's current state.
    Conflict,
    /// A dependency (database, network) failed; retrying may help.
    Unavailable,
    /// A bug: nothing the caller did should lead here.
    Internal,
}

impl ErrorCode {
    /// The HTTP status each code maps to; the only place this mapping lives.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::SignInRequired | ErrorCode::BadSignature => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::SeatsTaken | ErrorCode::Conflict | ErrorCode::StaleMessage => 409,
            ErrorCode::InvalidInput => 422,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// For `SeatsTaken`: the seats that are no longer free.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seats: Vec<String>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            seats: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn seats_taken(seats: Vec<String>) -> Self {
        let message = match seats.as_slice() {
            [one] => format!("Seat {one} has just been taken by someone else."),
            many => format!(
                "Seats {} have just been taken by someone else.",
                many.join(", ")
            ),
        };
        ApiError {
            code: ErrorCode::SeatsTaken,
            message,
            seats,
        }
    }

    /// A failure the caller cannot fix; the cause is logged, never sent.
    pub fn internal() -> Self {
        Self::new(
            ErrorCode::Internal,
            "Something went wrong on our side. Please try again.",
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            ErrorCode::Unavailable,
            "The service is temporarily unavailable. Please try again in a moment.",
        )
    }
}

/// Server functions report transport failures (network down, bad response)
/// through the same type, so the pages handle one error shape.
impl leptos::server_fn::error::FromServerFnError for ApiError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Request(_) => ApiError::new(
                ErrorCode::Unavailable,
                "Could not reach MovieBook. Check your connection and try again.",
            ),
            E::Args(msg) | E::MissingArg(msg) => ApiError::bad_request(msg),
            _ => ApiError::internal(),
        }
    }
}
