//! The import-chunk job: writes one chunk of an order file and queues the
//! workflow of every new order.
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::JobContext;
use crate::{
    models::{
        import::ParsedOrder,
        import_writer::{ChunkError, ChunkWrite},
    },
    queue::{queue_names, Job, JobError, JobResult, OrderWorkflowJob},
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
    type Context = Arc<JobContext>;

    fn settings(settings: &Settings) -> QueueSettings {
        settings.queues.import
    }

    #[tracing::instrument(skip_all, fields(import_id = self.import_id, seq = self.seq, orders = self.orders.len()))]
    async fn run(self, cx: &Arc<JobContext>) -> JobResult {
        let db = &cx.app.db;
        let outcome = ChunkWrite {
            import_id: self.import_id,
            seq: self.seq,
            orders: &self.orders,
            initial_stock: cx.settings().stock.initial,
        }
        .apply(db)
        .await
        .map_err(|e| match e {
            ChunkError::UnknownImport(_) => JobError::Permanent(e.into()),
            ChunkError::Database(_) => JobError::Retry(e.into()),
        })?;
        // After the commit: if this push fails the job is retried, finds the
        // chunk applied, and queues the orders that are still pending.
        let jobs: Vec<OrderWorkflowJob> = outcome
            .orders_to_queue()
            .iter()
            .map(|&order_id| OrderWorkflowJob { order_id })
            .collect();
        cx.queues
            .queue::<OrderWorkflowJob>()
            .push_bulk(&jobs)
            .await?;
        // After the push: the chunk's orders do not wait for the ANALYZE (they
        // did, 0.5 s, in every import of a stream: BENCHMARKS.md session 12).
        if planner_statistics_due(self.seq) {
            crate::models::import_writer::refresh_planner_statistics(db).await;
        }
        tracing::info!(queued = jobs.len(), outcome = ?outcome_kind(&outcome), "chunk imported");
        Ok(())
    }
}

/// Chunks 3, 15, 63, 255, … of an import (seq + 1 a power of four) look at
/// whether the statistics are stale, i.e. twice or more off the tables'
/// real size, which is enough for the id lookups the workflow makes (the
/// planner only has to stop thinking the tables are empty). Each ANALYZE
/// past a few chunks costs PostgreSQL about 0.45 s (measured with
/// `pg_stat_statements`, 300,000 orders), so every doubling was 4 % of its work.
const fn planner_statistics_due(seq: i64) -> bool {
    let n = seq + 1;
    seq >= 0 && n.count_ones() == 1 && n.trailing_zeros().is_multiple_of(2)
}

fn outcome_kind(outcome: &crate::models::import_writer::ChunkOutcome) -> &'static str {
    match outcome {
        crate::models::import_writer::ChunkOutcome::Applied { .. } => "applied",
        crate::models::import_writer::ChunkOutcome::AlreadyApplied { .. } => "already_applied",
    }
}

#[cfg(test)]
mod tests {
    use super::planner_statistics_due;

    #[test]
    fn statistics_are_refreshed_each_time_the_import_grows_fourfold() {
        let due: Vec<i64> = (-1..1100)
            .filter(|&seq| planner_statistics_due(seq))
            .collect();
        assert_eq!(due, [0, 3, 15, 63, 255, 1023]);
    }
}
