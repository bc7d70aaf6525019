//! The recovery sweep: finds work that stopped moving and queues it again.
//!
//! A worker killed with SIGKILL loses nothing by itself (its in-flight jobs go
//! back to the queue after its heartbeat lapses), but a flushed or restarted
//! Redis loses every queued job. The database still knows every order that is
//! not terminal, every refund still pending and every notification not sent,
//! so this sweep re-derives the jobs. It also deletes expired idempotency keys. It only looks when the queue is empty: with a backlog, an old order
//! may just be waiting its turn, and queuing it again would only add duplicates.
use std::time::Duration;

use loco_rs::app::AppContext;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use super::transitions::{PENDING, RESERVED};
use crate::{
    models::{
        _entities::{orders, refunds},
        idempotency_keys,
    },
    workers::{
        notify::NotificationJob, order_workflow::OrderWorkflowJob, refund::RefundJob, Services,
    },
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
pub async fn sweep(ctx: &AppContext, stuck_after: Duration) -> anyhow::Result<SweepReport> {
    let services = Services::of(ctx).map_err(|e| anyhow::anyhow!("{e}"))?;
    let cutoff = chrono::Utc::now().naive_utc()
        - chrono::Duration::from_std(stuck_after).unwrap_or_else(|_| chrono::Duration::zero());
    let mut report = SweepReport::default();

    let workflow = services.queue::<OrderWorkflowJob>();
    if workflow.counts().await?.pending > 0 {
        report.skipped_busy_queues += 1;
    } else {
        let ids: Vec<i64> = orders::Entity::find()
            .select_only()
            .column(orders::Column::Id)
            .filter(orders::Column::Status.is_in([PENDING, RESERVED]))
            .filter(orders::Column::UpdatedAt.lt(cutoff))
            .order_by_asc(orders::Column::Id)
            .limit(PAGE)
            .into_tuple()
            .all(&ctx.db)
            .await?;
        let jobs: Vec<OrderWorkflowJob> = ids
            .into_iter()
            .map(|order_id| OrderWorkflowJob { order_id })
            .collect();
        report.orders_requeued = workflow.push_bulk(&jobs).await?;
    }

    let notifications = services.queue::<NotificationJob>();
    if notifications.counts().await?.pending > 0 {
        report.skipped_busy_queues += 1;
    } else {
        // Also stamps the rows, so the next sweep leaves them to the jobs it queued now.
        let ids = crate::models::order_notifications::requeue_stale(&ctx.db, stuck_after).await?;
        let jobs: Vec<NotificationJob> = ids
            .into_iter()
            .map(|notification_id| NotificationJob { notification_id })
            .collect();
        report.notifications_requeued = notifications.push_bulk(&jobs).await?;
    }

    let refund_queue = services.queue::<RefundJob>();
    if refund_queue.counts().await?.pending > 0 {
        report.skipped_busy_queues += 1;
    } else {
        let ids: Vec<i64> = refunds::Entity::find()
            .select_only()
            .column(refunds::Column::Id)
            .filter(refunds::Column::Status.eq("pending"))
            .filter(refunds::Column::UpdatedAt.lt(cutoff))
            .order_by_asc(refunds::Column::Id)
            .limit(PAGE)
            .into_tuple()
            .all(&ctx.db)
            .await?;
        let jobs: Vec<RefundJob> = ids
            .into_iter()
            .map(|refund_id| RefundJob { refund_id })
            .collect();
        report.refunds_requeued = refund_queue.push_bulk(&jobs).await?;
    }
    report.keys_purged = idempotency_keys::purge_expired(&ctx.db, chrono::Utc::now(), PAGE).await?;

    if report.orders_requeued + report.notifications_requeued + report.refunds_requeued > 0 {
        tracing::warn!(?report, "recovery sweep queued stuck work again");
    }
    Ok(report)
}
