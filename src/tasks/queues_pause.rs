//! `cargo loco task queues_pause queue=NAME` and `queues_resume queue=NAME`:
//! the queue's workers, in every process, stop (or start again) fetching jobs.
use loco_rs::{
    app::AppContext,
    task::{Task, TaskInfo, Vars},
    Error, Result,
};

use super::{
    args::{Arg, TaskArgs},
    queue_args::{operated_queue, QUEUE},
};
use crate::queue::pause;

const PAUSE: &str = "queues_pause";
const RESUME: &str = "queues_resume";
const ARGS: &[Arg] = &[QUEUE];

/// Pauses a queue: queued jobs wait until it is resumed.
pub struct QueuesPause;

/// Resumes a paused queue.
pub struct QueuesResume;

#[async_trait::async_trait]
impl Task for QueuesPause {
    fn task(&self) -> TaskInfo {
        TaskInfo {
            name: PAUSE.to_string(),
            detail: "Pause a queue: its workers fetch nothing until queues_resume".to_string(),
        }
    }

    async fn run(&self, ctx: &AppContext, vars: &Vars) -> Result<()> {
        set(ctx, vars, PAUSE, true).await
    }
}

#[async_trait::async_trait]
impl Task for QueuesResume {
    fn task(&self) -> TaskInfo {
        TaskInfo {
            name: RESUME.to_string(),
            detail: "Resume a paused queue".to_string(),
        }
    }

    async fn run(&self, ctx: &AppContext, vars: &Vars) -> Result<()> {
        set(ctx, vars, RESUME, false).await
    }
}

async fn set(ctx: &AppContext, vars: &Vars, task: &'static str, paused: bool) -> Result<()> {
    let args = TaskArgs::parse(task, ARGS, vars)?;
    let (queue, mut conn) = operated_queue(ctx, &args)?;
    let changed = pause::set_paused(&mut conn, &queue.full, paused)
        .await
        .map_err(|e| Error::string(&e.to_string()))?;
    let state = if paused { "paused" } else { "resumed" };
    let already = if changed { "" } else { " (it already was)" };
    println!("{}: {state}{already}", queue.short);
    Ok(())
}
