//! Contexts of the console's pages beyond the queue dashboard: workers, dead
//! jobs (searchable by order), one job, imports, stuck orders. Each is a plain
//! serde struct rendered by its template in `assets/views/console/`.
use serde::Serialize;
use serde_json::Value;

use super::dashboard::{payload_excerpt, utc_seconds};
use crate::{
    models::{
        _entities::orders,
        imports,
        money::format_cents,
        statuses::{ImportState, OrderStatus},
    },
    queue::worker_info::WorkerInfo,
    workers::dead::DeadJob,
};

#[derive(Debug, Serialize)]
pub struct WorkersPage {
    pub workers: Vec<WorkerRow>,
    /// A process is live when it beat within this many seconds.
    pub live_within_secs: u64,
    pub live: usize,
}

#[derive(Debug, Serialize)]
pub struct WorkerRow {
    pub instance: String,
    pub host: String,
    pub pid: u32,
    /// `orders:workflow ×256, notifications ×64`.
    pub queues: String,
    pub concurrency: usize,
    pub in_flight: u64,
    /// `123.4 MB`, or empty where unknown.
    pub rss: String,
    pub started: String,
    pub beat_secs_ago: u64,
    pub live: bool,
}

/// The workers page: every process that beat within the listing window.
#[must_use]
pub fn workers(infos: Vec<WorkerInfo>, now: u64, live_within_secs: u64) -> WorkersPage {
    let workers: Vec<WorkerRow> = infos
        .into_iter()
        .map(|w| {
            let beat_secs_ago = now.saturating_sub(w.beat_at);
            WorkerRow {
                queues: w
                    .queues
                    .iter()
                    .map(|q| format!("{} ×{}", q.queue, q.concurrency))
                    .collect::<Vec<_>>()
                    .join(", "),
                concurrency: w.queues.iter().map(|q| q.concurrency).sum(),
                in_flight: w.in_flight,
                rss: w.rss_kb.map_or_else(String::new, |kb| {
                    format!("{}.{} MB", kb / 1024, (kb % 1024) * 10 / 1024)
                }),
                started: utc_seconds(i64::try_from(w.started_at).ok()),
                beat_secs_ago,
                live: beat_secs_ago <= live_within_secs,
                instance: w.instance,
                host: w.host,
                pid: w.pid,
            }
        })
        .collect();
    WorkersPage {
        live: workers.iter().filter(|w| w.live).count(),
        workers,
        live_within_secs,
    }
}

#[derive(Debug, Serialize)]
pub struct DeadPage {
    /// What the operator searched for (`?order=`), if anything.
    pub search: Option<String>,
    /// The order the search found.
    pub order: Option<OrderRef>,
    pub sections: Vec<DeadQueue>,
    /// Dead jobs shown, all queues together.
    pub shown: usize,
    /// Retry and discard need the `ops` scope.
    pub can_operate: bool,
}

#[derive(Debug, Serialize)]
pub struct OrderRef {
    pub id: i64,
    pub external_id: String,
    /// `external_id` percent-encoded for a link.
    pub external_id_url: String,
    pub status: OrderStatus,
}

/// Everything but RFC 3986's unreserved characters is encoded.
const URL_PART: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Text percent-encoded for a path segment or a query value.
fn url_part(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, URL_PART).to_string()
}

impl From<&orders::Model> for OrderRef {
    fn from(o: &orders::Model) -> Self {
        Self {
            id: o.id,
            external_id: o.external_id.clone(),
            external_id_url: url_part(&o.external_id),
            status: o.status,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct DeadQueue {
    pub queue: String,
    /// Dead jobs in the queue, whether shown or not.
    pub total: u64,
    pub jobs: Vec<DeadJobRow>,
}

#[derive(Debug, Serialize)]
pub struct DeadJobRow {
    pub id: String,
    pub died: String,
    pub attempts: String,
    /// The whole error, as the job's last attempt left it.
    pub error: String,
    /// The payload's JSON on one line, cut by [`payload_excerpt`] (the job's page has it whole).
    pub payload: String,
}

#[must_use]
pub fn dead_job_row(job: &DeadJob) -> DeadJobRow {
    DeadJobRow {
        id: job.id.clone(),
        died: utc_seconds(job.died_at),
        attempts: attempts(job),
        error: job.last_error.clone().unwrap_or_default(),
        payload: payload_excerpt(job),
    }
}

fn attempts(job: &DeadJob) -> String {
    match (job.attempts, job.max_attempts) {
        (Some(a), Some(m)) => format!("{a} of {m}"),
        (Some(a), None) => a.to_string(),
        _ => String::new(),
    }
}

#[derive(Debug, Serialize)]
pub struct JobPage {
    pub queue: String,
    pub id: String,
    /// apalis's status (`Pending`, `Running`, `Done`, `Killed`, …).
    pub status: String,
    pub dead: bool,
    pub attempts: String,
    /// When it finished or died.
    pub done_at: String,
    pub error: String,
    /// The payload as indented JSON.
    pub payload: String,
    pub can_operate: bool,
}

#[must_use]
pub fn job(queue: &str, job: &DeadJob, dead: bool, can_operate: bool) -> JobPage {
    JobPage {
        queue: queue.to_string(),
        id: job.id.clone(),
        status: job.status.clone().unwrap_or_default(),
        dead,
        attempts: attempts(job),
        done_at: utc_seconds(job.died_at),
        error: job.last_error.clone().unwrap_or_default(),
        payload: serde_json::to_string_pretty(&job.payload)
            .unwrap_or_else(|_| Value::Null.to_string()),
        can_operate,
    }
}

#[derive(Debug, Serialize)]
pub struct ImportsPage {
    pub imports: Vec<ImportRow>,
}

#[derive(Debug, Serialize)]
pub struct ImportRow {
    pub id: i64,
    pub file_name: String,
    pub state: ImportState,
    pub finished: bool,
    pub rows_read: i64,
    pub orders_read: i64,
    pub chunks_done: i64,
    pub chunks_total: i64,
    /// Chunks committed of those known, in whole percent (0 before any is known).
    pub percent: i64,
    pub orders_created: i64,
    pub duplicates_skipped: i64,
    pub rows_rejected: i64,
    pub error: String,
    pub started: String,
    pub finished_at: String,
}

#[must_use]
pub fn imports(rows: &[imports::Model]) -> ImportsPage {
    ImportsPage {
        imports: rows
            .iter()
            .map(|i| ImportRow {
                id: i.id,
                file_name: i.file_name.clone(),
                state: i.state,
                finished: i.is_finished(),
                rows_read: i.rows_read,
                orders_read: i.orders_read,
                chunks_done: i.chunks_done,
                chunks_total: i.chunks_total,
                percent: if i.chunks_total > 0 {
                    (i.chunks_done * 100 / i.chunks_total).clamp(0, 100)
                } else {
                    0
                },
                orders_created: i.orders_created,
                duplicates_skipped: i.duplicates_skipped,
                rows_rejected: i.rows_rejected,
                error: i.error.clone().unwrap_or_default(),
                started: i.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                finished_at: i
                    .finished_at
                    .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
            })
            .collect(),
    }
}

#[derive(Debug, Serialize)]
pub struct StuckPage {
    pub minutes: i64,
    /// Orders stuck, whether shown or not.
    pub count: u64,
    /// More are stuck than shown.
    pub cut: bool,
    pub orders: Vec<StuckOrder>,
}

#[derive(Debug, Serialize)]
pub struct StuckOrder {
    pub id: i64,
    pub external_id: String,
    pub external_id_url: String,
    pub status: OrderStatus,
    pub total: String,
    pub updated: String,
    /// Minutes since the row last changed.
    pub idle_minutes: i64,
}

#[must_use]
pub fn stuck(
    minutes: i64,
    count: u64,
    rows: &[orders::Model],
    now: chrono::NaiveDateTime,
) -> StuckPage {
    StuckPage {
        minutes,
        count,
        cut: count > u64::try_from(rows.len()).unwrap_or(u64::MAX),
        orders: rows
            .iter()
            .map(|o| StuckOrder {
                id: o.id,
                external_id: o.external_id.clone(),
                external_id_url: url_part(&o.external_id),
                status: o.status,
                total: format!("{} {}", format_cents(o.total_cents), o.currency),
                updated: o.updated_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                idle_minutes: (now - o.updated_at).num_minutes(),
            })
            .collect(),
    }
}
