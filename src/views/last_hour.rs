//! The dashboard's "last hour" table: per queue, jobs per minute as a drawn
//! series, failures, the oldest pending job's wait, runtime and wait quantiles,
//! and whether the queue is paused. The figures are those of
//! `GET /api/queues/stats` (`workers/stats_report.rs`), read the same way.
use serde::Serialize;

use super::sparkline::{self, Sparkline};
use crate::queue::{
    stats::{RUNTIME_BOUNDS_MS, WAIT_BOUNDS_MS},
    stats_report::{Quantiles, QueueStats},
};

#[derive(Debug, Serialize)]
pub struct HourRow {
    pub name: &'static str,
    pub paused: bool,
    pub chart: Sparkline,
    pub done_last_hour: u64,
    pub failed_last_hour: u64,
    /// Most jobs done in one minute of the hour (the chart's top).
    pub peak_per_minute: u64,
    /// "12 s", or "none" when nothing is pending.
    pub oldest_pending: String,
    pub runtime_p50: String,
    pub runtime_p95: String,
    pub wait_p50: String,
    pub wait_p95: String,
}

/// One row per queue of `stats`; `paused` says which queue names are paused.
#[must_use]
pub fn rows(stats: &[QueueStats], paused: impl Fn(&str) -> bool) -> Vec<HourRow> {
    stats
        .iter()
        .map(|q| {
            let done: Vec<u64> = q.series.iter().map(|m| m.done).collect();
            let failed: Vec<u64> = q.series.iter().map(|m| m.failed).collect();
            let ran = q.done_last_hour + q.failed_last_hour > 0;
            HourRow {
                name: q.queue,
                paused: paused(q.queue),
                peak_per_minute: done.iter().copied().max().unwrap_or(0),
                chart: sparkline::draw(&done, &failed),
                done_last_hour: q.done_last_hour,
                failed_last_hour: q.failed_last_hour,
                oldest_pending: q
                    .oldest_pending_age_secs
                    .map_or_else(|| "none".to_string(), |s| format!("{s} s")),
                runtime_p50: bound(q.runtime_ms, Half::P50, ran, &RUNTIME_BOUNDS_MS),
                runtime_p95: bound(q.runtime_ms, Half::P95, ran, &RUNTIME_BOUNDS_MS),
                wait_p50: bound(q.wait_ms, Half::P50, ran, &WAIT_BOUNDS_MS),
                wait_p95: bound(q.wait_ms, Half::P95, ran, &WAIT_BOUNDS_MS),
            }
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Half {
    P50,
    P95,
}

/// A quantile as the histogram knows it: "≤ 25 ms" (the upper bound of its
/// bucket), "> 60000 ms" past the last bound, "–" when nothing ran.
fn bound(quantiles: Quantiles, which: Half, ran: bool, bounds: &[u64]) -> String {
    let value = match which {
        Half::P50 => quantiles.p50,
        Half::P95 => quantiles.p95,
    };
    match (value, ran) {
        (Some(ms), _) => format!("≤ {ms} ms"),
        (None, true) => format!("> {} ms", bounds.last().copied().unwrap_or(0)),
        (None, false) => "–".to_string(),
    }
}
