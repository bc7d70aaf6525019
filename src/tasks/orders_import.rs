//! `cargo loco task orders_import file=PATH [chunk_size=N] [currency=EUR] [wait=true|false]`
use std::{path::Path, time::Instant};

use loco_rs::{
    app::AppContext,
    task::{Task, TaskInfo, Vars},
    Error, Result,
};

use super::{
    args::{Arg, TaskArgs},
    progress::Bars,
};
use crate::models::{
    import::StreamOptions,
    import_run::{
        ImportEvent, ImportFile, ImportProgress, Queued, WaitEnd, MAX_PENDING_CHUNKS,
        WARNINGS_SHOWN,
    },
    imports::Model as Import,
};

const NAME: &str = "orders_import";
const ARGS: &[Arg] = &[
    Arg::required(
        "file",
        "the order file (orders or items format, detected from the header)",
    ),
    Arg::optional("chunk_size", "orders per import-chunk job (default 1000)"),
    Arg::optional(
        "currency",
        "currency of orders-format files, which carry none (default EUR)",
    ),
    Arg::optional(
        "wait",
        "true (default): wait until every chunk is written; false: return once queued",
    ),
];

/// Streams an order file into import-chunk jobs and prints a summary.
pub struct OrdersImport;

#[async_trait::async_trait]
impl Task for OrdersImport {
    fn task(&self) -> TaskInfo {
        TaskInfo {
            name: NAME.to_string(),
            detail: "Import an order file: validate, queue import-chunk jobs, print a summary"
                .to_string(),
        }
    }

    async fn run(&self, ctx: &AppContext, vars: &Vars) -> Result<()> {
        let args = TaskArgs::parse(NAME, ARGS, vars)?;
        let path = Path::new(args.require("file")?);
        let defaults = StreamOptions::default();
        let chunk_size = args
            .parsed::<usize>("chunk_size")?
            .unwrap_or(defaults.chunk_size);
        if chunk_size == 0 {
            return Err(args.usage_error("argument `chunk_size` must be at least 1"));
        }
        let caps = crate::settings::Settings::of(ctx)?.import;
        let options = StreamOptions {
            chunk_size,
            max_line_bytes: caps.max_line_bytes,
            max_field_chars: caps.max_field_chars,
            max_id_chars: caps.max_id_chars,
            default_currency: args.get("currency").unwrap_or("EUR").to_owned(),
            ..defaults
        };
        let wait = args.parsed::<bool>("wait")?.unwrap_or(true);

        let started = Instant::now();
        // Header and file problems stop here, before anything is written.
        let file = ImportFile::open(path, options).map_err(fail)?;
        let size = std::fs::metadata(path).map_or(0, |m| m.len());
        let bars = Bars::new(size);
        let queued = file.import(ctx, &bars).await.map_err(fail)?;
        bars.finish_reading();

        let end = if wait {
            Some(queued.wait(ctx, &bars).await.map_err(fail)?)
        } else {
            None
        };
        bars.finish();
        let import = match &end {
            Some(
                WaitEnd::Finished(import) | WaitEnd::NoWorkers(import) | WaitEnd::Stalled(import),
            ) => import.clone(),
            None => Import::find_by_id(&ctx.db, queued.import_id)
                .await?
                .ok_or_else(|| Error::string("the import row disappeared"))?,
        };
        print_summary(&import, &queued, started);
        match end {
            Some(WaitEnd::Finished(_)) => Ok(()),
            Some(WaitEnd::NoWorkers(_)) => {
                println!(
                    "no worker is consuming the import queue: the chunks stay queued until one runs \
                     (`cargo loco start --worker`); follow it with GET /api/imports/{}",
                    import.id
                );
                Ok(())
            }
            Some(WaitEnd::Stalled(_)) => Err(Error::string(&format!(
                "import {} stopped with {} of {} chunks written: see the dead jobs \
                 (`cargo loco task queues_status queue=orders:import`)",
                import.id, import.chunks_done, import.chunks_total
            ))),
            None => {
                println!("follow it: GET /api/imports/{}", import.id);
                Ok(())
            }
        }
    }
}

/// One line on stderr (through `main`) and a non-zero exit.
fn fail(e: impl std::fmt::Display) -> Error {
    Error::string(&e.to_string())
}

fn print_summary(import: &Import, queued: &Queued, started: Instant) {
    let rate = |secs: f64| {
        // A display rate, not money: f64 is fine here.
        if secs > 0.0 {
            (import.rows_read as f64 / secs).round()
        } else {
            0.0
        }
    };
    let read_secs = queued.read_time.as_secs_f64();
    let parse_secs = queued.parse_time.as_secs_f64();
    let so_far = if import.is_finished() { "" } else { " so far" };
    println!(
        "import {} ({} format, {}): {}",
        import.id,
        import.format.as_deref().unwrap_or("?"),
        import.file_name,
        import.state
    );
    println!("  rows read           {}", import.rows_read);
    println!(
        "  orders read         {} in {} chunks ({} written)",
        import.orders_read, import.chunks_total, import.chunks_done
    );
    println!(
        "  orders queued       {}{so_far} (new orders sent to the workflow)",
        import.orders_created
    );
    println!(
        "  duplicates skipped  {}{so_far}",
        import.duplicates_skipped
    );
    println!("  rows rejected       {}", import.rows_rejected);
    if import.total_warnings > 0 {
        // Declared-total mismatches are the only kind of warning.
        println!(
            "  warnings            {} ({} declared totals differ from their items; the items win)",
            import.total_warnings, import.total_warnings
        );
    } else {
        println!("  warnings            0");
    }
    println!(
        "  parsed in           {parse_secs:.2} s ({} rows/s, parser thread busy time)",
        rate(parse_secs)
    );
    println!(
        "  read and queued in  {read_secs:.2} s ({} rows/s; paused {} times for the workers)",
        rate(read_secs),
        queued.pauses
    );
    println!(
        "  elapsed             {:.2} s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "  rejects             {}",
        import.rejects_path.as_deref().unwrap_or("none")
    );
    for warning in &queued.warnings {
        println!("  warning: {warning}");
    }
    let hidden = import.total_warnings - queued.warnings.len() as i64;
    if hidden > 0 && queued.warnings.len() == WARNINGS_SHOWN {
        println!("  … and {hidden} more warnings");
    }
}

impl ImportProgress for Bars {
    fn event(&self, event: ImportEvent) {
        match event {
            ImportEvent::Read(stats) => self.read(stats.bytes_read, stats.rows_read),
            ImportEvent::QueueFull {
                pending,
                orders,
                order_limit,
            } => self.note(&format!(
                "waiting for workers: {pending} chunks and {orders} orders queued (reading pauses whenever more than {MAX_PENDING_CHUNKS} chunks or {order_limit} orders wait)"
            )),
            ImportEvent::NoWorkers { pending } => self.note(&format!(
                "no worker is consuming the import queue ({pending} chunks queued): \
                 queuing the rest without waiting"
            )),
            ImportEvent::Written { done, total } => self.written(done, total),
        }
    }
}
