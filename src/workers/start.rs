//! Worker start-up: every product queue in one process, plus the loops that
//! keep the domain in step with Redis (KPI outbox drain, heal, recovery sweep).
use std::{sync::Arc, time::Duration};

use loco_rs::{app::AppContext, Result};
use tokio::sync::watch;

use super::{register_all, worker_set, JobContext};
use crate::queue::{stop_requested, Lease, WorkerProcess};

/// How stale the live figures may be.
const KPI_DRAIN_EVERY: Duration = Duration::from_millis(200);
/// How long one process may drain before another may start too. A drainer that
/// dies holding it delays the figures this long; two at once are only wasteful
/// (applying is idempotent).
const KPI_DRAIN_LEASE: Duration = Duration::from_secs(30);

/// Starts every product queue in this process and keeps the handle for shutdown.
///
/// # Errors
/// When the workers cannot start.
pub async fn spawn(ctx: &AppContext) -> Result<()> {
    // The one context of this process: every job and loop below shares it.
    let cx = JobContext::of(ctx)?;
    let process = register_all(worker_set(&cx)).start().await?;
    process.attach(|stop| recovery_loop(Arc::clone(&cx), stop));
    process.attach(|stop| kpi_loop(Arc::clone(&cx), stop));
    process.attach(|stop| heal_loop(cx, stop));
    process.install(ctx);
    Ok(())
}

/// Drains the workers started by [`spawn`], if any.
pub async fn shutdown(ctx: &AppContext) {
    WorkerProcess::shutdown(ctx).await;
}

/// Applies committed KPI events to Redis (the outbox drain) several times a second.
/// When Redis is unreachable the events wait in the database and go on the next tick.
async fn kpi_loop(cx: Arc<JobContext>, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(KPI_DRAIN_EVERY);
    loop {
        tokio::select! {
            () = stop_requested(&mut stop) => return,
            _ = every.tick() => drain_if_free(&cx).await,
        }
    }
}

/// One drain, unless another worker process is draining. Two drainers would read
/// the same events, apply them twice (the second time a no-op in Redis) and wait
/// on each other's row locks marking them: measured, every event was marked twice
/// with two worker processes.
async fn drain_if_free(cx: &JobContext) {
    let lease = match Lease::acquire(&cx.queues, "kpi-drain", KPI_DRAIN_LEASE).await {
        Ok(Some(lease)) => lease,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "KPI drain lease unavailable; events stay queued in the database");
            return;
        }
    };
    let drained =
        crate::models::kpi::drain(&cx.app.db, &cx.queues.redis, &cx.settings().redis.prefix).await;
    if let Err(e) = drained {
        tracing::warn!(error = %e, "applying KPI events failed; they stay queued in the database");
    }
    if let Err(e) = lease.release().await {
        tracing::warn!(error = %e, "releasing the KPI drain lease failed; it expires");
    }
}

/// Checks on every heartbeat (and at start) whether Redis lost its data, and
/// heals it when no other process does (see `heal`).
async fn heal_loop(cx: Arc<JobContext>, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs(cx.settings().apalis.heartbeat_secs.max(1));
    let mut beat = tokio::time::interval(every);
    loop {
        tokio::select! {
            () = stop_requested(&mut stop) => return,
            _ = beat.tick() => {
                if let Err(e) = super::heal::heal_if_lost(&cx).await {
                    tracing::warn!(error = %format!("{e:#}"), "healing Redis failed; trying again next heartbeat");
                }
            }
        }
    }
}

/// Runs the recovery sweep at start and then every `stuck_after / 2`.
async fn recovery_loop(cx: Arc<JobContext>, mut stop: watch::Receiver<bool>) {
    let stuck_after = Duration::from_secs(cx.settings().workflow.stuck_after_secs);
    let mut every = tokio::time::interval((stuck_after / 2).max(Duration::from_secs(5)));
    loop {
        tokio::select! {
            () = stop_requested(&mut stop) => return,
            _ = every.tick() => {
                if let Err(e) = super::recovery::sweep(&cx, stuck_after).await {
                    tracing::warn!(error = %e, "recovery sweep failed");
                }
            }
        }
    }
}
