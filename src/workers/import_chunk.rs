//! The import-chunk job: writes one chunk of an order file and queues the
//! workflow of every new order.
use async_trait::async_trait;
use loco_rs::app::AppContext;
use serde::{Deserialize, Serialize};

use super::{order_workflow::OrderWorkflowJob, queue_names, Job, JobError, JobResult, Services};
use crate::{
    models::{
        import::ParsedOrder,
        import_writer::{ChunkError, ChunkWrite},
    },
    settings::{QueueSettings, Settings},
};

/// Pushed by `orders_import`, one per chunk of the file. It carries the
/// orders themselves: the file may be gone by the time the job runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImportChunkJob {
    pub import_id: i64,
    /// 1-based position of the chunk in the file; with `import_id`, the key
    /// that makes a second run of the same chunk write nothing.
    pub seq: i64,
    pub orders: Vec<ParsedOrder>,
}

#[async_trait]
impl Job for ImportChunkJob {
    const QUEUE: &'static str = queue_names::IMPORT;

    fn settings(settings: &Settings) -> QueueSettings {
        settings.queues.import
    }

    #[tracing::instrument(skip_all, fields(import_id = self.import_id, seq = self.seq, orders = self.orders.len()))]
    async fn run(self, ctx: &AppContext) -> JobResult {
        let services = Services::of(ctx).map_err(|e| anyhow::anyhow!("{e}"))?;
        let outcome = ChunkWrite {
            import_id: self.import_id,
            seq: self.seq,
            orders: &self.orders,
            initial_stock: services.settings.stock.initial,
        }
        .apply(&ctx.db)
        .await
        .map_err(|e| match e {
            ChunkError::UnknownImport(_) => JobError::Permanent(e.into()),
            ChunkError::Database(_) => JobError::Retry(e.into()),
        })?;
        if planner_statistics_due(self.seq) {
            crate::models::import_writer::refresh_planner_statistics(&ctx.db).await;
        }
        // After the commit: if this push fails the job is retried, finds the
        // chunk applied, and queues the orders that are still pending.
        let jobs: Vec<OrderWorkflowJob> = outcome
            .orders_to_queue()
            .iter()
            .map(|&order_id| OrderWorkflowJob { order_id })
            .collect();
        services
            .queue::<OrderWorkflowJob>()
            .push_bulk(&jobs)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        tracing::info!(queued = jobs.len(), outcome = ?outcome_kind(&outcome), "chunk imported");
        Ok(())
    }
}

/// Chunks 0, 1, 3, 7, 15, …: statistics stay within a factor of two of the
/// tables' real size for a handful of ANALYZEs per import, however long.
const fn planner_statistics_due(seq: i64) -> bool {
    seq >= 0 && (seq + 1).count_ones() == 1
}

fn outcome_kind(outcome: &crate::models::import_writer::ChunkOutcome) -> &'static str {
    match outcome {
        crate::models::import_writer::ChunkOutcome::Applied { .. } => "applied",
        crate::models::import_writer::ChunkOutcome::AlreadyApplied { .. } => "already_applied",
    }
}
