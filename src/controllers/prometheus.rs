//! `GET /metrics` for Prometheus (the KPI API is `/api/metrics`).
use axum::{
    extract::{RawQuery, State},
    http::{header, HeaderMap, Method},
    response::{IntoResponse, Response},
    routing::get,
};
use loco_rs::{app::Hooks, prelude::*};

use super::{
    auth::{Access, Scope},
    error::ApiError,
    params,
};
use crate::{app::App, views::prometheus, workers::overview::OpsStatus};

/// Queue depths by state, worker liveness, the KPI outbox and the canary.
/// Nothing here counts a large table: one scrape costs a few dozen Redis
/// commands and one count of the KPI events past the outbox cursor.
///
/// # Errors
/// 401/403 without a `read` credential (unless `settings.api.metrics_open`);
/// 500 when Redis or the database fails (Prometheus then records `up 0`).
pub async fn scrape(
    State(ctx): State<AppContext>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let access = Access::of(&ctx)?;
    if !access.metrics_open {
        access.authorize(&headers, &method, Scope::Read).await?;
    }
    params::query(query.as_deref(), &[])?;
    let status = OpsStatus::read(&ctx).await?;
    let version = <App as Hooks>::app_version();
    let body = prometheus::render(&version, &status);
    Ok(([(header::CONTENT_TYPE, prometheus::CONTENT_TYPE)], body).into_response())
}

pub fn routes() -> Routes {
    Routes::new().add("/metrics", get(scrape))
}
