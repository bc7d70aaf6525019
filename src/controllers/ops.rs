//! Operator endpoints: is anybody working the queues?
use axum::{http::StatusCode, routing::get, Json};
use loco_rs::prelude::*;
use serde_json::json;

use super::{
    auth::{Authorized, Ops, Read},
    error::ApiError,
    params::NoQuery,
    services::WebServices,
};
use crate::workers::canary::{CanaryJob, CanaryReport};

/// Queues one canary job; a live worker records it within a poll interval.
///
/// # Errors
/// 401 without a credential, 403 without the `ops` scope; 500 when Redis fails.
#[utoipa::path(
    post,
    path = "/api/ops/canary",
    tag = "ops",
    responses(
        (status = 202, description = "The canary job is queued", body = crate::controllers::openapi_types::CanaryQueued),
        crate::controllers::openapi_types::BadQuery,
        crate::controllers::openapi_types::RedisDown,
        crate::controllers::openapi_types::OpsErrors,
    ),
    security(("bearer" = ["ops"]))
)]
pub async fn push_canary(
    _caller: Authorized<Ops>,
    WebServices(services): WebServices,
    _: NoQuery,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let queue = services.queue::<CanaryJob>();
    queue
        .push(&CanaryJob {
            queued_at_ms: chrono::Utc::now().timestamp_millis(),
        })
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "queued": true, "queue": queue.name() })),
    ))
}

/// The last canary run: which worker process ran it and how long it waited.
///
/// # Errors
/// 500 when Redis fails.
#[utoipa::path(
    get,
    path = "/api/ops/canary",
    tag = "ops",
    responses(
        (status = 200, description = "The last canary run", body = crate::workers::canary::CanaryReport),
        crate::controllers::openapi_types::BadQuery,
        crate::controllers::openapi_types::RedisDown,
        crate::controllers::openapi_types::ReadErrors,
    ),
    security(("bearer" = ["read"]))
)]
pub async fn canary_report(
    _caller: Authorized<Read>,
    WebServices(services): WebServices,
    _: NoQuery,
) -> Result<Json<CanaryReport>, ApiError> {
    let report = CanaryReport::read(&services.queues())
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(report))
}

pub fn routes() -> Routes {
    Routes::new()
        .prefix("api/ops")
        .add("/canary", get(canary_report).post(push_canary))
}
