//! `cargo loco task orders_import file=PATH [chunk_size=N] [currency=EUR] [wait=true|false] [rate=N]`
use std::{num::NonZeroU32, path::Path, time::Instant};

use loco_rs::{
    app::AppContext,
    task::{Task, TaskInfo, Vars},
    Error, Result,
};

use super::{
    args::{Arg, TaskArgs},
    progress::Bars,
};
use crate::{
    models::{import::StreamOptions, imports::Model as Import},
    workers::{
        import_run::{
            ImportEvent, ImportFile, ImportProgress, Queued, Started, WaitEnd, MAX_PENDING_CHUNKS,
            WARNINGS_SHOWN,
        },
        JobContext,
    },
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
        "true (default): wait until every chunk is committed, sending again what Redis loses; \
         false: return once queued",
    ),
    Arg::optional(
        "rate",
        "orders released per second, a steady stream instead of as fast as workers take them \
         (default: unpaced)",
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
        let cx = JobContext::of(ctx)?;
        let caps = cx.settings().import;
        let options = StreamOptions {
            chunk_size,
            max_line_bytes: caps.max_line_bytes,
            max_field_chars: caps.max_field_chars,
            max_id_chars: caps.max_id_chars,
            default_currency: args.get("currency").unwrap_or("EUR").to_owned(),
            ..defaults
        };
        let wait = args.parsed::<bool>("wait")?.unwrap_or(true);
        // NonZeroU32 refuses 0, negatives and anything past four billion a second.
        let rate = args.parsed::<NonZeroU32>("rate")?;

        let started = Instant::now();
        // Header and file problems stop here, before anything is written.
        let file = ImportFile::open(path, options).map_err(fail)?.paced(rate);
        let size = std::fs::metadata(path).map_or(0, |m| m.len());
        let bars = Bars::new(size);
        let run = file.begin(&cx).await.map_err(fail)?;
        let import_id = run.import_id;
        // From here on the import never stays `queued` or `importing` when the
        // task stops early: every way out but success marks it `interrupted`.
        let outcome = tokio::select! {
            outcome = read_and_wait(&cx, run, &bars, wait) => outcome,
            signal = stop_signal() => Err(format!(
                "stopped by {signal} before every chunk was written; import the file again \
                 (chunks already written are skipped, nothing is imported twice)"
            )),
        };
        bars.finish();
        let (queued, end) = match outcome {
            Ok(done) => done,
            Err(reason) => return Err(interrupt(ctx, import_id, &reason).await),
        };
        let import = Import::find_by_id(&ctx.db, import_id)
            .await?
            .ok_or_else(|| Error::string("the import row disappeared"))?;
        print_summary(&import, &queued, started);
        match end {
            Some(WaitEnd::Finished(_)) => Ok(()),
            Some(WaitEnd::NoWorkers { pending, .. }) => {
                let reason = format!(
                    "no worker is consuming the import queue: {pending} of {} chunks are not \
                     written yet. Start a worker (`cargo loco start --worker`): the queued chunks \
                     are written and the import becomes done (GET /api/imports/{import_id}); if \
                     Redis lost them meanwhile, import the file again (nothing is imported twice)",
                    import.chunks_total
                );
                Err(interrupt(ctx, import_id, &reason).await)
            }
            Some(WaitEnd::Dead { dead, .. }) => {
                let reason = format!(
                    "{dead} chunk jobs failed for good (dead), {} of {} chunks written: see \
                     `cargo loco task queues_dead queue=orders:import`, then retry them with \
                     `cargo loco task queues_retry queue=orders:import` (the import becomes done \
                     once they are written) or import the file again",
                    import.chunks_done, import.chunks_total
                );
                Err(interrupt(ctx, import_id, &reason).await)
            }
            None => {
                println!("follow it: GET /api/imports/{import_id}");
                Ok(())
            }
        }
    }
}

/// Reads the file into chunk jobs, then (with `wait`) waits until every chunk
/// is committed. Errors come back as the reason the import was interrupted.
async fn read_and_wait<R: std::io::Read + std::io::Seek + Send + 'static>(
    cx: &JobContext,
    run: Started<R>,
    bars: &Bars,
    wait: bool,
) -> std::result::Result<(Queued, Option<WaitEnd>), String> {
    let mut queued = run.import(cx, bars).await.map_err(|e| e.to_string())?;
    bars.finish_reading();
    if !wait {
        return Ok((queued, None));
    }
    let end = queued.wait(cx, bars).await.map_err(|e| {
        format!(
            "{e}; the chunks queued may still be written (GET /api/imports/{}), \
             or import the file again (nothing is imported twice)",
            queued.import_id
        )
    })?;
    Ok((queued, Some(end)))
}

/// Marks the import `interrupted` with `reason` (a read error already left it
/// `failed`, which stays) and returns the error the task exits with.
async fn interrupt(ctx: &AppContext, import_id: i64, reason: &str) -> Error {
    if let Err(e) = Import::mark_interrupted(&ctx.db, import_id, reason).await {
        tracing::error!(import_id, error = %e, "cannot mark the import interrupted");
    }
    Error::string(&format!("import {import_id} interrupted: {reason}"))
}

/// Resolves on SIGINT or SIGTERM, with the signal's name.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
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
    if queued.resent() > 0 {
        println!(
            "  chunks sent again   {} (lost from Redis before they were written)",
            queued.resent()
        );
    }
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
            ImportEvent::Resent { chunks } => self.note(&format!(
                "{chunks} chunks were lost from Redis before they were written: sent again"
            )),
        }
    }
}
