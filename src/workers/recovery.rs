//! The recovery sweep: finds work that stopped moving and queues it again.
//!
//! A worker killed with SIGKILL loses nothing by itself (its in-flight jobs go
//! back to the queue after its heartbeat lapses), but a flushed or restarted
//! Redis loses every queued job. The database still knows every order that is
//! not terminal, every refund still pending and every notification not sent,
//! so this sweep re-derives the jobs. It also deletes expired idempotency keys. It only looks when the queue is empty: with a backlog, an old order
//! may just be waiting its turn, and queuing it again would only add duplicates.
use std::time::Duration;

use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;

use super::JobContext;
use crate::{
    models::{
        _entities::{orders, refunds},
        idempotency_keys,
        statuses::{OrderStatus, RefundStatus},
    },
    queue::{Job, JobQueue, NotificationJob, OrderWorkflowJob, RefundJob},
};

/// Most jobs one sweep queues per kind; the next sweep takes the rest.
const PAGE: u64 = 50_000;

/// What one sweep found and queued again.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct SweepReport {
    pub orders_requeued: u64,
    pub notifications_requeued: u64,
    pub refunds_requeued: u64,
    /// Idempotency keys past their TTL, deleted.
    pub keys_purged: u64,
    /// A queue still had jobs waiting, so its stuck rows were left alone.
    pub skipped_busy_queues: u64,
}

/// Queues again the orders, refunds and notifications untouched for `stuck_after`.
///
/// # Errors
/// Database or Redis errors.
pub async fn sweep(cx: &JobContext, stuck_after: Duration) -> anyhow::Result<SweepReport> {
    let db = &cx.app.db;
    let cutoff = chrono::Utc::now().naive_utc()
        - chrono::Duration::from_std(stuck_after).unwrap_or_else(|_| chrono::Duration::zero());
    let mut report = SweepReport::default();

    let mut skipped = 0;
    report.orders_requeued = requeue_if_idle(
        &cx.queues.queue::<OrderWorkflowJob>(),
        &mut skipped,
        || async { Ok(unfinished_orders(db, cutoff, 0).await?) },
        order_jobs,
    )
    .await?;
    report.notifications_requeued = requeue_if_idle(
        &cx.queues.queue::<NotificationJob>(),
        &mut skipped,
        // Also stamps the rows, so the next sweep leaves them to the jobs it queued now.
        || async { Ok(crate::models::order_notifications::requeue_stale(db, stuck_after).await?) },
        |ids| NotificationJob::batches(&ids, cx.settings().workflow.batch_size),
    )
    .await?;
    report.refunds_requeued = requeue_if_idle(
        &cx.queues.queue::<RefundJob>(),
        &mut skipped,
        || async { Ok(pending_refunds(db, cutoff, 0).await?) },
        refund_jobs,
    )
    .await?;
    report.skipped_busy_queues = skipped;
    report.keys_purged = idempotency_keys::purge_expired(db, chrono::Utc::now(), PAGE).await?;

    if report.orders_requeued + report.notifications_requeued + report.refunds_requeued > 0 {
        tracing::warn!(?report, "recovery sweep queued stuck work again");
    }
    Ok(report)
}

/// Queues again every order, refund and notification not finished, whatever
/// its age and whatever the queues hold: after Redis lost its data (see
/// `workers::heal`) none of them has a job any more. A row that got a job
/// since the loss gets a second one; the guarded transitions make whichever
/// runs second a no-op. Pages through the rows, so no page limit leaves work
/// behind.
///
/// # Errors
/// Database or Redis errors (a later call queues everything again).
pub async fn requeue_all(cx: &JobContext) -> anyhow::Result<SweepReport> {
    let db = &cx.app.db;
    // Rows touched after this instant are being worked by a job queued since.
    let cutoff = chrono::Utc::now().naive_utc();
    let mut report = SweepReport::default();
    let orders = cx.queues.queue::<OrderWorkflowJob>();
    let mut after = 0;
    loop {
        let ids = unfinished_orders(db, cutoff, after).await?;
        let Some(&last) = ids.last() else { break };
        after = last;
        report.orders_requeued += ids.len() as u64;
        orders.push_bulk(&order_jobs(ids)).await?;
    }
    let refunds = cx.queues.queue::<RefundJob>();
    let mut after = 0;
    loop {
        let ids = pending_refunds(db, cutoff, after).await?;
        let Some(&last) = ids.last() else { break };
        after = last;
        report.refunds_requeued += ids.len() as u64;
        refunds.push_bulk(&refund_jobs(ids)).await?;
    }
    let ids = crate::models::order_notifications::requeue_stale(db, Duration::ZERO).await?;
    report.notifications_requeued = ids.len() as u64;
    cx.queues
        .queue::<NotificationJob>()
        .push_bulk(&NotificationJob::batches(
            &ids,
            cx.settings().workflow.batch_size,
        ))
        .await?;
    tracing::warn!(
        ?report,
        "Redis lost its data: every unfinished row queued again"
    );
    Ok(report)
}

/// Ids of orders still `pending` or `reserved`, untouched since `cutoff`,
/// past `after`: one page, in id order.
async fn unfinished_orders(
    db: &DatabaseConnection,
    cutoff: chrono::NaiveDateTime,
    after: i64,
) -> Result<Vec<i64>, DbErr> {
    orders::Entity::find()
        .select_only()
        .column(orders::Column::Id)
        .filter(orders::Column::Status.is_in(OrderStatus::OPEN))
        .filter(orders::Column::UpdatedAt.lt(cutoff))
        .filter(orders::Column::Id.gt(after))
        .order_by_asc(orders::Column::Id)
        .limit(PAGE)
        .into_tuple()
        .all(db)
        .await
}

/// Ids of refunds still `pending`, untouched since `cutoff`, past `after`:
/// one page, in id order.
async fn pending_refunds(
    db: &DatabaseConnection,
    cutoff: chrono::NaiveDateTime,
    after: i64,
) -> Result<Vec<i64>, DbErr> {
    refunds::Entity::find()
        .select_only()
        .column(refunds::Column::Id)
        .filter(refunds::Column::Status.eq(RefundStatus::Pending))
        .filter(refunds::Column::UpdatedAt.lt(cutoff))
        .filter(refunds::Column::Id.gt(after))
        .order_by_asc(refunds::Column::Id)
        .limit(PAGE)
        .into_tuple()
        .all(db)
        .await
}

fn order_jobs(ids: Vec<i64>) -> Vec<OrderWorkflowJob> {
    ids.into_iter()
        .map(|order_id| OrderWorkflowJob { order_id })
        .collect()
}

fn refund_jobs(ids: Vec<i64>) -> Vec<RefundJob> {
    ids.into_iter()
        .map(|refund_id| RefundJob { refund_id })
        .collect()
}

/// Queues the `jobs` of the ids `find` returns and counts the ids, unless the
/// queue still has jobs waiting (then counts it in `skipped` and does not even
/// look: `find` may stamp the rows it returns).
async fn requeue_if_idle<J, F, Fut>(
    queue: &JobQueue<J>,
    skipped: &mut u64,
    find: F,
    jobs: impl FnOnce(Vec<i64>) -> Vec<J>,
) -> anyhow::Result<u64>
where
    J: Job,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Vec<i64>>>,
{
    if queue.counts().await?.pending > 0 {
        *skipped += 1;
        return Ok(0);
    }
    let ids = find().await?;
    let found = ids.len() as u64;
    queue.push_bulk(&jobs(ids)).await?;
    Ok(found)
}
