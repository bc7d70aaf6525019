//! The JSON error every API route answers with: `{"error": code, "message": …}`.
use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

/// A client-facing error with a stable machine-readable code.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra fields merged into the body (e.g. the remaining refundable amount).
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    #[must_use]
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    #[must_use]
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or invalid bearer token",
        )
    }

    #[must_use]
    pub fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %error, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.code, "message": self.message });
        if let (Some(serde_json::Value::Object(extra)), Some(map)) =
            (self.details, body.as_object_mut())
        {
            map.extend(extra);
        }
        (self.status, Json(body)).into_response()
    }
}

impl From<loco_rs::Error> for ApiError {
    fn from(error: loco_rs::Error) -> Self {
        Self::internal(&error)
    }
}

impl ApiError {
    /// A domain error already classified: a server error is logged and hidden.
    fn classified(
        error: &dyn std::fmt::Display,
        status: StatusCode,
        code: &'static str,
        details: Option<serde_json::Value>,
    ) -> Self {
        if status.is_server_error() {
            return Self::internal(error);
        }
        Self {
            status,
            code,
            message: error.to_string(),
            details,
        }
    }
}

impl From<crate::models::refunds::RefundError> for ApiError {
    fn from(error: crate::models::refunds::RefundError) -> Self {
        Self::classified(&error, error.status(), error.code(), error.details())
    }
}

impl From<crate::workers::dead::DeadJobError> for ApiError {
    fn from(error: crate::workers::dead::DeadJobError) -> Self {
        Self::classified(&error, error.status(), error.code(), error.details())
    }
}
