//! One run of `orders_import`: the file is parsed on a blocking thread,
//! its chunks are queued as import-chunk jobs in bulk with backpressure, its
//! rejects written beside it, and the `imports` row kept up to date.
//!
//! The parser never waits for the database: chunk jobs write in the
//! background, and the task only waits for them when asked to. While it runs,
//! the task knows from the database which chunks are committed and sends again
//! any chunk Redis lost (`tracker.rs`), so a flush or restart of Redis costs
//! nothing.
use std::{
    io::{Read, Seek},
    path::Path,
    time::{Duration, Instant},
};

use loco_rs::app::AppContext;
use sea_orm::DbErr;

mod feeder;
mod reader;
mod spool;
mod tracker;

use feeder::{with_db_retries, with_retries, Feeder};
use tracker::Tracker;

use super::{import_chunk::ImportChunkJob, Services};
use crate::{
    models::{
        import::{
            Format, ImportError, ImportStats, OrderStream, RejectsWriter, StreamOptions, Warning,
        },
        imports::{FileCounts, Model as Import},
    },
    queue::OrderWorkflowJob,
};

/// Chunk jobs pushed per Redis call.
pub const CHUNKS_PER_PUSH: usize = 8;
/// Above this many chunks waiting in the import queue the reader pauses
/// (until half of them are taken), so Redis holds a bounded part of the file.
pub const MAX_PENDING_CHUNKS: u64 = 32;
/// Warnings kept to show the operator; the rest are only counted.
pub const WARNINGS_SHOWN: usize = 10;
pub(super) const POLL: Duration = Duration::from_millis(100);
/// Cadence of the comparison of Redis with the database while waiting.
const WAIT_POLL: Duration = Duration::from_millis(250);

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
    /// The spool of chunks kept for sending again cannot be written or read.
    #[error("the chunk spool (temporary directory): {0}")]
    Spool(std::io::Error),
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
    /// Chunks Redis lost before they were written were sent again.
    Resent { chunks: usize },
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

    /// [`Self::begin`], then [`Started::import`].
    ///
    /// # Errors
    /// Read errors, rejects file, database or Redis failures.
    pub async fn import(
        self,
        ctx: &AppContext,
        progress: &dyn ImportProgress,
    ) -> Result<Queued, ImportRunError> {
        self.begin(ctx).await?.import(ctx, progress).await
    }

    /// Records the import (state `queued`); nothing is read yet.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn begin(self, ctx: &AppContext) -> Result<Started<R>, ImportRunError> {
        let import = Import::create_queued(&ctx.db, &self.name, self.format().as_str()).await?;
        Ok(Started {
            file: self,
            import_id: import.id,
        })
    }
}

/// A recorded import whose file is not read yet.
pub struct Started<R: Read> {
    file: ImportFile<R>,
    /// The `imports` row.
    pub import_id: i64,
}

impl<R: Read + Seek + Send + 'static> Started<R> {
    /// Reads the whole file into chunk jobs and leaves the import `importing`
    /// (or `done` if every chunk was already written). A read error leaves it
    /// `failed`; the chunks read before the error are queued all the same.
    ///
    /// # Errors
    /// Read errors, rejects file, database or Redis failures.
    pub async fn import(
        self,
        ctx: &AppContext,
        progress: &dyn ImportProgress,
    ) -> Result<Queued, ImportRunError> {
        let Self { file, import_id } = self;
        let started = Instant::now();
        let services = Services::of(ctx)?;
        let (queue, workflow) = (
            services.queue::<ImportChunkJob>(),
            services.queue::<OrderWorkflowJob>(),
        );
        let order_limit = services.settings.workflow.max_queued_orders;
        let tracker = Tracker::new(import_id)?;
        let mut feeder = Feeder::new(
            ctx,
            import_id,
            queue,
            (workflow, order_limit),
            progress,
            tracker,
            no_worker_grace(&services),
        );
        match feeder.feed(file.stream, file.rejects).await {
            Ok(rejects_path) => {
                let rejects_path = rejects_path.map(|p| p.display().to_string());
                with_db_retries(|| {
                    Import::mark_importing(
                        &ctx.db,
                        import_id,
                        feeder.counts,
                        feeder.chunks,
                        rejects_path.clone(),
                    )
                })
                .await?;
                Ok(Queued {
                    import_id,
                    counts: feeder.counts,
                    chunks: feeder.chunks,
                    warnings: feeder.warnings,
                    read_time: started.elapsed(),
                    parse_time: feeder.parse_time,
                    pauses: feeder.pauses,
                    tracker: feeder.tracker,
                })
            }
            // The file is at fault: the import `failed`. Anything else (Redis,
            // the database, the spool) is left to the caller, which marks it
            // `interrupted`: importing the same file again can succeed.
            Err(error @ (ImportRunError::File(_) | ImportRunError::Rejects { .. })) => {
                let reason = error.to_string();
                let marked =
                    Import::mark_failed(&ctx.db, import_id, feeder.counts, feeder.chunks, &reason)
                        .await;
                if let Err(e) = marked {
                    tracing::error!(import_id, error = %e, "cannot mark the import failed");
                }
                Err(error)
            }
            Err(error) => Err(error),
        }
    }
}

/// A file fully read and queued.
#[derive(Debug)]
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
    /// The chunks not yet known to be committed, and their payloads.
    tracker: Tracker,
}

/// How waiting for the chunk jobs ended.
#[derive(Debug, Clone)]
pub enum WaitEnd {
    /// Every chunk is committed: the import is `done`.
    Finished(Import),
    /// No live worker process consumes the import queue; `pending` chunks
    /// are not written yet.
    NoWorkers { import: Import, pending: usize },
    /// Every chunk not yet written is a dead job (it failed for good).
    Dead { import: Import, dead: usize },
}

impl Queued {
    /// Chunks sent again because Redis lost them.
    #[must_use]
    pub fn resent(&self) -> u64 {
        self.tracker.resent
    }

    /// Waits until every chunk is committed, sending again the ones Redis
    /// loses meanwhile, and reporting progress. Gives up when no live worker
    /// process has beaten for a whole worker TTL (a flush empties the beats
    /// for up to one heartbeat), or when what is left is only dead jobs.
    ///
    /// # Errors
    /// Database or Redis failures, or the import row vanished.
    pub async fn wait(
        &mut self,
        ctx: &AppContext,
        progress: &dyn ImportProgress,
    ) -> Result<WaitEnd, ImportRunError> {
        let services = Services::of(ctx)?;
        let queue = services.queue::<ImportChunkJob>();
        let grace = no_worker_grace(&services);
        let mut unattended_since: Option<Instant> = None;
        loop {
            let check = self.tracker.check(ctx, &queue, progress).await?;
            if check.outstanding == 0 {
                with_db_retries(|| Import::finalize(&ctx.db, self.import_id)).await?;
            }
            let import = with_db_retries(|| Import::find_by_id(&ctx.db, self.import_id))
                .await?
                .ok_or_else(|| DbErr::RecordNotFound(format!("import {}", self.import_id)))?;
            progress.event(ImportEvent::Written {
                done: import.chunks_done,
                total: import.chunks_total,
            });
            if check.outstanding == 0 {
                return Ok(WaitEnd::Finished(import));
            }
            if check.dead == check.outstanding {
                return Ok(WaitEnd::Dead {
                    import,
                    dead: check.dead,
                });
            }
            if with_retries(|| queue.live_workers()).await? > 0 {
                unattended_since = None;
            } else if unattended_since.get_or_insert_with(Instant::now).elapsed() > grace {
                return Ok(WaitEnd::NoWorkers {
                    import,
                    pending: check.outstanding,
                });
            }
            tokio::time::sleep(WAIT_POLL).await;
        }
    }
}

/// How long no worker process may beat before the task says nobody consumes
/// the queue: a whole worker TTL, since a Redis flush or restart removes every
/// beat until the next heartbeat.
fn no_worker_grace(services: &Services) -> Duration {
    Duration::from_secs(services.settings.apalis.worker_ttl_secs() + 1)
}
