//! Errors as every REST route answers them: a status and `{"error": {"code", "message"}}`,
//! with a stable code a script can branch on and a message a person understands.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keel_engine::Error as EngineError;

use crate::openapi::{ErrorBody, ErrorCode, ErrorDetail};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: ErrorCode::BadRequest,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: ErrorCode::NotFound,
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::CONFLICT,
            code: ErrorCode::Conflict,
            message: message.into(),
        }
    }

    pub fn payload_too_large(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: ErrorCode::PayloadTooLarge,
            message: message.into(),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> ApiError {
        let message = error.to_string();
        let (status, code) = match error {
            EngineError::NotFound(_) | EngineError::NamespaceNotFound(_) => {
                (StatusCode::NOT_FOUND, ErrorCode::NotFound)
            }
            EngineError::AlreadyStarted { .. }
            | EngineError::AlreadyExists(_)
            | EngineError::NamespaceAlreadyExists(_) => {
                (StatusCode::CONFLICT, ErrorCode::AlreadyExists)
            }
            EngineError::FailedPrecondition(_) => (StatusCode::CONFLICT, ErrorCode::Conflict),
            EngineError::InvalidArgument(_) | EngineError::QueryFailed { .. } => {
                (StatusCode::BAD_REQUEST, ErrorCode::BadRequest)
            }
            EngineError::Unimplemented(_) => {
                (StatusCode::NOT_IMPLEMENTED, ErrorCode::Unimplemented)
            }
            EngineError::DeadlineExceeded(_) => (StatusCode::GATEWAY_TIMEOUT, ErrorCode::Timeout),
            // A conflict the engine could not retry away is a transient condition too.
            EngineError::Unavailable(_) | EngineError::Conflict(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable)
            }
            EngineError::DataLoss(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::DataLoss),
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
            tracing::warn!(code = ?self.code, message = %self.message, "REST request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}
