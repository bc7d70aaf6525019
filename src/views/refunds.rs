use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::models::{_entities::refunds, refunds::Recorded, statuses::RefundStatus};

/// Header set on a response replayed for a repeated Idempotency-Key.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// `GET /api/refunds/{id}`, and each refund in `GET /api/orders/{id}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefundResponse {
    pub id: i64,
    /// The order's external id (`ORD-2025-001`).
    pub order_id: String,
    pub amount_cents: i64,
    #[schema(value_type = String)]
    pub status: RefundStatus,
    pub reason: Option<String>,
    pub failure_reason: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub processed_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl RefundResponse {
    #[must_use]
    pub fn new(refund: refunds::Model, order_external_id: &str) -> Self {
        Self {
            id: refund.id,
            order_id: order_external_id.to_string(),
            amount_cents: refund.amount_cents,
            status: refund.status,
            reason: refund.reason,
            failure_reason: refund.failure_reason,
            created_at: refund.created_at.and_utc(),
            processed_at: refund.processed_at.map(|t| t.to_utc()),
        }
    }
}

/// The answer to a refund request, byte for byte as first given; a replay
/// says so in [`REPLAYED_HEADER`].
#[must_use]
pub fn recorded(answer: Recorded) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        answer.body,
    )
        .into_response();
    if answer.replayed {
        response
            .headers_mut()
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}
