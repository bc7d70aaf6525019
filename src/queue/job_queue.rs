//! Pushing jobs, and reading how deep each queue is.
use std::{marker::PhantomData, time::Duration};

use apalis_redis::{Config, ConnectionManager, RedisStorage};
use loco_rs::{Error, Result};
use serde::Serialize;

use super::{handle::Queues, scripts, Job};
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

impl Queues {
    /// The push side of `J`'s queue.
    #[must_use]
    pub fn queue<J: Job>(&self) -> JobQueue<J> {
        JobQueue::new(&self.redis, &self.settings)
    }
}

impl<J: Job> JobQueue<J> {
    pub(super) fn new(redis: &ConnectionManager, settings: &Settings) -> Self {
        Self {
            redis: redis.clone(),
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
        let encoded = jobs.iter().map(encode).collect::<Result<Vec<_>>>()?;
        let ids = self.push_encoded(&encoded).await?;
        Ok(ids.len() as u64)
    }

    /// Queues `jobs` from a task of its own and waits for it at most `wait`:
    /// for callers that answer a person over HTTP and have committed their
    /// work already. A slow or absent Redis then costs the caller `wait`, not
    /// the connection's 5 s timeouts; the push goes on in the background, and
    /// what it fails to queue the recovery sweep (or the heal after a loss)
    /// queues from the database. `Ok(None)`: still pushing when `wait` ended.
    ///
    /// # Errors
    /// When the push failed within `wait`.
    pub async fn push_bulk_within(self, jobs: Vec<J>, wait: Duration) -> Result<Option<u64>>
    where
        J: 'static,
    {
        let queue = self.name.clone();
        let push = tokio::spawn(async move {
            let pushed = self.push_bulk(&jobs).await;
            if let Err(e) = &pushed {
                tracing::warn!(queue = %self.name, jobs = jobs.len(), error = %e, "jobs not queued; the recovery sweep will");
            }
            pushed
        });
        match tokio::time::timeout(wait, push).await {
            Ok(Ok(pushed)) => pushed.map(Some),
            Ok(Err(join)) => Err(Error::string(&format!("pushing to {queue}: {join}"))),
            Err(_) => Ok(None),
        }
    }

    /// The payload [`Self::push_encoded`] takes for `job`.
    ///
    /// # Errors
    /// When the job cannot be serialized.
    pub fn encode(job: &J) -> Result<Vec<u8>> {
        encode(job)
    }

    /// Queues jobs already encoded by [`Self::encode`]; returns their task ids,
    /// in order, so a producer can ask later whether each is still in Redis.
    ///
    /// # Errors
    /// When Redis fails.
    pub async fn push_encoded(&self, payloads: &[Vec<u8>]) -> Result<Vec<String>> {
        let jobs: Vec<(String, Vec<u8>)> = payloads
            .iter()
            .map(|payload| (uuid::Uuid::now_v7().to_string(), payload.clone()))
            .collect();
        let mut conn = self.redis.clone();
        scripts::enqueue(&mut conn, &self.name, self.max_attempts, &jobs)
            .await
            .map_err(|e| Error::string(&format!("queue {}: push failed: {e}", self.name)))?;
        Ok(jobs.into_iter().map(|(id, _)| id).collect())
    }

    /// Where each task id stands in Redis, in the order given: a task whose
    /// payload is gone was lost (a flush, a restart without persistence) or
    /// finished and trimmed. One pipelined round trip.
    ///
    /// # Errors
    /// When Redis fails.
    pub async fn presence(&self, ids: &[String]) -> Result<Vec<Presence>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("HEXISTS")
                .arg(format!("{}:data", self.name))
                .arg(id);
            pipe.cmd("SISMEMBER")
                .arg(format!("{}:dead", self.name))
                .arg(id);
        }
        let mut conn = self.redis.clone();
        let flags: Vec<bool> = pipe
            .query_async(&mut conn)
            .await
            .map_err(|e| Error::string(&format!("queue {}: {e}", self.name)))?;
        Ok(flags
            .chunks(2)
            .map(|pair| match pair {
                [_, true] => Presence::Dead,
                [true, _] => Presence::Present,
                _ => Presence::Absent,
            })
            .collect())
    }

    /// Counts of this queue.
    ///
    /// # Errors
    /// When Redis fails.
    pub async fn counts(&self) -> Result<QueueCounts> {
        QueueCounts::read(&self.redis, &self.name, self.worker_ttl_secs).await
    }

    /// Worker processes of this queue that sent a heartbeat recently (see
    /// [`live_workers`]), so a producer can tell whether waiting for the
    /// queue to drain makes sense.
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

/// Worker processes of the queue named `name` that beat within the last
/// `ttl_secs`. Read from the processes' own heartbeats (`{q}:beats`, written
/// by every worker process each `heartbeat_secs`, see `process.rs`), not from
/// apalis's registry (`{q}:workers`): registry entries outlive killed
/// processes, and a Redis flush or restart empties the registry while the
/// workers live on; a beat is written again within one heartbeat.
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
        .arg(beats_key(name))
        .arg(since)
        .arg("+inf")
        .query_async(conn)
        .await
}

/// The sorted set of worker-process heartbeats of the queue named `name`
/// (member: the process instance, score: its last beat in unix seconds).
#[must_use]
pub fn beats_key(name: &str) -> String {
    format!("{name}:beats")
}

/// Where a queued task stands (see [`JobQueue::presence`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Its payload is in Redis: waiting, scheduled, running or finished.
    Present,
    /// In the dead set: it failed for good.
    Dead,
    /// Not in Redis at all.
    Absent,
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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
    /// Worker processes that sent a heartbeat within `heartbeat_secs ×
    /// missed_heartbeats` (see [`live_workers`]): 0 while jobs wait means
    /// nobody works the queue.
    pub live_workers: u64,
    /// Paused by an operator: its workers fetch nothing (see `pause.rs`).
    pub paused: bool,
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
        #[allow(clippy::type_complexity)]
        let (pending, scheduled, done, dead, workers, paused): (
            u64,
            u64,
            u64,
            u64,
            Vec<(String, f64)>,
            bool,
        ) = redis::pipe()
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
            .cmd("EXISTS")
            .arg(super::pause::paused_key(name))
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
        let live_workers = live_workers(&mut conn, name, worker_ttl_secs)
            .await
            .map_err(redis_err)?;
        // Scores are the workers' last heartbeats, in unix seconds.
        let beats: Vec<u64> = workers
            .iter()
            .map(|(_, beat)| beat.max(0.0) as u64)
            .collect();
        Ok(Self {
            queue: name.to_string(),
            pending,
            scheduled,
            running,
            done,
            dead,
            workers: workers.len() as u64,
            live_workers,
            paused,
            last_beat_at: beats.iter().max().copied(),
        })
    }
}
