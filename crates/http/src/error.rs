//! Errors as every REST route answers them: a status and `{"error": {"code", "message"}}`,
//! with a stable code a script can branch on and a message a person understands.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keel_engine::Error as EngineError;
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::CONFLICT,
            code: "conflict",
            message: message.into(),
        }
    }

    pub fn payload_too_large(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "payload_too_large",
            message: message.into(),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> ApiError {
        let message = error.to_string();
        let (status, code) = match error {
            EngineError::NotFound(_) | EngineError::NamespaceNotFound(_) => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            EngineError::AlreadyStarted { .. }
            | EngineError::AlreadyExists(_)
            | EngineError::NamespaceAlreadyExists(_) => (StatusCode::CONFLICT, "already_exists"),
            EngineError::FailedPrecondition(_) => (StatusCode::CONFLICT, "conflict"),
            EngineError::InvalidArgument(_) | EngineError::QueryFailed { .. } => {
                (StatusCode::BAD_REQUEST, "bad_request")
            }
            EngineError::Unimplemented(_) => (StatusCode::NOT_IMPLEMENTED, "unimplemented"),
            EngineError::DeadlineExceeded(_) => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            // A conflict the engine could not retry away is a transient condition too.
            EngineError::Unavailable(_) | EngineError::Conflict(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            EngineError::DataLoss(_) => (StatusCode::INTERNAL_SERVER_ERROR, "data_loss"),
        };
        ApiError {
            status,
            code,
            message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(code = self.code, message = %self.message, "REST request failed");
        }
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}
