//! HTTP requests by route and status, with a latency histogram, for `/metrics`.
//!
//! Counted per web process, in memory: each process is scraped as its own
//! target (Prometheus's `instance` label), which is how HTTP metrics are
//! usually summed. Routes are labelled by their template (`/api/orders/{id}`),
//! never by the raw path, so the number of series stays fixed; a request no
//! route matched is labelled `unmatched`.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use axum::{
    extract::{MatchedPath, Request},
    middleware::Next,
    response::Response,
    Router as AXRouter,
};
use loco_rs::{app::AppContext, controller::middleware::MiddlewareLayer};
use serde_json::{json, Value};

use crate::views::http_requests::{RouteCounts, RouteKey, LATENCY_BOUNDS_US};

/// This process's request counts; shared by the middleware and the scrape.
#[derive(Debug, Clone, Default)]
pub struct HttpMetrics {
    counts: Arc<Mutex<HashMap<RouteKey, RouteCounts>>>,
}

impl HttpMetrics {
    /// The app's registry (created on first use).
    #[must_use]
    pub fn of(ctx: &AppContext) -> Self {
        if let Some(metrics) = ctx.shared_store.get::<Self>() {
            return metrics;
        }
        let metrics = Self::default();
        ctx.shared_store.insert(metrics.clone());
        metrics
    }

    fn observe(&self, key: RouteKey, micros: u64) {
        let Ok(mut counts) = self.counts.lock() else {
            return;
        };
        let route = counts.entry(key).or_default();
        route.buckets[LATENCY_BOUNDS_US.partition_point(|&b| b < micros)] += 1;
        route.sum_us += micros;
    }

    /// A copy of the counts, sorted for a stable page.
    #[must_use]
    pub fn snapshot(&self) -> Vec<(RouteKey, RouteCounts)> {
        let mut all: Vec<(RouteKey, RouteCounts)> = self
            .counts
            .lock()
            .map(|counts| counts.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        all.sort_by(|(a, _), (b, _)| {
            (a.1.as_ref(), a.0.as_str(), a.2).cmp(&(b.1.as_ref(), b.0.as_str(), b.2))
        });
        all
    }
}

/// The middleware, outermost so that it sees the status the client gets.
pub struct CountRequests {
    metrics: HttpMetrics,
}

impl CountRequests {
    #[must_use]
    pub fn new(ctx: &AppContext) -> Self {
        Self {
            metrics: HttpMetrics::of(ctx),
        }
    }
}

impl MiddlewareLayer for CountRequests {
    fn name(&self) -> &'static str {
        "http_metrics"
    }

    fn config(&self) -> serde_json::Result<Value> {
        Ok(json!({}))
    }

    fn apply(&self, app: AXRouter<AppContext>) -> loco_rs::Result<AXRouter<AppContext>> {
        let metrics = self.metrics.clone();
        Ok(app.layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let metrics = metrics.clone();
                async move { count(metrics, request, next).await }
            },
        )))
    }
}

async fn count(metrics: HttpMetrics, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route: Arc<str> = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| Arc::from("unmatched"), |p| Arc::from(p.as_str()));
    let response = next.run(request).await;
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    metrics.observe((method, route, response.status().as_u16()), micros);
    response
}
