//! The order-workflow job: one per order, reserve → pay → finalize or roll back.
use async_trait::async_trait;
use loco_rs::app::AppContext;
use serde::{Deserialize, Serialize};

use crate::queue::{queue_names, Job, JobResult};
use crate::settings::{QueueSettings, Settings};

/// Carries the order id only; the database holds the state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderWorkflowJob {
    pub order_id: i64,
}

#[async_trait]
impl Job for OrderWorkflowJob {
    const QUEUE: &'static str = queue_names::WORKFLOW;

    fn settings(settings: &Settings) -> QueueSettings {
        settings.queues.workflow
    }

    async fn run(self, ctx: &AppContext) -> JobResult {
        let services = super::Services::of(ctx).map_err(|e| anyhow::anyhow!("{e}"))?;
        if services.settings.workflow.batch_size > 1 {
            crate::models::workflow::batcher::submit(ctx, self.order_id).await
        } else {
            crate::models::workflow::advance(ctx, self.order_id).await
        }
    }
}
