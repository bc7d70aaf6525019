//! What a queue runs: a small serde payload with an async `run`.
use apalis::prelude::{AbortError, Attempt, BoxDynError, Data};
use async_trait::async_trait;
use loco_rs::app::AppContext;
use serde::{de::DeserializeOwned, Serialize};

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

/// One job type: its queue, its settings, and what it does. Jobs carry ids, not objects.
#[async_trait]
pub trait Job: Serialize + DeserializeOwned + Clone + Send + Sync + Unpin + 'static {
    /// Queue name without the instance prefix (see [`super::queue_names`]).
    const QUEUE: &'static str;

    /// Concurrency, retries, backoff and timeout of this job's queue.
    fn settings(settings: &Settings) -> QueueSettings;

    /// Runs the job once. Must be safe to run again (delivery is at least once).
    async fn run(self, ctx: &AppContext) -> JobResult;
}

/// The apalis handler for every job type: timeout and attempt cap live here.
///
/// The timeout is applied inside the handler because apalis's timeout layer
/// sits outside its lifecycle and a timed-out job would go straight to the dead
/// set. apalis-redis would redeliver a failing job up to 25 times whatever the
/// policy says, so the last configured attempt is turned into an abort.
pub(super) async fn handle<J: Job>(
    job: J,
    ctx: Data<AppContext>,
    settings: Data<QueueSettings>,
    attempt: Attempt,
) -> Result<(), BoxDynError> {
    let outcome = tokio::time::timeout(settings.timeout(), job.run(&ctx)).await;
    let error: BoxDynError = match outcome {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(JobError::Permanent(e))) => {
            tracing::error!(queue = J::QUEUE, error = %e, "job failed permanently");
            return Err(AbortError::new(JobFailure(e)).into());
        }
        Ok(Err(JobError::Retry(e))) => Box::new(JobFailure(e)),
        Err(elapsed) => Box::new(elapsed),
    };
    let last = attempt.current() > settings.retries;
    tracing::warn!(
        queue = J::QUEUE,
        attempt = attempt.current(),
        last_attempt = last,
        error = %error,
        "job attempt failed"
    );
    if last {
        Err(AbortError::new(error).into())
    } else {
        Err(error)
    }
}

/// An `anyhow::Error` as a std error, which apalis needs.
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
struct JobFailure(anyhow::Error);
