//! `cargo loco task queues_status [queue=NAME] [format=text|json]`
use loco_rs::{
    app::AppContext,
    task::{Task, TaskInfo, Vars},
    Result,
};

use super::args::{Arg, TaskArgs};
use crate::{controllers::queues::all_counts, queue::queue_names};

const NAME: &str = "queues_status";
const ARGS: &[Arg] = &[
    Arg::optional(
        "queue",
        "only this queue (orders:import, orders:workflow, notifications, refunds)",
    ),
    Arg::optional("format", "text (default) or json"),
];

/// Prints how many jobs wait, run, finished and died in each queue.
pub struct QueuesStatus;

#[async_trait::async_trait]
impl Task for QueuesStatus {
    fn task(&self) -> TaskInfo {
        TaskInfo {
            name: NAME.to_string(),
            detail: "Show pending, running, done and dead jobs per queue".to_string(),
        }
    }

    async fn run(&self, ctx: &AppContext, vars: &Vars) -> Result<()> {
        let args = TaskArgs::parse(NAME, ARGS, vars)?;
        let only = args.get("queue");
        if let Some(queue) = only {
            if !queue_names::ALL.contains(&queue) {
                return Err(args.usage_error(&format!("unknown queue `{queue}`")));
            }
        }
        let json = args.json_format()?;
        let mut counts = all_counts(ctx).await?;
        if let Some(queue) = only {
            counts.retain(|c| c.queue.ends_with(&format!(":{queue}")));
        }
        if json {
            println!("{}", serde_json::to_string_pretty(&counts)?);
            return Ok(());
        }
        println!(
            "{:<40} {:>9} {:>9} {:>9} {:>11} {:>7} {:>7} {:>5}",
            "queue", "pending", "scheduled", "running", "done", "dead", "workers", "live"
        );
        for c in &counts {
            println!(
                "{:<40} {:>9} {:>9} {:>9} {:>11} {:>7} {:>7} {:>5}",
                c.queue,
                c.pending,
                c.scheduled,
                c.running,
                c.done,
                c.dead,
                c.workers,
                c.live_workers
            );
        }
        for c in counts.iter().filter(|c| c.paused) {
            println!(
                "! {}: paused, its workers fetch nothing ({} job(s) wait); resume: cargo loco task queues_resume queue=NAME",
                c.queue,
                c.pending + c.scheduled
            );
        }
        for c in counts.iter().filter(|c| c.unattended()) {
            println!(
                "! {}: {} job(s) wait and no worker is alive; start one: cargo loco start --worker",
                c.queue,
                c.pending + c.scheduled
            );
        }
        Ok(())
    }
}
