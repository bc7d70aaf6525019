//! `GET /dashboard`: every queue's jobs by state, its workers, and its dead jobs,
//! as the context of `assets/views/console/dashboard.html`.
use serde::Serialize;

use super::last_hour::{self, HourRow};
use crate::{
    queue::{stats_report::QueueStats, QueueCounts},
    workers::{
        canary::CanaryReport,
        dead::{DeadJob, DeadJobs},
        overview::OpsStatus,
    },
};

/// Characters of a payload shown before it is cut.
const PAYLOAD_CHARS: usize = 300;

#[derive(Debug, Serialize)]
pub struct Dashboard {
    pub queues: Vec<QueueRow>,
    /// Queues where jobs wait and no worker is alive.
    pub unattended: Vec<&'static str>,
    pub worker_ttl_secs: u64,
    pub kpi_outbox_pending: u64,
    pub canary: Option<CanaryLine>,
    pub dead: Vec<DeadSection>,
    /// Any dead job in any queue.
    pub any_dead: bool,
    /// Per queue: jobs per minute over the last hour, runtimes, waits, paused.
    pub last_hour: Vec<HourRow>,
    /// The caller may retry jobs and pause queues (the `ops` scope).
    pub can_operate: bool,
}

#[derive(Debug, Serialize)]
pub struct QueueRow {
    pub name: &'static str,
    pub counts: QueueCounts,
    /// Jobs wait unattended, or some died: the row is marked.
    pub warn: bool,
    /// "12 s ago" or "never".
    pub last_beat: String,
}

#[derive(Debug, Serialize)]
pub struct CanaryLine {
    pub worker: String,
    pub ran_at: String,
    pub latency_ms: i64,
}

#[derive(Debug, Serialize)]
pub struct DeadSection {
    pub queue: String,
    pub total: u64,
    pub jobs: Vec<DeadRow>,
}

#[derive(Debug, Serialize)]
pub struct DeadRow {
    pub id: String,
    /// `YYYY-MM-DD HH:MM:SS` UTC, empty when unknown.
    pub died: String,
    pub attempts: Option<u64>,
    pub last_error: String,
    /// The payload's JSON, cut at [`PAYLOAD_CHARS`].
    pub payload: String,
}

/// The dashboard's context; `dead` holds a page of dead jobs for each queue
/// that has any, `stats` the last hour of every queue.
#[must_use]
pub fn build(
    status: &OpsStatus,
    dead: &[DeadJobs],
    stats: &[QueueStats],
    worker_ttl_secs: u64,
    can_operate: bool,
) -> Dashboard {
    let queues = status
        .queues
        .iter()
        .map(|q| QueueRow {
            name: q.queue,
            counts: q.counts.clone(),
            warn: q.counts.unattended() || q.counts.dead > 0,
            last_beat: q
                .last_beat_secs_ago
                .map_or_else(|| "never".to_string(), |s| format!("{s} s ago")),
        })
        .collect();
    let unattended = status
        .queues
        .iter()
        .filter(|q| q.counts.unattended())
        .map(|q| q.queue)
        .collect();
    let dead: Vec<DeadSection> = dead
        .iter()
        .filter(|d| d.total > 0)
        .map(|page| DeadSection {
            queue: page.queue.clone(),
            total: page.total,
            jobs: page.jobs.iter().map(dead_row).collect(),
        })
        .collect();
    let paused = |name: &str| {
        status
            .queues
            .iter()
            .any(|q| q.queue == name && q.counts.paused)
    };
    Dashboard {
        last_hour: last_hour::rows(stats, paused),
        can_operate,
        queues,
        unattended,
        worker_ttl_secs,
        kpi_outbox_pending: status.kpi_outbox_pending,
        canary: canary_line(&status.canary),
        any_dead: !dead.is_empty(),
        dead,
    }
}

/// A dead job as a table row: the payload cut, times in UTC.
#[must_use]
pub fn dead_row(job: &DeadJob) -> DeadRow {
    DeadRow {
        id: job.id.clone(),
        died: utc_seconds(job.died_at),
        attempts: job.attempts,
        last_error: job.last_error.clone().unwrap_or_default(),
        payload: payload_excerpt(job),
    }
}

/// A dead job's payload as JSON text, cut to what a table shows.
#[must_use]
pub fn payload_excerpt(job: &DeadJob) -> String {
    job.payload
        .to_string()
        .chars()
        .take(PAYLOAD_CHARS)
        .collect()
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` (UTC), empty when unknown.
#[must_use]
pub fn utc_seconds(secs: Option<i64>) -> String {
    secs.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// The last canary (`POST /api/ops/canary`): who ran it and how long it waited.
fn canary_line(canary: &CanaryReport) -> Option<CanaryLine> {
    match (
        &canary.last_worker,
        canary.last_ran_at_ms,
        canary.last_latency_ms,
    ) {
        (Some(worker), Some(ran_at), Some(latency)) => Some(CanaryLine {
            worker: worker.clone(),
            ran_at: chrono::DateTime::from_timestamp_millis(ran_at).map_or_else(String::new, |t| {
                t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
            }),
            latency_ms: latency,
        }),
        _ => None,
    }
}
