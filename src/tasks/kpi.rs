//! `cargo loco task kpi_rebuild [date=YYYY-MM-DD]` and `cargo loco task kpi_verify`.
use loco_rs::{
    app::AppContext,
    task::{Task, TaskInfo, Vars},
    Error, Result,
};

use super::args::{Arg, TaskArgs};
use crate::{models::kpi, workers::Services};

const REBUILD: &str = "kpi_rebuild";
const REBUILD_ARGS: &[Arg] = &[Arg::optional(
    "date",
    "only this day (YYYY-MM-DD); default: every day and both leaderboards",
)];
const VERIFY: &str = "kpi_verify";

/// Recomputes the figures and leaderboards in Redis from the database.
pub struct KpiRebuild;

#[async_trait::async_trait]
impl Task for KpiRebuild {
    fn task(&self) -> TaskInfo {
        TaskInfo {
            name: REBUILD.to_string(),
            detail: "Recompute KPIs and leaderboards in Redis from the database".to_string(),
        }
    }

    async fn run(&self, ctx: &AppContext, vars: &Vars) -> Result<()> {
        let args = TaskArgs::parse(REBUILD, REBUILD_ARGS, vars)?;
        let day = match args.get("date") {
            Some(raw) => Some(
                chrono::NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
                    .map_err(|_| {
                        args.usage_error(&format!("`date` must be YYYY-MM-DD, got `{raw}`"))
                    })?
                    .format("%Y-%m-%d")
                    .to_string(),
            ),
            None => None,
        };
        let services = Services::of(ctx)?;
        let expected = kpi::rebuild(
            &ctx.db,
            &services.redis,
            &services.settings.redis.prefix,
            day.as_deref(),
        )
        .await
        .map_err(|e| Error::string(&format!("kpi_rebuild failed: {e:#}")))?;
        println!(
            "rebuilt {} day(s){}; {} customer(s) on the all-time board",
            day.as_ref().map_or(expected.days.len(), |_| 1),
            day.map_or_else(String::new, |d| format!(" ({d})")),
            expected.all_time.len()
        );
        Ok(())
    }
}

/// Compares Redis with the database and fails listing every difference.
pub struct KpiVerify;

#[async_trait::async_trait]
impl Task for KpiVerify {
    fn task(&self) -> TaskInfo {
        TaskInfo {
            name: VERIFY.to_string(),
            detail: "Compare KPIs in Redis with the database; non-zero exit on any difference"
                .to_string(),
        }
    }

    async fn run(&self, ctx: &AppContext, vars: &Vars) -> Result<()> {
        TaskArgs::parse(VERIFY, &[], vars)?;
        let services = Services::of(ctx)?;
        let diffs = kpi::verify(&ctx.db, &services.redis, &services.settings.redis.prefix)
            .await
            .map_err(|e| Error::string(&format!("kpi_verify failed: {e:#}")))?;
        if diffs.is_empty() {
            println!("KPIs in Redis equal the database");
            return Ok(());
        }
        for diff in &diffs {
            println!("{}", diff.0);
        }
        Err(Error::string(&format!(
            "{} difference(s) between Redis and the database",
            diffs.len()
        )))
    }
}
