//! What a refund request needs besides the database: its settings, this
//! process's batcher, and a way to queue the jobs of committed refunds. The
//! worker layer provides it (`workers::Services`); models know no queue.
use std::{future::Future, time::Duration};

use super::batcher::RefundBatcher;
use crate::settings::RefundSettings;

/// The services behind [`super::request`].
pub trait RefundDesk: Clone + Send + Sync + 'static {
    /// `settings.refunds`.
    fn refund_settings(&self) -> RefundSettings;

    /// Groups this process's refund requests into batches.
    fn batcher(&self) -> &RefundBatcher;

    /// Queues the jobs of refunds already committed, waiting at most `wait`
    /// (what is not queued then, the recovery sweep queues).
    fn queue_refunds(
        &self,
        refund_ids: Vec<i64>,
        wait: Duration,
    ) -> impl Future<Output = Result<(), String>> + Send;
}
