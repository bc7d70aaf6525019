//! Live figures, read from Redis only: the most-called endpoints.
use std::{collections::HashMap, sync::Arc};

use axum::{
    extract::{RawQuery, State},
    http::StatusCode,
    response::AppendHeaders,
    routing::get,
    Json,
};
use loco_rs::prelude::*;
use redis::aio::ConnectionManager;

use super::{
    auth::{Access, Authorized, HasAccess, Read},
    error::ApiError,
    params,
};
use crate::{
    models::kpi::{day::format as day, figures, store},
    views::metrics::{
        DayKpi, LeaderboardEntry, LeaderboardResponse, MetricsResponse, RangeResponse,
    },
    workers::{heal, Services},
};

const MAX_RANGE_DAYS: i64 = 366;

/// What these handlers need, and nothing more. axum clones a route's state for
/// every request; Loco's whole `AppContext` (its configuration included) cost
/// about half of the server's CPU per metrics request when it was the state.
#[derive(Clone)]
pub struct FiguresState(Option<Reader>, Option<Arc<Access>>);

#[derive(Clone)]
struct Reader {
    redis: ConnectionManager,
    prefix: Arc<str>,
}

impl FiguresState {
    fn of(ctx: &AppContext) -> Self {
        Self(
            Services::of(ctx).ok().map(|s| Reader {
                redis: s.web_redis.clone(),
                prefix: Arc::from(s.settings.redis.prefix.as_str()),
            }),
            Access::of(ctx).ok(),
        )
    }

    fn reader(&self) -> Result<&Reader, ApiError> {
        self.0.as_ref().ok_or_else(|| {
            ApiError::internal(&"services not installed: App::after_context did not run")
        })
    }
}

impl HasAccess for FiguresState {
    fn access(&self) -> Result<Arc<Access>, ApiError> {
        self.1
            .clone()
            .ok_or_else(|| ApiError::internal(&"access rules not installed"))
    }
}

fn bad(code: &'static str, message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

fn limit_param(params: &HashMap<String, String>) -> Result<isize, ApiError> {
    params::bounded(params, "limit", 10, 1..=100, "invalid_limit")
}

fn redis_failed(e: &redis::RedisError) -> ApiError {
    ApiError::internal(e)
}

/// Set (to `1`) on a figures response while the figures are being rebuilt;
/// the body says the same in `rebuilding`.
pub const REBUILDING_HEADER: &str = "x-figures-rebuilding";

/// A figures response: the body, and the header when `rebuilding`.
type Figures<T> = (AppendHeaders<Option<(&'static str, &'static str)>>, Json<T>);

fn figures_response<T>(rebuilding: bool, body: T) -> Figures<T> {
    (
        AppendHeaders(rebuilding.then_some((REBUILDING_HEADER, "1"))),
        Json(body),
    )
}

impl Reader {
    /// Whether the figures are being rebuilt; read alongside the figures (the
    /// connection pipelines the two reads, so no round trip is added).
    async fn rebuilding(&self) -> redis::RedisResult<bool> {
        heal::figures_rebuilding(&mut self.redis.clone(), &self.prefix).await
    }
}

/// `GET /api/metrics?date=&limit=&leaderboard=all_time|day`
///
/// # Errors
/// 400 for a bad parameter; 500 when Redis fails.
#[utoipa::path(
    get,
    path = "/api/metrics",
    tag = "metrics",
    params(
        ("date" = Option<String>, Query, description = "A day, YYYY-MM-DD; today (UTC) without it"),
        ("limit" = Option<u32>, Query, description = "Leaderboard entries, 1 to 100, 10 by default"),
        ("leaderboard" = Option<String>, Query, description = "`day` or `all_time`"),
    ),
    responses(
        (status = 200, description = "The day's KPIs and leaderboard", body = crate::views::metrics::MetricsResponse),
        crate::controllers::openapi_types::BadQuery,
        crate::controllers::openapi_types::RedisDown,
        crate::controllers::openapi_types::ReadErrors,
    ),
    security(("bearer" = ["read"]))
)]
pub async fn show(
    _caller: Authorized<Read>,
    State(state): State<FiguresState>,
    RawQuery(query): RawQuery,
) -> Result<Figures<MetricsResponse>, ApiError> {
    let params = params::query(query.as_deref(), &["date", "limit", "leaderboard"])?;
    let date = params::date(&params, "date")?.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let limit = limit_param(&params)?;
    let scope = match params.get("leaderboard").map(String::as_str) {
        None | Some("all_time") => "all_time",
        Some("day") => "day",
        Some(other) => {
            return Err(bad(
                "invalid_leaderboard",
                format!(
                    "`leaderboard` must be `all_time` or `day`, got `{}`",
                    params::clip(other)
                ),
            ))
        }
    };
    let reader = state.reader()?;
    let prefix = &reader.prefix;
    let date = day(date);
    let board_key = if scope == "day" {
        store::day_board_key(prefix, &date)
    } else {
        store::all_time_key(prefix)
    };
    let ((figures, board), rebuilding) = tokio::try_join!(
        figures::read_day_and_board(&reader.redis, prefix, &date, &board_key, limit),
        reader.rebuilding(),
    )
    .map_err(|e| redis_failed(&e))?;
    Ok(figures_response(
        rebuilding,
        MetricsResponse {
            rebuilding,
            date,
            kpi: figures.into(),
            scope,
            leaderboard: LeaderboardEntry::ranked(board),
        },
    ))
}

/// `GET /api/metrics/range?from=&to=` (at most 366 days).
///
/// # Errors
/// 400 for a bad or missing date or a reversed or too long range.
#[utoipa::path(
    get,
    path = "/api/metrics/range",
    tag = "metrics",
    params(
        ("from" = String, Query, description = "First day, YYYY-MM-DD"),
        ("to" = String, Query, description = "Last day, YYYY-MM-DD"),
    ),
    responses(
        (status = 200, description = "KPIs of each day", body = crate::views::metrics::RangeResponse),
        crate::controllers::openapi_types::BadQuery,
        crate::controllers::openapi_types::RedisDown,
        crate::controllers::openapi_types::ReadErrors,
    ),
    security(("bearer" = ["read"]))
)]
pub async fn range(
    _caller: Authorized<Read>,
    State(state): State<FiguresState>,
    RawQuery(query): RawQuery,
) -> Result<Figures<RangeResponse>, ApiError> {
    let params = params::query(query.as_deref(), &["from", "to"])?;
    let required = |name: &str| {
        params::date(&params, name)?
            .ok_or_else(|| bad("missing_date", format!("`{name}` is required (YYYY-MM-DD)")))
    };
    let (from, to) = (required("from")?, required("to")?);
    if from > to {
        return Err(bad(
            "invalid_range",
            format!("`from` ({from}) is after `to` ({to})"),
        ));
    }
    if (to - from).num_days() + 1 > MAX_RANGE_DAYS {
        return Err(bad(
            "range_too_long",
            format!("a range covers at most {MAX_RANGE_DAYS} days"),
        ));
    }
    let days: Vec<String> = from.iter_days().take_while(|d| *d <= to).map(day).collect();
    let reader = state.reader()?;
    let (figures, rebuilding) = tokio::try_join!(
        figures::read_days(&reader.redis, &reader.prefix, &days),
        reader.rebuilding(),
    )
    .map_err(|e| redis_failed(&e))?;
    Ok(figures_response(
        rebuilding,
        RangeResponse {
            rebuilding,
            from: day(from),
            to: day(to),
            days: days
                .into_iter()
                .zip(figures)
                .map(|(date, f)| DayKpi {
                    date,
                    kpi: f.into(),
                })
                .collect(),
        },
    ))
}

/// `GET /api/leaderboard?limit=&date=`: all-time, or one day's with `date`.
///
/// # Errors
/// 400 for a bad parameter.
#[utoipa::path(
    get,
    path = "/api/leaderboard",
    tag = "metrics",
    params(
        ("date" = Option<String>, Query, description = "A day, YYYY-MM-DD; all time without it"),
        ("limit" = Option<u32>, Query, description = "Leaderboard entries, 1 to 100, 10 by default"),
    ),
    responses(
        (status = 200, description = "Top customers by revenue", body = crate::views::metrics::LeaderboardResponse),
        crate::controllers::openapi_types::BadQuery,
        crate::controllers::openapi_types::RedisDown,
        crate::controllers::openapi_types::ReadErrors,
    ),
    security(("bearer" = ["read"]))
)]
pub async fn leaderboard(
    _caller: Authorized<Read>,
    State(state): State<FiguresState>,
    RawQuery(query): RawQuery,
) -> Result<Figures<LeaderboardResponse>, ApiError> {
    let params = params::query(query.as_deref(), &["date", "limit"])?;
    let date = params::date(&params, "date")?.map(day);
    let limit = limit_param(&params)?;
    let reader = state.reader()?;
    let prefix = &reader.prefix;
    let (scope, key) = match &date {
        Some(d) => ("day", store::day_board_key(prefix, d)),
        None => ("all_time", store::all_time_key(prefix)),
    };
    let (board, rebuilding) = tokio::try_join!(
        figures::read_board(&reader.redis, &key, limit),
        reader.rebuilding(),
    )
    .map_err(|e| redis_failed(&e))?;
    Ok(figures_response(
        rebuilding,
        LeaderboardResponse {
            rebuilding,
            scope,
            date,
            leaderboard: LeaderboardEntry::ranked(board),
        },
    ))
}

pub fn routes(ctx: &AppContext) -> Routes {
    let state = FiguresState::of(ctx);
    Routes::new()
        .prefix("api")
        .add("/metrics", get(show).with_state(state.clone()))
        .add("/metrics/range", get(range).with_state(state.clone()))
        .add("/leaderboard", get(leaderboard).with_state(state))
}
