//! `cargo loco task queues_retry queue=NAME (id=JOB_ID | all=true)`
use loco_rs::{
    app::AppContext,
    task::{Task, TaskInfo, Vars},
    Error, Result,
};

use super::{
    args::{Arg, TaskArgs},
    queue_args::{dead_jobs_named, operated_queue, QUEUE},
};

const NAME: &str = "queues_retry";
const ARGS: &[Arg] = &[
    QUEUE,
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
        let (queue, mut conn) = operated_queue(ctx, &args)?;
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
