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
        let day = args
            .get("date")
            .map(|raw| {
                kpi::day::parse(raw)
                    .map(kpi::day::format)
                    .map_err(|why| args.usage_error(&format!("argument `date` {why}, got `{raw}`")))
            })
            .transpose()?;
        let services = Services::of(ctx)?;
        let prefix = &services.settings.redis.prefix;
        let expected = kpi::rebuild(&ctx.db, &services.redis, prefix, day.as_deref())
            .await
            .map_err(|e| Error::string(&format!("kpi_rebuild failed: {e:#}")))?;
        match day {
            None => println!(
                "rebuilt {} day(s); {} customer(s) on the all-time board",
                expected.days.len(),
                expected.all_time.len()
            ),
            // A day's rebuild computes that day only: the all-time board was
            // left as it is, and its size is read from Redis, not from the day.
            Some(day) => {
                let mut conn = services.redis.clone();
                let all_time: u64 = redis::cmd("ZCARD")
                    .arg(kpi::store::all_time_key(prefix))
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| Error::string(&format!("kpi_rebuild failed: {e}")))?;
                println!(
                    "rebuilt {day}: {} customer(s) on its board; the all-time board (not rebuilt) holds {all_time}",
                    expected.day_boards.get(&day).map_or(0, std::collections::BTreeMap::len),
                );
            }
        }
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
