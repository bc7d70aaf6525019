//! `cargo loco task orders_check [import=ID] [format=text|env]`
//!
//! The checks the benchmark and the demo run once a run has settled, in Rust so
//! that the scripts need nothing but bash: every order terminal with exactly
//! one notification, stock conserved, KPIs in Redis equal to the database, no
//! dead job, and the import (if named) done with every order. It also reports
//! how long orders took. Exits non-zero, naming each failure, unless all hold.
use loco_rs::{
    app::AppContext,
    task::{Task, TaskInfo, Vars},
    Error, Result,
};

use super::args::{Arg, TaskArgs};
use crate::{
    models::{
        _entities::imports,
        kpi,
        pipeline::{self, OrderLatency, PipelineStatus},
        statuses::{ImportState, NotificationStatus},
    },
    queue::queue_names,
    workers::{dead, Services},
};

const NAME: &str = "orders_check";
const ARGS: &[Arg] = &[
    Arg::optional(
        "import",
        "also check that this import finished with every order",
    ),
    Arg::optional(
        "format",
        "text (default) or env (key=value lines, for scripts)",
    ),
];

/// Checks that a finished run lost nothing and did nothing twice.
pub struct OrdersCheck;

#[async_trait::async_trait]
impl Task for OrdersCheck {
    fn task(&self) -> TaskInfo {
        TaskInfo {
            name: NAME.to_string(),
            detail: "Check a settled run: orders terminal, one notification each, stock, KPIs, dead jobs"
                .to_string(),
        }
    }

    async fn run(&self, ctx: &AppContext, vars: &Vars) -> Result<()> {
        let args = TaskArgs::parse(NAME, ARGS, vars)?;
        let import_id = args.parsed::<i64>("import")?;
        let env = match args.get("format").unwrap_or("text") {
            "text" => false,
            "env" => true,
            other => return Err(args.usage_error(&format!("unknown format `{other}`"))),
        };
        let services = Services::of(ctx)?;
        let status = PipelineStatus::read(&ctx.db).await?;
        let mut failures = Vec::new();

        if status.orders_total == 0 {
            failures.push("there are no orders".to_string());
        }
        if status.orders_open > 0 {
            failures.push(format!(
                "{} order(s) are not paid or failed yet",
                status.orders_open
            ));
        }
        let unnotified = pipeline::orders_without_one_notification(&ctx.db).await?;
        if unnotified > 0 {
            failures.push(format!(
                "{unnotified} order(s) do not have exactly one notification"
            ));
        }
        let queued = status
            .notifications_by_status
            .get(NotificationStatus::Queued.as_str())
            .copied()
            .unwrap_or(0);
        if queued > 0 {
            failures.push(format!("{queued} notification(s) are still queued"));
        }
        // Every product starts with `settings.stock.initial` units; paid items
        // left the stock and nothing else moves it in a run without restocks.
        let initial = services.settings.stock.initial;
        let products = i64::try_from(status.products).unwrap_or(i64::MAX);
        let expected_units = products.saturating_mul(initial);
        if status.stock_units + status.sold_units != expected_units {
            failures.push(format!(
                "stock is not conserved: {} in stock + {} sold != {} products x {initial}",
                status.stock_units, status.sold_units, status.products
            ));
        }
        let diffs = kpi::verify(&ctx.db, &services.redis, &services.settings.redis.prefix)
            .await
            .map_err(|e| Error::string(&format!("orders_check: reading the KPIs failed: {e:#}")))?;
        if let Some(first) = diffs.first() {
            failures.push(format!(
                "{} KPI difference(s) between Redis and the database, first: {}",
                diffs.len(),
                first.0
            ));
        }
        failures.extend(dead_jobs(&services).await?);
        if let Some(id) = import_id {
            failures.extend(import_failure(ctx, id).await?);
        }
        let latency = OrderLatency::read(&ctx.db).await?;

        if env {
            println!("orders={}", status.orders_total);
            println!("finished={}", latency.finished);
            println!("p50_ms={}", latency.p50_ms);
            println!("p99_ms={}", latency.p99_ms);
            println!(
                "first_paid_at_ms={}",
                latency
                    .first_paid_at_ms
                    .map_or(String::new(), |v| v.to_string())
            );
            println!(
                "checks={}",
                if failures.is_empty() { "pass" } else { "fail" }
            );
        } else {
            println!(
                "orders: {} ({} finished), latency p50 {} ms, p99 {} ms",
                status.orders_total, latency.finished, latency.p50_ms, latency.p99_ms
            );
        }
        for failure in &failures {
            eprintln!("check failed: {failure}");
        }
        if failures.is_empty() {
            if !env {
                println!("every check passed");
            }
            Ok(())
        } else {
            Err(Error::string(&format!(
                "{} check(s) failed",
                failures.len()
            )))
        }
    }
}

/// Why the import `id` did not finish with every order, if it did not.
async fn import_failure(ctx: &AppContext, id: i64) -> Result<Option<String>> {
    use sea_orm::EntityTrait;
    let Some(import) = imports::Entity::find_by_id(id).one(&ctx.db).await? else {
        return Ok(Some(format!("import {id} does not exist")));
    };
    if import.state != ImportState::Done {
        return Ok(Some(format!("import {id} is `{}`, not done", import.state)));
    }
    if import.orders_created + import.duplicates_skipped != import.orders_read {
        return Ok(Some(format!(
            "import {id}: {} created + {} duplicates != {} orders read",
            import.orders_created, import.duplicates_skipped, import.orders_read
        )));
    }
    Ok(None)
}

/// One failure per queue with dead jobs, naming the newest death's error: a
/// dead job after a run is a bug or a fault, and "how many" alone does not say
/// which.
async fn dead_jobs(services: &Services) -> Result<Vec<String>> {
    let mut failures = Vec::new();
    let mut conn = services.redis.clone();
    for short in queue_names::ALL {
        let queue = dead::OperatedQueue::resolve(&services.settings, short)
            .map_err(|e| Error::string(&e.to_string()))?;
        let newest = dead::list(&mut conn, &queue, 1)
            .await
            .map_err(|e| Error::string(&format!("orders_check: reading {short}: {e}")))?;
        if newest.total == 0 {
            continue;
        }
        let why = newest.jobs.first().map_or_else(
            || "none readable".to_string(),
            |job| {
                format!(
                    "job {} after {} attempt(s): {}",
                    job.id,
                    job.attempts
                        .map_or_else(|| "?".to_string(), |a| a.to_string()),
                    job.last_error.as_deref().unwrap_or("no error recorded")
                )
            },
        );
        failures.push(format!(
            "{} job(s) in the dead set of {short}, newest: {why}",
            newest.total
        ));
    }
    Ok(failures)
}
