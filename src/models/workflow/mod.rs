//! The order workflow: reserve → pay → finalize or roll back (issue 4, in progress).
use loco_rs::app::AppContext;

use crate::workers::{JobError, JobResult};

/// Moves one order as far as it can go. Safe to call any number of times.
///
/// # Errors
/// Retryable on database or gateway trouble.
pub async fn advance(_ctx: &AppContext, order_id: i64) -> JobResult {
    Err(JobError::Permanent(anyhow::anyhow!(
        "order {order_id}: the workflow is not built yet"
    )))
}
