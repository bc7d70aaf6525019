//! The refund job: one per refund, sends it to the gateway and records the
//! outcome with the refund's guarded transitions (`models::refunds`).
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use sea_orm::{DatabaseConnection, EntityTrait};

use super::JobContext;
use crate::{
    models::{
        _entities::{orders, refunds},
        order_notifications,
        refunds::{complete, decline, event, Move},
        statuses::RefundStatus,
        workflow::gateway::{ChargeOutcome, RefundRequest},
    },
    queue::{queue_names, Job, JobError, JobResult, NotificationJob, RefundJob},
    settings::{QueueSettings, Settings},
};

#[async_trait]
impl Job for RefundJob {
    const QUEUE: &'static str = queue_names::REFUNDS;
    type Context = Arc<JobContext>;

    fn settings(settings: &Settings) -> QueueSettings {
        settings.queues.refunds
    }

    async fn run(self, cx: &Arc<JobContext>) -> JobResult {
        process(cx, self.refund_id).await
    }
}

/// Sends one pending refund to the gateway and records the outcome. Safe to
/// call any number of times: a decided refund is only checked for its
/// notification having been queued.
///
/// # Errors
/// Retryable on database or gateway trouble; permanent for an unknown refund
/// or when the order's refund figures disagree with the refund.
#[tracing::instrument(skip_all, fields(refund_id))]
pub async fn process(cx: &JobContext, refund_id: i64) -> JobResult {
    let db = &cx.app.db;
    let refund = refunds::Entity::find_by_id(refund_id)
        .one(db)
        .await
        .context("loading the refund")?
        .ok_or_else(|| JobError::Permanent(anyhow::anyhow!("refund {refund_id} does not exist")))?;
    if refund.status != RefundStatus::Pending {
        return push_queued_notification(cx, db, &refund).await;
    }
    let order = orders::Entity::find_by_id(refund.order_id)
        .one(db)
        .await
        .context("loading the order")?
        .ok_or_else(|| {
            JobError::Permanent(anyhow::anyhow!("order of refund {refund_id} is gone"))
        })?;
    let request = RefundRequest {
        refund_id,
        order_id: order.id,
        idempotency_key: format!("refund-{refund_id}"),
        amount_cents: refund.amount_cents,
        currency: order.currency.clone(),
    };
    // A gateway error is not a decline: the queue retries the job.
    let email_enabled = cx.settings().notifications_email_enabled();
    let moved = match cx.gateway.refund(&request).await.context("refunding")? {
        ChargeOutcome::Approved { reference } => {
            tracing::info!(refund_id, reference, "refund approved");
            complete(db, &refund, email_enabled).await
        }
        ChargeOutcome::Declined { reason } => {
            tracing::info!(refund_id, reason, "refund declined");
            decline(db, &refund, &reason, email_enabled).await
        }
    };
    match moved.context("recording the refund outcome")? {
        Move::Done(Some(notification_id)) => push(cx, notification_id).await,
        Move::Done(None) | Move::Lost => Ok(()),
        Move::Inconsistent => Err(JobError::Permanent(anyhow::anyhow!(
            "refund {refund_id}: the order's refund figures do not allow it"
        ))),
    }
}

async fn push(cx: &JobContext, notification_id: i64) -> JobResult {
    cx.queues
        .queue::<NotificationJob>()
        .push(&NotificationJob::one(notification_id))
        .await
        .map_err(JobError::from)
}

/// A decided refund whose notification is still `queued` (a crash between
/// commit and push): hand it to the queue again.
async fn push_queued_notification(
    cx: &JobContext,
    db: &DatabaseConnection,
    refund: &refunds::Model,
) -> JobResult {
    let queued = order_notifications::Entity::queued_ids(
        db,
        refund.order_id,
        Some(event(refund.id).as_str()),
    )
    .await
    .context("loading the refund's notification")?;
    match queued.first() {
        Some(&notification_id) => push(cx, notification_id).await,
        None => Ok(()),
    }
}
