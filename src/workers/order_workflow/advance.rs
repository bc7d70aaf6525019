//! One order at a time: reads the order's state and makes the next guarded
//! transition until the order is terminal. Every step can be repeated: a job
//! delivered twice, or re-run after a crash at any instruction, finds the work done.
use anyhow::Context as _;
use sea_orm::EntityTrait;

use crate::{
    models::{
        _entities::orders,
        order_notifications,
        statuses::OrderStatus,
        workflow::{
            batch::{finalize_many, reserve_many},
            gateway::{Charge, ChargeOutcome},
        },
    },
    queue::{JobError, JobResult, NotificationJob},
    workers::JobContext,
};

/// Moves one order as far as it can go. Safe to call any number of times.
///
/// One order is a batch of one: the same guarded transitions as the batched
/// path ([`reserve_many`], [`finalize_many`]), so both keep exactly the same rules.
///
/// # Errors
/// Retryable on database or gateway trouble; permanent for an unknown order.
#[tracing::instrument(skip_all, fields(order_id))]
pub async fn advance(cx: &JobContext, order_id: i64) -> JobResult {
    let db = &cx.app.db;
    let email_enabled = cx.settings().notifications_email_enabled();
    // pending → reserved → paid/failed: at most three moves per run.
    for _ in 0..4 {
        let order = orders::Entity::find_by_id(order_id)
            .one(db)
            .await
            .context("loading the order")?
            .ok_or_else(|| {
                JobError::Permanent(anyhow::anyhow!("order {order_id} does not exist"))
            })?;
        let moved = match order.status {
            OrderStatus::Pending => reserve_many(db, &[order.id], email_enabled)
                .await
                .context("reserving stock")?,
            OrderStatus::Reserved => {
                let charge = Charge {
                    order_id: order.id,
                    idempotency_key: order.external_id.clone(),
                    amount_cents: order.total_cents,
                    currency: order.currency.clone(),
                };
                // A gateway error is not a decline: the queue retries the job.
                let (approved, declined) =
                    match cx.gateway.charge(&charge).await.context("charging")? {
                        ChargeOutcome::Approved { reference } => {
                            (vec![(order.id, reference)], vec![])
                        }
                        ChargeOutcome::Declined { .. } => (vec![], vec![order.id]),
                    };
                finalize_many(db, &approved, &declined, cx.gateway.name(), email_enabled)
                    .await
                    .context("finalizing the order")?
            }
            _ => {
                // Terminal: make sure its notification was handed to the queue
                // (a crash between commit and push leaves it `queued`).
                return push_queued_notifications(cx, &order).await;
            }
        };
        if !moved.notifications.is_empty() {
            for id in moved.notifications {
                push_notification(cx, id).await?;
            }
            return Ok(());
        }
    }
    Ok(())
}

async fn push_notification(cx: &JobContext, notification_id: i64) -> JobResult {
    cx.queues
        .queue::<NotificationJob>()
        .push(&NotificationJob::one(notification_id))
        .await
        .map_err(JobError::from)
}

async fn push_queued_notifications(cx: &JobContext, order: &orders::Model) -> JobResult {
    if !matches!(order.status, OrderStatus::Paid | OrderStatus::Failed) {
        return Ok(());
    }
    let queued = order_notifications::Entity::queued_ids(&cx.app.db, order.id, None)
        .await
        .context("loading notifications")?;
    for id in queued {
        push_notification(cx, id).await?;
    }
    Ok(())
}
