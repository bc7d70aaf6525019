//! `cargo loco task orders_generate file=PATH orders=N [format=items|orders] [seed=S] [customers=C] [products=P]`
use std::{fs::File, io::BufWriter, path::Path, time::Instant};

use chrono::{Timelike, Utc};
use loco_rs::{
    app::AppContext,
    task::{Task, TaskInfo, Vars},
    Error, Result,
};

use super::args::{Arg, TaskArgs};
use crate::models::import::{generate, Format, GenerateOptions};

const NAME: &str = "orders_generate";
const ARGS: &[Arg] = &[
    Arg::required("file", "where to write the CSV (replaced if it exists)"),
    Arg::required("orders", "number of orders"),
    Arg::optional(
        "format",
        "items (default, one row per item) or orders (JSON items)",
    ),
    Arg::optional(
        "seed",
        "drives every random choice (default 1): same seed, same file",
    ),
    Arg::optional("customers", "size of the customer base (default 10000)"),
    Arg::optional("products", "size of the catalog (default 1000)"),
];

/// Writes a realistic, reproducible order file for demos and benchmarks.
pub struct OrdersGenerate;

#[async_trait::async_trait]
impl Task for OrdersGenerate {
    fn task(&self) -> TaskInfo {
        TaskInfo {
            name: NAME.to_string(),
            detail: "Write a reproducible CSV of N orders (items or orders format)".to_string(),
        }
    }

    async fn run(&self, _ctx: &AppContext, vars: &Vars) -> Result<()> {
        let args = TaskArgs::parse(NAME, ARGS, vars)?;
        let path = Path::new(args.require("file")?);
        let orders = args
            .parsed::<u64>("orders")?
            .ok_or_else(|| args.usage_error("argument `orders` needs a value"))?;
        let format = match args.get("format") {
            Some(raw) => raw.parse::<Format>().map_err(|e| args.usage_error(&e))?,
            None => Format::Items,
        };
        let customers = args.parsed::<u64>("customers")?.unwrap_or(10_000);
        let products = args.parsed::<u64>("products")?.unwrap_or(1_000);
        if customers == 0 || products == 0 {
            return Err(args.usage_error("`customers` and `products` must be at least 1"));
        }
        let options = GenerateOptions {
            orders,
            format,
            seed: args.parsed::<u64>("seed")?.unwrap_or(1),
            customers,
            products,
            // The 30-day window ends at today's midnight UTC, not at this
            // instant: the same arguments give the same bytes all day long.
            now: Utc::now()
                .with_hour(0)
                .and_then(|t| t.with_minute(0))
                .and_then(|t| t.with_second(0))
                .and_then(|t| t.with_nanosecond(0))
                .unwrap_or_else(Utc::now),
        };
        let started = Instant::now();
        let file = File::create(path)
            .map_err(|e| Error::string(&format!("cannot create {}: {e}", path.display())))?;
        // The generator writes 64 KiB blocks itself; the BufWriter only
        // guards against a future change of that.
        let stats = generate(BufWriter::new(file), options)
            .map_err(|e| Error::string(&format!("cannot write {}: {e}", path.display())))?;
        let secs = started.elapsed().as_secs_f64();
        println!("wrote {} ({format} format)", path.display());
        println!("  orders   {}", stats.orders);
        println!("  rows     {}", stats.rows);
        println!("  items    {}", stats.items);
        println!("  bytes    {}", stats.bytes);
        println!("  elapsed  {secs:.2} s");
        Ok(())
    }
}
