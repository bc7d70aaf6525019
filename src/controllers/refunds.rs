//! Refunds, one at a time.
use axum::{
    extract::{Path, State},
    http::StatusCode,
    routing::get,
    Json,
};
use loco_rs::prelude::*;

use super::error::ApiError;
use crate::{
    models::{orders, refunds},
    views::refunds::RefundResponse,
};

/// `GET /api/refunds/{id}`: one refund and where it stands.
///
/// # Errors
/// 404 for an unknown refund, 500 on database trouble.
pub async fn show(
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
) -> Result<Json<RefundResponse>, ApiError> {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "refund_not_found",
            format!("refund {id} not found"),
        )
    };
    let refund_id = id.parse::<i64>().map_err(|_| not_found())?;
    let refund = refunds::Entity::find_by_id(refund_id)
        .find_also_related(orders::Entity)
        .one(&ctx.db)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let Some((refund, Some(order))) = refund else {
        return Err(not_found());
    };
    Ok(Json(RefundResponse::new(refund, &order.external_id)))
}

pub fn routes() -> Routes {
    Routes::new().prefix("api/refunds").add("/{id}", get(show))
}
