//! `cargo loco task orders_recover [stuck_after=SECONDS]`
use std::time::Duration;

use loco_rs::{
    app::AppContext,
    task::{Task, TaskInfo, Vars},
    Error, Result,
};

use super::args::{Arg, TaskArgs};
use crate::workers::{recovery, JobContext};

const NAME: &str = "orders_recover";
const ARGS: &[Arg] = &[Arg::optional(
    "stuck_after",
    "seconds without progress before work counts as lost (default: settings.workflow.stuck_after_secs)",
)];

/// Queues again the orders, refunds and notifications that stopped moving.
pub struct OrdersRecover;

#[async_trait::async_trait]
impl Task for OrdersRecover {
    fn task(&self) -> TaskInfo {
        TaskInfo {
            name: NAME.to_string(),
            detail: "Queue again orders, refunds and notifications left unfinished (lost jobs)"
                .to_string(),
        }
    }

    async fn run(&self, ctx: &AppContext, vars: &Vars) -> Result<()> {
        let args = TaskArgs::parse(NAME, ARGS, vars)?;
        let cx = JobContext::of(ctx)?;
        let default = cx.settings().workflow.stuck_after_secs;
        let stuck_after = args.parsed::<u64>("stuck_after")?.unwrap_or(default);
        let report = recovery::sweep(&cx, Duration::from_secs(stuck_after))
            .await
            .map_err(|e| Error::string(&format!("recovery sweep failed: {e:#}")))?;
        println!(
            "orders queued again: {}\nrefunds queued again: {}\nnotifications queued again: {}\nexpired idempotency keys deleted: {}{}",
            report.orders_requeued,
            report.refunds_requeued,
            report.notifications_requeued,
            report.keys_purged,
            if report.skipped_busy_queues > 0 {
                "\n(a queue still had jobs waiting; its rows were left for a later sweep)"
            } else {
                ""
            }
        );
        Ok(())
    }
}
