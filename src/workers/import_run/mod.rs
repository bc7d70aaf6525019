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
    num::NonZeroU32,
    path::Path,
    time::{Duration, Instant},
};

use sea_orm::DbErr;

mod feeder;
mod pace;
mod reader;
mod retry;
mod spool;
mod tracker;
mod types;

use feeder::Feeder;
use pace::Pace;
use retry::{with_db_retries, with_retries};
use tracker::Tracker;
pub use types::{
    ImportEvent, ImportProgress, ImportRunError, CHUNKS_PER_PUSH, MAX_PENDING_CHUNKS,
    WARNINGS_SHOWN,
};

use super::{import_chunk::ImportChunkJob, JobContext};
use crate::{
    models::{
        import::{Format, OrderStream, RejectsWriter, StreamOptions, Warning},
        imports::{FileCounts, Model as Import},
    },
    queue::OrderWorkflowJob,
};

/// Cadence of the comparison of Redis with the database while waiting.
const WAIT_POLL: Duration = Duration::from_millis(250);

/// A file whose header was read and accepted; nothing is written yet.
pub struct ImportFile<R: Read> {
    stream: OrderStream<R>,
    rejects: RejectsWriter,
    name: String,
    /// Orders released per second (`rate=N`); as fast as the queue takes them when `None`.
    rate: Option<NonZeroU32>,
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
            rate: None,
        }
    }

    /// Releases the file's orders at `rate` orders a second (`None`: as fast
    /// as the queue takes them). The queue's backpressure still applies.
    #[must_use]
    pub fn paced(mut self, rate: Option<NonZeroU32>) -> Self {
        self.rate = rate;
        self
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
        cx: &JobContext,
        progress: &dyn ImportProgress,
    ) -> Result<Queued, ImportRunError> {
        self.begin(cx).await?.import(cx, progress).await
    }

    /// Records the import (state `queued`); nothing is read yet.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn begin(self, cx: &JobContext) -> Result<Started<R>, ImportRunError> {
        let import = Import::create_queued(&cx.app.db, &self.name, self.format().as_str()).await?;
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
        cx: &JobContext,
        progress: &dyn ImportProgress,
    ) -> Result<Queued, ImportRunError> {
        let Self { file, import_id } = self;
        let started = Instant::now();
        let db = &cx.app.db;
        let (queue, workflow) = (
            cx.queues.queue::<ImportChunkJob>(),
            cx.queues.queue::<OrderWorkflowJob>(),
        );
        let order_limit = cx.settings().workflow.max_queued_orders;
        let tracker = Tracker::new(import_id)?;
        let mut feeder = Feeder::new(
            db,
            import_id,
            queue,
            (workflow, order_limit),
            progress,
            tracker,
            no_worker_grace(cx),
        )
        .paced(file.rate.map(Pace::new));
        match feeder.feed(file.stream, file.rejects).await {
            Ok(rejects_path) => {
                let rejects_path = rejects_path.map(|p| p.display().to_string());
                with_db_retries(|| {
                    Import::mark_importing(
                        db,
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
                    Import::mark_failed(db, import_id, feeder.counts, feeder.chunks, &reason).await;
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
        cx: &JobContext,
        progress: &dyn ImportProgress,
    ) -> Result<WaitEnd, ImportRunError> {
        let db = &cx.app.db;
        let queue = cx.queues.queue::<ImportChunkJob>();
        let grace = no_worker_grace(cx);
        let mut unattended_since: Option<Instant> = None;
        loop {
            let check = self.tracker.check(db, &queue, progress).await?;
            if check.outstanding == 0 {
                with_db_retries(|| Import::finalize(db, self.import_id)).await?;
            }
            let import = with_db_retries(|| Import::find_by_id(db, self.import_id))
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
fn no_worker_grace(cx: &JobContext) -> Duration {
    Duration::from_secs(cx.settings().apalis.worker_ttl_secs() + 1)
}
