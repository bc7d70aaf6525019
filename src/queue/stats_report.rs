//! The job statistics as the console and `/metrics` read them (see `stats.rs`).
use loco_rs::{Error, Result};
use serde::Serialize;

use super::{
    queue_names, scripts,
    stats::{self, Tally, RUNTIME_BOUNDS_MS, WAIT_BOUNDS_MS},
    Queues,
};

/// Minutes of history `GET /api/queues/stats` returns.
pub const MINUTES: u64 = 60;

/// One queue's last hour.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueueStats {
    /// Short name (`orders:workflow`).
    pub queue: &'static str,
    /// One point per minute, oldest first, the current (partial) minute last.
    pub series: Vec<MinutePoint>,
    pub done_last_hour: u64,
    pub failed_last_hour: u64,
    /// Runtime of one job run over the hour (upper bounds of histogram buckets).
    pub runtime_ms: Quantiles,
    /// From queued to first run, over the hour.
    pub wait_ms: Quantiles,
    /// How long the job at the head of the queue has waited since it was first
    /// queued; `None` when nothing is pending.
    pub oldest_pending_age_secs: Option<u64>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct MinutePoint {
    /// Start of the minute, unix seconds.
    pub at: u64,
    pub done: u64,
    /// Runs that failed (retried or dead).
    pub failed: u64,
    pub dead: u64,
}

/// `None` without a run in the period; `None` also past the last bucket bound.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Quantiles {
    pub p50: Option<u64>,
    pub p95: Option<u64>,
}

/// The last [`MINUTES`] minutes of every product queue, in [`queue_names::ALL`]
/// order: one pipelined round trip for the buckets, one for the queue heads.
///
/// # Errors
/// When Redis fails.
pub async fn last_hour(queues: &Queues) -> Result<Vec<QueueStats>> {
    let prefix = &queues.settings.redis.prefix;
    let now = scripts::unix_now();
    let first = now / 60 + 1 - MINUTES;
    let mut keys = Vec::new();
    for queue in queue_names::ALL {
        keys.extend((first..first + MINUTES).map(|m| stats::minute_key(prefix, queue, m)));
    }
    let mut conn = queues.redis.clone();
    let tallies = stats::read_tallies(&mut conn, &keys)
        .await
        .map_err(|e| Error::string(&format!("job statistics: {e}")))?;
    let heads = oldest_pending(queues).await?;
    let mut out = Vec::new();
    let per_queue = usize::try_from(MINUTES).unwrap_or(usize::MAX);
    for ((queue, minutes), head) in queue_names::ALL
        .into_iter()
        .zip(tallies.chunks(per_queue))
        .zip(heads)
    {
        let mut hour = Tally::default();
        let series = (first..)
            .zip(minutes)
            .map(|(minute, tally)| {
                hour.add(tally);
                MinutePoint {
                    at: minute * 60,
                    done: tally.done,
                    failed: tally.failed(),
                    dead: tally.dead,
                }
            })
            .collect();
        out.push(QueueStats {
            queue,
            series,
            done_last_hour: hour.done,
            failed_last_hour: hour.failed(),
            runtime_ms: Quantiles {
                p50: hour.runtime.quantile_ms(&RUNTIME_BOUNDS_MS, 0.5),
                p95: hour.runtime.quantile_ms(&RUNTIME_BOUNDS_MS, 0.95),
            },
            wait_ms: Quantiles {
                p50: hour.wait.quantile_ms(&WAIT_BOUNDS_MS, 0.5),
                p95: hour.wait.quantile_ms(&WAIT_BOUNDS_MS, 0.95),
            },
            oldest_pending_age_secs: head.map(|pushed_ms| now.saturating_sub(pushed_ms / 1000)),
        });
    }
    Ok(out)
}

/// Every product queue's running totals since its statistics began.
///
/// # Errors
/// When Redis fails.
pub async fn totals(queues: &Queues) -> Result<Vec<(&'static str, Tally)>> {
    let prefix = &queues.settings.redis.prefix;
    let keys: Vec<String> = queue_names::ALL
        .iter()
        .map(|q| stats::total_key(prefix, q))
        .collect();
    let mut conn = queues.redis.clone();
    let tallies = stats::read_tallies(&mut conn, &keys)
        .await
        .map_err(|e| Error::string(&format!("job statistics: {e}")))?;
    Ok(queue_names::ALL.into_iter().zip(tallies).collect())
}

/// When the job at the head of each queue was first pushed (unix ms), read
/// from its UUIDv7 id: jobs are appended to `{q}:active` and fetched from its head.
async fn oldest_pending(queues: &Queues) -> Result<Vec<Option<u64>>> {
    let mut pipe = redis::pipe();
    for queue in queue_names::ALL {
        pipe.cmd("LINDEX")
            .arg(format!("{}:active", queues.settings.redis.key(queue)))
            .arg(0);
    }
    let mut conn = queues.redis.clone();
    let heads: Vec<Option<String>> = pipe
        .query_async(&mut conn)
        .await
        .map_err(|e| Error::string(&format!("queue heads: {e}")))?;
    Ok(heads
        .into_iter()
        .map(|id| {
            let uuid = uuid::Uuid::parse_str(&id?).ok()?;
            let (secs, nanos) = uuid.get_timestamp()?.to_unix();
            Some(secs * 1000 + u64::from(nanos / 1_000_000))
        })
        .collect())
}
