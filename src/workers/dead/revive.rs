//! What a dead job's rows need before the job can run again.
//!
//! A job that dies may leave its rows in a state its next run skips: a
//! notification's last attempt marks the row `failed`, and `deliver` leaves
//! `failed` rows alone (so a redelivery of a given-up job never mails). A
//! retry therefore reopens those rows *before* the job is queued again: the
//! other order, queueing first, would let a worker skip the row and finish the
//! job with nothing sent. Reopening is guarded (`failed → queued` only), and
//! sending stays guarded by `queued → sent` under the row's lease, so however
//! often a job is retried its rows are sent once.
//!
//! The other queues keep no terminal state for a job that died: a refund and
//! an order stay `pending`/`reserved` while the gateway fails, and a chunk is
//! written by its own idempotent transaction, so their jobs need nothing.
use sea_orm::{DatabaseConnection, DbErr};
use serde_json::Value;

use crate::{
    models::order_notifications,
    queue::{queue_names, NotificationJob},
};

/// Reopens the rows of dead jobs of `queue` (short name) whose payloads are
/// `payloads`; returns how many rows changed. Unreadable payloads are left to
/// the job itself, which reports them.
///
/// # Errors
/// Database errors (then nothing was queued again).
pub async fn revive(
    db: &DatabaseConnection,
    queue: &str,
    payloads: &[Value],
) -> Result<u64, DbErr> {
    if queue != queue_names::NOTIFICATIONS {
        return Ok(0);
    }
    let ids: Vec<i64> = payloads
        .iter()
        .filter_map(|p| serde_json::from_value::<NotificationJob>(p.clone()).ok())
        .flat_map(|job| job.notification_ids)
        .collect();
    if ids.is_empty() {
        return Ok(0);
    }
    order_notifications::Entity::reopen_failed(db, &ids).await
}
