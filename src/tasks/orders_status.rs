//! `cargo loco task orders_status [format=text|json]`
use loco_rs::{
    app::AppContext,
    task::{Task, TaskInfo, Vars},
    Result,
};

use super::args::{Arg, TaskArgs};
use crate::models::pipeline::PipelineStatus;

const NAME: &str = "orders_status";
const ARGS: &[Arg] = &[Arg::optional("format", "text (default) or json")];

/// Prints orders by status, notifications by status, unapplied KPI events and stock units.
pub struct OrdersStatus;

#[async_trait::async_trait]
impl Task for OrdersStatus {
    fn task(&self) -> TaskInfo {
        TaskInfo {
            name: NAME.to_string(),
            detail: "Orders, notifications, KPI events and stock, from the database".to_string(),
        }
    }

    async fn run(&self, ctx: &AppContext, vars: &Vars) -> Result<()> {
        let args = TaskArgs::parse(NAME, ARGS, vars)?;
        let json = args.json_format()?;
        let status = PipelineStatus::read(&ctx.db).await?;
        if json {
            println!("{}", serde_json::to_string(&status)?);
            return Ok(());
        }
        println!(
            "orders:        {:?} (open: {})",
            status.orders_by_status, status.orders_open
        );
        println!("notifications: {:?}", status.notifications_by_status);
        println!("imports still writing: {}", status.imports_unfinished);
        println!(
            "kpi events not yet in Redis: {}",
            status.kpi_events_unapplied
        );
        println!(
            "products: {}, units in stock: {}, units sold: {}",
            status.products, status.stock_units, status.sold_units
        );
        println!(
            "settled (nothing left to do): {}",
            if status.settled { "yes" } else { "no" }
        );
        Ok(())
    }
}
