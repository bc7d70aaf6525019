//! Imports you can follow: `GET /api/imports/{id}`.
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
use crate::{models::imports::Model as Import, views::imports::ImportResponse};

/// The import row and how many of its orders are in each status now.
///
/// # Errors
/// 400 for a non-numeric id or a query string, 404 for an unknown one, 500 when the database fails.
#[utoipa::path(
    get,
    path = "/api/imports/{id}",
    tag = "imports",
    params(
        ("id" = String, Path, description = "The import's numeric id"),
    ),
    responses(
        (status = 200, description = "The import and its orders by status", body = crate::views::imports::ImportResponse),
        (status = 400, description = "A non-numeric id or a query string", body = crate::controllers::openapi_types::ErrorBody),
        (status = 404, description = "Unknown import", body = crate::controllers::openapi_types::ErrorBody),
        crate::controllers::openapi_types::ReadErrors,
    ),
    security(("bearer" = ["read"]))
)]
pub async fn show(
    _caller: Authorized<Read>,
    Path(id): Path<String>,
    _: NoQuery,
    State(ctx): State<AppContext>,
) -> Result<Json<ImportResponse>, ApiError> {
    let id = params::plain_id(&id).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("import id `{}` is not a number", params::clip(&id)),
        )
    })?;
    let import = Import::find_by_id(&ctx.db, id)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("import {id} does not exist"),
            )
        })?;
    let orders = import
        .order_status_counts(&ctx.db)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(ImportResponse::new(import, orders)))
}

pub fn routes() -> Routes {
    Routes::new().prefix("api/imports").add("/{id}", get(show))
}
