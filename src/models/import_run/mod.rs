//! One run of `orders_import`: the file is parsed on a blocking thread,
//! its chunks are queued as import-chunk jobs in bulk with backpressure, its
//! rejects written beside it, and the `imports` row kept up to date.
//!
//! The parser never waits for the database: chunk jobs write in the
//! background, and the task only waits for them when asked to.
use std::{
    io::{Read, Seek},
    path::Path,
    time::{Duration, Instant},
};

use loco_rs::app::AppContext;
use sea_orm::DbErr;

mod feeder;
mod reader;

use feeder::{with_retries, Feeder};

use super::{
    import::{
        Format, ImportError, ImportStats, OrderStream, RejectsWriter, StreamOptions, Warning,
    },
    imports::{FileCounts, Model as Import},
};
use crate::workers::{import_chunk::ImportChunkJob, order_workflow::OrderWorkflowJob, Services};

/// Chunk jobs pushed per Redis call.
pub const CHUNKS_PER_PUSH: usize = 8;
/// Above this many chunks waiting in the import queue the reader pauses
/// (until half of them are taken), so Redis holds a bounded part of the file.
pub const MAX_PENDING_CHUNKS: u64 = 32;
/// Warnings kept to show the operator; the rest are only counted.
pub const WARNINGS_SHOWN: usize = 10;
pub(super) const POLL: Duration = Duration::from_millis(100);
/// Waiting for chunk jobs stops when the queue stayed empty this long
/// without the import finishing (its chunks died or were lost).
const STALLED_AFTER: Duration = Duration::from_secs(10);

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportRunError {
    /// The file cannot be opened, its header is wrong, or reading it failed.
    #[error(transparent)]
    File(#[from] ImportError),
    /// The rejects file cannot be written.
    #[error("cannot write the rejects file {path}: {source}")]
    Rejects {
        path: String,
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Database(#[from] DbErr),
    /// Redis (the import queue) failed.
    #[error("{0}")]
    Queue(String),
}

impl From<loco_rs::Error> for ImportRunError {
    fn from(e: loco_rs::Error) -> Self {
        Self::Queue(e.to_string())
    }
}

/// What the run reports while it goes, for a progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportEvent {
    /// Counts after another chunk of the file.
    Read(ImportStats),
    /// The import queue is full for the first time: reading pauses until
    /// workers take some (and will again whenever it fills up).
    QueueFull {
        pending: u64,
        orders: u64,
        order_limit: u64,
    },
    /// The queue is full and no live worker consumes it: reading goes on
    /// without waiting (said once).
    NoWorkers { pending: u64 },
    /// Chunk jobs written so far, while waiting for the import to finish.
    Written { done: i64, total: i64 },
}

/// Receives [`ImportEvent`]s.
pub trait ImportProgress: Send + Sync {
    fn event(&self, event: ImportEvent);
}

/// A file whose header was read and accepted; nothing is written yet.
pub struct ImportFile<R: Read> {
    stream: OrderStream<R>,
    rejects: RejectsWriter,
    name: String,
}

impl ImportFile<std::fs::File> {
    /// Opens `path` and checks its header.
    ///
    /// # Errors
    /// Missing or unreadable file, unknown or incomplete header.
    pub fn open(path: &Path, options: StreamOptions) -> Result<Self, ImportRunError> {
        let stream = OrderStream::open(path, options)?;
        // The row keeps an absolute path: the API is read from anywhere.
        let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        Ok(Self::from_stream(stream, &absolute))
    }
}

impl<R: Read + Seek + Send + 'static> ImportFile<R> {
    /// A file already opened as `stream`; rejects go beside `path`.
    pub fn from_stream(stream: OrderStream<R>, path: &Path) -> Self {
        Self {
            stream,
            rejects: RejectsWriter::for_import(path),
            name: path.display().to_string(),
        }
    }

    /// The detected format.
    #[must_use]
    pub fn format(&self) -> Format {
        self.stream.format()
    }

    /// Records the import (state `queued`), then reads the whole file into
    /// chunk jobs and leaves the import `importing` (or `done` if every chunk
    /// was already written). A read error leaves it `failed`; the chunks read
    /// before the error are queued all the same.
    ///
    /// # Errors
    /// Read errors, rejects file, database or Redis failures.
    pub async fn import(
        self,
        ctx: &AppContext,
        progress: &dyn ImportProgress,
    ) -> Result<Queued, ImportRunError> {
        let import = Import::create_queued(&ctx.db, &self.name, self.format().as_str()).await?;
        let started = Instant::now();
        let services = Services::of(ctx)?;
        let (queue, workflow) = (
            services.queue::<ImportChunkJob>(),
            services.queue::<OrderWorkflowJob>(),
        );
        let order_limit = services.settings.workflow.max_queued_orders;
        let mut feeder = Feeder::new(ctx, import.id, queue, (workflow, order_limit), progress);
        match feeder.feed(self.stream, self.rejects).await {
            Ok(rejects_path) => {
                let rejects_path = rejects_path.map(|p| p.display().to_string());
                Import::mark_importing(
                    &ctx.db,
                    import.id,
                    feeder.counts,
                    feeder.chunks,
                    rejects_path,
                )
                .await?;
                Ok(Queued {
                    import_id: import.id,
                    counts: feeder.counts,
                    chunks: feeder.chunks,
                    warnings: feeder.warnings,
                    read_time: started.elapsed(),
                    parse_time: feeder.parse_time,
                    pauses: feeder.pauses,
                })
            }
            Err(error) => {
                let reason = error.to_string();
                let marked =
                    Import::mark_failed(&ctx.db, import.id, feeder.counts, feeder.chunks, &reason)
                        .await;
                if let Err(e) = marked {
                    tracing::error!(import_id = import.id, error = %e, "cannot mark the import failed");
                }
                Err(error)
            }
        }
    }
}

/// A file fully read and queued.
#[derive(Debug, Clone)]
pub struct Queued {
    pub import_id: i64,
    pub counts: FileCounts,
    /// Chunk jobs pushed.
    pub chunks: u64,
    /// The first [`WARNINGS_SHOWN`] warnings.
    pub warnings: Vec<Warning>,
    /// Reading, validating and queueing the file took this long.
    pub read_time: Duration,
    /// Of which the parser thread was busy this long (the rest it waited
    /// for Redis or for room in the queue).
    pub parse_time: Duration,
    /// Times reading paused because the import queue was full.
    pub pauses: u64,
}

/// How waiting for the chunk jobs ended.
#[derive(Debug, Clone)]
pub enum WaitEnd {
    /// The import reached `done` (or `failed`).
    Finished(Import),
    /// No live worker consumes the import queue.
    NoWorkers(Import),
    /// The queue emptied but some chunks never got written (dead jobs).
    Stalled(Import),
}

impl Queued {
    /// Waits until every chunk is written, reporting progress.
    ///
    /// # Errors
    /// Database or Redis failures, or the import row vanished.
    pub async fn wait(
        &self,
        ctx: &AppContext,
        progress: &dyn ImportProgress,
    ) -> Result<WaitEnd, ImportRunError> {
        let queue = Services::of(ctx)?.queue::<ImportChunkJob>();
        let mut idle_since: Option<Instant> = None;
        loop {
            let import = Import::find_by_id(&ctx.db, self.import_id)
                .await?
                .ok_or_else(|| DbErr::RecordNotFound(format!("import {}", self.import_id)))?;
            progress.event(ImportEvent::Written {
                done: import.chunks_done,
                total: import.chunks_total,
            });
            if import.is_finished() {
                return Ok(WaitEnd::Finished(import));
            }
            if with_retries(|| queue.live_workers()).await? == 0 {
                return Ok(WaitEnd::NoWorkers(import));
            }
            let counts = with_retries(|| queue.counts()).await?;
            if counts.pending + counts.running + counts.scheduled > 0 {
                idle_since = None;
            } else if idle_since.get_or_insert_with(Instant::now).elapsed() > STALLED_AFTER {
                return Ok(WaitEnd::Stalled(import));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
