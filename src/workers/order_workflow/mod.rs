//! The order-workflow job: one per order, reserve → pay → finalize or roll back,
//! alone ([`advance`]) or in a batch with the other jobs of this process ([`batcher`]).
pub mod advance;
pub mod batcher;

use std::sync::Arc;

use async_trait::async_trait;

pub use self::advance::advance;
use super::JobContext;
use crate::{
    queue::{queue_names, Job, JobResult, OrderWorkflowJob},
    settings::{QueueSettings, Settings},
};

#[async_trait]
impl Job for OrderWorkflowJob {
    const QUEUE: &'static str = queue_names::WORKFLOW;
    type Context = Arc<JobContext>;

    fn settings(settings: &Settings) -> QueueSettings {
        settings.queues.workflow
    }

    async fn run(self, cx: &Arc<JobContext>) -> JobResult {
        if cx.settings().workflow.batch_size > 1 {
            batcher::submit(cx, self.order_id).await
        } else {
            advance(cx, self.order_id).await
        }
    }
}
