//! Jobs that exist only in tests, to drive the queue machinery directly.
use async_trait::async_trait;
use loco_rs::app::AppContext;
use orders_flow::{
    queue::{Job, JobAttempt, JobError, JobResult, WorkerProcess, WorkerSet},
    settings::{QueueSettings, Settings},
    workers::Services,
};
use serde::{Deserialize, Serialize};

use super::TestApp;

/// Starts a worker process in the test for `J`'s queue only.
pub async fn start_worker<J: Job>(app: &TestApp) -> WorkerProcess {
    WorkerSet::new(app.ctx())
        .unwrap()
        .add::<J>()
        .start()
        .await
        .unwrap()
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

    fn settings(_settings: &Settings) -> QueueSettings {
        QueueSettings {
            concurrency: 64,
            retries: 2,
            backoff_ms: 10,
            timeout_secs: 5,
            keep_done_secs: None,
        }
    }

    async fn run(self, ctx: &AppContext) -> JobResult {
        let services = Services::of(ctx).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut conn = services.redis.clone();
        let key = services
            .settings
            .redis
            .key(&format!("test:runs:{}", self.key));
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

    fn settings(settings: &Settings) -> QueueSettings {
        CountJob::settings(settings)
    }

    async fn run(self, _ctx: &AppContext) -> JobResult {
        Err(JobError::Permanent(anyhow::anyhow!(
            "the queue must call run_attempt"
        )))
    }

    async fn run_attempt(self, ctx: &AppContext, attempt: JobAttempt) -> JobResult {
        let services = Services::of(ctx).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut conn = services.redis.clone();
        let _: i64 = redis::cmd("RPUSH")
            .arg(attempts_key(&services, &self.key))
            .arg(format!("{}:{}", attempt.number(), attempt.is_last()))
            .query_async(&mut conn)
            .await
            .map_err(anyhow::Error::from)?;
        Err(JobError::Retry(anyhow::anyhow!("told to fail")))
    }
}

fn attempts_key(services: &Services, key: &str) -> String {
    services.settings.redis.key(&format!("test:attempts:{key}"))
}

/// What the runs of `AttemptJob { key }` saw, as `"number:is_last"`.
pub async fn attempts_seen(services: &Services, key: &str) -> Vec<String> {
    let mut conn = services.redis.clone();
    redis::cmd("LRANGE")
        .arg(attempts_key(services, key))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .expect("redis")
}
