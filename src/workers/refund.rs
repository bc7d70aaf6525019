//! The refund job: one per refund, sends it to the gateway and records the outcome.
use async_trait::async_trait;
use loco_rs::app::AppContext;
use serde::{Deserialize, Serialize};

use crate::queue::{queue_names, Job, JobResult};
use crate::settings::{QueueSettings, Settings};

/// Carries the refund id only; the database holds the state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RefundJob {
    pub refund_id: i64,
}

#[async_trait]
impl Job for RefundJob {
    const QUEUE: &'static str = queue_names::REFUNDS;

    fn settings(settings: &Settings) -> QueueSettings {
        settings.queues.refunds
    }

    async fn run(self, ctx: &AppContext) -> JobResult {
        crate::models::refunds::process(ctx, self.refund_id).await
    }
}
