//! The notification job: sends `order_notifications` rows, one or a batch, at
//! most once per row however often its job runs.
use std::{sync::Arc, time::Duration};

use anyhow::anyhow;
use async_trait::async_trait;
use sea_orm::EntityTrait;

use super::JobContext;
use crate::{
    mailers::order_notification::OrderNotificationMailer,
    models::{
        order_notifications::{channel, Column, Entity, Model, Payload},
        statuses::NotificationStatus,
    },
    queue::{queue_names, Job, JobAttempt, JobError, JobResult, Lease, NotificationJob},
    settings::{QueueSettings, Settings},
};

/// Added to the queue's timeout for the email lease: an attempt is abandoned at
/// its timeout, so no holder outlives this.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

#[async_trait]
impl Job for NotificationJob {
    const QUEUE: &'static str = queue_names::NOTIFICATIONS;
    type Context = Arc<JobContext>;

    fn settings(settings: &Settings) -> QueueSettings {
        settings.queues.notifications
    }

    /// Outside the queue a run is one attempt that never gives the row up.
    async fn run(self, cx: &Arc<JobContext>) -> JobResult {
        self.run_attempt(cx, JobAttempt::new(1, usize::MAX)).await
    }

    /// One row is delivered with its own attempts (and batched with other
    /// one-row jobs of this process). A batch marks its `log` rows sent in one
    /// statement and hands each row still queued after that (email) to a job of
    /// its own, so an email keeps its own retries, backoff and final failure.
    async fn run_attempt(self, cx: &Arc<JobContext>, attempt: JobAttempt) -> JobResult {
        match self.notification_ids.as_slice() {
            [] => Ok(()),
            [id] => deliver_batched(cx, *id, attempt).await,
            ids => deliver_many(cx, ids).await,
        }
    }
}

/// Sends notification `notification_id` and records the outcome on its row.
///
/// A row already `sent` or `failed` is left alone. A failed send records its
/// error and is retried; on the queue's last `attempt` the row becomes `failed`.
/// The order itself is never touched.
///
/// # Errors
/// Retryable when the channel or the database fails; permanent when the row is
/// missing, unreadable, or has just been marked `failed`.
pub async fn deliver(cx: &JobContext, notification_id: i64, attempt: JobAttempt) -> JobResult {
    let Some(row) = load(cx, notification_id).await? else {
        return Ok(());
    };
    match row.channel.as_str() {
        channel::LOG => log(cx, &row).await,
        channel::EMAIL => email(cx, notification_id, attempt).await,
        other => Err(JobError::Permanent(anyhow!(
            "notification {notification_id}: unknown channel {other:?}"
        ))),
    }
}

/// The row if it still waits to be sent.
async fn load(cx: &JobContext, id: i64) -> Result<Option<Model>, JobError> {
    let row = Entity::find_by_id(id)
        .one(&cx.app.db)
        .await
        .map_err(anyhow::Error::from)?
        .ok_or_else(|| JobError::Permanent(anyhow!("notification {id} does not exist")))?;
    Ok((row.status == NotificationStatus::Queued).then_some(row))
}

/// A payload that cannot be read never will be: the row is failed at once.
async fn payload(cx: &JobContext, row: &Model) -> Result<Payload, JobError> {
    match serde_json::from_str(&row.payload) {
        Ok(payload) => Ok(payload),
        Err(e) => {
            let error = format!("unreadable payload: {e}");
            Entity::record_failure(&cx.app.db, row.id, &error, true)
                .await
                .map_err(anyhow::Error::from)?;
            Err(JobError::Permanent(anyhow!(
                "notification {}: {error}",
                row.id
            )))
        }
    }
}

async fn log(cx: &JobContext, row: &Model) -> JobResult {
    let p = payload(cx, row).await?;
    // Marked first, written after: a second delivery finds it sent and writes nothing.
    if Entity::mark_sent(&cx.app.db, row.id)
        .await
        .map_err(anyhow::Error::from)?
    {
        log_line(row, &p);
    }
    Ok(())
}

/// The `log` channel's notification: one structured line.
fn log_line(row: &Model, p: &Payload) {
    tracing::info!(
        notification_id = row.id,
        event = %row.event,
        order_id = %p.order_id,
        internal_order_id = p.internal_order_id,
        customer_id = %p.customer_id,
        status = %p.status,
        total_cents = p.total_cents,
        currency = %p.currency,
        reason = p.reason.as_deref(),
        "order notification"
    );
}

/// [`deliver`], with `log` rows sent in a batch with the other jobs of this
/// process: one guarded update marks them all sent. Email rows, and rows the
/// batch did not take, go through [`deliver`] one by one.
///
/// # Errors
/// As [`deliver`].
pub async fn deliver_batched(
    cx: &Arc<JobContext>,
    notification_id: i64,
    attempt: JobAttempt,
) -> JobResult {
    let settings = &cx.settings().workflow;
    let sent = cx
        .log_batcher
        .submit(
            notification_id,
            Duration::from_millis(settings.batch_window_ms),
            settings.batch_size,
            || {
                let batch_cx = Arc::clone(cx);
                move |ids: Vec<i64>| {
                    let cx = Arc::clone(&batch_cx);
                    async move { send_logs(&cx, &ids).await }
                }
            },
        )
        .await;
    if sent == Some(true) {
        return Ok(());
    }
    deliver(cx, notification_id, attempt).await
}

/// A batch of rows (see `NotificationJob`): the `log` rows are marked sent by
/// one statement, and each row still queued after it (email) is handed to a job
/// of its own, with its own attempts. Rows already sent, failed or missing are
/// left alone, so running the batch again sends nothing twice.
///
/// # Errors
/// Retryable when the database or Redis fails.
pub async fn deliver_many(cx: &JobContext, ids: &[i64]) -> JobResult {
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
    let db = &cx.app.db;
    let sent = mark_logs_sent(cx, ids).await.map_err(anyhow::Error::from)?;
    let rest: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| !sent.contains(id))
        .collect();
    if rest.is_empty() {
        return Ok(());
    }
    let queued: Vec<i64> = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(crate::models::sql::id_in(
            db.get_database_backend(),
            Column::Id,
            rest,
        ))
        .filter(Column::Status.eq(NotificationStatus::Queued))
        .into_tuple()
        .all(db)
        .await
        .map_err(anyhow::Error::from)?;
    let jobs: Vec<NotificationJob> = queued.into_iter().map(NotificationJob::one).collect();
    cx.queues
        .queue::<NotificationJob>()
        .push_bulk(&jobs)
        .await?;
    Ok(())
}

/// The batch behind [`deliver_batched`]: `true` for each row it sent. When the
/// statement fails every job falls back to [`deliver`] on its own.
async fn send_logs(cx: &JobContext, ids: &[i64]) -> std::collections::HashMap<i64, bool> {
    let sent = mark_logs_sent(cx, ids).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "batched notification update failed; sending one by one");
        std::collections::HashSet::new()
    });
    ids.iter().map(|id| (*id, sent.contains(id))).collect()
}

/// Marks every still-queued `log` row of `ids` sent in one statement, then
/// writes their lines; returns the rows it sent.
async fn mark_logs_sent(
    cx: &JobContext,
    ids: &[i64],
) -> Result<std::collections::HashSet<i64>, sea_orm::DbErr> {
    use sea_orm::{
        sea_query::{Expr, ExprTrait},
        ColumnTrait, QueryFilter,
    };
    let now = chrono::Utc::now();
    let rows = Entity::update_many()
        .col_expr(Column::Status, Expr::value(NotificationStatus::Sent))
        .col_expr(Column::SentAt, Expr::value(now))
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .col_expr(Column::UpdatedAt, Expr::value(now.naive_utc()))
        .filter(crate::models::sql::id_in(
            cx.app.db.get_database_backend(),
            Column::Id,
            ids.iter().copied(),
        ))
        .filter(Column::Status.eq(NotificationStatus::Queued))
        .filter(Column::Channel.eq(channel::LOG))
        .exec_with_returning(&cx.app.db)
        .await?;
    let mut sent = std::collections::HashSet::with_capacity(rows.len());
    for row in rows {
        match serde_json::from_str::<Payload>(&row.payload) {
            Ok(p) => log_line(&row, &p),
            Err(e) => {
                tracing::warn!(notification_id = row.id, error = %e, payload = %row.payload, "order notification with an unreadable payload")
            }
        }
        sent.insert(row.id);
    }
    Ok(sent)
}

/// The lease keeps two deliveries of one row from mailing at the same time.
async fn email(cx: &JobContext, id: i64, attempt: JobAttempt) -> JobResult {
    let queue = cx.settings().queues.notifications;
    // Waiting a quarter of the attempt leaves the send its budget (3/4), and
    // the attempts together outlast a lease left by a cut-off attempt (seen
    // after a Redis restart: every delivery of a row died "being sent").
    let lease = Lease::acquire_waiting(
        &cx.queues,
        &format!("notification:{id}"),
        queue.timeout() + LEASE_MARGIN,
        queue.timeout() / 4,
    )
    .await
    .map_err(anyhow::Error::from)?;
    let Some(lease) = lease else {
        return Err(JobError::Retry(anyhow!(
            "notification {id} is being sent by another worker"
        )));
    };
    let outcome = send_under_lease(cx, id, attempt).await;
    if let Err(e) = lease.release().await {
        tracing::warn!(notification_id = id, error = %e, "releasing the lease failed; it expires");
    }
    outcome
}

async fn send_under_lease(cx: &JobContext, id: i64, attempt: JobAttempt) -> JobResult {
    // Read again under the lease: a delivery that just finished has marked it sent.
    let Some(row) = load(cx, id).await? else {
        return Ok(());
    };
    let payload = payload(cx, &row).await?;
    // A hanging server must fail inside the attempt, so the error is recorded
    // before the queue's own timeout abandons the attempt.
    let budget = cx.settings().queues.notifications.timeout() * 3 / 4;
    let from = &cx.settings().notifications.from;
    let sent = tokio::time::timeout(
        budget,
        OrderNotificationMailer::send_now(&cx.app, from, &payload),
    )
    .await
    .unwrap_or_else(|_| {
        Err(loco_rs::Error::string(&format!(
            "no answer from SMTP in {budget:?}"
        )))
    });
    match sent {
        Ok(()) => {
            let marked = Entity::mark_sent(&cx.app.db, id)
                .await
                .map_err(anyhow::Error::from)?;
            if !marked {
                tracing::warn!(
                    notification_id = id,
                    "sent, but the row was no longer queued"
                );
            }
            Ok(())
        }
        Err(e) => {
            let error = e.to_string();
            let give_up = attempt.is_last();
            Entity::record_failure(&cx.app.db, id, &error, give_up)
                .await
                .map_err(anyhow::Error::from)?;
            let e = anyhow!("notification {id}: {error}");
            Err(if give_up {
                JobError::Permanent(e)
            } else {
                JobError::Retry(e)
            })
        }
    }
}
