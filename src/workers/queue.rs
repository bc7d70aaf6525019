//! Pushing jobs, and reading how deep each queue is.
use std::{marker::PhantomData, time::Duration};

use apalis_redis::{Config, ConnectionManager, RedisStorage};
use loco_rs::{Error, Result};
use serde::Serialize;

use super::{scripts, Job, Services};
use crate::settings::{ApalisSettings, QueueSettings, Settings};

/// The push side of one job type's queue.
pub struct JobQueue<J> {
    redis: ConnectionManager,
    name: String,
    max_attempts: usize,
    /// A worker silent for longer than this is dead (heartbeat × missed beats).
    worker_ttl_secs: u64,
    _job: PhantomData<fn(J)>,
}

impl<J: Job> JobQueue<J> {
    pub(super) fn new(services: &Services) -> Self {
        let settings = &services.settings;
        Self {
            redis: services.redis.clone(),
            name: full_name(settings, J::QUEUE),
            max_attempts: J::settings(settings).retries + 1,
            worker_ttl_secs: settings.apalis.worker_ttl_secs(),
            _job: PhantomData,
        }
    }

    /// The Redis name of this queue, prefix included.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Queues one job.
    ///
    /// # Errors
    /// When the job cannot be serialized or Redis fails.
    pub async fn push(&self, job: &J) -> Result<()> {
        self.push_bulk(std::slice::from_ref(job)).await.map(|_| ())
    }

    /// Queues many jobs with one Redis script call per thousand.
    ///
    /// # Errors
    /// When a job cannot be serialized or Redis fails.
    pub async fn push_bulk(&self, jobs: &[J]) -> Result<u64> {
        let encoded = jobs
            .iter()
            .map(|job| Ok((uuid::Uuid::now_v7().to_string(), encode(job)?)))
            .collect::<Result<Vec<_>>>()?;
        let mut conn = self.redis.clone();
        scripts::enqueue(&mut conn, &self.name, self.max_attempts, &encoded)
            .await
            .map_err(|e| Error::string(&format!("queue {}: push failed: {e}", self.name)))
    }

    /// Counts of this queue.
    ///
    /// # Errors
    /// When Redis fails.
    pub async fn counts(&self) -> Result<QueueCounts> {
        QueueCounts::read(&self.redis, &self.name, self.worker_ttl_secs).await
    }

    /// Workers of this queue that sent a heartbeat recently. Unlike
    /// [`QueueCounts::workers`] it ignores entries a killed worker left behind,
    /// so a producer can tell whether waiting for the queue to drain makes sense.
    ///
    /// # Errors
    /// When Redis fails.
    pub async fn live_workers(&self) -> Result<u64> {
        let mut conn = self.redis.clone();
        live_workers(&mut conn, &self.name, self.worker_ttl_secs)
            .await
            .map_err(|e| Error::string(&format!("queue {}: {e}", self.name)))
    }
}

/// Workers of the queue named `name` that beat within the last `ttl_secs`.
///
/// # Errors
/// Redis errors.
pub async fn live_workers<C: redis::aio::ConnectionLike>(
    conn: &mut C,
    name: &str,
    ttl_secs: u64,
) -> redis::RedisResult<u64> {
    let since = scripts::unix_now().saturating_sub(ttl_secs);
    redis::cmd("ZCOUNT")
        .arg(format!("{name}:workers"))
        .arg(since)
        .arg("+inf")
        .query_async(conn)
        .await
}

fn encode<J: Serialize>(job: &J) -> Result<Vec<u8>> {
    serde_json::to_vec(job).map_err(|e| Error::string(&format!("cannot encode job: {e}")))
}

/// `{prefix}:{queue}`: every key of the queue lives under the instance prefix.
#[must_use]
pub fn full_name(settings: &Settings, queue: &str) -> String {
    settings.redis.key(queue)
}

/// The apalis-redis storage a worker of this queue consumes.
pub(super) fn storage<J: Job>(
    redis: ConnectionManager,
    name: &str,
    apalis: &ApalisSettings,
    queue: &QueueSettings,
) -> RedisStorage<J> {
    // A fetched batch larger than the free slots stops heartbeats until it drains,
    // and a silent worker is declared dead: never fetch more than can run.
    let batch = apalis.fetch_batch_size.min(queue.concurrency).max(1);
    let config = Config::default()
        .queue(name)
        .batch_size(batch)
        .lock_tasks(apalis.lock_tasks)
        .heartbeat_interval(Duration::from_secs(apalis.heartbeat_secs))
        .missed_heartbeats(apalis.missed_heartbeats as usize)
        .emit_events(false)
        // Acks are what empty a worker's in-flight set: never off.
        .persist_results(true);
    RedisStorage::new(redis).with_config(config)
}

/// Depth of one queue, read with a handful of O(1) commands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QueueCounts {
    pub queue: String,
    /// Ready to run.
    pub pending: u64,
    /// Waiting for a retry or a later start.
    pub scheduled: u64,
    /// Fetched by a worker and not yet acknowledged.
    pub running: u64,
    pub done: u64,
    /// Gave up after the last attempt, or failed permanently.
    pub dead: u64,
    /// Worker entries in Redis, including those of killed workers not yet cleaned up.
    pub workers: u64,
    /// Workers that sent a heartbeat within `heartbeat_secs × missed_heartbeats`:
    /// 0 while jobs wait means nobody works the queue.
    pub live_workers: u64,
    /// The newest heartbeat of any worker (unix seconds).
    #[serde(skip)]
    pub last_beat_at: Option<u64>,
}

impl QueueCounts {
    /// Jobs wait and no live worker takes them: what an operator must be told.
    #[must_use]
    pub const fn unattended(&self) -> bool {
        self.live_workers == 0 && self.pending + self.scheduled > 0
    }

    /// Reads the counts of the queue named `name` (prefix included); a worker
    /// silent for longer than `worker_ttl_secs` is not live.
    ///
    /// # Errors
    /// When Redis fails.
    pub async fn read(redis: &ConnectionManager, name: &str, worker_ttl_secs: u64) -> Result<Self> {
        let mut conn = redis.clone();
        let redis_err = |e: redis::RedisError| Error::string(&format!("queue {name}: {e}"));
        let (pending, scheduled, done, dead, workers): (u64, u64, u64, u64, Vec<(String, f64)>) =
            redis::pipe()
                .cmd("LLEN")
                .arg(format!("{name}:active"))
                .cmd("ZCARD")
                .arg(format!("{name}:scheduled"))
                .cmd("SCARD")
                .arg(format!("{name}:done"))
                .cmd("SCARD")
                .arg(format!("{name}:dead"))
                .cmd("ZRANGE")
                .arg(format!("{name}:workers"))
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query_async(&mut conn)
                .await
                .map_err(redis_err)?;
        let mut running = 0;
        if !workers.is_empty() {
            let mut pipe = redis::pipe();
            for (worker, _) in &workers {
                pipe.cmd("SCARD").arg(format!("{name}:inflight:{worker}"));
            }
            let sizes: Vec<u64> = pipe.query_async(&mut conn).await.map_err(redis_err)?;
            running = sizes.iter().sum();
        }
        // Scores are the workers' last heartbeats, in unix seconds.
        let beats: Vec<u64> = workers
            .iter()
            .map(|(_, beat)| beat.max(0.0) as u64)
            .collect();
        let live_since = scripts::unix_now().saturating_sub(worker_ttl_secs);
        Ok(Self {
            queue: name.to_string(),
            pending,
            scheduled,
            running,
            done,
            dead,
            workers: workers.len() as u64,
            live_workers: beats.iter().filter(|beat| **beat >= live_since).count() as u64,
            last_beat_at: beats.iter().max().copied(),
        })
    }
}
