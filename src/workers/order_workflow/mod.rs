//! The order-workflow job: one per order, reserve → pay → finalize or roll back,
//! alone ([`advance`]) or in a batch with the other jobs of this process ([`batcher`]).
pub mod advance;
pub mod batcher;

use async_trait::async_trait;
use loco_rs::app::AppContext;

pub use self::advance::advance;
use super::Services;
use crate::{
    queue::{queue_names, Job, JobResult, OrderWorkflowJob},
    settings::{QueueSettings, Settings},
};

#[async_trait]
impl Job for OrderWorkflowJob {
    const QUEUE: &'static str = queue_names::WORKFLOW;

    fn settings(settings: &Settings) -> QueueSettings {
        settings.queues.workflow
    }

    async fn run(self, ctx: &AppContext) -> JobResult {
        let services = Services::of(ctx)?;
        if services.settings.workflow.batch_size > 1 {
            batcher::submit(ctx, self.order_id).await
        } else {
            advance(ctx, self.order_id).await
        }
    }
}
