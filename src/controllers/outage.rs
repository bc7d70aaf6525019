//! The web side while Redis is down or has just come back.
//!
//! Handlers read Redis through the web side's fail-fast connection
//! ([`Services::web`]): while Redis is down a command fails in milliseconds
//! (refused) or after `settings.redis.web.command_timeout_ms` (hung). The
//! [`guard`] layer on every Redis-backed route turns the resulting 500 into
//! what a client can act on:
//!
//! - Redis does not answer a `PING` either: `503 redis_unavailable` with
//!   `Retry-After` (the JSON shape, or a "Redis unreachable" page for a browser
//!   on the dashboard);
//! - Redis answers: the failure was the connection the manager had before
//!   (a "broken pipe" on the first request after a restart). The manager has
//!   reconnected for the `PING`, so a read (GET/HEAD, no body) runs once more,
//!   on the fresh connection. A write is not replayed: its 500 stands.
//!
//! Success responses pass untouched. The cost on the hot routes is a copy of a
//! read's head (method, URI, headers, extensions: a few small allocations),
//! kept for the replay; not measured under `wrk` yet.
use std::time::Duration;

use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::{from_fn_with_state, Next},
    response::{Html, IntoResponse, Response},
    routing::get,
    Json,
};
use loco_rs::prelude::*;
use redis::aio::ConnectionManager;
use serde_json::json;

use super::error::ApiError;
use crate::{views::html, workers::Services};

/// Longest wait for the `PING` that tells "Redis down" from "connection stale":
/// with a failed command (at most `command_timeout_ms`, 250 by default) a
/// request answers within 500 ms even when Redis hangs rather than refuses.
const PROBE_LIMIT: Duration = Duration::from_millis(150);

/// Marks a response whose body must reach the client as it is (the dashboard's
/// outage page): [`super::json_errors`] leaves it alone.
#[derive(Clone, Copy, Debug)]
pub struct KeepBody;

/// What the guard needs: the web connection and the `Retry-After` to send.
#[derive(Clone)]
pub struct Probe {
    redis: Option<ConnectionManager>,
    retry_after_secs: u64,
    /// Answer a browser with an HTML page (the dashboard) rather than JSON.
    page: bool,
}

impl Probe {
    fn of(ctx: &AppContext, page: bool) -> Self {
        let services = Services::of(ctx).ok();
        Self {
            retry_after_secs: services
                .as_ref()
                .map_or(5, |s| s.settings.redis.web.retry_after_secs),
            redis: services.map(|s| s.web_redis),
            page,
        }
    }

    /// Whether Redis answers a `PING` now. Two tries: the first may only
    /// collect the error of a connection that died meanwhile (which makes the
    /// manager open a new one); the second then uses the new connection.
    async fn reachable(&self) -> bool {
        let Some(redis) = &self.redis else {
            return true;
        };
        tokio::time::timeout(PROBE_LIMIT, async {
            for _ in 0..2 {
                let pong: redis::RedisResult<String> =
                    redis::cmd("PING").query_async(&mut redis.clone()).await;
                if pong.is_ok() {
                    return true;
                }
            }
            false
        })
        .await
        .unwrap_or(false)
    }
}

/// `routes` behind the [`guard`]; with `page`, a browser (`Accept: text/html`)
/// gets an HTML outage page instead of the JSON error.
pub fn guarded(routes: Routes, ctx: &AppContext, page: bool) -> Routes {
    routes.layer(from_fn_with_state(Probe::of(ctx, page), guard))
}

/// See the module's documentation.
pub async fn guard(State(probe): State<Probe>, request: Request, next: Next) -> Response {
    let replay = matches!(*request.method(), Method::GET | Method::HEAD).then(|| {
        let mut copy = Request::new(Body::empty());
        *copy.method_mut() = request.method().clone();
        *copy.uri_mut() = request.uri().clone();
        *copy.version_mut() = request.version();
        *copy.headers_mut() = request.headers().clone();
        *copy.extensions_mut() = request.extensions().clone();
        copy
    });
    let wants_page = probe.page && accepts_html(&request);
    let response = next.clone().run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    if !probe.reachable().await {
        return unavailable(&probe, wants_page);
    }
    let Some(again) = replay else {
        return response;
    };
    tracing::info!(path = %again.uri().path(), "Redis reachable again: read retried on a fresh connection");
    let response = next.run(again).await;
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR && !probe.reachable().await {
        return unavailable(&probe, wants_page);
    }
    response
}

fn accepts_html(request: &Request) -> bool {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// 503 with `Retry-After`: the JSON shape, or the dashboard's outage page.
fn unavailable(probe: &Probe, page: bool) -> Response {
    tracing::warn!("Redis unreachable: answering 503");
    let secs = probe.retry_after_secs;
    let mut response = if page {
        let body = format!(
            "<p class=\"warn\"><strong>Redis unreachable.</strong> Queue counts, dead jobs \
             and live figures live in Redis and cannot be read now. Orders already \
             accepted are safe in the database; the workers reconnect by themselves. \
             This page tries again in {secs} s.</p>"
        );
        let mut page = (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(html::page(
                "Redis unreachable",
                u32::try_from(secs).unwrap_or(u32::MAX),
                &body,
            )),
        )
            .into_response();
        page.extensions_mut().insert(KeepBody);
        page
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "redis_unavailable",
            format!("Redis is unreachable; try again in {secs} s"),
        )
        .into_response()
    };
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}

/// `GET /_readiness`: 200 when both the database and Redis answer, else 503 in
/// the JSON shape naming which does not. Loco's own checks only the database.
async fn readiness(State(ctx): State<AppContext>) -> Response {
    let probe = Probe::of(&ctx, false);
    let (db, redis) = tokio::join!(
        tokio::time::timeout(Duration::from_millis(400), ctx.db.ping()),
        probe.reachable()
    );
    let db = matches!(db, Ok(Ok(())));
    let status = |up: bool| if up { "up" } else { "down" };
    if db && redis {
        return Json(json!({ "ok": true, "database": "up", "redis": "up" })).into_response();
    }
    let down: Vec<&str> = [("database", db), ("Redis", redis)]
        .into_iter()
        .filter(|(_, up)| !up)
        .map(|(name, _)| name)
        .collect();
    let mut response = ApiError {
        details: Some(json!({ "ok": false, "database": status(db), "redis": status(redis) })),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!("unreachable: {}", down.join(", ")),
        )
    }
    .into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(probe.retry_after_secs),
    );
    response
}

/// Loco's `/_ping` and `/_health` (liveness: 200 while the process runs) and
/// this module's `/_readiness`. All open: no credential.
pub fn monitoring_routes() -> Routes {
    Routes::new()
        .add("/_readiness", get(readiness))
        .add("/_ping", get(loco_rs::controller::monitoring::ping))
        .add("/_health", get(loco_rs::controller::monitoring::health))
}
