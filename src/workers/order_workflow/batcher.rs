//! Group commit for workflow jobs: concurrent jobs of one worker process hand
//! their order to a leader, which moves the whole batch with `models::workflow::batch`
//! and tells each job how its order went.
use std::{collections::HashMap, sync::Arc, time::Duration};

use sea_orm::{EntityTrait, QueryFilter};

use super::advance::advance;
use crate::{
    models::{
        _entities::orders,
        statuses::OrderStatus,
        workflow::{
            batch,
            gateway::{Charge, ChargeOutcome},
        },
    },
    queue::{JobError, JobResult, NotificationJob},
    workers::JobContext,
};

/// Moves `order_id` as far as it goes, in a batch with whatever other jobs of
/// this process submit within the batch window.
///
/// # Errors
/// Retryable when the order's batch or its payment failed.
pub async fn submit(cx: &Arc<JobContext>, order_id: i64) -> JobResult {
    let settings = &cx.settings().workflow;
    let window = Duration::from_millis(settings.batch_window_ms);
    let outcome = cx
        .batcher
        .submit(order_id, window, settings.batch_size, || {
            let batch_cx = Arc::clone(cx);
            move |ids: Vec<i64>| {
                let cx = Arc::clone(&batch_cx);
                async move { answer(&cx, &ids).await }
            }
        })
        .await;
    match outcome {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(JobError::Retry(anyhow::anyhow!(e))),
        None => Err(JobError::Retry(anyhow::anyhow!(
            "order {order_id}: its batch was dropped"
        ))),
    }
}

/// Runs one batch; when it fails as a whole, runs its orders one by one so
/// one bad order does not hold the others back.
async fn answer(cx: &JobContext, ids: &[i64]) -> HashMap<i64, Result<(), String>> {
    let mut results = run(cx, ids).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, orders = ids.len(), "workflow batch failed; running its orders one by one");
        HashMap::new()
    });
    if results.len() < ids.len() {
        let runs = ids
            .iter()
            .filter(|id| !results.contains_key(id))
            .map(|&id| async move { (id, advance(cx, id).await.map_err(|e| e.to_string())) });
        results.extend(futures::future::join_all(runs).await);
    }
    results
}

/// One batch: reserve the pending orders, charge every reserved one, finalize.
async fn run(cx: &JobContext, ids: &[i64]) -> anyhow::Result<HashMap<i64, Result<(), String>>> {
    let db = &cx.app.db;
    let email = cx.settings().notifications_email_enabled();
    let t0 = std::time::Instant::now();
    let loaded = orders::Entity::find()
        .filter(crate::models::sql::id_in(
            db.get_database_backend(),
            orders::Column::Id,
            ids.iter().copied(),
        ))
        .all(db)
        .await?;
    // How long the batch's oldest order waited since the import wrote it: with
    // the times below, whether a slow order waited for a batch or in one.
    let waited = loaded
        .iter()
        .map(|order| order.created_at)
        .min()
        .map(|oldest| chrono::Utc::now().naive_utc() - oldest);
    let mut results: HashMap<i64, Result<(), String>> = HashMap::new();
    let (mut reserved, mut pending, mut others) = (Vec::new(), Vec::new(), Vec::new());
    for order in loaded {
        match order.status {
            OrderStatus::Pending => pending.push(order.id),
            OrderStatus::Reserved => reserved.push(order),
            _ => others.push(order.id),
        }
    }
    let mut notifications = Vec::new();
    let t_load = t0.elapsed();
    let moved = batch::reserve_many(db, &pending, email).await?;
    let t_reserve = t0.elapsed();
    notifications.extend(moved.notifications);
    reserved.extend(moved.orders);

    let charges = reserved.iter().map(|order| {
        let charge = Charge {
            order_id: order.id,
            idempotency_key: order.external_id.clone(),
            amount_cents: order.total_cents,
            currency: order.currency.clone(),
        };
        let gateway = Arc::clone(&cx.gateway);
        async move { (charge.order_id, gateway.charge(&charge).await) }
    });
    let (mut approved, mut declined) = (Vec::new(), Vec::new());
    for (id, outcome) in futures::future::join_all(charges).await {
        match outcome {
            Ok(ChargeOutcome::Approved { reference }) => approved.push((id, reference)),
            Ok(ChargeOutcome::Declined { .. }) => declined.push(id),
            // Not a decline: this order stays reserved and its job is retried.
            Err(e) => {
                results.insert(id, Err(format!("order {id}: {e}")));
            }
        }
    }
    let finished = batch::finalize_many(db, &approved, &declined, cx.gateway.name(), email).await?;
    let t_final = t0.elapsed();
    notifications.extend(finished.notifications);
    // One job for the whole batch's notifications (see `NotificationJob`).
    let jobs = NotificationJob::batches(&notifications, cx.settings().workflow.batch_size);
    cx.queues
        .queue::<NotificationJob>()
        .push_bulk(&jobs)
        .await?;
    tracing::debug!(
        orders = ids.len(),
        waited_ms = waited.map(|w| w.num_milliseconds()),
        loaded = ?t_load,
        reserved = ?t_reserve,
        finalized = ?t_final,
        queued = ?t0.elapsed(),
        "workflow batch (times since its start)"
    );

    // Terminal, unknown or otherwise unusual orders take the one-by-one path,
    // which re-pushes a notification left queued and reports a missing order.
    let found: std::collections::HashSet<i64> = pending
        .iter()
        .chain(others.iter())
        .copied()
        .chain(reserved.iter().map(|o| o.id))
        .collect();
    let unusual: Vec<i64> = others
        .into_iter()
        .chain(ids.iter().copied().filter(|id| !found.contains(id)))
        .collect();
    for id in unusual {
        results.insert(id, advance(cx, id).await.map_err(|e| e.to_string()));
    }
    for id in ids {
        results.entry(*id).or_insert(Ok(()));
    }
    Ok(results)
}
