//! `GET /metrics` for Prometheus (the KPI API is `/api/metrics`).
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    extract::{RawQuery, State},
    http::{header, HeaderMap, Method},
    response::{IntoResponse, Response},
    routing::get,
};
use loco_rs::prelude::*;

use super::{
    auth::{Access, Scope},
    error::ApiError,
    params,
    services::WebServices,
};
use crate::{
    models::orders,
    queue::stats_report,
    views::{prometheus, prometheus_flow},
    workers::overview::OpsStatus,
};

/// Queue depths by state, worker liveness, the KPI outbox and the canary; jobs
/// by outcome with runtime and wait histograms; HTTP requests; orders by status.
/// One scrape costs a few dozen Redis commands, one count of the KPI events past
/// the outbox cursor and one `GROUP BY status` over the orders.
///
/// # Errors
/// 401/403 without a `read` credential (unless `settings.api.metrics_open`);
/// 500 when Redis or the database fails (Prometheus then records `up 0`).
pub async fn scrape(
    State(ctx): State<AppContext>,
    WebServices(services): WebServices,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let access = Access::of(&ctx)?;
    if !access.metrics_open {
        access.authorize(&headers, &method, Scope::Read).await?;
    }
    params::query(query.as_deref(), &[])?;
    let status = OpsStatus::read(&ctx.db, &services.queues()).await?;
    let jobs = stats_report::totals(&services.queues()).await?;
    let by_status = OrderStatusCache::of(&ctx).read(&ctx.db).await?;
    let version = crate::version::app_version();
    let mut page = prometheus::render(&version, &status);
    prometheus_flow::jobs(&mut page, &jobs);
    prometheus_flow::http(
        &mut page,
        &super::http_metrics::HttpMetrics::of(&ctx).snapshot(),
    );
    prometheus_flow::orders(&mut page, &by_status);
    let body = page.finish();
    Ok(([(header::CONTENT_TYPE, prometheus::CONTENT_TYPE)], body).into_response())
}

/// How old the orders-by-status counts on the page may be.
const ORDER_COUNTS_MAX_AGE: Duration = Duration::from_secs(60);

/// The last orders-by-status count of this web process. `orders.status` has no
/// index (it would cost every transition its HOT update, migration 5), so the
/// count scans the table: once a minute at most (about 0.1 s at 1,000,000
/// orders on PostgreSQL), however often Prometheus scrapes.
#[derive(Clone, Default)]
struct OrderStatusCache(Arc<tokio::sync::Mutex<Option<Counted>>>);

/// When the orders were counted, and the counts by status.
type Counted = (Instant, Vec<(String, i64)>);

impl OrderStatusCache {
    fn of(ctx: &AppContext) -> Self {
        if let Some(cache) = ctx.shared_store.get::<Self>() {
            return cache;
        }
        let cache = Self::default();
        ctx.shared_store.insert(cache.clone());
        cache
    }

    async fn read(&self, db: &DatabaseConnection) -> Result<Vec<(String, i64)>, loco_rs::Error> {
        // Held across the query: concurrent scrapes wait for one count.
        let mut slot = self.0.lock().await;
        if let Some((at, counts)) = slot.as_ref() {
            if at.elapsed() < ORDER_COUNTS_MAX_AGE {
                return Ok(counts.clone());
            }
        }
        let counts = orders::Entity::count_by_status(db).await?;
        *slot = Some((Instant::now(), counts.clone()));
        Ok(counts)
    }
}

pub fn routes() -> Routes {
    Routes::new().add("/metrics", get(scrape))
}
