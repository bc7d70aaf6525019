//! `cargo loco task queues_discard queue=NAME (id=JOB_ID | all=true)`
use loco_rs::{
    app::AppContext,
    task::{Task, TaskInfo, Vars},
    Error, Result,
};

use super::{
    args::{Arg, TaskArgs},
    queue_args::{dead_jobs_named, operated_queue, QUEUE},
};

const NAME: &str = "queues_discard";
const ARGS: &[Arg] = &[
    QUEUE,
    Arg::optional("id", "the dead job to discard (see queues_dead)"),
    Arg::optional("all", "true: discard every dead job of the queue"),
];

/// Removes dead jobs for good; their database rows stay as they are.
pub struct QueuesDiscard;

#[async_trait::async_trait]
impl Task for QueuesDiscard {
    fn task(&self) -> TaskInfo {
        TaskInfo {
            name: NAME.to_string(),
            detail: "Discard a queue's dead jobs (one id, or all=true); rows stay as they are"
                .to_string(),
        }
    }

    async fn run(&self, ctx: &AppContext, vars: &Vars) -> Result<()> {
        let args = TaskArgs::parse(NAME, ARGS, vars)?;
        let request = dead_jobs_named(&args)?;
        let (queue, mut conn) = operated_queue(ctx, &args)?;
        let discarded = request
            .discard(&mut conn, &queue)
            .await
            .map_err(|e| Error::string(&e.to_string()))?;
        println!("{}: {discarded} dead job(s) discarded", queue.short);
        Ok(())
    }
}
