//! How an `ApiError` becomes an HTTP response: the status from its code and
//! the body `{"error": {"code", "message"}}`. Extractor rejections (bad JSON,
//! bad query strings, bad path parameters) become the same shape.

use app::error::{ApiError, ErrorCode};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

pub struct HttpError(pub ApiError);

impl From<ApiError> for HttpError {
    fn from(error: ApiError) -> Self {
        HttpError(error)
    }
}

impl From<JsonRejection> for HttpError {
    fn from(rejection: JsonRejection) -> Self {
        let message = match &rejection {
            JsonRejection::MissingJsonContentType(_) => {
                "Send the body as JSON with Content-Type: application/json.".to_string()
            }
            JsonRejection::JsonSyntaxError(_) => {
                format!("The body is not valid JSON: {}", rejection.body_text())
            }
            _ => format!(
                "The JSON body does not have the expected fields: {}",
                rejection.body_text()
            ),
        };
        HttpError(ApiError::bad_request(message))
    }
}

impl From<PathRejection> for HttpError {
    fn from(rejection: PathRejection) -> Self {
        HttpError(ApiError::bad_request(format!(
            "The path is not valid: {}",
            rejection.body_text()
        )))
    }
}

impl From<QueryRejection> for HttpError {
    fn from(rejection: QueryRejection) -> Self {
        HttpError(ApiError::bad_request(format!(
            "The query string is not valid: {}",
            rejection.body_text()
        )))
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if self.0.code == ErrorCode::Internal {
            tracing::error!(message = %self.0.message, "internal error answered");
        }
        (status, Json(serde_json::json!({ "error": self.0 }))).into_response()
    }
}
