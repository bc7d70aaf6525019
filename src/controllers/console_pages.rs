//! The console's pages beyond the queue dashboard and the KPIs: workers, dead
//! jobs (searchable by order), one job by id, imports, stuck orders. All behind
//! the console login; customer data masked without the `ops` scope.
use axum::{
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::Html,
    routing::get,
};
use loco_rs::prelude::*;

use super::{
    console_view::ConsoleView,
    error::ApiError,
    params::{self, NoQuery},
    services::WebServices,
};
use crate::{
    models::{_entities::orders, imports},
    queue::{queue_names, unix_now, worker_info},
    views::{console, mask},
    workers::dead::{self, DeadJobs, OperatedQueue, OrderJobKeys},
};

/// Dead jobs per queue on the dead-jobs page (a search reads more).
const DEAD_SHOWN: usize = 50;
/// Dead jobs per queue an order search looks through.
const DEAD_SEARCHED: usize = 10_000;
const IMPORTS_SHOWN: u64 = 50;
const STUCK_SHOWN: u64 = 200;
/// `?minutes=` of the stuck-orders page: at most a week.
const MAX_STUCK_MINUTES: i64 = 7 * 24 * 60;

/// `GET /dashboard/workers`: every worker process, live or recently silent.
///
/// # Errors
/// 400 with a query string; 500 when Redis fails.
pub async fn workers(
    view: ConsoleView,
    WebServices(services): WebServices,
    _: NoQuery,
) -> Result<Html<String>, ApiError> {
    let mut conn = services.redis.clone();
    let infos = worker_info::read_all(&mut conn, &services.settings.redis.prefix)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let page = console::workers(
        infos,
        unix_now(),
        services.settings.apalis.worker_ttl_secs(),
    );
    view.render("console/workers.html", "Workers", &page)
}

/// `GET /dashboard/dead[?order=EXTERNAL_ID]`: the newest dead jobs of every
/// queue with their whole error, or those that concern one order.
///
/// # Errors
/// 400 for another parameter; 500 when Redis or the database fails.
pub async fn dead_jobs(
    view: ConsoleView,
    State(ctx): State<AppContext>,
    WebServices(services): WebServices,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, ApiError> {
    let params = params::query(query.as_deref(), &["order"])?;
    let search = params
        .get("order")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let order = match &search {
        Some(external_id) => orders::Entity::find_by_external_id(&ctx.db, external_id)
            .await
            .map_err(|e| ApiError::internal(&e))?,
        None => None,
    };
    let keys = match &order {
        Some(order) => Some(
            OrderJobKeys::of(&ctx.db, order)
                .await
                .map_err(|e| ApiError::internal(&e))?,
        ),
        None => None,
    };
    let mut conn = services.redis.clone();
    let mut sections = Vec::new();
    // A search for an unknown order finds nothing: no queue is read.
    let read_queues = search.is_none() || keys.is_some();
    for short in queue_names::ALL.iter().filter(|_| read_queues) {
        let queue = OperatedQueue::resolve(&services.settings, short)?;
        let limit = if keys.is_some() {
            DEAD_SEARCHED
        } else {
            DEAD_SHOWN
        };
        let mut page: DeadJobs = dead::list(&mut conn, &queue, limit).await?;
        if let Some(keys) = &keys {
            page.jobs.retain(|job| keys.concerns(short, &job.payload));
        }
        if !view.caller.sees_customer_data() {
            mask::dead_jobs(&mut page);
        }
        if page.total > 0 {
            sections.push(console::DeadQueue {
                queue: page.queue.clone(),
                total: page.total,
                jobs: page.jobs.iter().map(console::dead_job_row).collect(),
            });
        }
    }
    let page = console::DeadPage {
        shown: sections.iter().map(|s| s.jobs.len()).sum(),
        search,
        order: order.as_ref().map(console::OrderRef::from),
        sections,
        can_operate: view.caller.sees_customer_data(),
    };
    view.render("console/dead.html", "Dead jobs", &page)
}

/// `GET /dashboard/jobs/{queue}/{id}`: one job, dead or not, with its whole
/// error and payload.
///
/// # Errors
/// 404 for an unknown queue or job, 422 for a malformed id; 500 when Redis fails.
pub async fn job(
    view: ConsoleView,
    WebServices(services): WebServices,
    Path((queue, id)): Path<(String, String)>,
    _: NoQuery,
) -> Result<Html<String>, ApiError> {
    let queue = OperatedQueue::resolve(&services.settings, &params::clip(&queue))?;
    dead::check_id(&id)?;
    let mut conn = services.redis.clone();
    let Some(mut found) = dead::one(&mut conn, &queue, &id).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "job_not_found",
            format!(
                "no job {id} in {}: finished jobs are deleted after their retention",
                queue.short
            ),
        ));
    };
    let is_dead: bool = redis::cmd("SISMEMBER")
        .arg(format!("{}:dead", queue.full))
        .arg(&id)
        .query_async(&mut conn)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    if !view.caller.sees_customer_data() {
        mask::dead_job(&mut found);
    }
    let page = console::job(
        queue.short,
        &found,
        is_dead,
        view.caller.sees_customer_data(),
    );
    view.render("console/job.html", "Job", &page)
}

/// `GET /dashboard/imports`: the newest imports with their progress.
///
/// # Errors
/// 400 with a query string; 500 when the database fails.
pub async fn imports_page(
    view: ConsoleView,
    State(ctx): State<AppContext>,
    _: NoQuery,
) -> Result<Html<String>, ApiError> {
    let rows = imports::Model::newest(&ctx.db, IMPORTS_SHOWN)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    view.render("console/imports.html", "Imports", &console::imports(&rows))
}

/// `GET /dashboard/stuck[?minutes=N]`: orders still pending or reserved whose
/// row has not changed for N minutes (default: the recovery sweep's threshold).
///
/// # Errors
/// 400 for a bad `minutes`; 500 when the database fails.
pub async fn stuck(
    view: ConsoleView,
    State(ctx): State<AppContext>,
    WebServices(services): WebServices,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, ApiError> {
    let params = params::query(query.as_deref(), &["minutes"])?;
    let settings = &services.settings;
    let default = i64::try_from(settings.workflow.stuck_after_secs / 60)
        .unwrap_or(MAX_STUCK_MINUTES)
        .clamp(1, MAX_STUCK_MINUTES);
    let minutes = params::bounded(
        &params,
        "minutes",
        default,
        1..=MAX_STUCK_MINUTES,
        "invalid_minutes",
    )?;
    let now = chrono::Utc::now().naive_utc();
    let (count, rows) = orders::Entity::stuck(
        &ctx.db,
        now - chrono::Duration::minutes(minutes),
        STUCK_SHOWN,
    )
    .await
    .map_err(|e| ApiError::internal(&e))?;
    view.render(
        "console/stuck.html",
        "Stuck orders",
        &console::stuck(minutes, count, &rows, now),
    )
}

/// Pages that read Redis (the outage guard answers for them while it is down).
pub fn redis_routes() -> Routes {
    Routes::new()
        .prefix("dashboard")
        .add("/workers", get(workers))
        .add("/dead", get(dead_jobs))
        .add("/jobs/{queue}/{id}", get(job))
}

/// Pages that read only the database.
pub fn database_routes() -> Routes {
    Routes::new()
        .prefix("dashboard")
        .add("/imports", get(imports_page))
        .add("/stuck", get(stuck))
}
