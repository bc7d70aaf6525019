//! What each worker process tells the console on every heartbeat: host, pid,
//! queues and their concurrency, jobs running now, resident memory, when it
//! started. `heartbeat.rs` says only *that* a process is alive (producers
//! trust it); this says *what* it is, for an operator.
//!
//! One JSON string per process (`{prefix}:worker-info:{instance}`) and an index
//! of processes by last beat (`{prefix}:worker-info`). Both outlive a killed
//! process for [`KEEP_BEATS`] heartbeats, so the console shows it as silent
//! before it disappears.
use std::sync::atomic::{AtomicU64, Ordering};

use redis::{aio::ConnectionLike, RedisResult};
use serde::{Deserialize, Serialize};

use super::scripts;

/// Heartbeat intervals a silent process stays listed.
pub const KEEP_BEATS: u64 = 30;

/// Jobs of this process running now, all queues together.
static IN_FLIGHT: AtomicU64 = AtomicU64::new(0);

/// Counts one running job while it lives.
pub struct InFlight(());

impl InFlight {
    #[must_use]
    pub fn enter() -> Self {
        IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
        Self(())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSlot {
    /// Short name (`orders:workflow`).
    pub queue: String,
    /// Jobs it runs at once in this process.
    pub concurrency: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// Unique among live processes (`host-pid-n`).
    pub instance: String,
    pub host: String,
    pub pid: u32,
    pub queues: Vec<QueueSlot>,
    /// Unix seconds.
    pub started_at: u64,
    /// Jobs running in this process at the last beat (every queue it works;
    /// two worker sets in one process both count the process's jobs).
    pub in_flight: u64,
    /// Resident memory at the last beat (`VmRSS`, Linux only).
    pub rss_kb: Option<u64>,
    /// Unix seconds of the last beat.
    pub beat_at: u64,
}

impl WorkerInfo {
    /// This process, before its first beat.
    #[must_use]
    pub fn of_this_process(instance: &str, host: &str) -> Self {
        Self {
            instance: instance.to_string(),
            host: host.to_string(),
            pid: std::process::id(),
            queues: Vec::new(),
            started_at: scripts::unix_now(),
            in_flight: 0,
            rss_kb: None,
            beat_at: 0,
        }
    }

    /// The figures that change, read now.
    pub fn refresh(&mut self) {
        self.beat_at = scripts::unix_now();
        self.in_flight = IN_FLIGHT.load(Ordering::Relaxed);
        self.rss_kb = rss_kb();
    }
}

fn index_key(prefix: &str) -> String {
    format!("{prefix}:worker-info")
}

fn info_key(prefix: &str, instance: &str) -> String {
    format!("{prefix}:worker-info:{instance}")
}

/// Writes `info` and forgets processes silent for longer than `keep_secs`.
///
/// # Errors
/// Redis errors.
pub async fn publish<C: ConnectionLike>(
    conn: &mut C,
    prefix: &str,
    info: &WorkerInfo,
    keep_secs: u64,
) -> RedisResult<()> {
    let json = serde_json::to_string(info).unwrap_or_default();
    let index = index_key(prefix);
    redis::pipe()
        .cmd("SET")
        .arg(info_key(prefix, &info.instance))
        .arg(json)
        .arg("EX")
        .arg(keep_secs.max(1))
        .ignore()
        .cmd("ZADD")
        .arg(&index)
        .arg(info.beat_at)
        .arg(&info.instance)
        .ignore()
        .cmd("ZREMRANGEBYSCORE")
        .arg(&index)
        .arg("-inf")
        .arg(format!("({}", info.beat_at.saturating_sub(keep_secs)))
        .ignore()
        .query_async(conn)
        .await
}

/// Removes a stopped process.
///
/// # Errors
/// Redis errors.
pub async fn withdraw<C: ConnectionLike>(
    conn: &mut C,
    prefix: &str,
    instance: &str,
) -> RedisResult<()> {
    redis::pipe()
        .cmd("DEL")
        .arg(info_key(prefix, instance))
        .ignore()
        .cmd("ZREM")
        .arg(index_key(prefix))
        .arg(instance)
        .ignore()
        .query_async(conn)
        .await
}

/// Every listed process, by host and pid.
///
/// # Errors
/// Redis errors.
pub async fn read_all<C: ConnectionLike>(
    conn: &mut C,
    prefix: &str,
) -> RedisResult<Vec<WorkerInfo>> {
    let instances: Vec<String> = redis::cmd("ZRANGE")
        .arg(index_key(prefix))
        .arg(0)
        .arg(-1)
        .query_async(conn)
        .await?;
    if instances.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = instances.iter().map(|i| info_key(prefix, i)).collect();
    let found: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query_async(conn).await?;
    let mut infos: Vec<WorkerInfo> = found
        .into_iter()
        .flatten()
        .filter_map(|json| serde_json::from_str(&json).ok())
        .collect();
    infos.sort_by(|a, b| (&a.host, a.pid, &a.instance).cmp(&(&b.host, b.pid, &b.instance)));
    Ok(infos)
}

/// This process's resident set size in kB, from `/proc/self/status`.
#[must_use]
pub fn rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::{rss_kb, InFlight, IN_FLIGHT};
    use std::sync::atomic::Ordering;

    #[test]
    fn rss_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(rss_kb().is_some_and(|kb| kb > 0));
        }
    }

    #[test]
    fn a_job_counts_while_it_runs() {
        let before = IN_FLIGHT.load(Ordering::Relaxed);
        let job = InFlight::enter();
        assert!(IN_FLIGHT.load(Ordering::Relaxed) > before);
        drop(job);
    }
}
