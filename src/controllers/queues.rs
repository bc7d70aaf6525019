//! Queue depths and dead jobs: the first thing to look at when orders stop moving.
use axum::{
    body::Bytes,
    extract::{FromRequest, Path, RawQuery, Request, State},
    routing::{get, post},
    Json, RequestExt,
};
use loco_rs::prelude::*;
use redis::aio::ConnectionManager;

use super::{
    auth::{Authorized, Ops, Read},
    body,
    error::ApiError,
    params::{self, NoQuery},
    services::WebServices,
};
use crate::{
    queue::{pause, stats_report, QueueCounts},
    views::{
        mask,
        queues::{
            DiscardResponse, PauseResponse, QueueStatsResponse, QueuesResponse, RetryResponse,
        },
    },
    workers::{
        dead::{self, DeadJobs, OperatedQueue, RetryRequest},
        overview, Services,
    },
};

/// Dead jobs listed when the request names no `limit`, and the most it may name.
const DEFAULT_DEAD_LIMIT: usize = 50;
const MAX_DEAD_LIMIT: usize = 1000;

/// Counts of the four product queues.
///
/// # Errors
/// 400 for any query parameter, 500 when Redis cannot be read.
#[utoipa::path(
    get,
    path = "/api/queues",
    tag = "queues",
    responses(
        (status = 200, description = "Counts of every product queue", body = crate::views::queues::QueuesResponse),
        crate::controllers::openapi_types::BadQuery,
        crate::controllers::openapi_types::RedisDown,
        crate::controllers::openapi_types::ReadErrors,
    ),
    security(("bearer" = ["read"]))
)]
pub async fn list(
    _caller: Authorized<Read>,
    WebServices(services): WebServices,
    _: NoQuery,
) -> Result<Json<QueuesResponse>, ApiError> {
    Ok(Json(QueuesResponse {
        queues: counts_of(&services).await?,
    }))
}

/// `GET /api/queues/stats`: per queue, jobs done and failed per minute over the
/// last hour, runtime and wait p50/p95, and the age of the oldest pending job.
/// Summed over every worker process, from Redis (see `workers/stats.rs`).
///
/// # Errors
/// 400 for any query parameter, 500 when Redis cannot be read.
#[utoipa::path(
    get,
    path = "/api/queues/stats",
    tag = "queues",
    responses(
        (status = 200, description = "Each queue's last hour: jobs and failures per minute, runtime and wait p50/p95", body = crate::views::queues::QueueStatsResponse),
        crate::controllers::openapi_types::BadQuery,
        crate::controllers::openapi_types::RedisDown,
        crate::controllers::openapi_types::ReadErrors,
    ),
    security(("bearer" = ["read"]))
)]
pub async fn stats(
    _caller: Authorized<Read>,
    WebServices(services): WebServices,
    _: NoQuery,
) -> Result<Json<QueueStatsResponse>, ApiError> {
    Ok(Json(QueueStatsResponse {
        minutes: stats_report::MINUTES,
        queues: stats_report::last_hour(&services.queues()).await?,
    }))
}

/// Reads the counts of every product queue.
///
/// # Errors
/// When Redis cannot be read.
pub async fn all_counts(ctx: &AppContext) -> Result<Vec<QueueCounts>> {
    counts_of(&Services::of(ctx)?).await
}

async fn counts_of(services: &Services) -> Result<Vec<QueueCounts>> {
    let queues = overview::read_all(&services.queues()).await?;
    Ok(queues.into_iter().map(|q| q.counts).collect())
}

/// `GET /api/queues/{queue}/dead?limit=50`: the newest dead jobs of a queue,
/// their customer data masked unless the caller has the `ops` scope.
///
/// # Errors
/// 401/403 without a `read` credential, 404 unknown queue, 400 bad `limit`,
/// 500 when Redis fails.
#[utoipa::path(
    get,
    path = "/api/queues/{queue}/dead",
    tag = "queues",
    params(
        crate::controllers::openapi_types::QueuePath,
        ("limit" = Option<u32>, Query, description = "1 to 1000, 50 by default"),
    ),
    responses(
        (status = 200, description = "The newest dead jobs; customer data masked without `ops`", body = crate::workers::dead::DeadJobs),
        crate::controllers::openapi_types::BadQuery,
        crate::controllers::openapi_types::UnknownQueue,
        crate::controllers::openapi_types::RedisDown,
        crate::controllers::openapi_types::ReadErrors,
    ),
    security(("bearer" = ["read"]))
)]
pub async fn dead_jobs(
    caller: Authorized<Read>,
    WebServices(services): WebServices,
    Path(queue): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<DeadJobs>, ApiError> {
    let queue = named_queue(&services, &queue)?;
    let params = params::query(query.as_deref(), &["limit"])?;
    let limit = params::bounded(
        &params,
        "limit",
        DEFAULT_DEAD_LIMIT,
        1..=MAX_DEAD_LIMIT,
        "invalid_limit",
    )?;
    let mut conn = services.redis.clone();
    let mut page = dead::list(&mut conn, &queue, limit).await?;
    if !caller.sees_customer_data() {
        mask::dead_jobs(&mut page);
    }
    Ok(Json(page))
}

/// `POST /api/queues/{queue}/dead/retry` with `{"ids": [...]}` or `{"all": true}`.
///
/// # Errors
/// 401 without a credential, 403 without the `ops` scope, 404 unknown queue or an id that is not dead (nothing
/// moves), 415 not JSON, 422 bad body, 500 when Redis fails.
#[utoipa::path(
    post,
    path = "/api/queues/{queue}/dead/retry",
    tag = "queues",
    params(crate::controllers::openapi_types::QueuePath),
    request_body(content = crate::controllers::openapi_types::DeadJobsSelection, content_type = "application/json"),
    responses(
        (status = 200, description = "How many dead jobs were queued again", body = crate::views::queues::RetryResponse),
        crate::controllers::openapi_types::BadQuery,
        crate::controllers::openapi_types::DeadSelectionErrors,
        crate::controllers::openapi_types::RedisDown,
        crate::controllers::openapi_types::OpsErrors,
    ),
    security(("bearer" = ["ops"]))
)]
pub async fn retry_dead(
    _caller: Authorized<Ops>,
    State(ctx): State<AppContext>,
    DeadSelection {
        queue,
        request,
        mut conn,
    }: DeadSelection,
) -> Result<Json<RetryResponse>, ApiError> {
    let outcome = request.run(&mut conn, &ctx.db, &queue).await?;
    tracing::info!(
        queue = queue.short,
        retried = outcome.retried,
        skipped = outcome.skipped,
        "dead jobs retried"
    );
    Ok(Json(RetryResponse {
        queue: queue.short,
        retried: outcome.retried,
        skipped: outcome.skipped,
    }))
}

/// `POST /api/queues/{queue}/dead/discard` with `{"ids": [...]}` or `{"all": true}`:
/// the jobs leave the dead set for good; their database rows stay as they are.
///
/// # Errors
/// As [`retry_dead`].
#[utoipa::path(
    post,
    path = "/api/queues/{queue}/dead/discard",
    tag = "queues",
    params(crate::controllers::openapi_types::QueuePath),
    request_body(content = crate::controllers::openapi_types::DeadJobsSelection, content_type = "application/json"),
    responses(
        (status = 200, description = "How many dead jobs were removed", body = crate::views::queues::DiscardResponse),
        crate::controllers::openapi_types::BadQuery,
        crate::controllers::openapi_types::DeadSelectionErrors,
        crate::controllers::openapi_types::RedisDown,
        crate::controllers::openapi_types::OpsErrors,
    ),
    security(("bearer" = ["ops"]))
)]
pub async fn discard_dead(
    _caller: Authorized<Ops>,
    DeadSelection {
        queue,
        request,
        mut conn,
    }: DeadSelection,
) -> Result<Json<DiscardResponse>, ApiError> {
    let discarded = request.discard(&mut conn, &queue).await?;
    tracing::info!(queue = queue.short, discarded, "dead jobs discarded");
    Ok(Json(DiscardResponse {
        queue: queue.short,
        discarded,
    }))
}

/// What a retry or a discard request names: the queue of its path and the
/// dead jobs of its body, refused in the order both answer their errors.
pub struct DeadSelection {
    queue: OperatedQueue,
    request: RetryRequest,
    conn: ConnectionManager,
}

impl FromRequest<AppContext> for DeadSelection {
    type Rejection = Response;

    async fn from_request(mut req: Request, ctx: &AppContext) -> Result<Self, Response> {
        let Path(queue) = req
            .extract_parts::<Path<String>>()
            .await
            .map_err(IntoResponse::into_response)?;
        let query = req.uri().query().map(str::to_owned);
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, ctx)
            .await
            .map_err(IntoResponse::into_response)?;
        let read = || -> Result<Self, ApiError> {
            params::query(query.as_deref(), &[])?;
            body::require_json(&headers)?;
            let services = Services::web(ctx)?;
            let queue = named_queue(&services, &queue)?;
            let request = RetryRequest::from_json(&body)?;
            Ok(Self {
                queue,
                request,
                conn: services.redis,
            })
        };
        read().map_err(IntoResponse::into_response)
    }
}

/// The queue a request's path names (clipped in the 404's message).
fn named_queue(services: &Services, name: &str) -> Result<OperatedQueue, ApiError> {
    Ok(OperatedQueue::resolve(
        &services.settings,
        &params::clip(name),
    )?)
}

/// `POST /api/queues/{queue}/pause`: the queue's workers, in every process,
/// stop fetching within a quarter of a second; queued jobs wait.
///
/// # Errors
/// 401 without a credential, 403 without the `ops` scope, 404 unknown queue,
/// 400 for any query parameter, 500 when Redis fails.
#[utoipa::path(
    post,
    path = "/api/queues/{queue}/pause",
    tag = "queues",
    params(crate::controllers::openapi_types::QueuePath),
    responses(
        (status = 200, description = "The queue is paused: its workers stop fetching", body = crate::views::queues::PauseResponse),
        crate::controllers::openapi_types::BadQuery,
        crate::controllers::openapi_types::UnknownQueue,
        crate::controllers::openapi_types::RedisDown,
        crate::controllers::openapi_types::OpsErrors,
    ),
    security(("bearer" = ["ops"]))
)]
pub async fn pause_queue(
    _caller: Authorized<Ops>,
    WebServices(services): WebServices,
    Path(queue): Path<String>,
    _: NoQuery,
) -> Result<Json<PauseResponse>, ApiError> {
    Ok(Json(set_queue_paused(&services, &queue, true).await?))
}

/// `POST /api/queues/{queue}/resume`: the queue's workers fetch again.
///
/// # Errors
/// As [`pause_queue`].
#[utoipa::path(
    post,
    path = "/api/queues/{queue}/resume",
    tag = "queues",
    params(crate::controllers::openapi_types::QueuePath),
    responses(
        (status = 200, description = "The queue is resumed: its workers fetch again", body = crate::views::queues::PauseResponse),
        crate::controllers::openapi_types::BadQuery,
        crate::controllers::openapi_types::UnknownQueue,
        crate::controllers::openapi_types::RedisDown,
        crate::controllers::openapi_types::OpsErrors,
    ),
    security(("bearer" = ["ops"]))
)]
pub async fn resume_queue(
    _caller: Authorized<Ops>,
    WebServices(services): WebServices,
    Path(queue): Path<String>,
    _: NoQuery,
) -> Result<Json<PauseResponse>, ApiError> {
    Ok(Json(set_queue_paused(&services, &queue, false).await?))
}

/// Pauses (`true`) or resumes the queue named `queue`: the API's routes and the
/// console's forms both come here.
///
/// # Errors
/// 404 unknown queue, 500 when Redis fails.
pub async fn set_queue_paused(
    services: &Services,
    queue: &str,
    paused: bool,
) -> Result<PauseResponse, ApiError> {
    let queue = named_queue(services, queue)?;
    let mut conn = services.redis.clone();
    let changed = pause::set_paused(&mut conn, &queue.full, paused)
        .await
        .map_err(dead::DeadJobError::from)?;
    tracing::info!(queue = queue.short, paused, changed, "queue pause set");
    Ok(PauseResponse {
        queue: queue.short,
        paused,
        changed,
    })
}

pub fn routes() -> Routes {
    Routes::new()
        .prefix("api/queues")
        .add("/", get(list))
        .add("/stats", get(stats))
        .add("/{queue}/dead", get(dead_jobs))
        .add("/{queue}/dead/retry", post(retry_dead))
        .add("/{queue}/dead/discard", post(discard_dead))
        .add("/{queue}/pause", post(pause_queue))
        .add("/{queue}/resume", post(resume_queue))
}
