//! `cargo loco task orders_generate file=PATH orders=N [format=items|orders] [seed=S] [customers=C] [products=P]`
use std::{fs::File, io::BufWriter, path::Path, time::Instant};

use chrono::{Timelike, Utc};
use loco_rs::{
    app::AppContext,
    task::{Task, TaskInfo, Vars},
    Error, Result,
};

use super::args::{Arg, TaskArgs};
use crate::models::{
    generator::{generate, GenerateOptions},
    import::Format,
};

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

/// Largest file the generator writes, in orders (about 45 GB in the items format).
pub const MAX_ORDERS: u64 = 100_000_000;
/// Orders generated into a counting sink to estimate the file's size.
const SAMPLE_ORDERS: u64 = 2_000;
/// Free space left after the file: the disk is shared with the database.
const SPARE_BYTES: u64 = 1 << 30;

/// Refuses to start a file that would not fit: its size is estimated from
/// a sample (same options, fewer orders) and compared with the free space of
/// the target's file system, keeping [`SPARE_BYTES`] free.
fn check_room(path: &Path, options: &GenerateOptions) -> Result<()> {
    let sample_orders = options.orders.min(SAMPLE_ORDERS);
    let sample = GenerateOptions {
        orders: sample_orders,
        ..options.clone()
    };
    let sampled = generate(std::io::sink(), sample)
        .map_err(|e| Error::string(&format!("cannot generate: {e}")))?;
    let per_order = sampled.bytes.div_ceil(sample_orders.max(1));
    // 10 % margin: order numbers get longer further down a big file.
    let needed = per_order.saturating_mul(options.orders) / 10 * 11;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let free = free_bytes(dir).map_err(|e| {
        Error::string(&format!(
            "cannot read the free space of {}: {e}",
            dir.display()
        ))
    })?;
    if needed.saturating_add(SPARE_BYTES) > free {
        return Err(Error::string(&format!(
            "not enough disk space for {} orders: the file needs about {} MB, {} has {} MB free (and {} MB are kept spare)",
            options.orders,
            needed / 1_000_000,
            dir.display(),
            free / 1_000_000,
            SPARE_BYTES / 1_000_000
        )));
    }
    Ok(())
}

/// Bytes an unprivileged user may still write on the file system of `dir`.
fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `c_path` is a valid NUL-terminated string and `stat` a plain
    // C struct that statvfs fills in; nothing is kept past the call.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // Both are u64 on Linux (c_ulong / fsblkcnt_t).
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

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
        if orders > MAX_ORDERS {
            return Err(args.usage_error(&format!(
                "argument `orders` must be at most {MAX_ORDERS} (a larger file is not a demo or a benchmark)"
            )));
        }
        check_room(path, &options)?;
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
