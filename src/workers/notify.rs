//! The notification job: sends `order_notifications` rows, one or a batch.
use async_trait::async_trait;
use loco_rs::app::AppContext;
use serde::{Deserialize, Serialize};

use crate::queue::{queue_names, Job, JobAttempt, JobResult};
use crate::{
    models::order_notifications,
    settings::{QueueSettings, Settings},
};

/// Carries notification row ids; the rows say what to send and record the outcome.
///
/// A workflow batch queues its notifications as one job: every queued job costs
/// about ten Redis commands and its share of apalis's machinery, and the `log`
/// rows of a batch are marked sent by one statement anyway. A job for one row
/// (refunds, a retried email) runs as before; see [`NotificationJob::run_attempt`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(from = "Payload")]
pub struct NotificationJob {
    pub notification_ids: Vec<i64>,
}

impl NotificationJob {
    /// The job that sends one row.
    #[must_use]
    pub fn one(notification_id: i64) -> Self {
        Self {
            notification_ids: vec![notification_id],
        }
    }

    /// Jobs for `ids`, at most `per_job` rows each (`per_job` 0 counts as 1).
    #[must_use]
    pub fn batches(ids: &[i64], per_job: usize) -> Vec<Self> {
        ids.chunks(per_job.max(1))
            .map(|chunk| Self {
                notification_ids: chunk.to_vec(),
            })
            .collect()
    }
}

/// What the queue may hold: today's shape, or the one-row shape queued before
/// batches existed (a deploy must not strand the jobs already in Redis).
#[derive(Deserialize)]
#[serde(untagged)]
enum Payload {
    Batch { notification_ids: Vec<i64> },
    One { notification_id: i64 },
}

impl From<Payload> for NotificationJob {
    fn from(payload: Payload) -> Self {
        match payload {
            Payload::Batch { notification_ids } => Self { notification_ids },
            Payload::One { notification_id } => Self::one(notification_id),
        }
    }
}

#[async_trait]
impl Job for NotificationJob {
    const QUEUE: &'static str = queue_names::NOTIFICATIONS;

    fn settings(settings: &Settings) -> QueueSettings {
        settings.queues.notifications
    }

    /// Outside the queue a run is one attempt that never gives the row up.
    async fn run(self, ctx: &AppContext) -> JobResult {
        self.run_attempt(ctx, JobAttempt::new(1, usize::MAX)).await
    }

    /// One row is delivered with its own attempts (and batched with other
    /// one-row jobs of this process). A batch marks its `log` rows sent in one
    /// statement and hands each row still queued after that (email) to a job of
    /// its own, so an email keeps its own retries, backoff and final failure.
    async fn run_attempt(self, ctx: &AppContext, attempt: JobAttempt) -> JobResult {
        match self.notification_ids.as_slice() {
            [] => Ok(()),
            [id] => order_notifications::deliver_batched(ctx, *id, attempt).await,
            ids => order_notifications::deliver_many(ctx, ids).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::NotificationJob;

    #[test]
    fn a_job_queued_by_the_one_row_version_still_decodes() {
        let old: NotificationJob = serde_json::from_str(r#"{"notification_id":42}"#).unwrap();
        assert_eq!(old, NotificationJob::one(42));
        let new: NotificationJob =
            serde_json::from_str(&serde_json::to_string(&NotificationJob::one(42)).unwrap())
                .unwrap();
        assert_eq!(new, old);
        assert!(serde_json::from_str::<NotificationJob>(r#"{"order_id":1}"#).is_err());
    }

    #[test]
    fn batches_cover_every_id_once_in_order() {
        let ids: Vec<i64> = (1..=5).collect();
        let jobs = NotificationJob::batches(&ids, 2);
        let sizes: Vec<usize> = jobs.iter().map(|j| j.notification_ids.len()).collect();
        assert_eq!(sizes, [2, 2, 1]);
        let again: Vec<i64> = jobs.into_iter().flat_map(|j| j.notification_ids).collect();
        assert_eq!(again, ids);
        assert_eq!(NotificationJob::batches(&ids, 0).len(), 5);
        assert!(NotificationJob::batches(&[], 256).is_empty());
    }
}
