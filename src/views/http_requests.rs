//! What the HTTP metrics count per route, as the `/metrics` page renders it
//! (`prometheus_flow`); the counting middleware is `controllers::http_metrics`.
use std::sync::Arc;

use axum::http::Method;

/// Upper bounds of the latency buckets, in microseconds (0.5 ms … 10 s).
pub const LATENCY_BOUNDS_US: [u64; 14] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];

/// Requests of one method, route and status.
#[derive(Debug, Clone, Default)]
pub struct RouteCounts {
    /// Per latency bucket, not cumulative; the last holds what exceeds every bound.
    pub buckets: [u64; LATENCY_BOUNDS_US.len() + 1],
    pub sum_us: u64,
}

impl RouteCounts {
    #[must_use]
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    pub fn add(&mut self, other: &Self) {
        for (a, b) in self.buckets.iter_mut().zip(other.buckets) {
            *a += b;
        }
        self.sum_us += other.sum_us;
    }
}

/// `(method, route template, status)`.
pub type RouteKey = (Method, Arc<str>, u16);
