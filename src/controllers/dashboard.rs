//! The operators' pages (the Horizon equivalent): queues and live KPIs, as HTML.
use axum::{
    extract::{Path, RawQuery, State},
    response::{Html, Redirect},
    routing::{get, post},
};
use loco_rs::prelude::*;

use super::{
    auth::{form::FormAuthorized, Ops},
    console_view::ConsoleView,
    error::ApiError,
    params::{self, NoQuery},
    queues,
    services::WebServices,
};
use crate::{
    models::kpi::{figures, store},
    queue::stats_report,
    views::{dashboard, kpi_page, mask},
    workers::{dead, heal, overview::OpsStatus},
};

/// Dead jobs shown per queue; the API pages through more.
const DEAD_SHOWN: usize = 20;
/// Days on the KPI page unless `?days=` says otherwise, and the most it may say.
const DEFAULT_DAYS: i64 = 14;
const MAX_DAYS: i64 = 90;
const TOP_CUSTOMERS: isize = 10;

/// `GET /dashboard`: counts, worker liveness and dead jobs of every queue, the
/// KPI outbox and the last canary.
///
/// Customer data in dead payloads is masked unless the caller has `ops`.
///
/// # Errors
/// 303 to the login form without a credential; 500 when Redis or the database fails.
pub async fn queues(
    view: ConsoleView,
    State(ctx): State<AppContext>,
    WebServices(services): WebServices,
    _: NoQuery,
) -> Result<Html<String>, ApiError> {
    let status = OpsStatus::read(&ctx.db, &services.queues()).await?;
    let mut conn = services.redis.clone();
    let mut dead_pages = Vec::new();
    for q in status.queues.iter().filter(|q| q.counts.dead > 0) {
        let queue = dead::OperatedQueue::resolve(&services.settings, q.queue)?;
        let mut page = dead::list(&mut conn, &queue, DEAD_SHOWN).await?;
        if !view.caller.sees_customer_data() {
            mask::dead_jobs(&mut page);
        }
        dead_pages.push(page);
    }
    let stats = stats_report::last_hour(&services.queues()).await?;
    let page = dashboard::build(
        &status,
        &dead_pages,
        &stats,
        services.settings.apalis.worker_ttl_secs(),
        view.caller.sees_customer_data(),
    );
    view.render("console/dashboard.html", "orders-flow queues", &page)
}

/// `GET /dashboard/kpis?days=14`: the last days' revenue and orders as bars, and
/// the all-time top customers, from the same Redis figures as the metrics API.
///
/// # Errors
/// 400 for a bad `days`; 500 when Redis fails.
pub async fn kpis(
    view: ConsoleView,
    WebServices(services): WebServices,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, ApiError> {
    let params = params::query(query.as_deref(), &["days"])?;
    let count = params::bounded(&params, "days", DEFAULT_DAYS, 1..=MAX_DAYS, "invalid_days")?;
    let prefix = &services.settings.redis.prefix;
    let today = chrono::Utc::now().date_naive();
    let days: Vec<String> = (0..count)
        .rev()
        .map(|back| {
            (today - chrono::Days::new(back.unsigned_abs()))
                .format("%Y-%m-%d")
                .to_string()
        })
        .collect();
    let board_key = store::all_time_key(prefix);
    let mut conn = services.redis.clone();
    let (day_figures, board, rebuilding) = tokio::try_join!(
        figures::read_days(&services.redis, prefix, &days),
        figures::read_board(&services.redis, &board_key, TOP_CUSTOMERS),
        heal::figures_rebuilding(&mut conn, prefix),
    )
    .map_err(|e| ApiError::internal(&e))?;
    let days: Vec<_> = days.into_iter().zip(day_figures).collect();
    view.render(
        "console/kpis.html",
        "orders-flow KPIs",
        &kpi_page::build(&days, &board, rebuilding),
    )
}

/// `POST /dashboard/queues/{queue}/pause`, a form with the session's `csrf`:
/// what `POST /api/queues/{queue}/pause` does, then back to the dashboard.
///
/// # Errors
/// 401 without a credential, 403 without `ops` or with a stale CSRF token,
/// 404 unknown queue, 500 when Redis fails.
pub async fn pause_form(
    WebServices(services): WebServices,
    Path(queue): Path<String>,
    _caller: FormAuthorized<Ops>,
) -> Result<Redirect, ApiError> {
    queues::set_queue_paused(&services, &queue, true).await?;
    Ok(Redirect::to("/dashboard"))
}

/// `POST /dashboard/queues/{queue}/resume`: as [`pause_form`], resuming.
///
/// # Errors
/// As [`pause_form`].
pub async fn resume_form(
    WebServices(services): WebServices,
    Path(queue): Path<String>,
    _caller: FormAuthorized<Ops>,
) -> Result<Redirect, ApiError> {
    queues::set_queue_paused(&services, &queue, false).await?;
    Ok(Redirect::to("/dashboard"))
}

pub fn routes() -> Routes {
    Routes::new()
        .prefix("dashboard")
        .add("/", get(queues))
        .add("/kpis", get(kpis))
        .add("/queues/{queue}/pause", post(pause_form))
        .add("/queues/{queue}/resume", post(resume_form))
}
