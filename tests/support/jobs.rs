//! Jobs that exist only in tests, to drive the queue machinery directly.
use std::sync::Arc;

use async_trait::async_trait;
use orders_flow::{
    queue::{Job, JobAttempt, JobError, JobResult, WorkerProcess},
    settings::{QueueSettings, Settings},
    workers::{worker_set, JobContext, Services},
};
use serde::{Deserialize, Serialize};

use super::TestApp;

/// Starts a worker process in the test for `J`'s queue only.
pub async fn start_worker<J: Job<Context = Arc<JobContext>>>(app: &TestApp) -> WorkerProcess {
    worker_set(&app.jobs()).add::<J>().start().await.unwrap()
}

/// Counts its runs per `key` in Redis; fails as told.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CountJob {
    pub key: String,
    pub fail: Failure,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Failure {
    Never,
    Always,
    Permanent,
    /// Fails (to be retried) while this key has run at most this many times.
    FirstRuns(i64),
}

#[async_trait]
impl Job for CountJob {
    const QUEUE: &'static str = "test:count";
    type Context = Arc<JobContext>;

    fn settings(_settings: &Settings) -> QueueSettings {
        QueueSettings {
            concurrency: 64,
            retries: 2,
            backoff_ms: 10,
            timeout_secs: 5,
            keep_done_secs: None,
        }
    }

    async fn run(self, cx: &Arc<JobContext>) -> JobResult {
        let mut conn = cx.queues.redis.clone();
        let key = cx.settings().redis.key(&format!("test:runs:{}", self.key));
        let runs: i64 = redis::cmd("INCR")
            .arg(key)
            .query_async(&mut conn)
            .await
            .map_err(anyhow::Error::from)?;
        match self.fail {
            Failure::FirstRuns(n) if runs <= n => {
                Err(JobError::Retry(anyhow::anyhow!("told to fail {n} times")))
            }
            Failure::Never | Failure::FirstRuns(_) => Ok(()),
            Failure::Always => Err(JobError::Retry(anyhow::anyhow!("told to fail"))),
            Failure::Permanent => Err(JobError::Permanent(anyhow::anyhow!("told to give up"))),
        }
    }
}

/// How many times `CountJob`s with `key` ran.
pub async fn runs(services: &Services, key: &str) -> i64 {
    let mut conn = services.redis.clone();
    let value: Option<i64> = redis::cmd("GET")
        .arg(services.settings.redis.key(&format!("test:runs:{key}")))
        .query_async(&mut conn)
        .await
        .expect("redis");
    value.unwrap_or(0)
}

/// Always fails, recording which attempt each run was told it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttemptJob {
    pub key: String,
}

#[async_trait]
impl Job for AttemptJob {
    const QUEUE: &'static str = "test:attempt";
    type Context = Arc<JobContext>;

    fn settings(settings: &Settings) -> QueueSettings {
        CountJob::settings(settings)
    }

    async fn run(self, _cx: &Arc<JobContext>) -> JobResult {
        Err(JobError::Permanent(anyhow::anyhow!(
            "the queue must call run_attempt"
        )))
    }

    async fn run_attempt(self, cx: &Arc<JobContext>, attempt: JobAttempt) -> JobResult {
        let mut conn = cx.queues.redis.clone();
        let _: i64 = redis::cmd("RPUSH")
            .arg(attempts_key(cx.settings(), &self.key))
            .arg(format!("{}:{}", attempt.number(), attempt.is_last()))
            .query_async(&mut conn)
            .await
            .map_err(anyhow::Error::from)?;
        Err(JobError::Retry(anyhow::anyhow!("told to fail")))
    }
}

fn attempts_key(settings: &Settings, key: &str) -> String {
    settings.redis.key(&format!("test:attempts:{key}"))
}

/// What the runs of `AttemptJob { key }` saw, as `"number:is_last"`.
pub async fn attempts_seen(services: &Services, key: &str) -> Vec<String> {
    let mut conn = services.redis.clone();
    redis::cmd("LRANGE")
        .arg(attempts_key(&services.settings, key))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .expect("redis")
}
