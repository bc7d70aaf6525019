//! Refunds, one at a time.
use axum::{
    extract::{Path, State},
    http::StatusCode,
    routing::get,
    Json,
};
use loco_rs::prelude::*;

use super::{
    auth::{Authorized, Read},
    error::ApiError,
    params::{self, NoQuery},
};
use crate::{
    models::{orders, refunds},
    views::refunds::RefundResponse,
};

/// `GET /api/refunds/{id}`: one refund and where it stands.
///
/// # Errors
/// 400 with a query string, 404 for an unknown refund, 500 on database trouble.
#[utoipa::path(
    get,
    path = "/api/refunds/{id}",
    tag = "refunds",
    params(
        ("id" = String, Path, description = "The refund's numeric id"),
    ),
    responses(
        (status = 200, description = "The refund and where it stands", body = crate::views::refunds::RefundResponse),
        crate::controllers::openapi_types::BadQuery,
        (status = 404, description = "Unknown refund", body = crate::controllers::openapi_types::ErrorBody),
        crate::controllers::openapi_types::ReadErrors,
    ),
    security(("bearer" = ["read"]))
)]
pub async fn show(
    _caller: Authorized<Read>,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
    _: NoQuery,
) -> Result<Json<RefundResponse>, ApiError> {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "refund_not_found",
            format!("refund {} not found", params::clip(&id)),
        )
    };
    let refund_id = params::plain_id(&id).ok_or_else(not_found)?;
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
