//! Why a refund request was refused, with the HTTP status each reason maps to.
use axum::http::StatusCode;
use sea_orm::DbErr;
use serde_json::{json, Value};

use crate::models::{money::format_cents, statuses::OrderStatus};

/// A refused refund request. Client mistakes are 4xx with a stable code; only
/// [`RefundError::Db`] and [`RefundError::Internal`] are ours (500).
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error("the Idempotency-Key header is required")]
    MissingKey,
    #[error("the Idempotency-Key header must be 1 to 255 visible ASCII characters")]
    InvalidKey,
    #[error("invalid request body: {0}")]
    InvalidBody(String),
    #[error("{0}")]
    InvalidAmount(String),
    #[error("reason must be at most {max} characters")]
    InvalidReason { max: usize },
    #[error("order {0} not found")]
    OrderNotFound(String),
    #[error("order {order} is {status}: only paid or partially refunded orders can be refunded")]
    NotRefundable { order: String, status: OrderStatus },
    #[error("the amount exceeds what is left to refund ({})", format_cents(*remaining_cents))]
    ExceedsRefundable { remaining_cents: i64 },
    #[error("this Idempotency-Key was already used for a different request")]
    KeyReused,
    #[error("this Idempotency-Key already created refund {refund_id}; use a new key")]
    KeyAlreadyRefunded { refund_id: i64 },
    #[error("a request with this Idempotency-Key is still being processed; retry later")]
    InFlight,
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("{0}")]
    Internal(String),
}

impl RefundError {
    /// The HTTP status of this refusal.
    #[must_use]
    pub const fn status(&self) -> StatusCode {
        match self {
            Self::MissingKey | Self::InvalidKey => StatusCode::BAD_REQUEST,
            Self::InvalidBody(_)
            | Self::InvalidAmount(_)
            | Self::InvalidReason { .. }
            | Self::ExceedsRefundable { .. }
            | Self::KeyReused
            | Self::KeyAlreadyRefunded { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::OrderNotFound(_) => StatusCode::NOT_FOUND,
            Self::NotRefundable { .. } | Self::InFlight => StatusCode::CONFLICT,
            Self::Db(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code (`error` in the JSON body).
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::MissingKey => "idempotency_key_missing",
            Self::InvalidKey => "idempotency_key_invalid",
            Self::InvalidBody(_) => "invalid_body",
            Self::InvalidAmount(_) => "invalid_amount",
            Self::InvalidReason { .. } => "invalid_reason",
            Self::OrderNotFound(_) => "order_not_found",
            Self::NotRefundable { .. } => "order_not_refundable",
            Self::ExceedsRefundable { .. } => "amount_exceeds_refundable",
            Self::KeyReused | Self::KeyAlreadyRefunded { .. } => "idempotency_key_reused",
            Self::InFlight => "idempotency_request_in_flight",
            Self::Db(_) | Self::Internal(_) => "internal_error",
        }
    }

    /// Fields added to the body next to `error` and `message`.
    #[must_use]
    pub fn details(&self) -> Option<Value> {
        match self {
            Self::ExceedsRefundable { remaining_cents } => Some(json!({
                "remaining_cents": remaining_cents,
                "remaining": format_cents(*remaining_cents),
            })),
            Self::NotRefundable { status, .. } => Some(json!({ "status": status })),
            Self::KeyAlreadyRefunded { refund_id } => Some(json!({ "refund_id": refund_id })),
            _ => None,
        }
    }

    /// Whether this is the answer to the request itself, stored on its key and
    /// replayed: the checks against the order, made after the key was claimed.
    #[must_use]
    pub const fn is_stored(&self) -> bool {
        matches!(
            self,
            Self::OrderNotFound(_)
                | Self::NotRefundable { .. }
                | Self::ExceedsRefundable { .. }
                | Self::KeyAlreadyRefunded { .. }
        )
    }

    /// `{"error": code, "message": …}` plus the details, as stored for replay.
    #[must_use]
    pub fn body(&self) -> Value {
        let mut body = json!({ "error": self.code(), "message": self.to_string() });
        if let (Some(Value::Object(extra)), Some(map)) = (self.details(), body.as_object_mut()) {
            map.extend(extra);
        }
        body
    }
}
