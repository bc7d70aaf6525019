//! `cargo loco task queues_dead queue=NAME [limit=20] [format=text|json]`
use loco_rs::{
    app::AppContext,
    task::{Task, TaskInfo, Vars},
    Error, Result,
};

use super::{
    args::{Arg, TaskArgs},
    queue_args::{operated_queue, QUEUE},
};
use crate::workers::dead;

const NAME: &str = "queues_dead";
const ARGS: &[Arg] = &[
    QUEUE,
    Arg::optional("limit", "how many, newest first (default 20, at most 1000)"),
    Arg::optional("format", "text (default) or json (with payloads)"),
];

/// Lists a queue's dead jobs: id, when it died, attempts, last error.
pub struct QueuesDead;

#[async_trait::async_trait]
impl Task for QueuesDead {
    fn task(&self) -> TaskInfo {
        TaskInfo {
            name: NAME.to_string(),
            detail: "List a queue's dead jobs, newest first".to_string(),
        }
    }

    async fn run(&self, ctx: &AppContext, vars: &Vars) -> Result<()> {
        let args = TaskArgs::parse(NAME, ARGS, vars)?;
        let limit = args.parsed::<usize>("limit")?.unwrap_or(20);
        if !(1..=1000).contains(&limit) {
            return Err(args.usage_error("`limit` must be from 1 to 1000"));
        }
        let json = args.json_format()?;
        let (queue, mut conn) = operated_queue(ctx, &args)?;
        let page = dead::list(&mut conn, &queue, limit)
            .await
            .map_err(|e| Error::string(&e.to_string()))?;
        if json {
            println!("{}", serde_json::to_string_pretty(&page)?);
            return Ok(());
        }
        println!("{}: {} dead job(s)", page.queue, page.total);
        for job in &page.jobs {
            let died = job
                .died_at
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                .map_or_else(|| "?".to_string(), |t| t.to_rfc3339());
            println!(
                "{}  died {}  attempts {}  {}",
                job.id,
                died,
                job.attempts
                    .map_or_else(|| "?".to_string(), |a| a.to_string()),
                job.last_error.as_deref().unwrap_or("")
            );
        }
        Ok(())
    }
}
