//! `cargo loco task queues_retry queue=NAME (id=JOB_ID | all=true)`
use loco_rs::{
    app::AppContext,
    task::{Task, TaskInfo, Vars},
    Error, Result,
};

use super::args::{Arg, TaskArgs};
use crate::workers::{
    dead::{OperatedQueue, RetryRequest},
    Services,
};

const NAME: &str = "queues_retry";
const ARGS: &[Arg] = &[
    Arg::required(
        "queue",
        "orders:import, orders:workflow, notifications or refunds",
    ),
    Arg::optional("id", "the dead job to queue again (see queues_dead)"),
    Arg::optional("all", "true: queue every dead job of the queue again"),
];

/// Queues dead jobs again, with fresh attempts.
pub struct QueuesRetry;

#[async_trait::async_trait]
impl Task for QueuesRetry {
    fn task(&self) -> TaskInfo {
        TaskInfo {
            name: NAME.to_string(),
            detail: "Queue a queue's dead jobs again (one id, or all=true)".to_string(),
        }
    }

    async fn run(&self, ctx: &AppContext, vars: &Vars) -> Result<()> {
        let args = TaskArgs::parse(NAME, ARGS, vars)?;
        let request = dead_jobs_named(&args)?;
        let services = Services::of(ctx)?;
        let queue = OperatedQueue::resolve(&services.settings, args.require("queue")?)
            .map_err(|e| args.usage_error(&e.to_string()))?;
        let mut conn = services.redis.clone();
        let outcome = request
            .run(&mut conn, &ctx.db, &queue)
            .await
            .map_err(|e| Error::string(&e.to_string()))?;
        println!(
            "{}: {} dead job(s) queued again{}",
            queue.short,
            outcome.retried,
            if outcome.skipped > 0 {
                format!(", {} left dead (payload missing)", outcome.skipped)
            } else {
                String::new()
            }
        );
        Ok(())
    }
}

/// The dead jobs a task names: `id=JOB_ID` or `all=true`, one of the two
/// (`queues_retry` and `queues_discard` take the same arguments).
///
/// # Errors
/// A usage error for both, neither, or `all` other than `true`.
pub(super) fn dead_jobs_named(args: &TaskArgs<'_>) -> Result<RetryRequest> {
    match (args.get("id"), args.get("all")) {
        (Some(id), None) => Ok(RetryRequest::Ids(vec![id.trim().to_string()])),
        (None, Some("true")) => Ok(RetryRequest::All),
        (None, Some(other)) => Err(args.usage_error(&format!("`all` must be true, got `{other}`"))),
        (Some(_), Some(_)) => Err(args.usage_error("give either id= or all=true")),
        (None, None) => Err(args.usage_error("give id=JOB_ID or all=true")),
    }
}
