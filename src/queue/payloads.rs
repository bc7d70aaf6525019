//! The id-only payloads of the product's jobs: what goes into Redis. The
//! database holds the state; each job's body is in `workers/`.
use serde::{Deserialize, Serialize};

/// The order-workflow job: carries the order id only.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderWorkflowJob {
    pub order_id: i64,
}

/// The refund job: carries the refund id only.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RefundJob {
    pub refund_id: i64,
}

/// Carries notification row ids; the rows say what to send and record the outcome.
///
/// A workflow batch queues its notifications as one job: every queued job costs
/// about ten Redis commands and its share of apalis's machinery, and the `log`
/// rows of a batch are marked sent by one statement anyway. A job for one row
/// (refunds, a retried email) runs as before (see `workers/notify.rs`).
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
