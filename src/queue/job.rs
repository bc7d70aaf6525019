//! What a queue runs: a small serde payload with an async `run`.
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use apalis::prelude::{AbortError, Attempt, BoxDynError, Data, TaskId};
use async_trait::async_trait;
use serde::{de::DeserializeOwned, Serialize};

use super::stats::{JobStats, Outcome};
use crate::settings::{QueueSettings, Settings};

/// How a job run ended badly.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt (database busy, gateway timeout, SMTP down).
    #[error(transparent)]
    Retry(#[from] anyhow::Error),
    /// Will never succeed: goes to the dead set at once.
    #[error("permanent failure: {0}")]
    Permanent(anyhow::Error),
}

pub type JobResult = std::result::Result<(), JobError>;

/// The app's own plumbing failed (Redis, a push, a service not installed):
/// worth another attempt.
impl From<loco_rs::Error> for JobError {
    fn from(e: loco_rs::Error) -> Self {
        Self::Retry(e.into())
    }
}

/// Which run of a job this is, as the queue counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobAttempt {
    number: usize,
    retries: usize,
}

impl JobAttempt {
    /// Run `number` (1 for the first) of a job whose queue allows `retries` retries.
    #[must_use]
    pub const fn new(number: usize, retries: usize) -> Self {
        Self { number, retries }
    }

    /// 1 for the first run.
    #[must_use]
    pub const fn number(&self) -> usize {
        self.number
    }

    /// A failure of this run goes to the dead set: no retry follows.
    #[must_use]
    pub const fn is_last(&self) -> bool {
        self.number > self.retries
    }
}

/// One job type: its queue, its settings, and what it does. Jobs carry ids, not objects.
#[async_trait]
pub trait Job: Serialize + DeserializeOwned + Clone + Send + Sync + Unpin + 'static {
    /// Queue name without the instance prefix (see [`super::queue_names`]).
    const QUEUE: &'static str;

    /// What the job's body is handed: built once per process by whoever starts
    /// the workers, and cloned into every run, so it should be an `Arc`.
    type Context: Clone + Send + Sync + 'static;

    /// Concurrency, retries, backoff and timeout of this job's queue.
    fn settings(settings: &Settings) -> QueueSettings;

    /// Runs the job once. Must be safe to run again (delivery is at least once).
    async fn run(self, cx: &Self::Context) -> JobResult;

    /// What the queue calls: [`Job::run`], unless a job must know which attempt it is
    /// (to record its final failure before the job goes to the dead set).
    async fn run_attempt(self, cx: &Self::Context, attempt: JobAttempt) -> JobResult {
        let _ = attempt;
        self.run(cx).await
    }
}

/// The apalis handler for every job type: timeout and attempt cap live here.
///
/// The timeout is applied inside the handler because apalis's timeout layer
/// sits outside its lifecycle and a timed-out job would go straight to the dead
/// set. apalis-redis would redeliver a failing job up to 25 times whatever the
/// policy says, so the last configured attempt is turned into an abort.
pub(super) async fn handle<J: Job>(
    job: J,
    cx: Data<J::Context>,
    settings: Data<QueueSettings>,
    stats: Data<JobStats>,
    pulse: Data<super::pulse::Pulse>,
    attempt: Attempt,
    id: Option<TaskId>,
) -> Result<(), BoxDynError> {
    let _running = super::worker_info::InFlight::enter();
    let _counted = pulse.job_started();
    let attempt = JobAttempt::new(attempt.current(), settings.retries);
    // A retry's wait would be its backoff: only first runs tell how long jobs queue.
    let wait = (attempt.number() == 1)
        .then(|| id.as_ref().and_then(queued_for))
        .flatten();
    let started = Instant::now();
    let outcome = tokio::time::timeout(settings.timeout(), job.run_attempt(&cx, attempt)).await;
    let record = |outcome| stats.record(J::QUEUE, outcome, started.elapsed(), wait);
    let error: BoxDynError = match outcome {
        Ok(Ok(())) => {
            record(Outcome::Done);
            return Ok(());
        }
        Ok(Err(JobError::Permanent(e))) => {
            record(Outcome::Dead);
            tracing::error!(queue = J::QUEUE, error = %e, "job failed permanently");
            return Err(AbortError::new(JobFailure(e)).into());
        }
        Ok(Err(JobError::Retry(e))) => Box::new(JobFailure(e)),
        Err(elapsed) => Box::new(elapsed),
    };
    let last = attempt.is_last();
    tracing::warn!(
        queue = J::QUEUE,
        attempt = attempt.number(),
        last_attempt = last,
        error = %error,
        "job attempt failed"
    );
    if last {
        record(Outcome::Dead);
        Err(AbortError::new(error).into())
    } else {
        record(Outcome::Retried);
        Err(error)
    }
}

/// How long ago the job was first queued: our task ids are UUIDv7, whose first
/// 48 bits are the push time in unix milliseconds (see `JobQueue::push_encoded`).
fn queued_for(id: &TaskId) -> Option<Duration> {
    let uuid = uuid::Uuid::parse_str(&id.to_string()).ok()?;
    let (secs, nanos) = uuid.get_timestamp()?.to_unix();
    let pushed = UNIX_EPOCH + Duration::new(secs, nanos);
    Some(SystemTime::now().duration_since(pushed).unwrap_or_default())
}

/// An `anyhow::Error` as a std error, which apalis needs.
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
struct JobFailure(anyhow::Error);

#[cfg(test)]
mod tests {
    use super::JobAttempt;

    #[test]
    fn only_the_run_after_the_last_retry_is_last() {
        // retries: 2 → runs 1, 2, 3; apalis counts from 1 inside the handler.
        let last: Vec<bool> = (1..=3).map(|n| JobAttempt::new(n, 2).is_last()).collect();
        assert_eq!(last, [false, false, true]);
        assert!(
            JobAttempt::new(1, 0).is_last(),
            "no retries: the first run is the last"
        );
    }
}
