//! Notices a queue worker of this process that stopped fetching.
//!
//! Observed once in a 300,000-order benchmark with one worker process: the
//! import queue's apalis worker stopped 4 s into the run with 236 chunk jobs
//! pending and none in flight. Its heartbeat (`{q}:workers`, written each time
//! apalis polls the worker) stayed 10 minutes old while the other queues'
//! workers in the same process kept beating; the import never finished. The
//! cause inside apalis was not found. A healthy worker beats every
//! `heartbeat_secs` whatever its jobs do, and apalis-redis itself treats a
//! worker silent for `heartbeat_secs × missed_heartbeats` as dead, so a
//! heartbeat many times older than that, with jobs waiting, means this
//! process's worker is gone: the process exits so that its supervisor starts a
//! fresh one (the Procfile and systemd restart it; its in-flight jobs come back
//! through the heartbeat of the other workers).
use redis::{aio::ConnectionLike, RedisResult};

/// A queue whose worker in this process stopped, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stalled {
    pub queue: String,
    pub silent_secs: u64,
}

/// The queues among `queues` whose newest worker of `instance` last beat more
/// than `stale_after_secs` before `now` (unix seconds) while jobs wait in the
/// queue. A queue with no worker of this instance registered is left alone.
///
/// # Errors
/// Redis errors.
pub async fn stalled_queues<C: ConnectionLike>(
    conn: &mut C,
    instance: &str,
    queues: &[String],
    now: u64,
    stale_after_secs: u64,
) -> RedisResult<Vec<Stalled>> {
    let mut stalled = Vec::new();
    let ours = format!("{instance}-");
    for queue in queues {
        let beats: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(format!("{queue}:workers"))
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(conn)
            .await?;
        let newest = beats
            .iter()
            .filter(|(name, _)| name.starts_with(&ours))
            .map(|&(_, at)| at)
            .reduce(f64::max);
        let Some(newest) = newest else { continue };
        // Scores are whole unix seconds.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let silent_secs = now.saturating_sub(newest.max(0.0) as u64);
        if silent_secs <= stale_after_secs {
            continue;
        }
        let waiting: u64 = redis::cmd("LLEN")
            .arg(format!("{queue}:active"))
            .query_async(conn)
            .await?;
        if waiting > 0 {
            stalled.push(Stalled {
                queue: queue.clone(),
                silent_secs,
            });
        }
    }
    Ok(stalled)
}

/// How old a heartbeat must be before its worker counts as stopped: ten times
/// what apalis-redis already calls dead, and at least a minute.
#[must_use]
pub fn stale_after_secs(heartbeat_secs: u64, missed_heartbeats: u32) -> u64 {
    (heartbeat_secs * u64::from(missed_heartbeats) * 10).max(60)
}
