//! The flow part of `/metrics`: jobs by outcome with runtime and wait
//! histograms (summed over every worker process, from Redis), HTTP requests of
//! this web process, and orders by status.
use super::{
    http_requests::{RouteCounts, RouteKey, LATENCY_BOUNDS_US},
    prometheus::Exposition,
};
use crate::queue::stats::{Histogram, Outcome, Tally, RUNTIME_BOUNDS_MS, WAIT_BOUNDS_MS};

/// Jobs by queue and outcome, and the two job histograms.
pub fn jobs(page: &mut Exposition, totals: &[(&str, Tally)]) {
    page.family(
        "orders_flow_jobs_total",
        "counter",
        "Job runs by queue and outcome (done, retried: failed and tried again, dead: failed for good), all worker processes.",
    );
    for (queue, tally) in totals {
        for outcome in Outcome::ALL {
            page.sample(
                "orders_flow_jobs_total",
                &[("queue", queue), ("outcome", outcome.field())],
                tally.outcome(outcome),
            );
        }
    }
    page.family(
        "orders_flow_job_runtime_seconds",
        "histogram",
        "How long one job run took, by queue, all worker processes.",
    );
    for (queue, tally) in totals {
        histogram_ms(
            page,
            "orders_flow_job_runtime_seconds",
            queue,
            &RUNTIME_BOUNDS_MS,
            &tally.runtime,
        );
    }
    page.family(
        "orders_flow_job_wait_seconds",
        "histogram",
        "How long a job waited from being queued to its first run, by queue, all worker processes.",
    );
    for (queue, tally) in totals {
        histogram_ms(
            page,
            "orders_flow_job_wait_seconds",
            queue,
            &WAIT_BOUNDS_MS,
            &tally.wait,
        );
    }
}

fn histogram_ms<const N: usize>(
    page: &mut Exposition,
    name: &str,
    queue: &str,
    bounds: &[u64],
    histogram: &Histogram<N>,
) {
    let les: Vec<String> = bounds.iter().map(|&ms| millis(ms)).collect();
    page.histogram(
        name,
        &[("queue", queue)],
        &les,
        &histogram.buckets,
        &millis(histogram.sum_ms),
    );
}

/// Requests by method, route and status, and their latency by method and route.
pub fn http(page: &mut Exposition, requests: &[(RouteKey, RouteCounts)]) {
    page.family(
        "orders_flow_http_requests_total",
        "counter",
        "HTTP requests served by this web process, by method, route template and status.",
    );
    for ((method, route, status), counts) in requests {
        page.sample(
            "orders_flow_http_requests_total",
            &[
                ("method", method.as_str()),
                ("route", route),
                ("status", &status.to_string()),
            ],
            counts.count(),
        );
    }
    // Statuses of one route share its latency histogram.
    let mut by_route: Vec<(&str, &str, RouteCounts)> = Vec::new();
    for ((method, route, _), counts) in requests {
        match by_route.last_mut() {
            Some((m, r, sum)) if *m == method.as_str() && *r == route.as_ref() => sum.add(counts),
            _ => by_route.push((method.as_str(), route.as_ref(), counts.clone())),
        }
    }
    page.family(
        "orders_flow_http_request_duration_seconds",
        "histogram",
        "Latency of HTTP requests served by this web process, by method and route template.",
    );
    let les: Vec<String> = LATENCY_BOUNDS_US.iter().map(|&us| micros(us)).collect();
    for (method, route, counts) in &by_route {
        page.histogram(
            "orders_flow_http_request_duration_seconds",
            &[("method", method), ("route", route)],
            &les,
            &counts.buckets,
            &micros(counts.sum_us),
        );
    }
}

/// Orders by status, as the database has them now.
pub fn orders(page: &mut Exposition, by_status: &[(String, i64)]) {
    page.family("orders_flow_orders", "gauge", "Orders by current status.");
    for (status, n) in by_status {
        page.sample("orders_flow_orders", &[("status", status)], n);
    }
}

fn millis(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

fn micros(us: u64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}
