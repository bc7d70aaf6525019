//! The notification job: sends one `order_notifications` row.
use async_trait::async_trait;
use loco_rs::app::AppContext;
use serde::{Deserialize, Serialize};

use super::{queue_names, Job, JobAttempt, JobResult};
use crate::{
    models::order_notifications,
    settings::{QueueSettings, Settings},
};

/// Carries the notification row id; the row says what to send and records the outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NotificationJob {
    pub notification_id: i64,
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

    async fn run_attempt(self, ctx: &AppContext, attempt: JobAttempt) -> JobResult {
        order_notifications::deliver_batched(ctx, self.notification_id, attempt).await
    }
}
