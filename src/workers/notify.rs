//! The notification job: sends one `order_notifications` row.
use async_trait::async_trait;
use loco_rs::app::AppContext;
use serde::{Deserialize, Serialize};

use super::{queue_names, Job, JobResult};
use crate::settings::{QueueSettings, Settings};

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

    async fn run(self, ctx: &AppContext) -> JobResult {
        crate::models::order_notifications::deliver(ctx, self.notification_id).await
    }
}
