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

impl From<crate::models::refunds::RefundError> for ApiError {
    fn from(error: crate::models::refunds::RefundError) -> Self {
        if error.status().is_server_error() {
            return Self::internal(&error);
        }
        Self {
            status: error.status(),
            code: error.code(),
            message: error.to_string(),
            details: error.details(),
        }
    }
}
